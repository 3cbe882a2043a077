#!/bin/sh
# scripts/gpu/pack.sh - gets .gpu/ ready to be carried to a GPU machine that
# cannot install packages (the `device` machines): nkshell and
# nk-flyscale-gen as built here, the tests' helpers plotcheck and h5attrs,
# and the shared libraries they load that are not the C and C++ runtimes
# (Lua, HDF5, readline, cairo, libxml2 and what they pull in). The C runtime of the GPU machine is the same age or newer,
# so binaries built here run there. The two are linked in their own build
# directory, build-gpu, with an RPATH of $ORIGIN/lib: they find the packed
# libraries without LD_LIBRARY_PATH, which would hand this machine's libz,
# libzstd or libgmp to every program started there too, the compiler the CPU
# backend runs among them. They travel as one compressed file,
# .gpu.tar.xz (about 19 MB; unpacked, ICU's data alone is 30 MB and the
# device tool carries 64 MB at most). Then, on that machine:
#
#   scripts/gpu/run.sh          (with .gpu.tar.xz carried along)
#
# With --cubins it also runs the GPU suite and the Lua suite (--backend cuda)
# here on the host emulation, with every module compiled by NVRTC for sm_90
# (H100, H200) into .gpu-cache/nkshell/cuda, and packs those cubins: run.sh
# points the code cache there, so the device loads them instead of compiling
# each module again (minutes of the session's device time).
set -eu
cd "$(dirname "$0")/../.."
cubins=0
case ${1:-} in
--cubins) cubins=1 ;;
"") ;;
*) echo "usage: scripts/gpu/pack.sh [--cubins]" >&2; exit 2 ;;
esac
# DT_RPATH (--disable-new-dtags), not DT_RUNPATH: it is searched for the
# libraries' own dependencies too (HDF5's libsz, cairo's libpng, ...).
if [ ! -f build-gpu/build.ninja ]; then
    meson setup build-gpu --buildtype=debugoptimized \
        -Dc_link_args='-Wl,--disable-new-dtags,-rpath,$ORIGIN/lib' >/dev/null
fi
bins="shell/nkshell scripts/flyscale/nk-flyscale-gen tests/plotcheck tests/h5attrs"
ninja -C build-gpu $bins >/dev/null
rm -rf .gpu
mkdir -p .gpu/lib
for b in $bins; do cp "build-gpu/$b" .gpu/; done
(cd build-gpu && ldd $bins) |
    awk '/=> \// { print $3 }' | sort -u | while read -r lib; do
    case $(basename "$lib") in
    libc.so* | libm.so* | libdl.so* | libpthread.so* | librt.so* | ld-linux* | \
        libstdc++.so* | libgcc_s.so*) ;;
    *) cp -L "$lib" .gpu/lib/ ;;
    esac
done
# every library but the C runtime's must now come from .gpu/lib
if ldd .gpu/nkshell .gpu/nk-flyscale-gen .gpu/plotcheck .gpu/h5attrs | awk '/=> \// { print $3 }' |
    grep -v -e "^$PWD/.gpu/lib/" -e '/lib\(c\|m\|dl\|pthread\|rt\|stdc++\|gcc_s\)\.so'; then
    echo "the libraries above do not come from .gpu/lib (the RPATH of build-gpu is wrong)" >&2
    exit 1
fi
packed=.gpu
if [ $cubins = 1 ]; then
    rm -rf .gpu-cache/nkshell/cuda
    mkdir -p .gpu-cache
    echo "compiling the GPU suite's modules for sm_90 (the suite on the host emulation, minutes)"
    if ! XDG_CACHE_HOME=$PWD/.gpu-cache NKSHELL_CUDA=emulate NKSHELL_CUDA_NVRTC_CHECK=90 \
        .gpu/nkshell tests/gpu/equiv.lua >.gpu-cache/emulated-suite.txt 2>&1; then
        tail -n 5 .gpu-cache/emulated-suite.txt >&2
        echo "the emulated suite failed (.gpu-cache/emulated-suite.txt): fix that first" >&2
        exit 1
    fi
    # the same modules with nk_block_run in them (one text for any number of
    # blocks), for the GPU suite, tests/gpu/block.lua, and CUBA and
    # fly-scale in one launch (NKSHELL_CUDA_BLOCK, docs/cuda.md)
    echo "and the same in one launch (NKSHELL_CUDA_BLOCK=1)"
    fs=$(mktemp -d)
    emu() {
        XDG_CACHE_HOME=$PWD/.gpu-cache NKSHELL_CUDA=emulate NKSHELL_CUDA_NVRTC_CHECK=90 \
            NKSHELL_CUDA_BLOCK=1 .gpu/nkshell "$@" >>.gpu-cache/emulated-block.txt 2>&1
    }
    : >.gpu-cache/emulated-block.txt
    if ! emu tests/gpu/equiv.lua || ! emu tests/gpu/block.lua ||
        ! emu samples/cuba.lua .gpu-cache/block-cuba.h5 20 ||
        ! .gpu/nk-flyscale-gen -q -o "$fs/e.csv" -m "$fs/n.csv" ||
        ! emu samples/flyscale.lua "$fs/e.csv" "$fs/n.csv" 1; then
        rm -rf "$fs"
        tail -n 5 .gpu-cache/emulated-block.txt >&2
        echo "the emulated suite in one launch failed (.gpu-cache/emulated-block.txt): fix that first" >&2
        exit 1
    fi
    rm -rf "$fs" .gpu-cache/block-cuba.h5
    echo "and the Lua suite's (minutes more)"
    # run_gpu_tests.sh runs the scripts as on a GPU; an nkshell that sets
    # the emulation itself takes them to the host
    scratch=$(mktemp -d)
    printf '#!/bin/sh\nNKSHELL_CUDA=emulate NKSHELL_CUDA_NVRTC_CHECK=90 exec "%s" "$@"\n' \
        "$PWD/.gpu/nkshell" >"$scratch/nkshell"
    chmod +x "$scratch/nkshell"
    XDG_CACHE_HOME=$PWD/.gpu-cache NKSHELL_PLOTCHECK=$PWD/.gpu/plotcheck \
        bash tests/gpu/run_gpu_tests.sh "$scratch/nkshell" "$PWD" lua >.gpu-cache/emulated-lua.txt 2>&1
    rc=$?
    rm -rf "$scratch"
    if [ $rc != 0 ]; then
        grep -v '^ok ' .gpu-cache/emulated-lua.txt >&2
        echo "the Lua suite on the emulated CUDA backend failed (.gpu-cache/emulated-lua.txt): fix that first" >&2
        exit 1
    fi
    packed=".gpu .gpu-cache/nkshell/cuda"
    echo "$(ls .gpu-cache/nkshell/cuda | wc -l) cubins, $(du -sh .gpu-cache/nkshell/cuda | cut -f1)"
fi
# shellcheck disable=SC2086
tar -cJf .gpu.tar.xz $packed
echo "$(du -sh .gpu | cut -f1) in .gpu ($(ls .gpu/lib | wc -l) libraries), $(du -sh .gpu.tar.xz | cut -f1) packed: carry .gpu.tar.xz and run scripts/gpu/run.sh"
