#!/usr/bin/env bash
# The tutorial is true: its lua blocks run, in order, in one nkshell (each in
# its own do ... end), in an empty directory; the output it shows is the
# output they give, and the files it says it writes are written.
#
#   run_doc_tests.sh NKSHELL SRCDIR
set -u
nkshell=$1
src=$2
case $nkshell in /*) ;; *) nkshell=$PWD/$nkshell ;; esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
ok() { echo "ok - $1"; }
notok() { echo "not ok - $1"; fails=$((fails + 1)); }
export LC_ALL=C.UTF-8
unset LUA_INIT LUA_INIT_5_4

doc=$src/docs/tutorial.md
awk '/^```lua$/ {inb = 1; print "do"; next}
     /^```$/ {if (inb) print "end"; inb = 0; next}
     inb {print}' "$doc" >"$tmp/tutorial.lua"
nblocks=$(grep -c '^```lua$' "$doc")
[ "$nblocks" -ge 6 ] && ok "the tutorial has $nblocks lua blocks" || notok "the tutorial has lua blocks ($nblocks)"

if (cd "$tmp" && "$nkshell" --threads 2 tutorial.lua >out 2>err); then
  ok "the tutorial's lua blocks run"
else
  notok "the tutorial's lua blocks run"; sed 's/^/# /' "$tmp/err"
fi
for f in izh.png raster.png v.pdf rate.svg tutorial.h5; do
  [ -s "$tmp/$f" ] && ok "the tutorial writes $f" || notok "the tutorial writes $f"
done
# Lines the tutorial shows as output must be lines the blocks printed.
for line in \
  "hh: 1 neuron, 100 ms at dt 0.025 ms, a dc step of 6.7 pA from 10 to 90 ms" \
  "  5 spikes (50.0 Hz) at 12.4, 30.2, 47.8, 65.5, 83.2 ms; first at 12.43 ms, mean interval 17.68 ms" \
  "network: 2 populations (1000 neurons), 4 projections (79894 synapses), 0 sources, 2 monitors" \
  "    exc -> exc (bernoulli, exp_curr on receptor 'exc'): 50944 synapses, weight 16.2, delay 0.1 ms" \
  "    2: state monitor 'exc' on 3 neurons of 'exc' (v): 0 rows every 0.1 ms from 0.0 ms"; do
  if ! grep -qxF -- "$line" "$doc"; then
    notok "the tutorial shows: $line"
  elif grep -qxF -- "$line" "$tmp/out"; then
    ok "output as shown: ${line:0:60}"
  else
    notok "output as shown: $line"
  fi
done
grep -q "^1000.0$" "$tmp/out" && ok "net.t is 1000 ms after the run" || notok "net.t after the run"

echo "$fails failed"
[ "$fails" -eq 0 ]
