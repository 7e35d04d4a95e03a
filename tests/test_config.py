import io
import os
import subprocess
import sys

import pytest

import fastnn
from fastnn import _dispatch


def test_show_config_reports_path_and_threads():
    buf = io.StringIO()
    info = fastnn.show_config(file=buf)
    assert info["isa"] in _dispatch.modules
    assert info["isa_reason"].startswith(("auto:", "FASTNN_ISA="))
    assert info["threads"] == fastnn.get_num_threads()
    assert "isa" in buf.getvalue()
    # -O3, or -O1 in the sanitizer build of tools/sanitize.sh
    assert "-O3" in info["build_flags"] or "-fsanitize=address" in info["build_flags"]
    assert "-march=native" not in info["build_flags"]


def test_every_module_reports_its_isa():
    for name, mod in _dispatch.modules.items():
        assert mod.ISA == name


def test_set_num_threads_roundtrip():
    with fastnn.set_num_threads(1):
        assert fastnn.get_num_threads() == 1
        fastnn.set_num_threads(3)
        assert all(m.get_num_threads() == 3 for m in _dispatch.modules.values())


@pytest.mark.parametrize("bad", [0, -2])
def test_set_num_threads_rejects_non_positive(bad):
    with pytest.raises(ValueError, match="n must be >= 1"):
        fastnn.set_num_threads(bad)


@pytest.mark.parametrize("bad", [1.5, "2", True, None])
def test_set_num_threads_rejects_non_integers(bad):
    with pytest.raises(TypeError, match="n must be an integer"):
        fastnn.set_num_threads(bad)


def _run(env_extra, code):
    env = dict(os.environ, **env_extra)
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)


def test_env_forces_portable_path():
    res = _run({"FASTNN_ISA": "portable"}, "import fastnn; print(fastnn._dispatch.kernels.ISA)")
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "portable"


def test_env_sets_thread_count():
    res = _run({"FASTNN_NUM_THREADS": "1"}, "import fastnn; print(fastnn.get_num_threads())")
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "1"


@pytest.mark.parametrize("isa", ["avx512", "avx2", "portable"])
def test_env_forces_each_path_or_says_why_not(isa):
    res = _run({"FASTNN_ISA": isa}, "import fastnn; print(fastnn._dispatch.kernels.ISA); "
                                    "print(fastnn._dispatch.isa_reason)")
    if isa in _dispatch.modules:
        assert res.returncode == 0, res.stderr
        assert res.stdout.split() == [isa, f"FASTNN_ISA={isa}"]
    else:
        assert res.returncode != 0 and f"FASTNN_ISA='{isa}' cannot run here" in res.stderr


def test_cpu_detection_is_consistent():
    """CPUID/XGETBV: AVX-512 implies AVX2/FMA; a path is available exactly when the CPU
    runs it (every x86 path is built here)."""
    k = _dispatch.modules["portable"]
    assert not k.cpu_has_avx512() or k.cpu_has_avx2_fma()
    vendor, family, model = k.cpu_id()
    assert isinstance(vendor, str) and family >= 0 and model >= 0
    if vendor in ("GenuineIntel", "AuthenticAMD"):
        assert ("avx2" in _dispatch.modules) == k.cpu_has_avx2_fma()
        assert ("avx512" in _dispatch.modules) == k.cpu_has_avx512()


@pytest.mark.parametrize("cpu, merit, want", [
    (("AuthenticAMD", 0x19, 0x11), True, "avx512"),   # split 512-bit ops, measured no slower
    (("AuthenticAMD", 0x19, 0x11), False, "avx2"),    # ... or measured slower
    (("GenuineIntel", 6, 0x8F), None, "avx512"),      # full-width 512-bit units
])
def test_auto_dispatch_rule(monkeypatch, cpu, merit, want):
    mods = {"portable": _dispatch.modules["portable"], "avx2": object(), "avx512": object()}
    monkeypatch.setattr(_dispatch._portable, "cpu_id", lambda: cpu)
    if merit is not None:
        monkeypatch.setitem(_dispatch.AVX512_MERIT, cpu[:2], merit)
    isa, reason = _dispatch._auto(mods)
    assert isa == want and reason.startswith("auto: " + cpu[0])
    del mods["avx512"]
    assert _dispatch._auto(mods)[0] == "avx2"
    del mods["avx2"]
    assert _dispatch._auto(mods)[0] == "portable"


def test_use_switches_ops_and_restores():
    before = _dispatch.kernels
    for isa in _dispatch.modules:
        with _dispatch.use(isa) as mod:
            assert _dispatch.kernels is mod and fastnn.ops.gemm is mod.gemm
    assert _dispatch.kernels is before and fastnn.ops.gemm is before.gemm
    with pytest.raises(ValueError, match="isa must be one of"):
        with _dispatch.use("sse9"):
            pass


def test_bad_isa_environment_is_a_clear_error():
    # (bad thread counts in the environment are ignored with a warning: test_threads.py)
    res = _run({"FASTNN_ISA": "sse9"}, "import fastnn")
    assert res.returncode != 0
    assert "must be" in res.stderr


def test_peak_gflops_is_measured_per_module():
    for mod in _dispatch.modules.values():
        assert mod.peak_gflops(False, 0.01) > 0.1
        assert mod.peak_gflops(True, 0.01) > 0.1
