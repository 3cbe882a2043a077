#!/usr/bin/env bash
# scripts/test.sh - runs the whole test suite and ends with the line
# "N passed, N failed, N skipped".
#
#   scripts/test.sh [BUILD_DIR] [meson test options...]
set -uo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
build=${1:-build}
shift || true

if [ ! -f "$build/build.ninja" ]; then
  echo "test: $build is not configured; run scripts/setup.sh first" >&2
  exit 2
fi
ninja -C "$build" >/dev/null || { ninja -C "$build"; exit 1; }

log=$(mktemp)
meson test -C "$build" --print-errorlogs "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

count() { awk -v k="$1" '$0 ~ "^"k":" {print $NF; f=1} END {if (!f) print 0}' "$log" | tail -n 1; }
ok=$(count "Ok")
xfail=$(count "Expected Fail")
fail=$(count "Fail")
upass=$(count "Unexpected Pass")
skip=$(count "Skipped")
tout=$(count "Timeout")
rm -f "$log"
passed=$((ok + xfail))
failed=$((fail + upass + tout))
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo "$passed passed, $failed failed, $skip skipped"
[ "$failed" -eq 0 ]
