#!/usr/bin/env bash
# The GPU suite on the real device. Exits 77 (Meson: skipped) where no
# usable CUDA backend exists, else 0 when everything passed.
#
#   run_gpu_tests.sh NKSHELL SOURCE_ROOT
#       tests/gpu/equiv.lua: the CPU suite's scenarios on the CPU and on the
#       CUDA backend, compared bit for bit (the 'cuda-emu' test runs the same
#       script on the host emulation); then tests/gpu/block.lua, steps in one
#       launch against the CPU: of one block (NKSHELL_CUDA_BLOCK=1), and of as
#       many as the device holds at once (NKSHELL_CUDA_BLOCK=all)
#   run_gpu_tests.sh NKSHELL SOURCE_ROOT lua
#       every script of tests/lua on the CUDA backend (nkshell --backend
#       cuda), four at a time (the 'lua-cuda' suite runs them on the host
#       emulation, and so does scripts/gpu/pack.sh --cubins, with an NKSHELL
#       that sets NKSHELL_CUDA=emulate itself); a line per script, then
#       "N passed, N failed"
nkshell=$1
srcdir=$2
mode=${3:-equiv}
# The device itself: never the host emulation, whatever the caller's
# environment asks for (NVRTC_CHECK only acts under emulation).
unset NKSHELL_CUDA NKSHELL_CUDA_NVRTC_CHECK
if ! "$nkshell" -e 'local ok = pcall(nk.network, {backend = "cuda"}); os.exit(ok and 0 or 1)' 2>/dev/null; then
  echo "no usable CUDA backend here: $("$nkshell" -e 'print(select(2, pcall(nk.network, {backend = "cuda"})))' 2>&1)"
  exit 77
fi
case $mode in
equiv)
  "$nkshell" "$srcdir/tests/gpu/equiv.lua"
  st=$?
  NKSHELL_CUDA_BLOCK=1 "$nkshell" "$srcdir/tests/gpu/block.lua" || st=1
  NKSHELL_CUDA_BLOCK=all "$nkshell" "$srcdir/tests/gpu/block.lua" || st=1
  exit $st ;;
lua) ;;
*) echo "unknown mode '$mode' (expected equiv or lua)" >&2; exit 2 ;;
esac

# The scripts write their scratch files where they run.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export NKSHELL_TEST_BACKEND=cuda NKSHELL_SRCDIR=${NKSHELL_SRCDIR:-$srcdir} nkshell work
one() {
  local t=$1 name rc s line
  name=$(basename "$t" .lua)
  s=$(date +%s.%N)
  (cd "$work" && "$nkshell" --backend cuda "$t" >"$work/$name.log" 2>&1)
  rc=$?
  line=$(printf '%s %s %s s: %s' "$([ $rc = 0 ] && echo ok || echo 'not ok')" "$name" \
    "$(awk -v a="$s" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')" \
    "$(tail -n 1 "$work/$name.log")")
  # the failures under their script's line, written at once (four run together)
  [ $rc = 0 ] || line+=$'\n'$(grep -m 20 "check failed\|error\|Sanitizer" "$work/$name.log" | sed 's/^/    /')
  echo "$line"
}
export -f one
ls "$srcdir"/tests/lua/test_*.lua | xargs -P 4 -I{} bash -c 'one {}' | tee "$work/summary"
passed=$(grep -c '^ok ' "$work/summary")
failed=$(grep -c '^not ok ' "$work/summary")
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
