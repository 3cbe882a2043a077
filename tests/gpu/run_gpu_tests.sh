#!/usr/bin/env bash
# The GPU suite on the real device: tests/gpu/equiv.lua runs the CPU suite's
# scenarios on the CPU and on the CUDA backend and compares them bit for bit
# (the 'cuda-emu' test runs the same script on the host emulation). Exits 77
# (Meson: skipped) where no usable CUDA backend exists, else with the
# script's status.
#   run_gpu_tests.sh NKSHELL SOURCE_ROOT
nkshell=$1
srcdir=$2
# The device itself: never the host emulation, whatever the caller's
# environment asks for (NVRTC_CHECK only acts under emulation).
unset NKSHELL_CUDA NKSHELL_CUDA_NVRTC_CHECK
if ! "$nkshell" -e 'local ok = pcall(nk.network, {backend = "cuda"}); os.exit(ok and 0 or 1)' 2>/dev/null; then
  echo "no usable CUDA backend here: $("$nkshell" -e 'print(select(2, pcall(nk.network, {backend = "cuda"})))' 2>&1)"
  exit 77
fi
exec "$nkshell" "$srcdir/tests/gpu/equiv.lua"
