"""Fit time of fastnn.sklearn.MLPClassifier against scikit-learn's, same settings, 1 thread.

Settings (the issue's): adam, batch_size=200, hidden_layer_sizes=(100,), exactly 20
epochs (tol=0 so neither stops early), on the bundled digits (1,797 x 64) and on
synthetic 60,000 x 784 float32 data with 10 classes.  Targets: >= 5x faster on digits,
>= 2x on the 60,000 x 784 data.  Both libraries compute in float32 here (each keeps
float32 input in float32); with ``--float64`` both compute in float64.

``--tfidf`` measures sparse input instead: ``TfidfVectorizer(dtype=float32)`` on 30,000
synthetic short documents (``fastnn.datasets.make_documents``: ~19,000 terms, ~13
nonzeros a row), 5 epochs, the same float32 CSR matrix for both libraries, fits
interleaved (scikit-learn, fastnn, scikit-learn, ...) and the median of each reported
with the accuracy on 6,000 held-out documents.  Target: >= 3x, accuracy within 1 point.

``--dropout RATE`` measures what ``dropout`` costs (scikit-learn has none, so fastnn
against itself): the 60,000 x 784 float32 row with dropout 0 and ``RATE`` in turn, 1
thread, process CPU time (less disturbed by other processes than wall time), the median
of ``--repeats`` interleaved fits each after one untimed fit, with the training accuracy.

``--lbfgs`` measures ``solver="lbfgs"``: hidden (100,), 200 iterations (``tol=0``), on
digits and on synthetic 20,000 x 100 data, in float32 and in float64 (the same precision
for both libraries in each row), fits interleaved, medians of wall and of process CPU
time, training accuracy and the iterations each ran.  Target: >= 1.5x, accuracy within
1 point.

    python benchmarks/bench_sklearn.py [--quick] [--float64] [--repeats 3]  # table
    python benchmarks/bench_sklearn.py --tfidf [--repeats 3]  # sparse TF-IDF input
    python benchmarks/bench_sklearn.py --lbfgs [--repeats 3]  # L-BFGS
    python benchmarks/bench_sklearn.py --dropout 0.2 [--repeats 3]  # dropout's cost
    python -m pytest benchmarks/bench_sklearn.py               # pytest-benchmark
"""
from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.neural_network import MLPClassifier as SkMLPClassifier  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

import fastnn  # noqa: E402
from fastnn.sklearn import MLPClassifier  # noqa: E402

SETTINGS = dict(solver="adam", batch_size=200, hidden_layer_sizes=(100,), max_iter=20, tol=0.0,
                n_iter_no_change=10_000, random_state=0)
LBFGS_SETTINGS = dict(solver="lbfgs", hidden_layer_sizes=(100,), max_iter=200, tol=0.0,
                      random_state=0)
TARGETS = {"digits": 5.0, "synthetic": 2.0, "tfidf": 3.0, "lbfgs": 1.5}
TFIDF_SETTINGS = dict(SETTINGS, max_iter=5)


def synthetic(n=60_000, d=784, classes=10, seed=0, dtype=np.float32):
    """Gaussian inputs labelled by a random linear teacher with as much noise as signal
    (learnable, not separable)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d), dtype=np.float32)
    logits = X @ rng.standard_normal((d, classes), dtype=np.float32)
    noise = rng.standard_normal(logits.shape, dtype=np.float32) * np.float32(np.sqrt(d))
    y = (logits + noise).argmax(axis=1)
    return X.astype(dtype, copy=False), y


def _load():
    """The 1-minute load average (other processes share the cores)."""
    with open("/proc/loadavg") as fh:
        return fh.read().split()[0]

def dataset(name, n=60_000, dtype=np.float32):
    if name == "digits":
        return fastnn.load_digits(dtype=dtype)
    return synthetic(n=n, dtype=dtype)


def tfidf(n_train=30_000, n_test=6_000):
    """``X_train, y_train, X_test, y_test``: TF-IDF rows (float32 CSR) of synthetic
    documents, the vectorizer fitted on the training documents."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    docs, y = fastnn.datasets.make_documents(n_train + n_test)
    vectorizer = TfidfVectorizer(dtype=np.float32)
    X = vectorizer.fit_transform(docs[:n_train])
    return X, y[:n_train], vectorizer.transform(docs[n_train:]), y[n_train:]


def tfidf_interleaved(repeats, n_train=30_000):
    """Median fit seconds and held-out accuracy of scikit-learn and fastnn on the TF-IDF
    data, the fits interleaved on one thread: ``{library: (seconds, accuracy)}``."""
    X, y, X_test, y_test = tfidf(n_train)
    times = {"sklearn": [], "fastnn": []}
    accuracy = {}
    with threadpool_limits(1), warnings.catch_warnings(), fastnn.set_num_threads(1):
        warnings.simplefilter("ignore", ConvergenceWarning)
        for _ in range(repeats):
            for library, cls in (("sklearn", SkMLPClassifier), ("fastnn", MLPClassifier)):
                t0 = time.perf_counter()
                estimator = cls(**TFIDF_SETTINGS).fit(X, y)
                times[library].append(time.perf_counter() - t0)
                accuracy[library] = estimator.score(X_test, y_test)
    return {lib: (float(np.median(times[lib])), accuracy[lib]) for lib in times}


