"""The C kernels on aarch64 (the portable path's NEON code): tools/test_aarch64.sh
cross-compiles them with the C harness tests/c/kernel_harness.c and runs it under qemu.
Skipped unless Debian's gcc-aarch64-linux-gnu and qemu-user are installed."""
from _helpers import needs_programs, run_tools_script


@needs_programs("aarch64-linux-gnu-gcc", "qemu-aarch64",
                install="apt-get install -y gcc-aarch64-linux-gnu qemu-user")
def test_c_kernels_on_aarch64_under_qemu():
    out = run_tools_script("test_aarch64.sh", timeout=1200)
    assert "portable path" in out and " 0 failures" in out
