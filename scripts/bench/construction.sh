#!/usr/bin/env bash
# scripts/bench/construction.sh - how long building a big network takes, and
# how much memory it needs. Reports; never asserts.
#
#   scripts/bench/construction.sh [--quick] [--build DIR] [--json FILE] [--threads N]
#
# Two cases, each in an nkshell process of its own (scripts/bench/construction.lua):
#   flyscale  a synthetic connectome of FlyWire's size and shape (138,639
#             neurons, ~15 million rows, written by nk-flyscale-gen and cached
#             under DIR/bench/flyscale/; regenerated only when missing), read
#             with nk.read_edges and connected with rule "edges";
#   indegree  130,000 LIF neurons, rule fixed_indegree with 385 inputs each
#             (50 million synapses).
# Per case: seconds to generate the file, read it, make the population,
# connect (build the CSR), and for the first step (code generation, buffers);
# the synapse count; peak resident memory and resident memory after
# construction minus before, in MiB and in bytes per synapse. The aim is at
# most 10 s and 10 bytes per synapse on 2 cores.
#
#   --quick        1/10 scale (13,864 neurons, ~1.5 M rows; 13,000 x 385): a smoke test
#   --build DIR    the build directory with shell/nkshell (default: build)
#   --json FILE    where the results go as JSON (default: DIR/bench/construction.json,
#                  DIR/bench/construction-quick.json with --quick)
#   --threads N    passed to nkshell
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"

build=build
json=
quick=0
threads=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --build) build=${2:?--build needs a directory}; shift ;;
    --build=*) build=${1#--build=} ;;
    --json) json=${2:?--json needs a file name}; shift ;;
    --json=*) json=${1#--json=} ;;
    --threads) threads=(--threads "${2:?--threads needs a number}"); shift ;;
    --threads=*) threads=(--threads "${1#--threads=}") ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "construction.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done

nkshell=$build/shell/nkshell
if [ ! -x "$nkshell" ]; then
  echo "construction.sh: $nkshell not found; build first (scripts/setup.sh, or --build DIR)" >&2
  exit 2
fi

if [ $quick -eq 1 ]; then
  fly_n=13864; ind_n=13000; tag=-quick
else
  fly_n=138639; ind_n=130000; tag=
fi
fly_k=108; ind_k=385; seed=1
mkdir -p "$build/bench"
json=${json:-$build/bench/construction$tag.json}

# The generator: the one Meson built, else compiled here from its source.
gen=$build/scripts/flyscale/nk-flyscale-gen
src=scripts/flyscale/gen_flyscale.c
if [ ! -x "$gen" ]; then
  gen=$build/bench/nk-flyscale-gen
  if [ ! -x "$gen" ] || [ "$src" -nt "$gen" ]; then
    ${CC:-cc} -std=c11 -O2 -o "$gen" "$src" -lm
  fi
fi

now() { date +%s.%N; }

# The file, cached; gen.txt keeps how long it took to write.
cache=$build/bench/flyscale/n$fly_n-k$fly_k-s$seed
edges=$cache/edges.csv
nodes=$cache/neurons.csv
mkdir -p "$cache"
if [ ! -f "$edges" ] || [ ! -f "$nodes" ] || [ ! -f "$cache/gen.txt" ]; then
  echo "generating $edges ..." >&2
  t0=$(now)
  "$gen" --neurons $fly_n --mean-degree $fly_k --seed $seed --edges "$edges" --nodes "$nodes" \
    2> "$cache/summary.txt"
  t1=$(now)
  awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f\n", b - a}' > "$cache/gen.txt"
  gen_note=""
else
  gen_note=" (cached)"
fi
gen_s=$(cat "$cache/gen.txt")
file_bytes=$(stat -c %s "$edges")

# Runs one case; its key=value lines land in the associative array named $1
# (ok=false when nkshell failed: its message is on stderr). GNU time's maximum
# resident size is added where /usr/bin/time is GNU time.
gnu_time=0
if [ -x /usr/bin/time ] && /usr/bin/time -f %M true >/dev/null 2>&1; then gnu_time=1; fi
run_case() {
  local -n res=$1
  shift
  local out tfile line status=0
  tfile=$(mktemp)
  if [ $gnu_time -eq 1 ]; then
    out=$(/usr/bin/time -o "$tfile" -f %M "$nkshell" "${threads[@]}" scripts/bench/construction.lua "$@") \
      || status=$?
    res[time_maxrss]=$(( $(tail -n 1 "$tfile" | tr -cd 0-9) * 1024 ))
  else
    out=$("$nkshell" "${threads[@]}" scripts/bench/construction.lua "$@") || status=$?
    res[time_maxrss]=-1
  fi
  rm -f "$tfile"
  while IFS= read -r line; do
    case "$line" in *=*) res[${line%%=*}]=${line#*=} ;; esac
  done <<< "$out"
  if [ $status -eq 0 ] && [ -n "${res[synapses]:-}" ]; then res[ok]=true; else res[ok]=false; fi
}

