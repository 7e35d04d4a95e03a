"""Thread conventions: environment variables, the thread bound, set_num_threads as a
context manager, threadpoolctl, joblib's workers and fork."""
import multiprocessing as mp
import os
import queue
import subprocess
import sys

import numpy as np
import pytest

import fastnn
from fastnn import _dispatch, ops, reference

THREAD_VARS = ("FASTNN_NUM_THREADS", "OMP_NUM_THREADS")


@pytest.fixture(autouse=True)
def keep_thread_count():
    n, source = fastnn.get_num_threads(), _dispatch.threads_source
    yield
    _dispatch._apply(n, source)


def _cpus():
    try:
        return min(len(os.sched_getaffinity(0)), _dispatch.max_threads())
    except AttributeError:
        return min(os.cpu_count() or 1, _dispatch.max_threads())


def _default_from(monkeypatch, env):
    """The thread count fastnn starts with under ``env`` (computed as at import)."""
    for name in THREAD_VARS:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    _dispatch._default_threads()
    return fastnn.get_num_threads()


def _clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARS}
    env.update(extra)
    return env


# ------------------------------------------------------------ environment variables
@pytest.mark.parametrize("env, expected", [
    ({"FASTNN_NUM_THREADS": "3"}, 3),
    ({"OMP_NUM_THREADS": "1"}, 1),
    ({"OMP_NUM_THREADS": "3"}, 3),
    ({"FASTNN_NUM_THREADS": "2", "OMP_NUM_THREADS": "1"}, 2),
    ({"FASTNN_NUM_THREADS": "1", "OMP_NUM_THREADS": "3"}, 1),
    ({"OMP_NUM_THREADS": "3,1"}, 3),  # one entry per nesting level: the first counts
    ({"OMP_NUM_THREADS": " 2 "}, 2),
    ({"OMP_NUM_THREADS": ""}, None),  # empty: as if unset
])
def test_environment_sets_the_default(monkeypatch, env, expected):
    expected = _cpus() if expected is None else expected
    fastnn.set_num_threads(1 if expected > 1 else 2)
    assert _default_from(monkeypatch, env) == expected
    assert all(m.get_num_threads() == expected for m in _dispatch.modules.values())


@pytest.mark.parametrize("value", ["0", "-2", "two", "1.5", "0x2", "3 threads"])
def test_bad_fastnn_num_threads_is_ignored_with_a_warning(monkeypatch, value):
    fastnn.set_num_threads(2)
    with pytest.warns(RuntimeWarning, match=f"fastnn ignores FASTNN_NUM_THREADS='{value}'"):
        n = _default_from(monkeypatch, {"FASTNN_NUM_THREADS": value, "OMP_NUM_THREADS": "1"})
    assert n == 1  # the next source, OMP_NUM_THREADS, decides


@pytest.mark.parametrize("value", ["0", "-1", "many", "2.0,1"])
def test_bad_omp_num_threads_is_ignored_with_a_warning(monkeypatch, value):
    fastnn.set_num_threads(1 if _cpus() > 1 else 2)
    with pytest.warns(RuntimeWarning, match="fastnn ignores OMP_NUM_THREADS="):
        n = _default_from(monkeypatch, {"OMP_NUM_THREADS": value})
    assert n == _cpus()


@pytest.mark.parametrize("name", THREAD_VARS)
@pytest.mark.parametrize("value", ["100000", str(2**31), str(2**70)])
def test_huge_environment_count_is_lowered_with_a_warning(monkeypatch, name, value):
    with pytest.warns(RuntimeWarning, match=f"fastnn lowers {name}='{value}' to "):
        n = _default_from(monkeypatch, {name: value})
    assert n == _dispatch.max_threads()


