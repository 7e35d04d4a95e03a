"""The C kernels on aarch64 (the portable path's NEON code): tools/test_aarch64.sh
cross-compiles them with the C harness tests/c/kernel_harness.c and runs it under qemu.
Skipped unless Debian's gcc-aarch64-linux-gnu and qemu-user are installed."""
import pathlib
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tools" / "test_aarch64.sh"


@pytest.mark.skipif(shutil.which("aarch64-linux-gnu-gcc") is None
                    or shutil.which("qemu-aarch64") is None,
                    reason="needs gcc-aarch64-linux-gnu and qemu-user (apt-get install -y "
                           "gcc-aarch64-linux-gnu qemu-user)")
def test_c_kernels_on_aarch64_under_qemu():
    res = subprocess.run(["sh", str(SCRIPT)], capture_output=True, text=True, timeout=1200)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert "portable path" in res.stdout and " 0 failures" in res.stdout