# Derived figures: total seconds and bytes per synapse.
derive() {
  local -n r=$1
  [ "${r[ok]}" = true ] || return 0
  local s=${r[synapses]}
  [ "$s" -gt 0 ] || s=1
  r[total_s]=$(awk -v a="${r[construct_s]}" -v b="${r[first_step_s]}" 'BEGIN {printf "%.3f", a + b}')
  r[peak_bps]=$(awk -v p="${r[peak]}" -v b="${r[rss_before]}" -v s="$s" 'BEGIN {printf "%.2f", (p - b) / s}')
  r[resident_bps]=$(awk -v p="${r[rss_after]}" -v b="${r[rss_before]}" -v s="$s" \
                    'BEGIN {printf "%.2f", (p - b) / s}')
  r[resident_step_bps]=$(awk -v p="${r[rss_first_step]}" -v b="${r[rss_before]}" -v s="$s" \
                         'BEGIN {printf "%.2f", (p - b) / s}')
}

declare -A fly ind
echo "flyscale: loading $edges ..." >&2
run_case fly edges "$edges" "$nodes"
derive fly
echo "indegree: $ind_n x $ind_k ..." >&2
run_case ind indegree $ind_n $ind_k
derive ind

cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || true)
cores=$(nproc 2>/dev/null || echo "?")
memtotal=$(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo 2>/dev/null || echo "?")
version=$("$nkshell" --version 2>/dev/null | head -n 1 || echo "?")

# Table cells: case, key, format (s: seconds, m: MiB, else as is); "-" when absent.
cell() {
  local -n c=$1
  local v=${c[$2]:-}
  if [ "${c[ok]}" != true ] && [ "$2" != time_maxrss ]; then echo "failed"; return; fi
  if [ -z "$v" ] || [ "$v" = -1 ]; then echo "-"; return; fi
  case ${3:-} in
    s) awk -v x="$v" 'BEGIN {printf "%.2f", x}' ;;
    m) awk -v x="$v" 'BEGIN {printf "%.0f", x / 1048576}' ;;
    *) echo "$v" ;;
  esac
}
row() { printf '%-36s %18s %18s\n' "$1" "$2" "$3"; }
both() { row "$1" "$(cell fly "$2" "${3:-}")" "$(cell ind "$2" "${3:-}")"; }

echo
echo "construction benchmark$( [ $quick -eq 1 ] && echo ' (--quick: 1/10 scale)'): $version, $cores cores, $memtotal${cpu:+, $cpu}"
row "" "flyscale edges" "fixed_indegree"
both "neurons" neurons
both "synapses" synapses
row "edges file (MB)" "$(awk -v b="$file_bytes" 'BEGIN {printf "%.0f", b / 1e6}')" "-"
row "generate the file (s)" "$(awk -v x="$gen_s" 'BEGIN {printf "%.2f", x}')$gen_note" "-"
row "read the file (s)" "$(cell fly read_s s)" "-"
both "population (s)" population_s s
both "connect: CSR (s)" connect_s s
both "construction (s)" construct_s s
both "first step: build (s)" first_step_s s
both "construction + first step (s)" total_s s
both "resident before (MiB)" rss_before m
both "resident after construction (MiB)" rss_after m
both "resident after first step (MiB)" rss_first_step m
both "peak resident (MiB)" peak m
both "peak, GNU time (MiB)" time_maxrss m
both "bytes/synapse: peak - before" peak_bps
both "bytes/synapse: after - before" resident_bps
both "  after first step - before" resident_step_bps
echo "aim: construction + first step <= 10 s and <= 10 bytes/synapse on 2 cores (reported, not asserted)"

# JSON: every figure of both cases, plus the machine.
jesc() { printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g'; }
json_case() {
  local -n r=$1
  local first=1 k
  printf '{'
  for k in $(printf '%s\n' "${!r[@]}" | sort); do
    [ $first -eq 1 ] || printf ', '
    first=0
    case ${r[$k]} in
      true|false|-[0-9]*|[0-9]*) printf '"%s": %s' "$k" "${r[$k]}" ;;
      *) printf '"%s": "%s"' "$k" "$(jesc "${r[$k]}")" ;;
    esac
  done
  printf '}'
}
mkdir -p "$(dirname "$json")"
{
  printf '{\n  "benchmark": "construction",\n  "quick": %s,\n' "$( [ $quick -eq 1 ] && echo true || echo false)"
  printf '  "nkshell": "%s",\n  "cores": "%s",\n  "memory": "%s",\n  "cpu": "%s",\n' \
    "$(jesc "$version")" "$cores" "$memtotal" "$(jesc "$cpu")"
  printf '  "flyscale": {"file": "%s", "file_bytes": %s, "generate_s": %s, "generate_cached": %s, "run": ' \
    "$(jesc "$edges")" "$file_bytes" "$gen_s" "$( [ -n "$gen_note" ] && echo true || echo false)"
  json_case fly
  printf '},\n  "fixed_indegree": {"indegree": %s, "run": ' "$ind_k"
  json_case ind
  printf '}\n}\n'
} > "$json"
echo "results: $json"
[ "${fly[ok]}" = true ] && [ "${ind[ok]}" = true ] || exit 1