def test_omp_num_threads_at_import():
    code = "import fastnn; print(fastnn.get_num_threads(), fastnn._dispatch.threads_source)"
    res = subprocess.run([sys.executable, "-c", code], env=_clean_env(OMP_NUM_THREADS="1"),
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["1", "OMP_NUM_THREADS=1"]


def test_huge_fastnn_num_threads_does_not_kill_the_process():
    # issue 11: 100000 segfaulted in GOMP_parallel (50000: "Thread creation failed")
    code = ("import numpy as np, fastnn\n"
            "x = np.linspace(-1, 1, 1 << 20, dtype=np.float32)\n"
            "a = np.ones((256, 256), np.float32)\n"
            "assert (fastnn.ops.relu(x) == np.maximum(x, 0)).all()\n"
            "assert np.allclose(fastnn.ops.matmul(a, a), 256)\n"
            "print(fastnn.get_num_threads(), fastnn._dispatch.max_threads())\n")
    res = subprocess.run([sys.executable, "-c", code], env=_clean_env(FASTNN_NUM_THREADS="100000"),
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    got, most = res.stdout.split()
    assert got == most
    assert "fastnn lowers FASTNN_NUM_THREADS='100000'" in res.stderr


# ------------------------------------------------------------ bound and set_num_threads
@pytest.mark.parametrize("bad", [100000, 2**31, 2**64])
def test_set_num_threads_rejects_counts_above_the_bound(bad):
    fastnn.set_num_threads(1)
    with pytest.raises(ValueError, match=rf"n must be <= {_dispatch.max_threads()} .*received: {bad}"):
        fastnn.set_num_threads(bad)
    assert fastnn.get_num_threads() == 1


def test_bound_is_four_threads_per_online_cpu():
    assert _dispatch.max_threads() == 4 * os.cpu_count()
    assert all(m.max_threads() == _dispatch.max_threads() for m in _dispatch.modules.values())


def test_set_num_threads_accepts_the_bound():
    x = np.linspace(-3, 3, 1 << 18).reshape(512, 512).astype(np.float32)
    with fastnn.set_num_threads(1):
        one = ops.matmul(x, x)
    fastnn.set_num_threads(_dispatch.max_threads())
    assert fastnn.get_num_threads() == _dispatch.max_threads()
    np.testing.assert_array_equal(ops.relu(x), reference.relu(x))
    np.testing.assert_array_equal(ops.matmul(x, x), one)


@pytest.mark.parametrize("request_n", [1 << 30, 2**31 - 1, 0, -5])
def test_compiled_modules_clamp_any_count(kmod, request_n):
    # the root fix: whatever reaches the C runtime, parallel regions get 1..max_threads
    kmod.set_num_threads(request_n)
    assert kmod.get_num_threads() == (1 if request_n < 1 else kmod.max_threads())
    x = np.linspace(-3, 3, 1 << 18).astype(np.float32)
    np.testing.assert_array_equal(kmod.relu(x), reference.relu(x))


def test_set_num_threads_is_a_context_manager():
    fastnn.set_num_threads(2)
    with fastnn.set_num_threads(1):
        assert fastnn.get_num_threads() == 1
        with fastnn.set_num_threads(3):
            assert fastnn.get_num_threads() == 3
            assert _dispatch.threads_source == "set_num_threads"
        assert fastnn.get_num_threads() == 1
    assert fastnn.get_num_threads() == 2
    assert all(m.get_num_threads() == 2 for m in _dispatch.modules.values())


def test_context_restores_the_count_after_an_exception():
    fastnn.set_num_threads(3)
    with pytest.raises(KeyError):
        with fastnn.set_num_threads(1):
            raise KeyError("boom")
    assert fastnn.get_num_threads() == 3


def test_plain_call_keeps_the_new_count():
    fastnn.set_num_threads(2)
    fastnn.set_num_threads(1)
    assert fastnn.get_num_threads() == 1


def test_show_config_reports_the_thread_settings():
    fastnn.set_num_threads(1)
    info = fastnn.show_config(file=open(os.devnull, "w"))
    assert info["threads"] == 1 and info["threads_from"] == "set_num_threads"
    assert info["max_threads"] == _dispatch.max_threads()


# ------------------------------------------------------------ threadpoolctl
threadpoolctl = pytest.importorskip("threadpoolctl")
needs_registration = pytest.mark.skipif(not _dispatch.threadpoolctl_registered,
                                        reason="threadpoolctl older than 3.5 (no register)")


def _fastnn_pools():
    return [info for info in threadpoolctl.threadpool_info() if info["internal_api"] == "fastnn"]


@needs_registration
def test_threadpool_info_lists_the_kernel_module_in_use():
    fastnn.set_num_threads(1)
    (info,) = _fastnn_pools()
    assert info["user_api"] == "openmp"
    assert info["filepath"] == os.path.realpath(_dispatch.kernels.__file__)
    assert info["num_threads"] == 1
    assert info["isa"] == _dispatch.kernels.ISA and info["version"] == fastnn.__version__
    fastnn.set_num_threads(2)
    assert _fastnn_pools()[0]["num_threads"] == 2


@needs_registration
@pytest.mark.parametrize("kwargs", [{"limits": 1}, {"limits": 1, "user_api": "openmp"},
                                    {"limits": {"openmp": 1}}])
def test_threadpool_limits_limits_fastnn_and_restores(kwargs):
    fastnn.set_num_threads(2)
    with threadpoolctl.threadpool_limits(**kwargs):
        assert fastnn.get_num_threads() == 1
        assert all(m.get_num_threads() == 1 for m in _dispatch.modules.values())
    assert fastnn.get_num_threads() == 2


@needs_registration
def test_threadpool_limits_as_a_decorator_and_by_internal_api():
    fastnn.set_num_threads(3)

    @threadpoolctl.threadpool_limits.wrap(limits=2, user_api="openmp")
    def inner():
        return fastnn.get_num_threads()

    assert inner() == 2
    with threadpoolctl.ThreadpoolController().select(internal_api="fastnn").limit(limits=1):
        assert fastnn.get_num_threads() == 1
    assert fastnn.get_num_threads() == 3


@needs_registration
def test_blas_limits_leave_fastnn_alone():
    fastnn.set_num_threads(2)
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        assert fastnn.get_num_threads() == 2


@needs_registration
@pytest.mark.parametrize("bad", [0, -3])
def test_threadpool_limits_with_a_bad_count_warns_and_changes_nothing(bad):
    fastnn.set_num_threads(2)
    with pytest.warns(RuntimeWarning, match=f"fastnn ignores threadpoolctl limit={bad}"):
        with threadpoolctl.threadpool_limits(limits=bad, user_api="openmp"):
            assert fastnn.get_num_threads() == 2
    assert fastnn.get_num_threads() == 2


@needs_registration
def test_threadpool_limits_above_the_bound_is_lowered_and_restored():
    fastnn.set_num_threads(2)
    with pytest.warns(RuntimeWarning, match="fastnn lowers threadpoolctl limit=1000000"):
        with threadpoolctl.ThreadpoolController().select(internal_api="fastnn").limit(
                limits=10**6):
            assert fastnn.get_num_threads() == _dispatch.max_threads()
    assert fastnn.get_num_threads() == 2


def test_fastnn_imports_without_threadpoolctl():
    code = ("import sys; sys.modules['threadpoolctl'] = None\n"
            "import fastnn\n"
            "print(fastnn._dispatch.threadpoolctl_registered, fastnn.get_num_threads())\n")
    res = subprocess.run([sys.executable, "-c", code], env=_clean_env(OMP_NUM_THREADS="1"),
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["False", "1"]


# ------------------------------------------------------------ joblib's process workers
def test_loky_workers_follow_inner_max_num_threads():
    joblib = pytest.importorskip("joblib")
    from joblib.externals.loky import get_reusable_executor

    try:
        with joblib.parallel_config(backend="loky", n_jobs=2, inner_max_num_threads=1):
            counts = joblib.Parallel()(joblib.delayed(fastnn.get_num_threads)() for _ in range(4))
    finally:
        get_reusable_executor().shutdown(wait=True)
    assert counts == [1, 1, 1, 1]


# ------------------------------------------------------------ fork
needs_fork = pytest.mark.skipif("fork" not in mp.get_all_start_methods(),
                                reason="no fork start method on this platform")
FORK_TIMEOUT = 60


def _threaded_work():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((256, 256)).astype(np.float32)
    x = rng.standard_normal(1 << 18).astype(np.float32)
    return ops.matmul(a, a), ops.tanh(x), ops.softmax(a)


def _child(out):
    results = _threaded_work()
    tasks = len(os.listdir("/proc/self/task")) if os.path.isdir("/proc/self/task") else None
    out.put((fastnn.get_num_threads(), tasks, results))


def _run_forked_child():
    """Run ``_child`` in a forked process; its message, or a failure if it hangs."""
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    proc = ctx.Process(target=_child, args=(out,))
    proc.start()
    try:
        message = out.get(timeout=FORK_TIMEOUT)
    except queue.Empty:
        message = None
    finally:
        proc.join(FORK_TIMEOUT)
        if proc.is_alive():
            proc.kill()
            proc.join()
    assert message is not None, f"the forked child hung (no answer in {FORK_TIMEOUT} s)"
    assert proc.exitcode == 0
    return message


@needs_fork
def test_forked_child_runs_threaded_kernels_after_the_parent_did():
    fastnn.set_num_threads(2)
    expected = _threaded_work()  # the parent's OpenMP pool now exists
    threads, tasks, results = _run_forked_child()
    assert threads == 2
    if tasks is not None:
        assert tasks >= 2  # the child built its own pool: parallel, not the fallback
    for got, want in zip(results, expected):
        np.testing.assert_array_equal(got, want)
    # and the parent's pool still works after the fork
    for got, want in zip(_threaded_work(), expected):
        np.testing.assert_array_equal(got, want)


@needs_fork
def test_forked_child_falls_back_to_one_thread_when_the_pool_cannot_be_released(monkeypatch):
    monkeypatch.setattr(_dispatch.kernels, "release_threads", lambda: False)
    fastnn.set_num_threads(2)
    expected = _threaded_work()
    threads, _, results = _run_forked_child()
    assert threads == 1
    for got, want in zip(results, expected):
        np.testing.assert_array_equal(got, want)


def test_fork_fallback_says_so(monkeypatch):
    monkeypatch.setattr(_dispatch.kernels, "release_threads", lambda: False)
    fastnn.set_num_threads(2)
    _dispatch._before_fork()
    with pytest.warns(RuntimeWarning, match="runs 1 thread in this forked process"):
        _dispatch._after_fork_in_child()  # what a forked child runs, called here in-process
    assert fastnn.get_num_threads() == 1
    assert "forked child" in _dispatch.threads_source
