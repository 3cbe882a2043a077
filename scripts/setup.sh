#!/usr/bin/env bash
# scripts/setup.sh - installs what nkshell needs from Debian's archive (only
# what is missing) and builds it into build/. Safe to run again: quiet when
# everything is present and up to date.
#
#   scripts/setup.sh            install + configure + build
#   BUILD_DIR=dir scripts/setup.sh
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
build=${BUILD_DIR:-build}

packages=(gcc libc6-dev meson ninja-build pkg-config lua5.4 liblua5.4-dev
          libreadline-dev libhdf5-dev hdf5-tools libxml2-dev zlib1g-dev libcairo2-dev)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" --buildtype=debugoptimized >/dev/null
fi
# ninja prints only when there is something to do; keep a second run silent.
out=$(ninja -C "$build" 2>&1) || { echo "$out"; exit 1; }
case "$out" in
  *"no work to do"*) ;;
  *) echo "setup: built $build/shell/nkshell" ;;
esac
