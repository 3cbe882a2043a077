#!/bin/sh
# scripts/bench/chunk_gap.sh: measures what two threads lose when their
# chunks of a population are neighbours in memory (scripts/bench/chunk_gap.c
# says how). Builds nkshell when needed, takes the kernel of CUBA's
# excitatory population from `net:code`, compiles it with the JIT's flags
# (engine/src/jit.c) and runs the three layouts, alternating, ROUNDS times.
#
#   scripts/bench/chunk_gap.sh [N [STEPS [ROUNDS [GAP]]]]
#
# Defaults: N 3200 neurons (CUBA's excitatory population), 30000 steps,
# 7 rounds, a gap of 256 entries. It needs two CPUs; it prints a table and
# asserts nothing.
set -eu
cd "$(dirname "$0")/../.."
n=${1:-3200} steps=${2:-30000} rounds=${3:-7} gap=${4:-256}

if [ ! -d build ]; then
    meson setup build >/dev/null
fi
ninja -C build >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

build/shell/nkshell -e '
local lif = {tau_m = 20, C_m = 200, v_rest = -49, v_reset = -60, v_thresh = -50, t_ref = 5}
local net = nk.network{dt = 0.1}
local exc = net:population("lif", 16, {name = "exc", params = lif})
for _, r in ipairs{{"exc", 16.2, 5}, {"inh", -90, 10}} do
  net:connect(exc, exc, {rule = "one_to_one", weight = r[2], delay = 0.1, synapse = "exp_curr",
                         receptor = r[1], params = {tau_syn = r[3]}})
end
io.write(net:code(exc))' > "$tmp/kernel.c"

cc=${CC:-cc}
$cc -O3 -march=native --param=vect-epilogues-nomask=0 -ffp-contract=off -fno-math-errno \
    -fno-trapping-math -std=c11 -w -c "$tmp/kernel.c" -o "$tmp/kernel.o"
$cc -O2 -std=c11 -Iengine/src/rt scripts/bench/chunk_gap.c "$tmp/kernel.o" -o "$tmp/chunk_gap" -lpthread
echo "chunk_gap: $n neurons, $steps steps, $rounds rounds, gap $gap entries ($(nproc) CPUs; $(date +%F))"
"$tmp/chunk_gap" "$n" "$steps" "$rounds" "$gap"
