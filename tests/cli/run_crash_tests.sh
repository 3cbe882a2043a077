#!/usr/bin/env bash
# Results survive a crash, and a crashed batch run resumes bit-identically.
#
# A child nkshell is killed with SIGKILL in the middle of a run that writes
# rolling checkpoints. Its NAME.h5.part must be readable by the HDF5 C API
# (nk.read opens it in SWMR-read mode) and by h5dump (after `h5clear -s` on
# a copy: HDF5 1.10's tools refuse a file whose writer died until its
# "open for writing" flags are cleared), and hold a prefix of what an
# uninterrupted run records. `nkshell --resume CHECKPOINT SCRIPT` must then
# finish the run with a results file equal, spike for spike and row for row,
# to the uninterrupted run's.
#
#   run_crash_tests.sh NKSHELL SRCDIR
set -u
nkshell=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
ok() { echo "ok - $1"; }
notok() { echo "not ok - $1"; fails=$((fails + 1)); }

mkdir "$tmp/ref" "$tmp/crash"
cat >"$tmp/model.lua" <<'LUA'
-- 3000 LIF neurons driven by Poisson input, recurrent inhibition; long
-- enough that the child is killed mid-run.
local ms = tonumber(arg[1]) or 4000
local net = nk.network{dt = 0.1, seed = 5, output = "run.h5"}
local e = net:population("lif", 2400, {name = "exc"})
local i = net:population("lif", 600, {name = "inh"})
net:connect(e, i, {rule = "fixed_indegree", indegree = 40, weight = 30, delay = 1.2})
net:connect(i, e, {rule = "fixed_indegree", indegree = 20, weight = -60, delay = 2.1})
net:source("poisson", e, {rate = 2000, weight = 250})
net:source("poisson", i, {rate = 1500, weight = 250})
net:monitor("spikes", e)
net:monitor("spikes", i)
net:monitor("state", e:slice(1, 4), {vars = {"v", "exc.isyn"}, every = 10})
net:monitor("rate", i, {bin = 5})
-- two runs (the resume must get across the second's start), the first long:
-- between runs the file is reopened, and a kill in those milliseconds
-- leaves a file that only h5clear opens, which is not what this tests
net:run(ms * 3 / 4, {checkpoint_every = 100, progress = false})
net:run(ms / 4, {checkpoint_every = 100, progress = false})
print("finished at", net.t)
LUA

# the uninterrupted run
(cd "$tmp/ref" && "$nkshell" "$tmp/model.lua" >out 2>err) && ok "reference run" \
  || { notok "reference run"; cat "$tmp/ref/err"; }

# the run that is killed: wait for a checkpoint and some flushed data
cd "$tmp/crash"
"$nkshell" "$tmp/model.lua" >out 2>err &
pid=$!
for _ in $(seq 1 300); do
  [ -f run.ckpt.h5 ] && [ -f run.h5.part ] && [ "$(stat -c %s run.h5.part)" -gt 200000 ] && break
  sleep 0.1
done
sleep 0.3
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
if [ -f run.h5.part ] && [ ! -f run.h5 ] && [ -f run.ckpt.h5 ]; then
  ok "killed mid-run: run.h5.part and run.ckpt.h5 are there"
else
  notok "killed mid-run (files: $(ls))"
fi

# the HDF5 C API (SWMR read) and h5dump (after h5clear on a copy) read it
cat >"$tmp/prefix.lua" <<'LUA'
local part, ref = nk.read(arg[1]), nk.read(arg[2])
local n = 0
for _, pop in ipairs{"exc", "inh"} do
  local a, b = part.spikes[pop], ref.spikes[pop]
  assert(#a.timestamps == #a.node_ids, pop .. ": timestamps and node_ids of equal length")
  assert(#a.timestamps <= #b.timestamps, pop .. ": not more spikes than the full run")
  for k = 1, #a.timestamps do
    if a.timestamps[k] ~= b.timestamps[k] or a.node_ids[k] ~= b.node_ids[k] then
      error(pop .. ": spike " .. k .. " differs from the uninterrupted run")
    end
  end
  n = n + #a.timestamps
end
local rows = part.report.exc.data
for r = 1, #rows do
  for c = 1, #rows[r] do
    assert(rows[r][c] == ref.report.exc.data[r][c], "report row " .. r .. " differs")
  end
end
print(n, #rows)
LUA
if out=$("$nkshell" "$tmp/prefix.lua" run.h5.part ../ref/run.h5 2>&1); then
  set -- $out
  if [ "${1:-0}" -gt 0 ] && [ "${2:-0}" -gt 0 ]; then
    ok "the C API reads the .part: $1 spikes and $2 report rows, a prefix of the full run"
  else
    notok "the .part holds data (got '$out')"
  fi
else
  notok "the C API reads the .part as a prefix of the full run: $out"
fi
if command -v h5clear >/dev/null && command -v h5dump >/dev/null; then
  cp run.h5.part copy.h5
  if h5clear -s copy.h5 && h5dump -H copy.h5 >h 2>&1 && grep -q 'DATASET "timestamps"' h; then
    ok "h5dump reads the killed run's file (after h5clear -s on a copy)"
  else
    notok "h5dump reads the killed run's file"; head -5 h
  fi
  # nk.recover makes the .part whole: h5dump then reads it as it is
  mkdir rec && cp run.h5.part rec/
  if (cd rec && "$nkshell" -e 'nk.recover("run.h5")') && [ -f rec/run.h5 ] && [ ! -e rec/run.h5.part ] \
     && h5dump -H rec/run.h5 >h2 2>&1 && grep -q 'DATASET "timestamps"' h2; then
    ok "nk.recover turns the killed run's .part into run.h5, which h5dump reads"
  else
    notok "nk.recover turns the .part into a file h5dump reads"; head -5 h2
  fi
  if "$nkshell" -e 'nk.recover("'"$tmp"'/nothing.h5")' 2>e3; then
    notok "nk.recover of a missing file fails"
  else
    grep -q "there is no '.*nothing.h5.part'" e3 && ok "nk.recover of a missing file says so" \
      || { notok "nk.recover's message"; cat e3; }
  fi
else
  echo "ok - # SKIP h5dump/h5clear not installed"
fi

# resume: the same script finishes the run; the file equals the reference
if "$nkshell" --resume run.ckpt.h5 "$tmp/model.lua" >out 2>err; then
  ok "--resume finishes the run"
else
  notok "--resume finishes the run"; cat err
fi
[ -f run.h5 ] && [ ! -e run.h5.part ] && ok "resumed run renames run.h5.part to run.h5" \
  || notok "resumed run leaves run.h5 (files: $(ls))"
if command -v h5diff >/dev/null; then
  for obj in /spikes/exc/timestamps /spikes/exc/node_ids /spikes/inh/timestamps \
             /spikes/inh/node_ids /report/exc/data /rate/inh; do
    if h5diff run.h5 ../ref/run.h5 "$obj" "$obj" >d 2>&1; then
      ok "resumed $obj equals the uninterrupted run's"
    else
      notok "resumed $obj equals the uninterrupted run's"; head -5 d
    fi
  done
fi

# a checkpoint of another network is refused with the reason
sed 's/"lif", 600/"lif", 601/' "$tmp/model.lua" >"$tmp/other.lua"
if "$nkshell" --resume run.ckpt.h5 "$tmp/other.lua" 100 >out 2>err; then
  notok "a checkpoint of a different network is refused"
else
  grep -q "different network: population 2 is 'inh' with 600 lif neurons there, 'inh' with 601" err \
    && ok "a checkpoint of a different network is refused with the reason" \
    || { notok "refusal names the difference"; cat err; }
fi

# a --resume that no network takes (a script that runs none; a script's
# name given as the checkpoint) says so and fails: it exited 0 without a word
echo 'print("no network here")' >"$tmp/nonet.lua"
if "$nkshell" --resume run.ckpt.h5 "$tmp/nonet.lua" >out 2>err; then
  notok "an unused --resume fails"
else
  grep -q "^nkshell: --resume: no network ran, so nothing was resumed from 'run.ckpt.h5'" err \
    && grep -q "no network here" out && ok "an unused --resume fails, with the reason" \
    || { notok "an unused --resume names the checkpoint"; cat err; }
fi

# after --resume, a script's run that ends before the checkpoint is skipped;
# one of more than 2^62 steps is refused like any other: its step count
# overflowed int64_t there and the run was skipped too, without a word
mkdir "$tmp/huge" && cd "$tmp/huge"
cat >"$tmp/huge.lua" <<'LUA'
local net = nk.network{output = "h.h5"}
net:population("lif", 3)
net:run(tonumber(arg[1]), {checkpoint_every = 5, progress = false})
print(pcall(net.run, net, 1e300))
LUA
"$nkshell" "$tmp/huge.lua" 10 >out 2>err || { notok "checkpointed run"; cat err; }
if "$nkshell" --resume h.ckpt.h5 "$tmp/huge.lua" 2 >out 2>err \
   && grep -q "false.*1e+300 ms is 1e+301 steps of dt = 0.1 ms; a network takes at most 2^62" out; then
  ok "after --resume, a run of more than 2^62 steps is refused"
else
  notok "after --resume, a run of more than 2^62 steps is refused"; cat out err
fi

echo "crash: $fails failed"
[ "$fails" -eq 0 ]
