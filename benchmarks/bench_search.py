"""A hyperparameter search three ways, and how many threads it really runs.

GridSearchCV over 8 configurations x 3 folds on the bundled digits (hidden layers of
128 or 256 units, so fastnn's products are large enough to run in parallel; adam,
exactly ``--epochs`` epochs per fit), with fastnn.sklearn.MLPClassifier and with
scikit-learn's own, run

* ``sequential``: in this process, under ``threadpoolctl.threadpool_limits(1)``;
* ``loky``: ``n_jobs=2`` (joblib's default backend: 2 worker processes, which joblib
  starts with ``OMP_NUM_THREADS`` = CPUs // 2);
* ``dask``: a ``distributed.LocalCluster`` of 2 worker processes with 1 thread each
  (Dask's nanny starts them with ``OMP_NUM_THREADS=1``), through joblib's Dask backend.

No mode sets fastnn's thread count itself: each relies on the conventions above, which
is what the benchmark checks.  For each search it reports the wall time, the CPU time
of this process and its worker processes divided by the wall time (cores kept busy;
OpenMP threads spinning while they wait count too), and the number of threads of the
process tree found running (state R in /proc, sampled every 20 ms): above the CPU count
means oversubscription.  Worker pools are started and warmed up before the timing.
Linux only (/proc).

    python benchmarks/bench_search.py [--epochs 30] [--repeats 3] [--modes sequential,loky,dask]
"""
from __future__ import annotations

import argparse
import logging
import os
import threading
import time
import warnings

import numpy as np

import fastnn

GRID = {"hidden_layer_sizes": [(128,), (256,)], "alpha": [1e-4, 1e-2],
        "learning_rate_init": [1e-3, 1e-2]}
MODES = ("sequential", "loky", "dask")
CLOCK_TICK = os.sysconf("SC_CLK_TCK")


def _tasks(pid):
    try:
        return os.listdir(f"/proc/{pid}/task")
    except OSError:  # the process has exited
        return []


def _read(path):
    try:
        with open(path) as fh:
            return fh.read()
    except OSError:
        return ""


def process_tree(root=None):
    """This process (or ``root``) and all its descendants."""
    pids, todo = [], [root or os.getpid()]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        for tid in _tasks(pid):
            todo.extend(int(c) for c in _read(f"/proc/{pid}/task/{tid}/children").split())
    return pids


def _stat_fields(path):
    """Fields of a /proc stat file after the command name (which may hold spaces)."""
    text = _read(path)
    return text[text.rfind(")") + 2:].split() if text else []


def cpu_seconds(pids, skip_tid=None):
    """User + system CPU time of ``pids`` (minus thread ``skip_tid`` of this process)."""
    ticks = 0
    for pid in pids:
        fields = _stat_fields(f"/proc/{pid}/stat")
        if fields:
            ticks += int(fields[11]) + int(fields[12])
    if skip_tid is not None:
        fields = _stat_fields(f"/proc/{os.getpid()}/task/{skip_tid}/stat")
        ticks -= int(fields[11]) + int(fields[12]) if fields else 0
    return ticks / CLOCK_TICK


class RunningThreads(threading.Thread):
    """Counts, every ``interval`` seconds, the threads of the process tree in state R
    (running or runnable), itself excepted."""

    def __init__(self, interval=0.02):
        super().__init__(daemon=True)
        self.interval, self.samples = interval, []
        self._stop_event = threading.Event()

    def run(self):
        own = str(threading.get_native_id())
        while not self._stop_event.wait(self.interval):
            running = 0
            for pid in process_tree():
                for tid in _tasks(pid):
                    if tid != own and _stat_fields(f"/proc/{pid}/task/{tid}/stat")[:1] == ["R"]:
                        running += 1
            self.samples.append(running)

    def stop(self):
        self._stop_event.set()
        self.join()


