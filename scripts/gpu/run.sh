#!/usr/bin/env bash
# scripts/gpu/run.sh - on a GPU machine, in one call: what the device is, the
# GPU test suite (every scenario on the CPU and the GPU, compared bit for
# bit; then every script of tests/lua on the GPU), and the GPU benchmarks (scripts/bench/suite.lua on the CUDA
# backend). It runs the nkshell that scripts/gpu/pack.sh packed in .gpu.tar.xz (build
# here instead when the machine has the -dev packages: it uses
# build/shell/nkshell when .gpu/ is missing). Everything it prints also goes
# to $OUT (default ./gpu-out).
#
#   scripts/gpu/run.sh [--models cuba,microcircuit,flyscale] [--reps N] [--mc-scale S]
#                      [--skip-tests] [--skip-bench] [--kernels] [--block LIST]
#
# --block LIST: the benchmarks again with each window of steps in one launch,
# once for each NKSHELL_CUDA_BLOCK in LIST (comma-separated: 1 for one block,
# N for up to N blocks, all for as many as the device holds; docs/cuda.md),
# beside the runs without.
#
# --kernels: then each model's kernels under Nsight Compute (ncu): the time
# of each kernel of a step (gpu__time_duration, median of the launches
# profiled after the first steps), so that a step's time can be told apart
# by kernel (the microcircuit at a quarter of its size, to build quickly).
#
# The microcircuit runs at full scale (--mc-scale 1: 77,169 neurons, 0.3
# billion synapses, built on the host in tens of seconds, per repetition).
# A device call is limited to 10 minutes: run the suite and the benchmarks
# as two calls (--skip-bench, then --skip-tests) when both do not fit.
set -u
cd "$(dirname "$0")/../.."
root=$PWD
out=${OUT:-$root/gpu-out}
mkdir -p "$out"
models=cuba,microcircuit,flyscale
reps=3
tests=1
bench=1
kernels=0
block=
mc_scale=1
while [ $# -gt 0 ]; do
    case $1 in
    --models) models=$2; shift ;;
    --reps) reps=$2; shift ;;
    --mc-scale) mc_scale=$2; shift ;;
    --skip-tests) tests=0 ;;
    --skip-bench) bench=0 ;;
    --kernels) kernels=1 ;;
    --block) block=$2; shift ;;
    *) echo "unknown option '$1'" >&2; exit 2 ;;
    esac
    shift
done
if [ -f .gpu.tar.xz ] && [ ! -x .gpu/nkshell ]; then
    tar -xJf .gpu.tar.xz
fi
if [ -x .gpu/nkshell ]; then
    nk=$root/.gpu/nkshell
    # The packed libraries are found through the binaries' RPATH
    # ($ORIGIN/lib, pack.sh), not LD_LIBRARY_PATH, so that the compiler and
    # everything else started here keep this machine's own. NVRTC is the
    # machine's own too (dlopen'd, and too big to carry); it loads its
    # builtins library by name, so its directory goes on the path.
    for d in /usr/local/cuda/lib64 /usr/local/cuda/lib; do
        [ -d "$d" ] && LD_LIBRARY_PATH="$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    done
    export LD_LIBRARY_PATH
    export NKSHELL_FLYSCALE_GEN=$root/.gpu/nk-flyscale-gen
    export NKSHELL_PLOTCHECK=$root/.gpu/plotcheck
else
    nk=$root/build/shell/nkshell
    export NKSHELL_PLOTCHECK=$root/build/tests/plotcheck
fi
# The CPU backend (the suite's reference) compiles with this machine's
# compiler. The code cache is .gpu-cache: pack.sh --cubins put the suite's
# cubins there.
NKSHELL_CC=${NKSHELL_CC:-$(command -v gcc || command -v cc)}
export NKSHELL_CC
export XDG_CACHE_HOME=${XDG_CACHE_HOME:-$root/.gpu-cache}
unset NKSHELL_CUDA NKSHELL_CUDA_NVRTC_CHECK

# Each scenario's time as it ends, and output line by line: a call the
# device tool stops at its time limit still brings back how far it got.
export EQUIV_VERBOSE=1
lb=
command -v stdbuf >/dev/null && lb="stdbuf -oL -eL"
log() { echo "$*" | tee -a "$out/run.txt"; }
: >"$out/run.txt"
log "== device"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem \
    --format=csv 2>&1 | tee -a "$out/run.txt"
