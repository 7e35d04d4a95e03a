"""Every compiled CPU path on each ``fastnn bench`` row, timed by the CPU time of the
calling thread: 1 thread for fastnn and NumPy's BLAS, so the work runs on this thread and
other processes sharing the machine do not inflate the times (they still share caches
and memory bandwidth).  With ``--threads N`` (N > 1) the times are wall-clock instead
(the workers' time counts too): run it under the benchmark lock or on an idle machine.
Medians of interleaved runs (the paths take turns); the ``avx2 / avx512 time`` column is
the median of the ratios within a round (both paths measured back to back, under much
the same load), with their range.  Its rows back
``fastnn._dispatch.AVX512_MERIT``.

    PYTHONPATH=src python benchmarks/bench_isa.py [--quick] [--narrow] [--repeats N] [--only TEXT]
        [--threads N] [--isa LIST] [--no-numpy]
"""
import argparse
import statistics
import time

import numpy as np
from threadpoolctl import threadpool_limits

import fastnn
from fastnn import _dispatch, bench


def narrow_rows():
    """The products with few columns: 256x128 @ 128xn for n = 1..8, 10, 16, both dtypes,
    A given as is and transposed (matrix-vector, narrow and register tiles)."""
    return [bench.gemm_row(256, 128, n, dtype, trans) for dtype in (np.float32, np.float64)
            for trans in ("", "a") for n in (1, 2, 3, 4, 5, 6, 7, 8, 10, 16)]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--narrow", action="store_true", help="the rows of narrow_rows() instead")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--only", default=None)
    p.add_argument("--threads", type=int, default=1,
                   help="threads for fastnn and NumPy's BLAS; above 1, wall-clock times")
    p.add_argument("--isa", default="all", help="'all' or a list such as 'avx512,avx2'")
    p.add_argument("--no-numpy", action="store_true", help="leave out the NumPy column")
    args = p.parse_args(argv)
    isas = bench.isa_list(args.isa)
    clock = time.thread_time if args.threads == 1 else time.perf_counter
    head = ["workload", *(f"{isa} ms" for isa in isas), "numpy ms",
            *(f"{isa} x vs numpy" for isa in isas)]
    if "avx512" in isas and "avx2" in isas:
        head.append("avx2 / avx512 time")
    what = "CPU time of the calling thread" if args.threads == 1 else "wall time"
    print(f"{what}, {args.threads} thread(s), median of {args.repeats} interleaved runs; "
          f"{fastnn._dispatch.modules['portable'].cpu_id()}")
    print(" | ".join(head))
    with fastnn.set_num_threads(args.threads), threadpool_limits(args.threads):
        for row, setup in narrow_rows() if args.narrow else bench.workloads(args.quick):
            if args.only and args.only not in row.name:
                continue
            fns = setup()
            if "fastnn" not in fns:
                continue
            ours = fns["fastnn"]
            if isinstance(ours, bench.SelfTimed):  # the CPU time of the whole call instead
                ours = ours.fn
            peers = {isa: bench.OnPath(isa, ours) for isa in isas}
            numpy_peer = fns.get("numpy") or fns.get("sklearn")
            if numpy_peer is not None and not args.no_numpy:  # (word2vec's: gensim, no column)
                peers["numpy"] = numpy_peer
            samplers = {name: bench.sampler(fn, 0.0 if row.scale != 1.0 else 0.05, clock)
                        for name, fn in peers.items()}
            samples = {name: [] for name in peers}
            for _ in range(args.repeats):
                for name, sample in samplers.items():
                    samples[name].append(sample())
            t = {name: statistics.median(s) * row.scale for name, s in samples.items()}
            base = t.get("numpy")
            cells = [row.name, *(f"{t[isa] * 1e3:.3g}" for isa in isas),
                     f"{base * 1e3:.3g}" if base else "-",
                     *(f"{base / t[isa]:.2f}" if base else "-" for isa in isas)]
            if "avx512" in t and "avx2" in t:
                ratios = [x / y for x, y in zip(samples["avx2"], samples["avx512"])]
                cells.append(f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})")
            print(" | ".join(cells), flush=True)


if __name__ == "__main__":
    main()
