"""Throughput of the elementwise kernels against the NumPy reference (float32).

pytest-benchmark:  PYTHONPATH=src python -m pytest benchmarks/bench_elementwise.py
table (medians):   PYTHONPATH=src python benchmarks/bench_elementwise.py [--repeat N]
The table is measured at 1 thread and at the default thread count, in one run.
"""
import argparse
import statistics
import timeit

import numpy as np
import pytest

import fastnn
from fastnn import ops, reference

SHAPES = [(256, 10), (4096, 1000)]


def _relu_fb(mod, x, g):
    return mod.relu_backward(g, mod.relu(x))


def _xent(mod, x, labels):
    return mod.softmax_cross_entropy(x, labels, reduction="mean")


def _tanh(mod, x, _):
    return mod.tanh(x)


CASES = {"relu fwd+bwd": _relu_fb, "tanh": _tanh, "softmax_cross_entropy": _xent}


def make_inputs(case, shape, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(np.float32)
    if case != "softmax_cross_entropy":
        return x, rng.standard_normal(shape).astype(np.float32)
    return x, rng.integers(0, shape[1], shape[0])


@pytest.mark.parametrize("impl", ["fastnn", "reference"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("case", list(CASES))
def test_bench(benchmark, case, shape, impl):
    a, b = make_inputs(case, shape)
    mod = ops if impl == "fastnn" else reference
    benchmark.group = f"{case} {shape[0]}x{shape[1]}"
    benchmark(CASES[case], mod, a, b)


def median_times(fns, repeat):
    """Median seconds per call of each function; batches alternate between the functions
    so that a noisy machine slows them alike."""
    timers = [timeit.Timer(fn) for fn in fns]
    numbers = [max(1, t.autorange()[0] // 4) for t in timers]
    samples = [[] for _ in fns]
    for _ in range(repeat):
        for timer, number, out in zip(timers, numbers, samples):
            out.append(timer.timeit(number) / number)
    return [statistics.median(s) for s in samples]


def table(repeat):
    default = fastnn.get_num_threads()
    print(f"fastnn ISA={fastnn._dispatch.kernels.ISA}; medians of {repeat} timings; "
          "ratio = reference / fastnn")
    print(f"{'kernel':<24}{'shape':>11}{'threads':>8}{'fastnn us':>12}{'numpy us':>12}{'ratio':>8}")
    for threads in sorted({1, default}):
        fastnn.set_num_threads(threads)
        for case, fn in CASES.items():
            for shape in SHAPES:
                a, b = make_inputs(case, shape)
                t_fast, t_ref = median_times([lambda: fn(ops, a, b),
                                              lambda: fn(reference, a, b)], repeat)
                print(f"{case:<24}{'x'.join(map(str, shape)):>11}{threads:>8}"
                      f"{t_fast * 1e6:>12.1f}{t_ref * 1e6:>12.1f}{t_ref / t_fast:>8.2f}")
    fastnn.set_num_threads(default)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    table(parser.parse_args().repeat)