def interleaved(settings, X, y, repeats, cpu=False):
    """Median fit seconds, training accuracy and iterations of scikit-learn and fastnn
    with ``settings`` on ``(X, y)``, the fits interleaved on one thread after one untimed
    fit of each: ``{library: (seconds, accuracy, n_iter_)}``; seconds of wall time, or
    with ``cpu`` a pair (wall, process CPU time)."""
    times = {"sklearn": [], "fastnn": []}
    result = {}
    with threadpool_limits(1), warnings.catch_warnings(), fastnn.set_num_threads(1):
        warnings.simplefilter("ignore", ConvergenceWarning)
        for round_ in range(repeats + 1):
            for library, cls in (("sklearn", SkMLPClassifier), ("fastnn", MLPClassifier)):
                t0, c0 = time.perf_counter(), time.process_time()
                estimator = cls(**settings).fit(X, y)
                if round_:
                    times[library].append((time.perf_counter() - t0, time.process_time() - c0))
                result[library] = (estimator.score(X, y), estimator.n_iter_)
    medians = {lib: tuple(float(v) for v in np.median(times[lib], axis=0)) for lib in times}
    return {lib: (medians[lib] if cpu else medians[lib][0], *result[lib]) for lib in times}


def dropout_main(args):
    n = 6_000 if args.quick else 60_000
    settings = dict(SETTINGS, max_iter=5) if args.quick else SETTINGS
    X, y = synthetic(n=n)
    load = _load()
    print(f"fastnn {fastnn.__version__}, 1 thread, float32 {n}x784, {settings['max_iter']} "
          f"epochs, adam, batch 200, hidden (100,); process CPU time, median of "
          f"{args.repeats} interleaved fits after one untimed fit each; load average {load}")
    times = {0.0: [], args.dropout: []}
    accuracy = {}
    with threadpool_limits(1), warnings.catch_warnings(), fastnn.set_num_threads(1):
        warnings.simplefilter("ignore", ConvergenceWarning)
        for round_ in range(args.repeats + 1):
            for rate in times:
                t0 = time.process_time()
                estimator = MLPClassifier(dropout=rate, **settings).fit(X, y)
                if round_:
                    times[rate].append(time.process_time() - t0)
                accuracy[rate] = estimator.score(X, y)
    base, dropped = (float(np.median(times[rate])) for rate in times)
    print(f"dropout 0: {base:.2f} s (train accuracy {accuracy[0.0]:.4f}); dropout "
          f"{args.dropout}: {dropped:.2f} s (train accuracy {accuracy[args.dropout]:.4f}); "
          f"ratio {dropped / base:.3f}")


def lbfgs_main(args):
    load = _load()
    print(f"fastnn {fastnn.__version__}, 1 thread, solver='lbfgs', hidden (100,), max_iter 200, "
          f"tol 0; median of {args.repeats} interleaved fits; load average {load}")
    header = (f"{'data':<31}{'scikit-learn s':>16}{'fastnn s':>10}{'speedup':>9}{'target':>8}"
              f"{'train acc sklearn':>19}{'fastnn':>8}{'iterations':>12}")
    print(header)
    print("-" * len(header))
    for name, n in (("digits", 1797), ("synthetic", 4_000 if args.quick else 20_000)):
        for dtype in (np.float32, np.float64):
            X, y = dataset(name, n=n, dtype=dtype) if name == "digits" else synthetic(
                n=n, d=100, dtype=dtype)
            res = interleaved(LBFGS_SETTINGS, X, y, args.repeats, cpu=True)
            (sk_s, sk_acc, sk_it), (fn_s, fn_acc, fn_it) = res["sklearn"], res["fastnn"]
            label = f"{name} {X.shape[0]}x{X.shape[1]} {np.dtype(dtype).name}"
            for clock, sk, fn in (("wall", sk_s[0], fn_s[0]), ("CPU", sk_s[1], fn_s[1])):
                print(f"{label + ' ' + clock:<31}{sk:>16.3f}{fn:>10.3f}{sk / fn:>8.2f}x"
                      f"{TARGETS['lbfgs']:>7.1f}x{sk_acc:>19.4f}{fn_acc:>8.4f}"
                      f"{f'{sk_it}/{fn_it}':>12}")
    print(f"load average at the end {_load()}")


