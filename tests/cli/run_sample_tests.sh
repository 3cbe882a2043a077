#!/usr/bin/env bash
# The samples run as a user runs them, and their results files have the
# SONATA layout; the same seed gives identical spike datasets (h5diff),
# another seed different ones.
#
#   run_sample_tests.sh NKSHELL SRCDIR
set -u
nkshell=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
ok() { echo "ok - $1"; }
notok() { echo "not ok - $1"; fails=$((fails + 1)); }
# signal_at NAME WORD SECONDS SIG ARGS...: runs nkshell ARGS in the
# background (output in $tmp/NAME.out and .err), and once it has printed
# WORD and SECONDS more have passed, sends it SIG; waits and sets rc
signal_at() {
  local name=$1 word=$2 secs=$3 sig=$4 pid
  shift 4
  "$nkshell" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
  pid=$!
  for _ in $(seq 100); do grep -q "$word" "$tmp/$name.out" 2>/dev/null && break; sleep 0.1; done
  sleep "$secs"
  kill -s "$sig" "$pid"
  wait "$pid"
  rc=$?
}

# CUBA, shortened to 200 ms to keep the suite quick
if "$nkshell" "$src/samples/cuba.lua" "$tmp/a.h5" 200 >"$tmp/out" 2>"$tmp/err"; then
  ok "cuba.lua runs"
else
  notok "cuba.lua runs"; cat "$tmp/err"
fi
grep -q "exc: [0-9]* spikes" "$tmp/out" && ok "cuba prints the excitatory rate" || notok "cuba prints rates"
grep -q "construction .* s" "$tmp/out" && grep -q "build .* s" "$tmp/out" && grep -q "run .* s" "$tmp/out" \
  && ok "cuba prints construction, build and run times" || notok "cuba prints times"
[ -f "$tmp/a.h5" ] && [ ! -e "$tmp/a.h5.part" ] && ok "cuba writes a complete a.h5" || notok "cuba writes a.h5"

if command -v h5dump >/dev/null; then
  # layout: magic, version, spikes groups with typed datasets and attributes
  h5dump -H "$tmp/a.h5" >"$tmp/h" 2>&1
  for pat in 'ATTRIBUTE "magic"' 'H5T_STD_U32LE' 'ATTRIBUTE "version"' 'GROUP "spikes"' \
             'GROUP "neurons"' 'DATASET "timestamps"' 'H5T_IEEE_F64LE' \
             'DATASET "node_ids"' 'H5T_STD_U64LE' 'ATTRIBUTE "sorting"' 'H5T_ENUM' \
             '"by_time"' 'ATTRIBUTE "units"' 'ATTRIBUTE "dt"' 'ATTRIBUTE "seed"' \
             'ATTRIBUTE "script"' 'ATTRIBUTE "models"' 'ATTRIBUTE "nkshell_version"'; do
    grep -qF "$pat" "$tmp/h" && ok "layout: $pat" || notok "layout: $pat"
  done
  magic=$(h5dump -a /magic "$tmp/a.h5" | grep -o '(0): [0-9]*' | head -1)
  [ "$magic" = "(0): 2682" ] && ok "magic is 0x0A7A" || notok "magic is 0x0A7A (got '$magic')"
  units=$(h5dump -a /spikes/neurons/timestamps/units "$tmp/a.h5" | grep -o '"ms"')
  [ "$units" = '"ms"' ] && ok "timestamps units ms" || notok "timestamps units ms"
  # the numbers printed (the excitatory and the inhibitory slice's) add up
  # to the numbers stored (the population's)
  n_file=$(h5dump -H -d /spikes/neurons/node_ids "$tmp/a.h5" | grep -o 'SIMPLE { ( [0-9]* )' | grep -o '[0-9]*')
  n_exc=$(grep -o 'exc: [0-9]*' "$tmp/out" | grep -o '[0-9]*')
  n_inh=$(grep -o 'inh: [0-9]*' "$tmp/out" | grep -o '[0-9]*')
  n_out=$(( ${n_exc:-0} + ${n_inh:-0} ))
  [ -n "$n_file" ] && [ -n "$n_exc" ] && [ -n "$n_inh" ] && [ "$n_exc" -gt 0 ] && [ "$n_inh" -gt 0 ] \
    && [ "$n_file" = "$n_out" ] && ok "file holds every printed spike ($n_exc + $n_inh)" \
    || notok "file holds every printed spike (file '$n_file', printed '$n_exc' + '$n_inh')"
else
  notok "h5dump is missing (scripts/setup.sh installs hdf5-tools)"
fi

