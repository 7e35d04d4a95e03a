"""GEMM benchmarks: fastnn.ops (matmul, linear) against NumPy's matmul (OpenBLAS).

pytest-benchmark (not part of the test run):
    PYTHONPATH=src python -m pytest benchmarks/bench_gemm.py --benchmark-only
Script mode prints the target table (GFLOP/s = 2mnk / time, medians), 1 then 2 threads:
    PYTHONPATH=src python benchmarks/bench_gemm.py [--quick] [--threads 1,2]
"""
import sys
import time

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import fastnn
from fastnn import ops


def _mlp_cases():
    for batch in (16, 64, 256):
        yield f"x@W        b={batch}", (batch, 784, 128), "nn", np.float32
        yield f"x.T@dz     b={batch}", (784, batch, 128), "tn", np.float32
        yield f"dz@W.T     b={batch}", (batch, 128, 784), "nt", np.float32


#: (label, (m, k, n), layout, dtype, target ratio); layout "tn" = transposed-view A, "nt" = B
CASES = ([(f"square {np.dtype(dt).name}", (s, s, s), "nn", dt, 0.9)
          for dt in (np.float32, np.float64) for s in (512, 1024)]
         + [(label, shape, lay, dt, 0.9) for label, shape, lay, dt in _mlp_cases()]
         + [("x@W        256x128@128x10", (256, 128, 10), "nn", np.float32, 1.2)])
LINEAR_BATCHES = (16, 64, 128, 256)


def operands(shape, layout, dtype, seed=0):
    """A (m, k) and B (k, n); a transposed operand is a .T view of a C-contiguous array."""
    m, k, n = shape
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((k, m) if layout[0] == "t" else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if layout[1] == "t" else (k, n)).astype(dtype)
    return (a.T if layout[0] == "t" else a), (b.T if layout[1] == "t" else b)


def linear_operands(batch, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((batch, 784)).astype(dtype),
            (rng.standard_normal((784, 128)) * 0.03).astype(dtype),
            rng.standard_normal(128).astype(dtype))


def numpy_linear_relu(x, w, b):
    return np.maximum(x @ w + b, 0)


# ------------------------------------------------------------------ pytest-benchmark
@pytest.fixture(params=[1, 2], ids=lambda t: f"threads={t}")
def threads(request):
    old = fastnn.get_num_threads()
    fastnn.set_num_threads(request.param)
    with threadpool_limits(request.param):
        yield request.param
    fastnn.set_num_threads(old)


