#!/bin/sh
# scripts/bench/run.sh: builds nkshell and runs the benchmark suite, nkshell
# and Brian2 side by side (scripts/bench/suite.lua says what it measures).
#
#   scripts/bench/run.sh [--install-brian2] [SUITE OPTIONS...]
#
# --install-brian2 installs Debian's python3-brian (Brian2 2.5) first when it
# is missing (apt-get; as root, or through sudo). Without Brian2 the suite
# runs nkshell alone. Everything else goes to suite.lua: --models LIST,
# --threads N, --backend cpu|cuda, --reps N, --brian2 auto|yes|no, --brian2-threads N,
# --sequential (all of nkshell's runs, then all of Brian2's; they alternate by default), --quick,
# --json FILE, --fly-neurons N, --fly-ms MS, --ms MS, --mc-scale S (the microcircuit: 0.1 by default, 1 the full model).
set -eu
cd "$(dirname "$0")/../.."

if [ "${1:-}" = "--install-brian2" ]; then
    shift
    if ! dpkg-query -W -f='${Status}' python3-brian 2>/dev/null | grep -q "ok installed"; then
        sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo apt-get update -qq
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-brian g++ >/dev/null
    fi
fi

if [ ! -d build ]; then
    meson setup build >/dev/null
fi
ninja -C build >/dev/null
exec build/shell/nkshell scripts/bench/suite.lua "$@"