def fit_seconds(estimator, X, y, repeats=1):
    """Median wall time of ``repeats`` fits on one thread (after one untimed warm-up fit
    when ``repeats > 1``: the first fit in a process pays one-off import and discovery
    costs inside scikit-learn's input validation); returns (seconds, training accuracy)."""
    times = []
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fastnn.set_num_threads(1)
        for _ in range(repeats + (repeats > 1)):
            t0 = time.perf_counter()
            estimator.fit(X, y)
            times.append(time.perf_counter() - t0)
    return float(np.median(times[-repeats:])), estimator.score(X, y)


# ------------------------------------------------------------------ pytest-benchmark
@pytest.mark.parametrize("name", ["digits", "synthetic", "tfidf"])
@pytest.mark.parametrize("library", ["fastnn", "sklearn"])
def test_mlp_fit(benchmark, name, library):
    X, y = tfidf()[:2] if name == "tfidf" else dataset(name)
    settings = TFIDF_SETTINGS if name == "tfidf" else SETTINGS
    cls = MLPClassifier if library == "fastnn" else SkMLPClassifier
    benchmark.group = f"MLPClassifier.fit {name}"
    benchmark.pedantic(lambda: fit_seconds(cls(**settings), X, y), rounds=3 if name ==
                       "digits" else 1, iterations=1)


# ------------------------------------------------------------------ script mode
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="6,000 synthetic samples and 5 epochs (a smoke run)")
    parser.add_argument("--float64", action="store_true",
                        help="float64 input (scikit-learn then computes in float64)")
    parser.add_argument("--tfidf", action="store_true",
                        help="sparse TF-IDF input (30,000 documents; 6,000 with --quick)")
    parser.add_argument("--lbfgs", action="store_true",
                        help="solver='lbfgs' on digits and 20,000 x 100 (4,000 with --quick)")
    parser.add_argument("--dropout", type=float, metavar="RATE",
                        help="fastnn with dropout 0 against dropout RATE (60,000 x 784)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="interleaved fits per library on the synthetic row and with "
                             "--tfidf/--lbfgs/--dropout (default 3)")
    args = parser.parse_args(argv)
    if args.dropout is not None:
        return dropout_main(args)
    if args.tfidf:
        return tfidf_main(args)
    if args.lbfgs:
        return lbfgs_main(args)
    dtype = np.float64 if args.float64 else np.float32
    settings = dict(SETTINGS, max_iter=5) if args.quick else SETTINGS
    n = 6_000 if args.quick else 60_000
    print(f"fastnn {fastnn.__version__}, 1 thread, {np.dtype(dtype).name} input, "
          f"{settings['max_iter']} epochs, adam, batch 200, hidden (100,); digits: median of "
          f"7 fits after a warm-up; synthetic: median of {args.repeats} interleaved fits after "
          f"one untimed fit each, wall and process CPU time; load average {_load()}")
    header = (f"{'data':<26}{'scikit-learn s':>16}{'fastnn s':>10}{'speedup':>9}{'target':>8}"
              f"{'train acc sklearn':>19}{'fastnn':>8}")
    print(header)
    print("-" * len(header))
    for name in ("digits", "synthetic"):
        X, y = dataset(name, n=n, dtype=dtype)
        label = f"{name} {X.shape[0]}x{X.shape[1]}"
        if name == "digits":
            sk_s, sk_acc = fit_seconds(SkMLPClassifier(**settings), X, y, 7)
            fn_s, fn_acc = fit_seconds(MLPClassifier(**settings), X, y, 7)
            rows = [(label, sk_s, fn_s)]
        else:
            res = interleaved(settings, X, y, args.repeats, cpu=True)
            ((sk_wall, sk_cpu), sk_acc, _), ((fn_wall, fn_cpu), fn_acc, _) = (res["sklearn"],
                                                                            res["fastnn"])
            rows = [(label + " wall", sk_wall, fn_wall), (label + " CPU", sk_cpu, fn_cpu)]
        for row_label, sk_s, fn_s in rows:
            print(f"{row_label:<26}{sk_s:>16.3f}{fn_s:>10.3f}{sk_s / fn_s:>8.2f}x"
                  f"{TARGETS[name]:>7.0f}x{sk_acc:>19.4f}{fn_acc:>8.4f}")
    print(f"load average at the end {_load()}")



def tfidf_main(args):
    n = 6_000 if args.quick else 30_000
    load = _load()
    print(f"fastnn {fastnn.__version__}, 1 thread, TF-IDF float32 CSR input, {n} documents, "
          f"5 epochs, adam, batch 200, hidden (100,); median of {args.repeats} interleaved "
          f"fits; load average {load}")
    result = tfidf_interleaved(args.repeats, n)
    (sk_s, sk_acc), (fn_s, fn_acc) = result["sklearn"], result["fastnn"]
    print(f"scikit-learn {sk_s:.2f} s, fastnn {fn_s:.2f} s: {sk_s / fn_s:.1f}x (target "
          f"{TARGETS['tfidf']:.0f}x); held-out accuracy scikit-learn {sk_acc:.4f}, fastnn "
          f"{fn_acc:.4f}")


if __name__ == "__main__":
    main()