"$nk" -e 'local n = nk.network{backend = "cuda"}; n:population("lif", 1); n:run(1); print(n)' \
    2>&1 | sed -n 2p | tee -a "$out/run.txt"

status=0
if [ $tests = 1 ]; then
    log "== GPU test suite (tests/gpu)"
    t0=$(date +%s.%N)
    $lb bash tests/gpu/run_gpu_tests.sh "$nk" "$root" >"$out/gpu-suite.txt" 2>&1
    status=$?
    tail -n 5 "$out/gpu-suite.txt" | tee -a "$out/run.txt"
    log "exit $status, $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
    log "== the Lua suite on the GPU (tests/lua, --backend cuda)"
    t0=$(date +%s.%N)
    $lb bash tests/gpu/run_gpu_tests.sh "$nk" "$root" lua >"$out/gpu-lua.txt" 2>&1
    st=$?
    [ $status = 0 ] && status=$st
    grep -v "^ok " "$out/gpu-lua.txt" | tee -a "$out/run.txt"
    log "exit $st, $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
fi

if [ $bench = 1 ]; then
    log "== benchmarks on the CUDA backend ($models, $reps repetitions, microcircuit at scale $mc_scale)"
    $lb "$nk" scripts/bench/suite.lua --backend cuda --brian2 no --models "$models" --reps "$reps" \
        --mc-scale "$mc_scale" --json "$out/bench-cuda.json" 2>&1 | tee -a "$out/run.txt"
    for b in ${block//,/ }; do
        log "== the same in one launch (NKSHELL_CUDA_BLOCK=$b)"
        NKSHELL_CUDA_BLOCK=$b $lb "$nk" scripts/bench/suite.lua --backend cuda --brian2 no \
            --models "$models" --reps "$reps" --mc-scale "$mc_scale" \
            --json "$out/bench-cuda-block-$b.json" 2>&1 | tee -a "$out/run.txt"
    done
fi

if [ $kernels = 1 ]; then
    log "== each kernel's time, under ncu (median per launch, us)"
    if ! command -v ncu >/dev/null; then
        log "ncu not found: no kernel times"
    else
        scratch=$(mktemp -d)
        gen=${NKSHELL_FLYSCALE_GEN:-$root/build/scripts/flyscale/nk-flyscale-gen}
        for m in ${models//,/ }; do
            case $m in
            cuba) args="samples/cuba.lua $scratch/c.h5 300" ;;
            microcircuit) args="samples/microcircuit.lua $scratch/m.h5 100 0.25" ;;
            flyscale)
                [ -f "$scratch/e.csv" ] || "$gen" -q -o "$scratch/e.csv" -m "$scratch/n.csv"
                args="samples/flyscale.lua $scratch/e.csv $scratch/n.csv 100" ;;
            *) log "--kernels: no command for model '$m'"; continue ;;
            esac
            # shellcheck disable=SC2086
            ncu --csv --print-units base --metrics gpu__time_duration.sum --launch-skip 400 \
                --launch-count 400 "$nk" --backend cuda $args >"$out/ncu-$m.csv" 2>"$scratch/ncu.err"
            log "-- $m (ncu exit $?)"
            python3 - "$out/ncu-$m.csv" <<'PY' | tee -a "$out/run.txt"
import csv, statistics, sys
rows = {}
lines = [l for l in open(sys.argv[1]) if l.startswith('"')]
for r in csv.DictReader(lines):
    if r.get("Metric Name") == "gpu__time_duration.sum":
        v = float(r["Metric Value"].replace(",", ""))
        rows.setdefault(r["Kernel Name"], []).append(v / 1e3 if r["Metric Unit"] == "ns" else v)
tot = sum(sum(v) for v in rows.values()) or 1
for k, v in sorted(rows.items(), key=lambda kv: -sum(kv[1])):
    print("  %-28s %5d launches  median %9.2f us  max %9.2f us  %5.1f %%" %
          (k[:28], len(v), statistics.median(v), max(v), 100 * sum(v) / tot))
PY
            tail -n 3 "$scratch/ncu.err" | tee -a "$out/run.txt"
        done
        rm -rf "$scratch"
    fi
fi
exit $status