@pytest.mark.parametrize("impl", ["fastnn", "numpy"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c[0].replace(" ", ""))
def test_matmul(benchmark, threads, impl, case):
    label, shape, layout, dtype, _ = case
    a, b = operands(shape, layout, dtype)
    fn = ops.matmul if impl == "fastnn" else np.matmul
    benchmark.extra_info["gflops"] = 2 * np.prod(shape) / 1e9
    benchmark(fn, a, b)


@pytest.mark.parametrize("impl", ["fastnn", "numpy"])
@pytest.mark.parametrize("batch", LINEAR_BATCHES)
def test_linear_relu(benchmark, threads, impl, batch):
    x, w, b = linear_operands(batch)
    if impl == "fastnn":
        benchmark(ops.linear, x, w, b, "relu")
    else:
        benchmark(numpy_linear_relu, x, w, b)


@pytest.mark.parametrize("impl", ["fastnn", "numpy"])
def test_matmul_4x4_overhead(benchmark, impl):
    a = np.ones((4, 4))
    benchmark(ops.matmul if impl == "fastnn" else np.matmul, a, a)


# ----------------------------------------------------------------------- script mode
def median_time(fn, *args, clock=time.perf_counter, min_sample=2e-3, samples=9):
    """Median seconds per call; a sample loops the call until it lasts min_sample."""
    for _ in range(3):
        fn(*args)
    reps, t = 1, 0.0
    while True:
        t0 = clock()
        for _ in range(reps):
            fn(*args)
        t = clock() - t0
        if t >= min_sample:
            break
        reps = max(reps * 2, int(reps * min_sample / max(t, 1e-9) * 1.2))
    times = [t / reps]
    for _ in range(samples - 1):
        t0 = clock()
        for _ in range(reps):
            fn(*args)
        times.append((clock() - t0) / reps)
    return float(np.median(times))


def compare(f_fast, f_ref, args, rounds, clock=time.perf_counter, settle=0.15):
    """Medians over `rounds` alternating rounds.  Before each block the other library's
    idle worker threads get `settle` seconds to stop spinning: on a 2-core machine a
    spinning OpenBLAS or OpenMP worker otherwise steals a core from the one measured."""
    tf, tr = [], []
    for _ in range(rounds):
        time.sleep(settle)
        tf.append(median_time(f_fast, *args, clock=clock))
        time.sleep(settle)
        tr.append(median_time(f_ref, *args, clock=clock))
    return float(np.median(tf)), float(np.median(tr))


def main(quick=False, thread_counts=(1, 2)):
    rounds = 1 if quick else 3
    rows = []
    print(f"{fastnn._dispatch.kernels.ISA} path; GFLOP/s = 2mnk/t, medians of {rounds} rounds x 9 "
          f"samples; 1 thread: CPU time of the calling thread (immune to other processes "
          f"on a shared machine), 2 threads: wall time")
    print(f"{'case':34s} {'thr':>3s} {'fastnn':>8s} {'numpy':>8s} {'ratio':>6s} {'target':>6s}")
    single = {}
    for nt in thread_counts:
        fastnn.set_num_threads(nt)
        clock = time.thread_time if nt == 1 else time.perf_counter
        with threadpool_limits(nt):
            warm = np.ones((512, 512), np.float32)
            for _ in range(20):  # start both thread pools; let the OS place new threads
                ops.matmul(warm, warm)
                np.matmul(warm, warm)
            for label, shape, layout, dtype, target in CASES:
                a, b = operands(shape, layout, dtype)
                tf, tr = compare(ops.matmul, np.matmul, (a, b), rounds, clock)
                fl = 2 * np.prod(shape) / 1e9
                m, k, n = shape
                name = f"{label} {m}x{k}@{k}x{n}" if label.startswith("square") else label
                rows.append((name, nt, fl / tf, fl / tr, tr / tf, target))
                single.setdefault((name, nt), fl / tf)
            for batch in LINEAR_BATCHES:
                x, w, bias = linear_operands(batch)
                tf, tr = compare(lambda *z: ops.linear(*z, "relu"), numpy_linear_relu, (x, w, bias),
                                 rounds, clock)
                fl = 2 * batch * 784 * 128 / 1e9
                rows.append((f"linear relu 784->128 b={batch}", nt, fl / tf, fl / tr, tr / tf, 1.2))
            for r in rows[-(len(CASES) + len(LINEAR_BATCHES)):]:
                flag = "" if r[4] >= r[5] else "  <-- below target"
                print(f"{r[0]:34s} {r[1]:3d} {r[2]:8.1f} {r[3]:8.1f} {r[4]:6.2f} {r[5]:6.2f}{flag}")
    fastnn.set_num_threads(1)
    a = np.ones((4, 4))
    with threadpool_limits(1):
        tf, tr = compare(ops.matmul, np.matmul, (a, a), rounds, time.thread_time)
    print(f"matmul 4x4 float64 per call: fastnn {tf * 1e9:.0f} ns, numpy {tr * 1e9:.0f} ns (target < 1000 ns)")
    if {1, 2} <= set(thread_counts):
        for dt in ("float32", "float64"):
            name = f"square {dt} 1024x1024@1024x1024"
            print(f"2-thread speed-up {name}: {single[(name, 2)] / single[(name, 1)]:.2f}x "
                  f"(target >= 1.6)")
    return rows


if __name__ == "__main__":
    counts = (1, 2)
    if "--threads" in sys.argv:
        counts = tuple(int(t) for t in sys.argv[sys.argv.index("--threads") + 1].split(","))
    main(quick="--quick" in sys.argv, thread_counts=counts)
