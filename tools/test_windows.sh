#!/bin/sh
# Cross-compile the C kernel layer (src/fastnn/_kernels/csrc) with the C test harness
# tests/c/kernel_harness.c for Windows x86-64 and run it under wine, once per compiled
# path (portable, then avx2 and avx512 where this CPU has them):
#   mingw     MinGW-w64 GCC, with OpenMP (libgomp, linked statically): the Windows API
#             side of csrc (fiber-local storage, the performance counter, processor
#             groups, _aligned_malloc, LLP64) with setup.py's GCC flags;
#   clang-cl  csrc/*.c compiled by clang in clang-cl mode for the MSVC target with
#             setup.py's clang-cl flags, as a Windows build of the package compiles them
#             (_MSC_VER: <intrin.h> CPUID and XGETBV), against wine's C runtime headers;
#             without OpenMP (no Windows libomp here), linked with the MinGW-built harness
#             by lld.  Skipped when clang, lld or wine's headers are missing.
#
# Needs Debian's mingw-w64 and wine, for clang-cl also clang, lld and libwine-dev:
#   apt-get install -y gcc-mingw-w64-x86-64 wine64 clang lld libwine-dev
# Environment: MINGW_CC (x86_64-w64-mingw32-gcc-posix), WINE (wine), WINESERVER
# (wineserver), CLANG (clang),
# WINE_INCLUDE (/usr/include/wine/wine), PYTHON (python3 with setuptools and NumPy: reads
# setup.py's flags).  Exit status: 0 when every harness passed.
set -eu
. "$(dirname "$0")/c_harness.sh"
mingw=${MINGW_CC:-x86_64-w64-mingw32-gcc-posix}
wine=${WINE:-wine}
clang=${CLANG:-clang}
wine_include=${WINE_INCLUDE:-/usr/include/wine/wine}
export WINEDEBUG=-all WINEPREFIX="$work/wine"
# a fresh wine prefix, removed once its server has exited
trap '${WINESERVER:-wineserver} -w 2> /dev/null; rm -rf "$work"' EXIT
"$wine" wineboot -i > /dev/null 2>&1
status=0

# run NAME EXE: runs a harness under wine, prefixing its lines with NAME.
run() {
    echo "== $1"
    if ! "$wine" "$2" > "$work/out.txt" 2>&1; then
        status=1
    fi
    sed "s/^/$1: /" "$work/out.txt"
}

build_harness "$mingw" portable "$work/portable.exe" -static
run "mingw portable" "$work/portable.exe"
isas=portable
grep -q "avx2_fma=1" "$work/out.txt" && isas="$isas avx2"
grep -q "avx512=1" "$work/out.txt" && isas="$isas avx512"
for isa in $isas; do
    [ "$isa" = portable ] && continue
    build_harness "$mingw" "$isa" "$work/$isa.exe" -static
    run "mingw $isa" "$work/$isa.exe"
done

if ! command -v "$clang" > /dev/null || ! command -v ld.lld > /dev/null ||
   [ ! -f "$wine_include/msvcrt/stdlib.h" ]; then
    echo "clang-cl: skipped (needs clang, lld and wine's headers: apt-get install -y clang lld libwine-dev)"
    exit $status
fi
# the harness by MinGW GCC (its reference needs a long double wider than double)
"$mingw" -O2 -I"$csrc" -c "$harness" -o "$work/harness.o"
# _fltused: the MSVC runtime's marker that objects with floating point refer to
printf 'int _fltused = 0x9875;\n' > "$work/fltused.c"
for isa in $isas; do
    mkdir -p "$work/cl-$isa"
    flags=$(build_flags clang-cl "$isa")
    for src in "$csrc"/*.c; do
        # /MT /Zl /GS- /Gs: no import of the MSVC runtime, no default libraries, no
        # security cookie, no stack probes (MinGW's runtime has none of them); the CRT's
        # dllimport declarations off (_ACRTIMP=)
        # shellcheck disable=SC2086
        "$clang" --driver-mode=cl --target=x86_64-pc-windows-msvc /nologo /c $flags \
            /MT /Zl /GS- /Gs1000000 -D_ACRTIMP= -D_CRTIMP= -DFNN_OPENMP=0 \
            -DFNN_BUILD_FLAGS="\"$flags\"" -I"$csrc" -imsvc "$wine_include/msvcrt" \
            -imsvc "$wine_include/windows" /Fo"$work/cl-$isa/$(basename "$src" .c).obj" -- "$src"
    done
    "$clang" --target=x86_64-w64-windows-gnu -fuse-ld=lld --sysroot=/usr/x86_64-w64-mingw32 \
        -L/usr/x86_64-w64-mingw32/lib -L"$(dirname "$("$mingw" -print-libgcc-file-name)")" \
        "$work/harness.o" "$work/cl-$isa"/*.obj "$work/fltused.c" -static -o "$work/cl-$isa.exe"
    run "clang-cl $isa" "$work/cl-$isa.exe"
done
exit $status
