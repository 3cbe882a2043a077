#!/usr/bin/env bash
# Out of memory while recording: the run stops with a message, at a step the
# network, its states and its records agree on.
#
# Every neuron of a population fires at every step and is recorded (spikes
# and a rate monitor), and a state counts the milliseconds simulated, under
# an address-space limit (ulimit -v) that a run fills in a few hundred steps.
# When the run stops for want of memory, each step the network counts must
# be recorded whole, and no step beyond it may have changed the states: the
# counter equals the network's time (a step updated but not counted left it
# one dt ahead; on the GPU, steps counted but not fetched left records
# behind). Then the session goes on: the records are read and a new run is
# refused the same way.
#
# The limit cannot be used with AddressSanitizer (it maps terabytes of
# shadow memory), so a sanitized build skips this test (exit 77).
#
#   run_oom_tests.sh NKSHELL SRCDIR
set -u
nkshell=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
if ldd "$nkshell" 2>/dev/null | grep -q -e libasan -e libtsan; then
  echo "oom: a sanitized build cannot run under an address-space limit: skipped"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
ok() { echo "ok - $1"; }
notok() { echo "not ok - $1"; fails=$((fails + 1)); }

cat >"$tmp/fill.lua" <<'LUA'
-- arg: neurons, threads, backend, ms
local tick = nk.model{name = "tick", kind = "neuron", params = {},
  states = {c = {0, "ms"}, v = {0, "mV"}},
  equations = {"dc/dt = 1 : ms", "dv/dt = 0 : mV"},
  threshold = "v > -1", reset = {"v = 0"}, refractory = 0}
local n = tonumber(arg[1])
local net = nk.network{dt = 0.1, seed = 1, threads = tonumber(arg[2]), backend = arg[3]}
local a = net:population(tick, n, {name = "a"})
local sp = net:monitor("spikes", a)
local r = net:monitor("rate", a, {bin = 0.1})
local ok, e = pcall(net.run, net, tonumber(arg[4]), {progress = false})
local steps = math.floor(net.t / 0.1 + 0.5)
print(string.format("ran=%s steps=%d c1=%.4f cn=%.4f spikes=%d rows=%d", tostring(ok), steps,
                    a:get("c", 1), a:get("c", n), sp:count(), #r:values()))
print("error: " .. tostring(e))
if not ok then
  local ok2, e2 = pcall(net.run, net, 10, {progress = false})
  print(string.format("again=%s t=%.1f", tostring(ok2), net.t))
  print("error2: " .. tostring(e2))
end
LUA

# the code is compiled without the limit (the compiler runs as a child)
cd "$tmp"
for be in cpu cuda; do
  NKSHELL_CUDA=emulate "$nkshell" "$tmp/fill.lua" 100 1 "$be" 1 >warm.out 2>&1 \
    || { notok "$be: a run without the limit"; cat warm.out; }
done

check() { # name, then the command's output in out
  local name=$1 ran steps c1 cn spikes rows
  ran=$(sed -n 's/^ran=\([a-z]*\) .*/\1/p' out)
  steps=$(sed -n 's/.* steps=\([0-9]*\) .*/\1/p' out)
  c1=$(sed -n 's/.* c1=\([-0-9.]*\) .*/\1/p' out)
  cn=$(sed -n 's/.* cn=\([-0-9.]*\) .*/\1/p' out)
  spikes=$(sed -n 's/.* spikes=\([0-9]*\) .*/\1/p' out)
  rows=$(sed -n 's/.* rows=\([0-9]*\)$/\1/p' out)
  if [ "$ran" != false ] || ! grep -q "^error: .*out of memory" out; then
    notok "$name: the run stops for want of memory, and says so"; cat out err; return
  fi
  ok "$name: the run stops for want of memory, and says so ($(grep '^error: ' out | head -c 160))"
  if [ "$steps" -gt 10 ] && [ "$spikes" -eq $((steps * 100000)) ] && [ "$rows" -eq "$steps" ]; then
    ok "$name: each of the $steps steps counted is recorded whole"
  else
    notok "$name: each step counted is recorded whole ($(head -1 out))"
  fi
  # the counter gains 0.1 ms a step (in float32): one step more is 0.1 more
  if awk -v s="$steps" -v a="$c1" -v b="$cn" \
       'BEGIN { t = s / 10; d1 = a - t; d2 = b - t; exit !(d1 < 0.05 && d1 > -0.05 && d2 < 0.05 && d2 > -0.05) }'; then
    ok "$name: the states are those of the network's time"
  else
    notok "$name: the states are those of the network's time ($(head -1 out))"
  fi
  if grep -q "^again=false t=$(awk -v s="$steps" 'BEGIN { printf "%.1f", s / 10 }')$" out \
     && grep -q "^error2: .*out of memory" out; then
    ok "$name: the session goes on; another run is refused the same way, the network unchanged"
  else
    notok "$name: another run is refused the same way"; cat out
  fi
}

for c in "cpu 1" "cpu 2" "cuda 1"; do
  set -- $c
  # 600 MB of address space: nkshell and its libraries take about 300 MB
  # here, 100,000 recorded spikes a step take 1.2 MB more
  ( ulimit -v 600000; NKSHELL_CUDA=emulate "$nkshell" "$tmp/fill.lua" 100000 "$2" "$1" 1e6 \
      >out 2>err )
  check "$1, $2 thread(s)"
done

echo "oom: $fails failed"
[ "$fails" -eq 0 ]