def measure(fit):
    """Run ``fit()``; wall seconds, CPU seconds of the process tree, running-thread samples."""
    sampler = RunningThreads()
    sampler.start()
    time.sleep(sampler.interval)  # let the sampler get its thread id
    cpu0, t0 = cpu_seconds(process_tree(), sampler.native_id), time.perf_counter()
    result = fit()
    wall = time.perf_counter() - t0
    cpu = cpu_seconds(process_tree(), sampler.native_id) - cpu0
    sampler.stop()
    return wall, cpu, sampler.samples or [0], result


def estimator(library, epochs):
    if library == "fastnn":
        from fastnn.sklearn import MLPClassifier
    else:
        from sklearn.neural_network import MLPClassifier
    return MLPClassifier(max_iter=epochs, tol=0.0, n_iter_no_change=10**6, random_state=0)


def worker_threads():
    """Runs in a worker: import both libraries; fastnn's thread count there."""
    import fastnn.sklearn  # noqa: F401
    import sklearn.neural_network  # noqa: F401

    return fastnn.get_num_threads()


def search_runner(mode, stack):
    """A function ``(search, X, y) -> fitted search`` for ``mode``, with its worker pool
    started and warmed up; also the fastnn thread counts of the workers.  ``stack``
    closes the pool at the end."""
    import joblib
    from threadpoolctl import threadpool_limits

    if mode == "sequential":
        def fit(search, X, y):
            with threadpool_limits(1):
                return search.fit(X, y)
        with threadpool_limits(1):
            return fit, [fastnn.get_num_threads()]
    if mode == "loky":
        from joblib.externals.loky import get_reusable_executor

        stack.callback(lambda: get_reusable_executor().shutdown(wait=True))
        threads = joblib.Parallel(n_jobs=2)(joblib.delayed(worker_threads)() for _ in range(2))
        return (lambda search, X, y: search.set_params(n_jobs=2).fit(X, y)), threads
    from distributed import Client, LocalCluster

    cluster = stack.enter_context(LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=None, scheduler_kwargs={"dashboard_address": ":0"},
        silence_logs=logging.CRITICAL))
    client = stack.enter_context(Client(cluster))
    threads = list(client.run(worker_threads).values())

    def fit(search, X, y):
        with joblib.parallel_config(backend="dask"):
            return search.fit(X, y)
    return fit, threads


def main(argv=None):
    import contextlib

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import GridSearchCV

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3, help="searches per row (median)")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--libraries", default="fastnn,sklearn")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    X, y = fastnn.load_digits()
    cpus = len(os.sched_getaffinity(0))
    print(f"fastnn {fastnn.__version__} from {os.path.dirname(fastnn.__file__)}; {cpus} CPUs; "
          f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(f"GridSearchCV, {len(GRID)} parameters, 8 configurations x 3 folds, digits "
          f"{X.shape[0]}x{X.shape[1]}, {args.epochs} epochs per fit; median of {args.repeats}")
    header = (f"{'library':<8}{'mode':<12}{'worker threads':>15}{'wall s':>9}{'CPU s':>8}"
              f"{'CPU/wall':>10}{'running mean':>14}{'max':>5}{'best score':>12}")
    print(header)
    print("-" * len(header))
    for mode in args.modes.split(","):
        with contextlib.ExitStack() as stack:
            fit, threads = search_runner(mode, stack)
            for library in args.libraries.split(","):
                runs = [measure(lambda: fit(GridSearchCV(estimator(library, args.epochs), GRID,
                                                         cv=3), X, y))
                        for _ in range(args.repeats)]
                wall, cpu, samples, search = sorted(runs, key=lambda r: r[0])[len(runs) // 2]
                shown = threads if library == "fastnn" else "-"
                print(f"{library:<8}{mode:<12}{str(shown):>15}{wall:>9.2f}{cpu:>8.2f}"
                      f"{cpu / wall:>10.2f}{np.mean(samples):>14.2f}{max(samples):>5}"
                      f"{search.best_score_:>12.4f}", flush=True)


if __name__ == "__main__":
    main()