# determinism: compare the datasets' contents (h5dump), not only their
# shapes (h5diff exits 0 for datasets it finds "not comparable")
if command -v h5dump >/dev/null; then
  "$nkshell" "$src/samples/cuba.lua" "$tmp/b.h5" 200 >/dev/null 2>&1
  "$nkshell" --seed 2 "$src/samples/cuba.lua" "$tmp/c.h5" 200 >/dev/null 2>&1
  dumpd() { h5dump -d "$2" -y -w 0 "$1" | sed -n '/DATA {/,/}/p'; }
  for d in /spikes/neurons/timestamps /spikes/neurons/node_ids; do
    da=$(dumpd "$tmp/a.h5" "$d"); db=$(dumpd "$tmp/b.h5" "$d")
    [ -n "$da" ] && [ "$da" = "$db" ] && ok "same seed, identical $d" || notok "same seed, identical $d"
  done
  [ "$(dumpd "$tmp/a.h5" /spikes/neurons/node_ids)" != "$(dumpd "$tmp/c.h5" /spikes/neurons/node_ids)" ] \
    && ok "another seed gives different spikes" || notok "another seed gives different spikes"
fi

# Samples on the CUDA backend, emulated on the host: the results file is the
# CPU's, every dataset and attribute, but for the root's 'backend' and
# 'run_id' (CUBA; the Izhikevich network's own model, equation sources with
# randn() and state and rate monitors; the lamina's graded synapses; the
# antennal lobe's odour sources)
if command -v h5diff >/dev/null; then
  for sample in "cuba 100" "izhikevich 200" "lamina 100" "antennal_lobe 300"; do
    read -r name ms <<<"$sample"
    if "$nkshell" --backend cpu "$src/samples/$name.lua" "$tmp/$name-cpu.h5" "$ms" >/dev/null \
         2>"$tmp/err" &&
       NKSHELL_CUDA=emulate "$nkshell" --backend cuda "$src/samples/$name.lua" \
         "$tmp/$name-cuda.h5" "$ms" >/dev/null 2>>"$tmp/err"; then
      # each object compared, and the ones with differences; datasets of
      # different lengths are not compared but listed as not comparable
      h5diff -r "$tmp/$name-cpu.h5" "$tmp/$name-cuda.h5" >"$tmp/h5diff" 2>&1
      differ=$(awk '/^(attribute|dataset):/ { o = $0 } /differences found/ && $1 > 0 { print o }
                    /not comparable/ { print "some objects are not comparable" }' "$tmp/h5diff")
      want="attribute: <backend of </>> and <backend of </>>
attribute: <run_id of </>> and <run_id of </>>"
      [ "$differ" = "$want" ] &&
        ok "$name.lua on the CUDA backend: the CPU's results file ($ms ms)" ||
        { notok "$name.lua on the CUDA backend: the CPU's results file ($ms ms)"; echo "$differ"; }
    else
      notok "$name.lua on the CUDA backend: the CPU's results file ($ms ms)"; cat "$tmp/err"
    fi
  done
fi

# signals: SIGTERM and SIGINT stop a long batch run after the current step;
# the results file is complete (renamed from .part) and holds the spikes
cat >"$tmp/long.lua" <<'LUA'
local net = nk.network{output = arg[1]}
local p = net:population("lif", 2000, {name = "p", params = {I_e = 400}})
net:monitor("spikes", p)
-- built, and spikes recorded, before the signal can come (on a loaded
-- machine compiling alone can take longer than the test waits)
net:run(50)
print("running")
io.stdout:flush()
net:run(1e7)
LUA
for sig in TERM INT; do
  out="$tmp/sig$sig.h5"
  signal_at sig running 0.5 "$sig" "$tmp/long.lua" "$out"
  want=1; [ "$sig" = TERM ] && want=143
  [ "$rc" = "$want" ] && ok "SIG$sig: exit status $want" || notok "SIG$sig: exit status $want (got $rc)"
  grep -q "interrupted at t = " "$tmp/sig.err" && ok "SIG$sig: says where it stopped" \
    || { notok "SIG$sig: says where it stopped"; cat "$tmp/sig.err"; }
  [ -f "$out" ] && [ ! -e "$out.part" ] && ok "SIG$sig: the results file is complete" \
    || notok "SIG$sig: the results file is complete"
  if command -v h5dump >/dev/null; then
    n=$(h5dump -H -d /spikes/p/node_ids "$out" 2>/dev/null | grep -o 'SIMPLE { ( [0-9]* )' | grep -o '[0-9]*')
    [ -n "$n" ] && [ "$n" -gt 0 ] && ok "SIG$sig: it holds the spikes ($n)" || notok "SIG$sig: it holds the spikes"
  fi
done

# Ctrl-C during a run inside pcall: the run stops and raises its error,
# which pcall catches; the script goes on (the interrupt raised a second
# "interrupted!" past the pcall before, and the script ended there)
cat >"$tmp/pc.lua" <<'LUA'
local net = nk.network{output = arg[1]}
local p = net:population("lif", 2000, {name = "p", params = {I_e = 400}})
net:monitor("spikes", p)
net:run(50)
print("running")
io.stdout:flush()
local ok, err = pcall(net.run, net, 1e7)
print("caught", ok, err)
net:run(10)
print("after")
LUA
signal_at pc running 0.5 INT "$tmp/pc.lua" "$tmp/pc.h5"
grep -q "^caught	false	net:run: interrupted at t = " "$tmp/pc.out" && grep -q "^after$" "$tmp/pc.out" &&
  [ "$rc" = 0 ] && ok "SIGINT inside pcall: caught, and the script goes on" ||
  { notok "SIGINT inside pcall: caught, and the script goes on (exit $rc)"; cat "$tmp/pc.out" "$tmp/pc.err"; }

# SIGTERM during a run inside pcall: the run stops and its results file is
# complete, and the shell leaves at the script's next instruction; the
# script's later runs do not run (they did, each stopped at once, until the
# script's end: a cluster job's time limit went unheeded)
{ head -n 6 "$tmp/pc.lua" # pc.lua's network, built and running
  printf '%s\n' 'for _ = 1, 5 do pcall(net.run, net, 1e7) end' 'print("after")'; } >"$tmp/pt.lua"
"$nkshell" "$tmp/pt.lua" "$tmp/pt.h5" >"$tmp/pt.out" 2>"$tmp/pt.err" &
pid=$!
for _ in $(seq 100); do grep -q running "$tmp/pt.out" 2>/dev/null && break; sleep 0.1; done
sleep 0.5
kill -s TERM "$pid"
t0=$(date +%s)
for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && kill -9 "$pid" # still going after 20 s: fails below
wait "$pid"
rc=$?
waited=$(( $(date +%s) - t0 ))
[ "$rc" = 143 ] && ! grep -q "^after$" "$tmp/pt.out" && [ "$waited" -lt 20 ] &&
  grep -q "terminated (SIGTERM)" "$tmp/pt.err" &&
  ok "SIGTERM inside pcall: the shell leaves (exit 143, ${waited} s)" ||
  { notok "SIGTERM inside pcall: the shell leaves (exit $rc, ${waited} s)"; cat "$tmp/pt.out" "$tmp/pt.err"; }
[ -f "$tmp/pt.h5" ] && [ ! -e "$tmp/pt.h5.part" ] && ok "SIGTERM inside pcall: the results file is complete" \
  || notok "SIGTERM inside pcall: the results file is complete"

# Ctrl-C during a run on the CUDA backend (emulated on the host): the host
# queues steps on the device 64 at a time, and those already queued run to
# their end, so the run stops a little after the signal. The message gives
# the time the network stopped at (it gave the step the host was at when the
# signal came, some steps before net.t), and what was recorded is the CPU's
# record of a straight run to that time, bit for bit.
cat >"$tmp/cuint.lua" <<'LUA'
-- OUTPUT BACKEND [MS]: 50 ms, then until Ctrl-C, or to MS when given
local out, backend, ms = arg[1], arg[2], tonumber(arg[3])
local net = nk.network{output = out, backend = backend}
local p = net:population("lif", 2000, {name = "p", params = {I_e = 400},
                                       init = {v = nk.uniform(-70, -50)}})
local m = net:monitor("spikes", p)
net:run(50)
if ms then
  net:run(ms - 50)
else
  print("running")
  io.stdout:flush()
  print("caught", pcall(net.run, net, 1e7))
end
print(string.format("t = %g ms", net.t))
local f = assert(io.open(out .. ".txt", "w"))
local ts, ids = m:times(), m:ids()
for k = 1, #ts do f:write(string.format("%.17g %d\n", ts[k], ids[k])) end
f:close()
print("spikes", #ts)
LUA
NKSHELL_CUDA=emulate signal_at cuint running 0.5 INT "$tmp/cuint.lua" "$tmp/cuint.h5" cuda
stopped=$(grep -o "^t = .* ms" "$tmp/cuint.out" | cut -d' ' -f3)
if [ "$rc" = 0 ] && [ -n "$stopped" ] &&
  grep -q "^caught	false	net:run: interrupted at t = $stopped ms; " "$tmp/cuint.out"; then
  ok "SIGINT on the CUDA backend: caught, and the message gives the time it stopped at ($stopped ms)"
else
  notok "SIGINT on the CUDA backend: caught, and the message gives the time it stopped at (exit $rc)"
  cat "$tmp/cuint.out" "$tmp/cuint.err"
fi
"$nkshell" --backend cpu "$tmp/cuint.lua" "$tmp/cpuref.h5" cpu "${stopped:-0}" >"$tmp/cpuref.out" 2>&1
if [ -n "$stopped" ] && grep -q "^t = $stopped ms" "$tmp/cpuref.out" &&
  cmp -s "$tmp/cuint.h5.txt" "$tmp/cpuref.h5.txt"; then
  ok "SIGINT on the CUDA backend: what it recorded is the CPU's run to $stopped ms ($(grep -o 'spikes.*' "$tmp/cuint.out"))"
else
  notok "SIGINT on the CUDA backend: what it recorded is the CPU's run to ${stopped:-?} ms"
  cat "$tmp/cpuref.out"; cmp "$tmp/cuint.h5.txt" "$tmp/cpuref.h5.txt"
fi
[ -f "$tmp/cuint.h5" ] && [ ! -e "$tmp/cuint.h5.part" ] &&
  ok "SIGINT on the CUDA backend: the results file is complete" ||
  notok "SIGINT on the CUDA backend: the results file is complete"

# Ctrl-C and SIGTERM while nk.read goes through 100,000 attributes (about
# 2 s): the read stops between attributes, releases the file and raises its
# own error (the read went on until a Lua hook happened to fire inside it).
# Ctrl-C inside pcall is caught, and the script goes on and reads the file
# again; SIGTERM leaves.
if [ -n "${NKSHELL_H5ATTRS:-}" ] && "$NKSHELL_H5ATTRS" 100000 "$tmp/attrs.h5"; then
  cat >"$tmp/rd.lua" <<'LUA'
print("reading")
io.stdout:flush()
local t0 = nk.clock()
if arg[2] == "pcall" then
  local ok, err = pcall(nk.read, arg[1])
  print("caught", ok, err)
else
  nk.read(arg[1])
end
print(string.format("after %.2f s", nk.clock() - t0))
local n = 0
for _ in pairs(nk.read(arg[1]).g.attrs) do n = n + 1 end
print("read again", n)
LUA
  for sig in INT TERM; do
    mode=pcall; [ "$sig" = TERM ] && mode=plain
    signal_at rd reading 0.3 "$sig" "$tmp/rd.lua" "$tmp/attrs.h5" "$mode"
    if [ "$sig" = INT ]; then
      grep -q "^caught	false	nk.read: interrupted while reading '.*attrs.h5'$" "$tmp/rd.out" &&
        grep -q "^read again	100000$" "$tmp/rd.out" && [ "$rc" = 0 ] &&
        ok "SIGINT during nk.read: it stops, pcall catches it, the file reads again ($(grep -o 'after .*' "$tmp/rd.out"))" ||
        { notok "SIGINT during nk.read: it stops, pcall catches it (exit $rc)"; cat "$tmp/rd.out" "$tmp/rd.err"; }
    else
      # (the message is the hook's: it fires as the read's state is closed)
      [ "$rc" = 143 ] && ! grep -q "^after" "$tmp/rd.out" &&
        grep -q "terminated (SIGTERM)" "$tmp/rd.err" &&
        ok "SIGTERM during nk.read: it stops and the shell leaves (exit 143)" ||
        { notok "SIGTERM during nk.read: it stops and the shell leaves (exit $rc)"; cat "$tmp/rd.out" "$tmp/rd.err"; }
    fi
  done
else
  notok "h5attrs writes a file of 100,000 attributes"
fi

# A file-size limit (ulimit -f) hit while writing results: the run stops
# with a message (not SIGXFSZ), the session goes on, and the process leaves
# normally (HDF5 1.10 crashed at exit on the file it could not close)
cat >"$tmp/fsz.lua" <<'LUA'
local n = nk.network{output = arg[1]}
local p = n:population("lif", 1000, {name = "p"})
local m = n:monitor("state", p, {vars = {"v"}, every = 1})
print(pcall(n.run, n, 100))
print("samples kept", #m)
LUA
(ulimit -f 500; "$nkshell" "$tmp/fsz.lua" "$tmp/fsz.h5" >"$tmp/fsz.out" 2>"$tmp/fsz.err")
rc=$?
grep -q "^false	net:run: cannot write .*File too large" "$tmp/fsz.out" &&
  grep -q "^samples kept	1000$" "$tmp/fsz.out" && [ "$rc" = 0 ] &&
  ok "a file-size limit: a message, the samples kept, a normal exit" ||
  { notok "a file-size limit: a message, the samples kept, a normal exit (exit $rc)"; cat "$tmp/fsz.out" "$tmp/fsz.err"; }

# flyscale: generates a small synthetic connectome, loads it by root id, runs
if "$nkshell" "$src/samples/flyscale.lua" 100 >"$tmp/fly" 2>"$tmp/flyerr"; then
  ok "flyscale.lua runs"
else
  notok "flyscale.lua runs"; cat "$tmp/flyerr"
fi
grep -q "^connectome: 5000 neurons, [0-9]* rows -> [0-9]* synapses" "$tmp/fly" \
  && ok "flyscale loads the generated connectome" || notok "flyscale loads the connectome"
rate=$(sed -n 's/.*driven (30 neurons, 150 Hz Poisson): \([0-9.]*\) Hz.*/\1/p' "$tmp/fly")
awk -v r="${rate:-0}" 'BEGIN { exit !(r > 50 && r < 150) }' \
  && ok "flyscale: the driven neurons fire (${rate} Hz)" || notok "flyscale: driven rate '${rate}'"

# nk-flyscale-gen (found as samples/flyscale.lua finds it: $NK_FLYSCALE_GEN,
# else beside this nkshell) on an edges file it cannot write: exit status 1,
# one line naming the file and the system's reason (under the sanitizers, a
# leak report would add lines), and no .part file left (the nodes file,
# written first, is not left either).
gen=${NK_FLYSCALE_GEN:-$(dirname "$nkshell")/../scripts/flyscale/nk-flyscale-gen}
if [ -x "$gen" ]; then
  for case in "nodir/edges.csv:No such file or directory" "/dev/full:No space left on device"; do
    edges=${case%%:*}; why=${case#*:}
    rm -rf "$tmp/gen"; mkdir "$tmp/gen"
    [ "${edges#/}" = "$edges" ] && edges=$tmp/gen/$edges
    [ "$edges" = /dev/full ] && [ ! -w /dev/full ] && continue
    "$gen" -q -n 1000 -k 5 -m "$tmp/gen/nodes.csv" -o "$edges" 2>"$tmp/gen.err"
    rc=$?
    [ "$rc" = 1 ] && [ "$(wc -l <"$tmp/gen.err")" = 1 ] &&
      grep -qF "nk-flyscale-gen: cannot write the edges file '$edges'" "$tmp/gen.err" &&
      grep -qF ": $why" "$tmp/gen.err" &&
      ok "nk-flyscale-gen, edges file $edges: exit status 1, one line naming the file and the reason" ||
      { notok "nk-flyscale-gen, edges file $edges: exit status 1 (got $rc), one line naming the file and '$why'"
        head -20 "$tmp/gen.err"; }
    left=$(ls -A "$tmp/gen")
    [ -z "$left" ] && ok "nk-flyscale-gen, edges file $edges: no .part (or nodes) file left" ||
      notok "nk-flyscale-gen, edges file $edges: files left: $left"
  done
else
  notok "nk-flyscale-gen not found at $gen (build it, or set NK_FLYSCALE_GEN)"
fi

# COBA and COBAHH (Brette et al. 2007 benchmarks 1 and 3), 200 ms each: they
# run, their results files read back (nk.read) with spikes of the excitatory
# and the inhibitory neurons (COBAHH's two populations; COBA's one population
# 'neurons', ids 0-3199 and 3200-3999), and the mean rates read from the
# file lie in a band. The bands
# come from runs of 200 ms with seeds 1-8 (COBA) and 1-3 (COBAHH) and their
# Brian2 twins (scripts/bench/brian2/coba.py, cobahh.py): COBA 16.8-21.1 Hz
# per population, COBAHH 33.5-39.9 Hz, where the activity lives (with a few
# seeds COBA's dies out, below 1 Hz; seed 1, the default, lives). The bands
# are wide, to hold across changes that move single spikes.
cat >"$tmp/rates.lua" <<'LUA'
local r = nk.read(arg[1])
local ms = tonumber(arg[2])
local out = {}
local one = r.spikes and r.spikes.neurons
for _, pop in ipairs{"exc", "inh"} do
  local n = 0
  if one then -- one population: the excitatory neurons are ids 0-3199
    for _, id in ipairs(one.node_ids) do
      if (id < 3200) == (pop == "exc") then n = n + 1 end
    end
  else
    local s = r.spikes and r.spikes[pop]
    n = s and #s.timestamps or 0
  end
  local size = pop == "exc" and 3200 or 800
  out[#out + 1] = string.format("%s %d %.3f", pop, n, n / size / (ms / 1000))
end
print(table.concat(out, " "))
LUA
for model in coba:12:28 cobahh:25:50; do
  name=${model%%:*}; band=${model#*:}; lo=${band%%:*}; hi=${band#*:}
  if "$nkshell" "$src/samples/$name.lua" "$tmp/$name.h5" 200 >"$tmp/$name.out" 2>"$tmp/$name.err"; then
    ok "$name.lua runs"
  else
    notok "$name.lua runs"; cat "$tmp/$name.err"
  fi
  [ -f "$tmp/$name.h5" ] && [ ! -e "$tmp/$name.h5.part" ] && ok "$name writes a complete results file" \
    || notok "$name writes a complete results file"
  grep -q "exc: [0-9]* spikes" "$tmp/$name.out" && grep -q "  run .* s" "$tmp/$name.out" \
    && ok "$name prints rates and times" || notok "$name prints rates and times"
  rates=$("$nkshell" "$tmp/rates.lua" "$tmp/$name.h5" 200 2>&1)
  set -- $rates   # exc N RATE inh N RATE
  if [ $# -eq 6 ] && [ "$2" -gt 0 ] && [ "$5" -gt 0 ]; then
    ok "$name: nk.read finds spikes of exc ($2) and inh ($5)"
  else
    notok "$name: nk.read finds spikes of both populations (got '$rates')"
  fi
  awk -v e="${3:-0}" -v i="${6:-0}" -v lo="$lo" -v hi="$hi" \
      'BEGIN { exit !(e > lo && e < hi && i > lo && i < hi) }' \
    && ok "$name: rates in $lo..$hi Hz (exc ${3:-?}, inh ${6:-?})" \
    || notok "$name: rates in $lo..$hi Hz (exc ${3:-?}, inh ${6:-?})"
done

# The samples of issue #7. Each runs as a user runs it (shortened), prints
# its summary, writes a complete results file with the groups it names, and
# shows what its header says it shows.
runsample() {   # NAME DURATION [extra nkshell options]: runs into $tmp/NAME.h5, $tmp/NAME.out
  local name=$1 ms=$2; shift 2
  rm -f "$tmp/$name.h5"
  if "$nkshell" "$@" "$src/samples/$name.lua" "$tmp/$name.h5" "$ms" >"$tmp/$name.out" 2>"$tmp/$name.err"; then
    ok "$name.lua runs"
  else
    notok "$name.lua runs"; cat "$tmp/$name.err"
  fi
  [ -f "$tmp/$name.h5" ] && [ ! -e "$tmp/$name.h5.part" ] && ok "$name writes a complete results file" \
    || notok "$name writes a complete results file"
  grep -q "what it shows:" "$tmp/$name.out" && grep -q "  results: $tmp/$name.h5" "$tmp/$name.out" \
    && ok "$name prints what it shows" || notok "$name prints what it shows"
}
hasgroups() {   # NAME GROUP...: the results file holds these groups
  local name=$1; shift
  command -v h5dump >/dev/null || return 0
  h5dump -H "$tmp/$name.h5" >"$tmp/$name.h" 2>&1
  local g missing=""
  for g in "$@"; do grep -qF "GROUP \"$g\"" "$tmp/$name.h" || missing="$missing $g"; done
  [ -z "$missing" ] && ok "$name: the results file holds $*" || notok "$name: the results file lacks$missing"
}

# Brunel (2000), 300 ms at the default scale (0.2): the four states of Fig. 8
# are told apart. Measured with seeds 1-4 at 300 ms: A 333 Hz, CV 0.00, chi
# 0.50-0.53; B 57-60 Hz, CV 0.85-0.92, peak 160-182 Hz; C 36-39 Hz, CV
# 0.43-0.47, chi 0.19-0.24; D 4-6 Hz, peak 15-21 Hz (remeasured 2026-11-22: peak 19-47 Hz).
runsample brunel 300
hasgroups brunel A_exc A_inh B_exc C_exc D_inh spikes rate field
state() { sed -n "s/^  $1 .*/&/p" "$tmp/brunel.out" | awk '{print $4, $5, $6, $7}'; }   # rate CV chi peak
read -r ra cva chia fa <<<"$(state A)"
read -r rb cvb chib fb <<<"$(state B)"
read -r rc cvc chic fc <<<"$(state C)"
read -r rd cvd chid fd <<<"$(state D)"
awk -v r="${ra:-0}" -v cv="${cva:-1}" -v chi="${chia:-0}" 'BEGIN { exit !(r > 250 && cv < 0.1 && chi > 0.4) }' \
  && ok "brunel: A is synchronous regular (${ra} Hz, CV ${cva}, chi ${chia})" \
  || notok "brunel: A is synchronous regular (got '${ra}' Hz, CV '${cva}', chi '${chia}')"
awk -v cv="${cvc:-0}" -v chi="${chic:-1}" -v chia="${chia:-0}" -v r="${rc:-0}" \
    'BEGIN { exit !(cv > 0.3 && chi < chia / 1.5 && r > 10 && r < 80) }' \
  && ok "brunel: C is irregular and less synchronous than A (CV ${cvc}, chi ${chic})" \
  || notok "brunel: C is irregular, less synchronous than A (got CV '${cvc}', chi '${chic}' against '${chia}')"
awk -v cv="${cvb:-0}" -v f="${fb:-0}" -v cvc="${cvc:-9}" 'BEGIN { exit !(cv > cvc && f > 100) }' \
  && ok "brunel: B oscillates fast (${fb} Hz) with irregular neurons (CV ${cvb})" \
  || notok "brunel: B oscillates fast with irregular neurons (got peak '${fb}' Hz, CV '${cvb}')"
awk -v r="${rd:-99}" -v f="${fd:-999}" 'BEGIN { exit !(r < 15 && r > 1 && f < 60) }' \
  && ok "brunel: D fires slowly (${rd} Hz) in a slow rhythm (${fd} Hz)" \
  || notok "brunel: D fires slowly in a slow rhythm (got '${rd}' Hz, peak '${fd}' Hz)"

# Izhikevich (2003), 500 ms: rates near the paper program's (7-8 Hz; the
# same program in plain Lua gives 7.0-7.8 Hz), an alpha rhythm and more
# gamma than a flat spectrum; the same seed prints the same, another not.
runsample izhikevich 500
hasgroups izhikevich exc inh spikes rate report
re=$(sed -n 's/.*exc (regular spiking, 800): [0-9]* spikes, \([0-9.]*\) Hz.*/\1/p' "$tmp/izhikevich.out")
ri=$(sed -n 's/.*inh (fast spiking, 200): *[0-9]* spikes, \([0-9.]*\) Hz.*/\1/p' "$tmp/izhikevich.out")
awk -v e="${re:-0}" -v i="${ri:-0}" 'BEGIN { exit !(e > 4 && e < 12 && i > 4 && i < 12) }' \
  && ok "izhikevich: rates in 4..12 Hz (exc ${re}, inh ${ri})" \
  || notok "izhikevich: rates in 4..12 Hz (exc '${re}', inh '${ri}')"
grep -q "the rhythms: .*: the alpha and gamma rhythms" "$tmp/izhikevich.out" \
  && ok "izhikevich: alpha and gamma rhythms" || { notok "izhikevich: alpha and gamma rhythms"; grep rhythms "$tmp/izhikevich.out"; }
cp "$tmp/izhikevich.out" "$tmp/izh1.out"
"$nkshell" "$src/samples/izhikevich.lua" "$tmp/izh2.h5" 500 >"$tmp/izh2.out" 2>&1
"$nkshell" --seed 2 "$src/samples/izhikevich.lua" "$tmp/izh3.h5" 500 >"$tmp/izh3.out" 2>&1
summary() { grep -E "spikes|rhythms" "$1"; }
[ -n "$(summary "$tmp/izh1.out")" ] && [ "$(summary "$tmp/izh1.out")" = "$(summary "$tmp/izh2.out")" ] \
  && ok "izhikevich: the same seed gives the same spikes" || notok "izhikevich: the same seed gives the same spikes"
[ "$(summary "$tmp/izh1.out")" != "$(summary "$tmp/izh3.out")" ] \
  && ok "izhikevich: another seed gives other spikes" || notok "izhikevich: another seed gives other spikes"

# Antennal lobe, 900 ms (odour 300..600 ms): every activated glomerulus'
# PNs fire more during the odour than before, the others' less with the
# LNs, and without the LNs they keep firing.
runsample antennal_lobe 900
hasgroups antennal_lobe orn pn pn_ctl ln spikes report
# per glomerulus: affinity, PN before, PN during, control before, control during
awk '/^  G[0-9]+ / { print $2, $6, $8, $9, $11 }' "$tmp/antennal_lobe.out" >"$tmp/al.tab"
n_al=$(wc -l <"$tmp/al.tab")
[ "$n_al" -eq 12 ] && ok "antennal_lobe prints 12 glomeruli" || notok "antennal_lobe prints 12 glomeruli (got $n_al)"
bad=$(awk '$1 > 0 && !($3 > $2 + 20) { print "activated " NR ": " $0 }
           $1 == 0 && !($3 <= $2 || $3 < 4) { print "other " NR ": " $0 }' "$tmp/al.tab")
[ "$n_al" -eq 12 ] && [ -z "$bad" ] \
  && ok "antennal_lobe: activated glomeruli's PNs rise during the odour, the others' fall" \
  || { notok "antennal_lobe: activated PNs rise, the others fall"; echo "$bad"; }
awk '$1 == 0 { n++; w += $3; c += $5 } END { exit !(n == 8 && w / n < 3 && c / n > 8) }' "$tmp/al.tab" \
  && ok "antennal_lobe: lateral inhibition silences the other glomeruli (not so without LNs)" \
  || { notok "antennal_lobe: lateral inhibition"; cat "$tmp/al.tab"; }
grep -q "LNs: [0-9.]* -> [0-9.]* Hz" "$tmp/antennal_lobe.out" && ok "antennal_lobe prints the LN rates" \
  || notok "antennal_lobe prints the LN rates"

# Lamina, its default 600 ms: the LMCs' dips follow the bar, cartridge
# after cartridge, at the bar's speed (250 deg/s).
runsample lamina 600
hasgroups lamina R1 L1 L2 report
awk '/^  [0-9]+ +[0-9]+ +[0-9.]+ / { print $6 }' "$tmp/lamina.out" >"$tmp/lam.tab"
n_lam=$(wc -l <"$tmp/lam.tab")
awk 'NR > 1 && !($1 > prev) { bad = 1 } { prev = $1 } END { exit !(NR == 20 && !bad) }' "$tmp/lam.tab" \
  && ok "lamina: L1's dip times increase along the 20 cartridges" \
  || { notok "lamina: L1's dip times increase along the row ($n_lam rows)"; cat "$tmp/lam.tab"; }
v=$(sed -n 's/.*the wave moves at \([0-9.]*\) deg\/s.*/\1/p' "$tmp/lamina.out")
awk -v v="${v:-0}" 'BEGIN { exit !(v > 237.5 && v < 262.5) }' \
  && ok "lamina: the wave moves at the bar's speed (${v} deg/s for 250)" \
  || notok "lamina: the wave moves at the bar's speed (got '${v}' deg/s for 250)"

# The Potjans & Diesmann (2014) microcircuit at scale 0.02 (1,544 neurons,
# 6 million synapses; about 2 s), 300 ms: the neurons and synapses the
# scaled model must have, every population fires, rates finite and below
# 50 Hz, L4E and L6E near the full model's (4.7 and 1.0 Hz), and the
# inhibitory neurons of L2/3, L4 and L6 faster than the excitatory ones.
# Remeasured 2026-11-22 with seeds 1-13: L4E 3.2-4.5 Hz, L6E 0.54-3.26 Hz
# (seed 8's L6E lies above the 0.3-3 Hz band below; only seed 1, the
# default, is checked). Measured before, with seeds 1-13: the fastest
# population 11.4-24.6 Hz, inhibitory/excitatory 1.5-2.4 (L2/3), 1.9-4.0
# (L4), 6.6-12.7 (L6). At this scale L2/3E and L5 wander (L2/3E 2.6-12 Hz), so
# they are not checked.
rm -f "$tmp/microcircuit.h5"
if "$nkshell" "$src/samples/microcircuit.lua" "$tmp/microcircuit.h5" 300 0.02 \
     >"$tmp/microcircuit.out" 2>"$tmp/microcircuit.err"; then
  ok "microcircuit.lua runs"
else
  notok "microcircuit.lua runs"; cat "$tmp/microcircuit.err"
fi
[ -f "$tmp/microcircuit.h5" ] && [ ! -e "$tmp/microcircuit.h5.part" ] \
  && ok "microcircuit writes a complete results file" || notok "microcircuit writes a complete results file"
hasgroups microcircuit L23E L23I L4E L4I L5E L5I L6E L6I spikes
grep -q "what it shows:" "$tmp/microcircuit.out" && grep -q "  results: $tmp/microcircuit.h5" "$tmp/microcircuit.out" \
  && ok "microcircuit prints what it shows" || notok "microcircuit prints what it shows"
grep -q "^Potjans & Diesmann (2014) microcircuit at scale 0.02: 1544 neurons, 5977620 synapses, PSC 87.81 pA" \
  "$tmp/microcircuit.out" && ok "microcircuit: 1544 neurons, 5977620 synapses at scale 0.02" \
  || { notok "microcircuit: neurons and synapses at scale 0.02"; head -1 "$tmp/microcircuit.out"; }
# population rate, one line each: L23E L23I L4E L4I L5E L5I L6E L6I
mc_rates=$(awk '/^  L[0-9]+[EI] / { printf "%s%s", sep, $6; sep = " " }' "$tmp/microcircuit.out")
read -r r23e r23i r4e r4i r5e r5i r6e r6i <<<"$mc_rates"
awk -v rates="$mc_rates" 'BEGIN { n = split(rates, r, " "); bad = n != 8
                                  for (k = 1; k <= n; k++) if (!(r[k] > 0 && r[k] < 50)) bad = 1
                                  exit bad }' \
  && ok "microcircuit: every population fires, below 50 Hz ($mc_rates)" \
  || notok "microcircuit: every population fires, below 50 Hz (got '$mc_rates')"
awk -v e4="${r4e:-0}" -v e6="${r6e:-0}" 'BEGIN { exit !(e4 > 2 && e4 < 8 && e6 > 0.3 && e6 < 3) }' \
  && ok "microcircuit: L4E ${r4e} Hz, L6E ${r6e} Hz (full model 4.7, 1.0)" \
  || notok "microcircuit: L4E in 2..8 Hz, L6E in 0.3..3 Hz (got '${r4e}', '${r6e}')"
awk -v e23="${r23e:-1}" -v i23="${r23i:-0}" -v e4="${r4e:-1}" -v i4="${r4i:-0}" -v e6="${r6e:-1}" -v i6="${r6i:-0}" \
    'BEGIN { exit !(i23 > e23 && i4 > e4 && i6 > 2 * e6) }' \
  && ok "microcircuit: inhibitory faster than excitatory in L2/3, L4, L6" \
  || notok "microcircuit: inhibitory faster than excitatory (L2/3 ${r23i}/${r23e}, L4 ${r4i}/${r4e}, L6 ${r6i}/${r6e})"
"$nkshell" "$src/samples/microcircuit.lua" "$tmp/mc2.h5" 100 2 >/dev/null 2>"$tmp/mc2.err"
[ $? -ne 0 ] && grep -q "SCALE must be in (0, 1\]" "$tmp/mc2.err" \
  && ok "microcircuit refuses SCALE 2" || { notok "microcircuit refuses SCALE 2"; cat "$tmp/mc2.err"; }

# The sandbox tour, shortened to 50 ms: every model runs, the spiking ones
# fire, and with a directory each gets its picture.
mkdir -p "$tmp/tour"
if "$nkshell" "$src/samples/sandbox_tour.lua" 50 "$tmp/tour" >"$tmp/tour.out" 2>"$tmp/tour.err"; then
  ok "sandbox_tour.lua runs"
else
  notok "sandbox_tour.lua runs"; cat "$tmp/tour.err"
fi
n_models=$("$nkshell" -e 'print(#nk.models())')
n_png=$(ls "$tmp/tour"/*.png 2>/dev/null | wc -l)
[ "$n_png" -eq "$n_models" ] && ok "sandbox_tour draws every model ($n_png)" \
  || notok "sandbox_tour draws every model ($n_png of $n_models)"
# all but the graded morris_lecar and (in 50 ms, at 10 Hz, by chance) poisson
n_fired=$(sed -n 's/^\([0-9]*\) neuron models fired: .*/\1/p' "$tmp/tour.out")
[ "${n_fired:-0}" -ge 15 ] && grep -q "fired: lif, .* hh, " "$tmp/tour.out" \
  && ok "sandbox_tour: $n_fired neuron models fire" \
  || { notok "sandbox_tour: 15 or more neuron models fire"; grep "models fired" "$tmp/tour.out"; }
grep -q "^hh: 1 neuron, 50 ms at dt 0.025 ms, a dc step of [0-9.]* pA" "$tmp/tour.out" \
  && ok "sandbox_tour says what each model got" || notok "sandbox_tour says what each model got"

echo "samples: $fails failed"
[ "$fails" -eq 0 ]
