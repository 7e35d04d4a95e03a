"""The L2 term of ``loss_curve_``: how far it is from scikit-learn's, and what summing it
in the compiled epoch costs.

Parity: ``fastnn.sklearn.MLPClassifier(dtype="float64")`` against scikit-learn's on the
same data, initial weights and minibatches (``shuffle=False``, ``alpha=0.5``, batch 40 of
120 rows, 5 epochs; Adam with ``epsilon=1e-30``, where the two Adams coincide), with and
without sample weights: the largest relative difference of ``loss_curve_``.

Cost: one compiled epoch of 784 -> 128 -> 10 (float32, SGD with weight decay) with and
without the squared norms ``Sequential.fit`` sums for its ``l2`` log, 1 thread, process
CPU time (less disturbed by other processes than wall time), medians of ``--repeats``
interleaved epochs, per batch size.

    python benchmarks/bench_l2_term.py [--repeats 7]
"""
import argparse
import time
import warnings

import numpy as np

import fastnn
from fastnn import _training


def parity() -> None:
    from sklearn import neural_network

    from fastnn.sklearn import MLPClassifier

    rng = np.random.RandomState(0)
    X, y, w = rng.randn(120, 5), rng.randint(0, 3, 120), rng.uniform(0.2, 2.0, 120)
    for solver in ("sgd", "adam"):
        for weights in (None, w):
            params = dict(hidden_layer_sizes=(7,), solver=solver, alpha=0.5, batch_size=40,
                          max_iter=5, shuffle=False, random_state=1, learning_rate_init=0.05,
                          epsilon=1e-30)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ours = MLPClassifier(dtype="float64", **params).fit(X, y, sample_weight=weights)
                theirs = neural_network.MLPClassifier(**params).fit(X, y, sample_weight=weights)
            diff = np.max(np.abs(np.array(ours.loss_curve_) / theirs.loss_curve_ - 1))
            print(f"{solver:4s} sample_weight={weights is not None!s:5s} largest relative "
                  f"difference of loss_curve_ from scikit-learn's: {diff:.2e}")


def cost(repeats: int) -> None:
    fastnn.set_num_threads(1)
    rng = np.random.default_rng(0)
    for batch, n in ((200, 20000), (64, 20000), (1, 2000)):
        X = rng.standard_normal((n, 784)).astype(np.float32)
        y = rng.integers(0, 10, n)
        model = fastnn.Sequential([fastnn.Dense(784, 128, seed=0), fastnn.ReLU(),
                                   fastnn.Dense(128, 10, seed=1)])
        optimizer = fastnn.SGD(model.parameters(), lr=0.01, weight_decay=1e-4)
        run = _training.compiled_runner(model, fastnn.SoftmaxCrossEntropy(), optimizer, X, y,
                                        batch)
        order = rng.permutation(n)
        times = {False: [], True: []}
        for _ in range(repeats):
            for track in (False, True):
                start = time.process_time()
                run(order, None, np.zeros(4) if track else None)
                times[track].append(time.process_time() - start)
        plain, tracked = np.median(times[False]), np.median(times[True])
        print(f"batch {batch:3d}: epoch CPU time {plain * 1e3:.1f} ms without the squared "
              f"norms, {tracked * 1e3:.1f} ms with them ({tracked / plain:.3f}x)")
    with open("/proc/loadavg") as f:
        print("load average:", f.read().split()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    parity()
    cost(args.repeats)


if __name__ == "__main__":
    main()
