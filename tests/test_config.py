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
    assert info["isa"] in ("avx2", "portable")
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


def test_bad_isa_environment_is_a_clear_error():
    # (bad thread counts in the environment are ignored with a warning: test_threads.py)
    res = _run({"FASTNN_ISA": "sse9"}, "import fastnn")
    assert res.returncode != 0
    assert "must be" in res.stderr


def test_peak_gflops_is_measured_per_module():
    for mod in _dispatch.modules.values():
        assert mod.peak_gflops(False, 0.01) > 0.1
        assert mod.peak_gflops(True, 0.01) > 0.1
