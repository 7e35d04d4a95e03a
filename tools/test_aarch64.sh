#!/bin/sh
# Cross-compile the C kernel layer (src/fastnn/_kernels/csrc) with the C test harness
# tests/c/kernel_harness.c for aarch64 and run it under qemu: the portable path's NEON
# code (vector extensions, FMA) checked on an x86 machine.
#
# Needs Debian's gcc-aarch64-linux-gnu and qemu-user:
#   apt-get install -y gcc-aarch64-linux-gnu qemu-user
# Environment: AARCH64_CC (aarch64-linux-gnu-gcc), QEMU_AARCH64 (qemu-aarch64),
# AARCH64_SYSROOT (/usr/aarch64-linux-gnu), PYTHON (python3: reads setup.py's flags).
# Exit status: the harness's (0 = all passed).
set -eu
. "$(dirname "$0")/c_harness.sh"
cc=${AARCH64_CC:-aarch64-linux-gnu-gcc}
qemu=${QEMU_AARCH64:-qemu-aarch64}
sysroot=${AARCH64_SYSROOT:-/usr/aarch64-linux-gnu}
build_harness "$cc" portable "$work/harness"
"$qemu" -L "$sysroot" "$work/harness"
