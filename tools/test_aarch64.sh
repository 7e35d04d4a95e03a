#!/bin/sh
# Cross-compile the C kernel layer (src/fastnn/_kernels/csrc) with the C test harness
# tests/c/kernel_harness.c for aarch64 and run it under qemu: the portable path's NEON
# code (vector extensions, FMA) checked on an x86 machine.
#
# Needs Debian's gcc-aarch64-linux-gnu and qemu-user:
#   apt-get install -y gcc-aarch64-linux-gnu qemu-user
# Environment: AARCH64_CC (aarch64-linux-gnu-gcc), QEMU_AARCH64 (qemu-aarch64),
# AARCH64_SYSROOT (/usr/aarch64-linux-gnu).  Exit status: the harness's (0 = all passed).
set -eu
cc=${AARCH64_CC:-aarch64-linux-gnu-gcc}
qemu=${QEMU_AARCH64:-qemu-aarch64}
sysroot=${AARCH64_SYSROOT:-/usr/aarch64-linux-gnu}
root=$(cd "$(dirname "$0")/.." && pwd)
csrc=$root/src/fastnn/_kernels/csrc
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# the flags of setup.py's portable build (BASE_FLAGS, OpenMP)
flags="-O3 -fno-math-errno -fno-trapping-math -fopenmp"
$cc $flags -DFNN_OPENMP=1 -DFNN_BUILD_FLAGS="\"$flags\"" -I"$csrc" \
    "$root/tests/c/kernel_harness.c" "$csrc/gemm.c" "$csrc/runtime.c" -lm -o "$work/harness"
"$qemu" -L "$sysroot" "$work/harness"
