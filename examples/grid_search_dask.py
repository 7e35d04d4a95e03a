"""Hyperparameter search on a Dask cluster: scikit-learn's GridSearchCV and
RandomizedSearchCV over fastnn's MLPClassifier, each (configuration, fold) fit sent by
joblib to a Dask worker.

    python examples/grid_search_dask.py                               # a local cluster
    python examples/grid_search_dask.py --scheduler tcp://10.0.0.5:8786

Needs ``pip install "fastnn[dask,sklearn]"`` here and on every worker.  Without
``--scheduler`` the script starts a ``LocalCluster`` of 2 worker processes with 1 thread
each on this machine.  Dask's nanny starts workers with ``OMP_NUM_THREADS=1``, which
fastnn follows, so a cluster of n single-threaded workers keeps n cores busy (set
``FASTNN_NUM_THREADS`` in the workers' environment to give each fit more threads).
The searches are seeded: the best parameters and scores are the ones a local
``search.fit(X, y)`` finds.
"""
from __future__ import annotations

import argparse
import time
import warnings
from typing import List, Optional

import joblib
from distributed import Client, LocalCluster
from scipy.stats import loguniform
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV

import fastnn
from fastnn.sklearn import MLPClassifier

GRID = {"hidden_layer_sizes": [(32,), (64,)], "alpha": [1e-4, 1e-2],
        "learning_rate_init": [1e-3, 1e-2]}
DISTRIBUTIONS = {"hidden_layer_sizes": [(32,), (64,), (32, 32)],
                 "alpha": loguniform(1e-5, 1e-1), "learning_rate_init": loguniform(1e-4, 1e-1)}


def searches(max_iter: int = 30, seed: int = 0) -> List:
    """The two searches: the 8-point grid and 8 random draws, 3-fold, seeded."""
    estimator = MLPClassifier(max_iter=max_iter, random_state=seed)
    return [GridSearchCV(estimator, GRID, cv=3),
            RandomizedSearchCV(estimator, DISTRIBUTIONS, n_iter=8, cv=3, random_state=seed)]


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="a running Dask scheduler, e.g. tcp://10.0.0.5:8786 (default: "
                             "start a local cluster of 2 single-threaded worker processes)")
    parser.add_argument("--max-iter", type=int, default=30, help="epochs per fit (default 30)")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=ConvergenceWarning)  # sklearn passes it on
    X, y = fastnn.load_digits()

    cluster = None
    if args.scheduler:
        client = Client(args.scheduler)
    else:
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                               host="127.0.0.1", dashboard_address=None)
        client = Client(cluster)
    try:
        threads = client.run(fastnn.get_num_threads)
        print(f"{len(threads)} workers at {client.scheduler.address}; fastnn threads per "
              f"worker: {sorted(threads.values())}")
        for search in searches(args.max_iter):
            start = time.perf_counter()
            with joblib.parallel_config(backend="dask"):
                search.fit(X, y)
            print(f"{type(search).__name__}: {len(search.cv_results_['params'])} configurations "
                  f"x 3 folds in {time.perf_counter() - start:.1f} s; best accuracy "
                  f"{search.best_score_:.4f} with {search.best_params_}")
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


if __name__ == "__main__":
    main()
