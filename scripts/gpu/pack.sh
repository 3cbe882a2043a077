#!/bin/sh
# scripts/gpu/pack.sh - gets .gpu/ ready to be carried to a GPU machine that
# cannot install packages (the `device` machines): nkshell and
# nk-flyscale-gen as built here, and the shared libraries they load that are
# not the C and C++ runtimes (Lua, HDF5, readline, cairo, libxml2 and what
# they pull in). The C runtime of the GPU machine is the same age or newer,
# so binaries built here run there. They travel as one compressed file,
# .gpu.tar.xz (about 19 MB; unpacked, ICU's data alone is 30 MB and the
# device tool carries 64 MB at most). Then, on that machine:
#
#   scripts/gpu/run.sh          (with .gpu.tar.xz carried along)
set -eu
cd "$(dirname "$0")/../.."
[ -d build ] || meson setup build >/dev/null
ninja -C build >/dev/null
rm -rf .gpu
mkdir -p .gpu/lib
cp build/shell/nkshell build/scripts/flyscale/nk-flyscale-gen .gpu/
ldd build/shell/nkshell build/scripts/flyscale/nk-flyscale-gen |
    awk '/=> \// { print $3 }' | sort -u | while read -r lib; do
    case $(basename "$lib") in
    libc.so* | libm.so* | libdl.so* | libpthread.so* | librt.so* | ld-linux* | \
        libstdc++.so* | libgcc_s.so*) ;;
    *) cp -L "$lib" .gpu/lib/ ;;
    esac
done
tar -cJf .gpu.tar.xz .gpu
echo "$(du -sh .gpu | cut -f1) in .gpu ($(ls .gpu/lib | wc -l) libraries), $(du -sh .gpu.tar.xz | cut -f1) packed: carry .gpu.tar.xz and run scripts/gpu/run.sh"
