"""Hyperparameter search on a Dask cluster: GridSearchCV / RandomizedSearchCV over
fastnn.sklearn estimators through joblib's Dask backend, on a LocalCluster of 2 worker
processes (1 thread each) on the loopback interface, started and shut down here."""
import logging
import threading
import time
import warnings
from concurrent.futures import CancelledError

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")
joblib = pytest.importorskip("joblib")
pytest.importorskip("sklearn")

from distributed import Client, LocalCluster  # noqa: E402
from distributed.comm import CommClosedError  # noqa: E402
from scipy.stats import loguniform  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV  # noqa: E402

import fastnn  # noqa: E402
from fastnn.sklearn import MLPClassifier  # noqa: E402

#: the longest a test waits for the cluster before calling it a hang
TIMEOUT = 60


def _local_cluster() -> LocalCluster:
    # no dashboard; the scheduler's HTTP endpoints on a free port, not 8787
    return LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                        dashboard_address=None, scheduler_kwargs={"dashboard_address": ":0"},
                        silence_logs=logging.CRITICAL)


@pytest.fixture(scope="module")
def client():
    cluster = _local_cluster()
    try:
        with Client(cluster) as client:
            client.wait_for_workers(2, timeout=TIMEOUT)
            yield client
    finally:
        cluster.close()


@pytest.fixture(scope="module")
def digits():
    X, y = fastnn.load_digits()
    return X[::2], y[::2]  # 899 samples: each fit takes a few milliseconds


def _searches():
    est = MLPClassifier(hidden_layer_sizes=(16,), max_iter=8, random_state=0)
    grid = {"alpha": [1e-4, 1e-2], "learning_rate_init": [1e-3, 1e-2]}
    dists = {"alpha": loguniform(1e-5, 1e-1), "learning_rate_init": loguniform(1e-4, 1e-1),
             "batch_size": [32, 64]}
    return [GridSearchCV(est, grid, cv=3),
            RandomizedSearchCV(est, dists, n_iter=4, cv=3, random_state=0)]


def _fit(search, X, y, backend=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if backend is None:
            return search.fit(X, y)
        with joblib.parallel_config(backend=backend):
            return search.fit(X, y)


def test_workers_follow_dasks_thread_setting(client):
    # Dask's nanny starts workers with OMP_NUM_THREADS=1: one core per single-threaded worker
    threads = client.run(lambda: (fastnn.get_num_threads(), fastnn._dispatch.threads_source))
    assert sorted(threads.values()) == [(1, "OMP_NUM_THREADS=1")] * 2


@pytest.mark.parametrize("index", [0, 1], ids=["GridSearchCV", "RandomizedSearchCV"])
def test_search_on_dask_matches_the_local_search(client, digits, index):
    X, y = digits
    local = _fit(_searches()[index], X, y)
    remote = _fit(_searches()[index], X, y, backend="dask")
    assert len(client.scheduler_info()["workers"]) == 2
    assert remote.best_params_ == local.best_params_
    keys = ["mean_test_score", "rank_test_score"] + [f"split{i}_test_score" for i in range(3)]
    for key in keys:
        np.testing.assert_array_equal(remote.cv_results_[key], local.cv_results_[key])
    assert remote.cv_results_["params"] == local.cv_results_["params"]
    np.testing.assert_array_equal(remote.predict(X), local.predict(X))


def test_fitted_estimator_travels_both_ways(client, digits):
    X, y = digits
    est = _fit(clone(_searches()[0].estimator), X, y)
    on_worker = client.submit(lambda e, x: e.predict_proba(x), est, X).result(timeout=TIMEOUT)
    np.testing.assert_array_equal(on_worker, est.predict_proba(X))
    fitted_there = client.submit(_fit, clone(est), X, y).result(timeout=TIMEOUT)
    np.testing.assert_array_equal(fitted_there.predict_proba(X), est.predict_proba(X))


def _train(model, X, y):
    model.fit(X, y, loss=fastnn.SoftmaxCrossEntropy(), optimizer=fastnn.Adam(model.parameters()),
              epochs=3, batch_size=64, seed=0, verbose=False)
    return model


def test_sequential_travels_both_ways(client, digits):
    X, y = digits
    model = fastnn.Sequential([fastnn.Dense(64, 32, seed=0), fastnn.ReLU(),
                               fastnn.Dense(32, 10, seed=1)])
    trained_there = client.submit(_train, model, X, y).result(timeout=TIMEOUT)
    trained_here = _train(model, X, y)
    np.testing.assert_array_equal(trained_there.predict_proba(X), trained_here.predict_proba(X))


def test_cluster_going_away_mid_search_is_an_error_not_a_hang(digits):
    X, y = digits
    slow = MLPClassifier(hidden_layer_sizes=(256,), max_iter=2000, tol=0.0,
                         n_iter_no_change=10**6, random_state=0)
    search = GridSearchCV(slow, {"alpha": [1e-4, 1e-3, 1e-2, 1e-1]}, cv=3)
    outcome = {}

    def run():
        try:
            _fit(search, X, y, backend="dask")
            outcome["result"] = "finished"
        except Exception as exc:  # what the search raised is the point of the test
            outcome["result"] = exc

    cluster = _local_cluster()
    try:
        with Client(cluster) as client:
            client.wait_for_workers(2, timeout=TIMEOUT)
            worker = threading.Thread(target=run, daemon=True)
            worker.start()
            deadline = time.monotonic() + TIMEOUT
            while not any(client.processing().values()) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert any(client.processing().values()), "the search never reached the workers"
            cluster.close()
            worker.join(TIMEOUT)
    finally:
        cluster.close()
    assert not worker.is_alive(), f"the search hung for {TIMEOUT} s after the cluster closed"
    assert isinstance(outcome["result"], (CancelledError, CommClosedError, OSError)), outcome
