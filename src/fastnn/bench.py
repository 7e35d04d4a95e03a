"""``fastnn bench``: one table of fastnn against NumPy, PyTorch, scikit-learn and gensim.

Every row is one workload; every peer is held to the same thread count (threadpoolctl
for NumPy's BLAS, ``torch.set_num_threads``, ``fastnn.set_num_threads``).  Timings are
medians of ``--repeats`` runs after a warm-up, the peers of a row taking turns run by
run; a run whose spread (max - min) / median exceeds ``SPREAD_WARNING`` is flagged.
Ratios are ``peer time / fastnn time`` (above 1: fastnn is faster).  ``--isa all`` (or a
list) runs fastnn on each compiled path side by side, as peers ``fastnn-<isa>``.  Peers
that are not installed are skipped with a note.
"""
from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass, field
from typing import Callable, Dict, List, Optional

import numpy as np

import fastnn
from fastnn import reference as R
from fastnn._argtypes import picture_file, positive_int, thread_count
from fastnn.plotting import require_matplotlib

PEERS = ("fastnn", "numpy", "torch", "sklearn", "gensim")
SPREAD_WARNING = 0.25
#: the training rows report seconds per epoch of this many samples
EPOCH_SAMPLES = 60_000
#: rows of the dense L-BFGS problem (its time is the fit on this many, extrapolated in --quick)
LBFGS_SAMPLES = 20_000
#: documents of the TF-IDF row (its time is the fit on this many, extrapolated in --quick)
TEXT_DOCUMENTS = 30_000


@dataclass
class Row:
    name: str
    flops: Optional[float] = None          # per call, for GFLOP/s
    scale: float = 1.0                     # times are multiplied by this (epoch extrapolation)
    times: Dict[str, float] = field(default_factory=dict)
    spreads: Dict[str, float] = field(default_factory=dict)

    def ratio(self, peer: str, base: str = "fastnn") -> Optional[float]:
        """``peer`` time / ``base`` time (None when either was not measured)."""
        if peer not in self.times or base not in self.times:
            return None
        return self.times[peer] / self.times[base]


class SelfTimed:
    """A workload that times itself: calling it returns the seconds to count."""

    def __init__(self, fn: Callable[[], float]):
        self.fn = fn

    def __call__(self) -> float:
        return self.fn()


def sampler(fn: Callable[[], object], min_time: float,
            clock: Callable[[], float] = time.perf_counter) -> Callable[[], float]:
    """After a warm-up call of ``fn``, a function returning one sample: ``clock`` seconds
    per call of ``fn`` looped until ``min_time`` has passed (or the time a SelfTimed
    returns).  An :class:`OnPath` switches its path once around the whole loop."""
    fn()
    body = fn.fn if isinstance(fn, OnPath) else fn
    if isinstance(body, SelfTimed):
        return fn
    path = fn.path if isinstance(fn, OnPath) else contextlib.nullcontext

    def loop(number: int) -> float:
        with path():
            start = clock()
            for _ in range(number):
                body()
            return (clock() - start) / number

    number = max(1, int(min_time / max(loop(1), 1e-9)))
    return lambda: loop(number)


def measure(fns: Dict[str, Callable[[], object]], repeats: int, min_time: float) -> Dict[str, tuple]:
    """Per peer: the median seconds per call and the relative spread of ``repeats``
    samples, the peers taking turns sample by sample (a load change hits them all)."""
    samplers = {peer: sampler(fn, min_time) for peer, fn in fns.items()}
    samples: Dict[str, List[float]] = {peer: [] for peer in fns}
    for _ in range(repeats):
        for peer, sample in samplers.items():
            samples[peer].append(sample())
    result = {}
    for peer, ts in samples.items():
        med = statistics.median(ts)
        result[peer] = (med, (max(ts) - min(ts)) / med)
    return result


class OnPath:
    """fastnn's workload ``fn`` on compiled path ``isa``.  Calling it switches the path
    for one call; :func:`sampler` switches once around its loop instead (a switch costs
    a few microseconds: as much as a small GEMM)."""

    def __init__(self, isa: str, fn: Callable[[], object]):
        self.isa, self.fn = isa, fn

    def path(self):
        return fastnn._dispatch.use(self.isa)

    def __call__(self):
        with self.path():
            return self.fn()


def on_paths(fn: Callable[[], object], isas: List[str]) -> Dict[str, OnPath]:
    """fastnn's callable ``fn`` as one peer per compiled path, ``fastnn-<isa>``."""
    return {f"fastnn-{isa}": OnPath(isa, fn) for isa in isas}


#: word2vec settings of the issue's comparison with gensim
W2V_SETTINGS = dict(vector_size=100, window=5, min_count=5, negative=5, sample=1e-3)


# ------------------------------------------------------------------- the peers
def _gensim_word2vec():
    try:
        from gensim.models import Word2Vec
    except ImportError:
        return None
    return Word2Vec


def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def _sklearn_mlp():
    try:
        from sklearn.neural_network import MLPClassifier
    except ImportError:
        return None
    return MLPClassifier


# ---------------------------------------------------------------- the workloads
def gemm_row(m: int, k: int, n: int, dtype, trans: str = "") -> tuple:
    """``op(A) @ op(B)`` with ``trans`` in "", "a" (A given transposed), "b"."""
    label = {"": "A @ B", "a": "A.T @ B", "b": "A @ B.T"}[trans]
    row = Row(f"matmul {np.dtype(dtype).name} {m}x{k} @ {k}x{n} ({label})", flops=2.0 * m * n * k)

    def setup():
        rng = np.random.default_rng(0)
        a = rng.standard_normal((k, m) if "a" in trans else (m, k)).astype(dtype)
        b = rng.standard_normal((n, k) if "b" in trans else (k, n)).astype(dtype)
        opa = a.T if "a" in trans else a
        opb = b.T if "b" in trans else b
        out = np.empty((m, n), dtype)
        fns = {"fastnn": lambda: fastnn.ops.matmul(opa, opb, out=out),
               "numpy": lambda: np.matmul(opa, opb, out=out)}
        torch = _torch()
        if torch is not None:
            ta, tb, tout = torch.from_numpy(opa), torch.from_numpy(opb), torch.from_numpy(out)
            fns["torch"] = lambda: torch.mm(ta, tb, out=tout)
        return fns

    return row, setup


def linear_row(batch: int, dtype=np.float32) -> tuple:
    row = Row(f"linear relu float32 {batch}x784 -> 128", flops=2.0 * batch * 784 * 128)

    def setup():
        rng = np.random.default_rng(0)
        x = rng.standard_normal((batch, 784)).astype(dtype)
        w = rng.standard_normal((784, 128)).astype(dtype)
        b = rng.standard_normal(128).astype(dtype)
        fns = {"fastnn": lambda: fastnn.ops.linear(x, w, b, "relu"),
               "numpy": lambda: np.maximum(x @ w + b, 0)}
        torch = _torch()
        if torch is not None:
            tx, tw, tb = torch.from_numpy(x), torch.from_numpy(w.T.copy()), torch.from_numpy(b)
            fns["torch"] = lambda: torch.relu(torch.nn.functional.linear(tx, tw, tb))
        return fns

    return row, setup


def softmax_ce_row(n: int, c: int, dtype=np.float32) -> tuple:
    row = Row(f"softmax-CE loss+grad float32 {n}x{c}")

    def setup():
        rng = np.random.default_rng(0)
        logits = rng.standard_normal((n, c)).astype(dtype)
        labels = rng.integers(0, c, n)
        fns = {"fastnn": lambda: fastnn.ops.softmax_cross_entropy(logits, labels),
               "numpy": lambda: R.softmax_cross_entropy(logits, labels)}
        torch = _torch()
        if torch is not None:
            tl = torch.from_numpy(logits).requires_grad_(True)
            tt = torch.from_numpy(labels)

            def torch_ce():
                tl.grad = None
                torch.nn.functional.cross_entropy(tl, tt).backward()
            fns["torch"] = torch_ce
        return fns

    return row, setup


def _mlp_data(sizes, n, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.random((n, sizes[0]), dtype=np.float32)
    y = rng.integers(0, sizes[-1], n)
    return X, y


def training_row(sizes: List[int], batch: int, n: int, lr: float = 0.01) -> tuple:
    """One epoch of SGD (ReLU hidden layers, softmax-CE), scaled to EPOCH_SAMPLES samples."""
    row = Row(f"train epoch {'-'.join(map(str, sizes))} batch {batch}", scale=EPOCH_SAMPLES / n)
    pairs = list(zip(sizes, sizes[1:]))

    def setup():
        X, y = _mlp_data(sizes, n)
        model = fastnn.Sequential(
            [layer for i, (a, b) in enumerate(pairs)
             for layer in [fastnn.Dense(a, b, seed=i)] + ([fastnn.ReLU()] if i < len(pairs) - 1 else [])])
        opt = fastnn.SGD(model.parameters(), lr=lr)
        rng = np.random.default_rng(1)
        dense = [layer for layer in model.layers if isinstance(layer, fastnn.Dense)]
        weights = [layer.weight.copy() for layer in dense]
        biases = [layer.bias.copy() for layer in dense]

        def fastnn_epoch() -> float:  # the epoch's own time, without fit's one-off input checks
            hist = model.fit(X, y, loss="cross_entropy", optimizer=opt, epochs=1, batch_size=batch,
                             seed=int(rng.integers(1 << 30)), verbose=False)
            return hist.history["time"][0]

        def numpy_epoch():
            R.mlp_train_epoch(weights, biases, X, y, rng.permutation(n), lr=lr, batch_size=batch)

        fns = {"fastnn": SelfTimed(fastnn_epoch), "numpy": numpy_epoch}
        torch = _torch()
        if torch is not None:
            net = torch.nn.Sequential(*[m for i, (a, b) in enumerate(pairs)
                                        for m in [torch.nn.Linear(a, b)] +
                                        ([torch.nn.ReLU()] if i < len(pairs) - 1 else [])])
            topt = torch.optim.SGD(net.parameters(), lr=lr)
            tX, ty = torch.from_numpy(X), torch.from_numpy(y)
            loss_fn = torch.nn.CrossEntropyLoss()

            def torch_epoch():
                perm = torch.randperm(n)
                for start in range(0, n, batch):
                    idx = perm[start:start + batch]
                    topt.zero_grad()
                    loss_fn(net(tX[idx]), ty[idx]).backward()
                    topt.step()
            fns["torch"] = torch_epoch
        MLP = _sklearn_mlp()
        if MLP is not None and len(pairs) == 2:
            clf = MLP(hidden_layer_sizes=(sizes[1],), solver="sgd", batch_size=batch,
                      learning_rate_init=lr, momentum=0.0, alpha=0.0, shuffle=True, random_state=0)
            classes = np.arange(sizes[-1])
            fns["sklearn"] = lambda: clf.partial_fit(X, y, classes=classes)
        return fns

    return row, setup


def sklearn_fit_row(data: str, n: int, solver: str = "adam", dropout: float = 0.0) -> tuple:
    """``MLPClassifier(hidden_layer_sizes=(100,))`` fit, fastnn.sklearn against
    scikit-learn on the same float32 input (both then compute in float32): adam with
    batch 200 for 20 epochs, or L-BFGS for 200 iterations (``tol=0``).  With ``dropout``
    (adam only) fastnn alone: scikit-learn has no dropout."""
    full = {"digits": 1797, "synthetic": EPOCH_SAMPLES, "dense": LBFGS_SAMPLES}[data]
    width = {"digits": 64, "synthetic": 784, "dense": 100}[data]
    what = "adam, batch 200, (100,), 20 epochs" if solver == "adam" else \
        "lbfgs, (100,), 200 iterations"
    if dropout:
        what += f", dropout {dropout}: no scikit-learn peer"
    row = Row(f"MLPClassifier.fit {data} {full}x{width} float32 ({what})", scale=full / n)

    def setup():
        MLP = _sklearn_mlp()
        if MLP is None:
            return {}
        from fastnn.sklearn import MLPClassifier

        if data == "digits":
            X, y = fastnn.load_digits(dtype=np.float32)
        else:
            X, y = _mlp_data([width, 100, 10], n)
        if solver == "adam":
            kw = dict(solver="adam", batch_size=200, hidden_layer_sizes=(100,), max_iter=20,
                      tol=0.0, random_state=0)
        else:
            kw = dict(solver="lbfgs", hidden_layer_sizes=(100,), max_iter=200, tol=0.0,
                      random_state=0)
        if dropout:
            return {"fastnn": lambda: MLPClassifier(dropout=dropout, **kw).fit(X, y)}
        return {"fastnn": lambda: MLPClassifier(**kw).fit(X, y),
                "sklearn": lambda: MLP(**kw).fit(X, y)}

    return row, setup


def train_word2vec(peer: str, path: str, *, sg: int, workers: int, epochs: int, seed: int = 1):
    """Train ``peer``'s (``"fastnn"`` or ``"gensim"``) Word2Vec on the text file ``path``
    with W2V_SETTINGS, vocabulary pass included; returns the model."""
    if peer == "fastnn":
        return fastnn.Word2Vec(corpus_file=path, sg=sg, workers=workers, epochs=epochs,
                               seed=seed, progress=False, **W2V_SETTINGS)
    return _gensim_word2vec()(corpus_file=path, sg=sg, workers=workers, epochs=epochs,
                              seed=seed, **W2V_SETTINGS)


def zipf_corpus(path: str, words: int, vocab: int = 30_000, seed: int = 0) -> None:
    """Write ``words`` words (Zipf-distributed over ``vocab`` word types, 20 to a line)."""
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, vocab + 1) ** 1.05
    ids = rng.choice(vocab, size=words, p=p / p.sum())
    names = np.array([f"w{i}" for i in range(vocab)])
    with open(path, "w") as fh:
        for start in range(0, words, 20):
            fh.write(" ".join(names[ids[start:start + 20]]) + "\n")


def word2vec_row(sg: int, words: int, threads: int) -> tuple:
    """One epoch of word2vec on a synthetic Zipf corpus file, vocabulary pass included,
    fastnn against gensim on the same file and settings, both on ``threads`` threads."""
    row = Row(f"word2vec {'skip-gram' if sg else 'CBOW'} 1 epoch, {words // 1000}k words, "
              f"{threads} thread{'s' if threads > 1 else ''} (Zipf text file)")

    def setup():
        folder = tempfile.mkdtemp(prefix="fastnn-bench-")
        atexit.register(shutil.rmtree, folder, True)
        path = os.path.join(folder, "corpus.txt")
        zipf_corpus(path, words)
        return {peer: (lambda peer=peer: train_word2vec(peer, path, sg=sg, workers=threads,
                                                        epochs=1))
                for peer in ("fastnn", "gensim") if peer == "fastnn" or _gensim_word2vec()}

    return row, setup


def sklearn_text_row(n: int) -> tuple:
    """TF-IDF text classification: ``TfidfVectorizer(dtype=float32)`` on ``n`` synthetic
    short documents (``datasets.make_documents``: ~19,000 terms, ~13 nonzeros a row), then
    ``MLPClassifier(solver="adam", batch_size=200, hidden_layer_sizes=(100,))`` for 5
    epochs on the sparse float32 matrix, fastnn.sklearn against scikit-learn (both compute
    in float32)."""
    row = Row(f"MLPClassifier.fit TF-IDF {TEXT_DOCUMENTS:,} docs, sparse float32 "
              "(adam, batch 200, (100,), 5 epochs)", scale=TEXT_DOCUMENTS / n)

    def setup():
        MLP = _sklearn_mlp()
        if MLP is None:
            return {}
        from sklearn.feature_extraction.text import TfidfVectorizer

        from fastnn.datasets import make_documents
        from fastnn.sklearn import MLPClassifier

        docs, y = make_documents(n)
        X = TfidfVectorizer(dtype=np.float32).fit_transform(docs)
        kw = dict(solver="adam", batch_size=200, hidden_layer_sizes=(100,), max_iter=5,
                  tol=0.0, random_state=0)
        return {"fastnn": lambda: MLPClassifier(**kw).fit(X, y),
                "sklearn": lambda: MLP(**kw).fit(X, y)}

    return row, setup


def workloads(quick: bool) -> List[tuple]:
    """The rows of the table as ``(Row, setup)``; ``setup()`` builds the data and returns
    ``{peer: callable}`` (it runs only when the row is measured)."""
    n_big = 12_000 if quick else EPOCH_SAMPLES
    n_b1 = 2_000 if quick else 6_000
    rows = [gemm_row(512, 512, 512, np.float32), gemm_row(512, 512, 512, np.float64)]
    for batch in (64,) if quick else (16, 64, 256):
        rows += [gemm_row(batch, 784, 128, np.float32),
                 gemm_row(784, batch, 128, np.float32, "a"),
                 gemm_row(batch, 128, 784, np.float32, "b")]
    rows += [gemm_row(256, 128, 10, np.float32)]
    rows += [gemm_row(256, 128, n, np.float64) for n in (1, 2, 3, 4)]  # matrix-vector and narrow
    rows += [linear_row(64),
             softmax_ce_row(256, 10), softmax_ce_row(4096, 1000)]
    for batch in (1, 16, 64, 256):
        rows.append(training_row([784, 128, 10], batch, n_b1 if batch == 1 else n_big))
    rows += [training_row([64, 32, 10], 64, n_big), training_row([64, 32, 10], 1, n_b1)]
    synthetic = 6_000 if quick else 12_000
    rows += [sklearn_fit_row("digits", 1797), sklearn_fit_row("synthetic", synthetic),
             sklearn_fit_row("synthetic", synthetic, dropout=0.2),
             sklearn_fit_row("digits", 1797, "lbfgs"),
             sklearn_fit_row("dense", 4_000 if quick else LBFGS_SAMPLES, "lbfgs")]
    rows.append(sklearn_text_row(6_000 if quick else TEXT_DOCUMENTS))
    rows += [word2vec_row(sg, 100_000 if quick else 500_000, threads)
             for sg in (1, 0) for threads in (1, 2)]
    return rows


# ------------------------------------------------------------------- reporting
def machine_info(threads: int) -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info = {"date": time.strftime("%Y-%m-%d"), "cpu": cpu, "fastnn": fastnn.__version__,
            "isa": fastnn._dispatch.kernels.ISA, "threads": threads,
            "numpy": np.__version__, "python": platform.python_version()}
    torch = _torch()
    info["torch"] = torch.__version__ if torch else None
    try:
        import sklearn
        info["sklearn"] = sklearn.__version__
    except ImportError:
        info["sklearn"] = None
    try:
        import gensim
        info["gensim"] = gensim.__version__
    except ImportError:
        info["gensim"] = None
    return info


def gemm_peak_report(rows: List[Row], threads: int, isas: List[str]) -> Dict[str, dict]:
    """Per dtype: the core's measured FMA peak (times ``threads``) on each of the paths
    ``isas`` and the fraction of the best one each peer reaches on the square GEMM rows."""
    report = {}
    for dtype in ("float32", "float64"):
        square = [r for r in rows if r.flops and r.name.startswith(f"matmul {dtype} 512x512 @")]
        if not square:
            continue
        peaks = {isa: fastnn._dispatch.modules[isa].peak_gflops(dtype == "float64", 0.2) * threads
                 for isa in isas}
        peak = max(peaks.values())
        report[dtype] = {"peak_gflops": peak, "peak_by_isa": peaks,
                         "fraction": {p: square[0].flops / t / 1e9 / peak
                                      for p, t in square[0].times.items()}}
    return report


def format_table(rows: List[Row], peers: List[str]) -> str:
    """The markdown table: a time column per peer, GFLOP/s of each fastnn peer when some
    row counts its flops, and the ratios of each fastnn peer against the others (with
    several fastnn paths, against NumPy only: the table stays readable)."""
    gflops = any(row.flops for row in rows)
    ours = [p for p in peers if p.startswith("fastnn")]
    others = [p for p in peers if p not in ours]
    pairs = [(f, p) for f in ours for p in (others if len(ours) == 1 else others[:1])]
    head = ["workload", *(f"{p} time" for p in peers),
            *(f"{f} GFLOP/s" for f in ours if gflops),
            *(f"x vs {p}" if f == "fastnn" else f"{f[7:]} x vs {p}" for f, p in pairs)]
    lines = []
    for row in rows:
        cells = [row.name]
        for p in peers:
            cells.append(_fmt_time(row.times.get(p)))
        if gflops:
            for f in ours:
                gf = row.flops / row.times[f] / 1e9 if row.flops and f in row.times else None
                cells.append(f"{gf:.1f}" if gf else "")
        for f, p in pairs:
            r = row.ratio(p, f)
            cells.append(f"{r:.2f}" if r else "-")
        lines.append(cells)
    widths = [max(len(str(c)) for c in col) for col in zip(head, *lines)]
    fmt = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"
    out = [fmt(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [fmt(cells) for cells in lines]
    return "\n".join(out)


def _fmt_time(seconds: Optional[float]) -> str:
    if seconds is None:
        return "-"
    for unit, factor in (("s", 1), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= factor:
            return f"{seconds / factor:.3g} {unit}"
    return f"{seconds * 1e9:.3g} ns"


def plot(rows: List[Row], peers: List[str], path: str) -> None:
    plt = require_matplotlib()

    base = next(p for p in peers if p.startswith("fastnn"))
    others = [p for p in peers if not p.startswith("fastnn")]
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(rows) + 1.5))
    y = np.arange(len(rows))
    height = 0.8 / max(len(others), 1)
    for i, peer in enumerate(others):
        ax.barh(y + i * height, [row.ratio(peer, base) or 0 for row in rows], height,
                label=f"{base} vs {peer}")
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_yticks(y + height * (len(others) - 1) / 2, [row.name for row in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("speed-up of fastnn (peer time / fastnn time)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def run(args: argparse.Namespace) -> dict:
    threads = args.threads or 1
    fastnn.set_num_threads(threads)
    torch = _torch()
    if torch is not None:
        torch.set_num_threads(threads)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        threadpool_limits = None
        print("note: threadpoolctl is not installed; NumPy's BLAS keeps its own thread count "
              "(pip install fastnn[bench])", file=sys.stderr)
    isas = isa_list(args.isa)
    ours = ["fastnn"] if args.isa is None else [f"fastnn-{isa}" for isa in isas]
    optional = (("torch", torch), ("sklearn", _sklearn_mlp()), ("gensim", _gensim_word2vec()))
    peers = ours + ["numpy"] + [p for p, mod in optional if mod is not None]
    for p, mod in optional:
        if mod is None:
            print(f"note: {p} is not installed; its column is skipped", file=sys.stderr)
    info = machine_info(threads)
    rows: List[Row] = []
    limiter = threadpool_limits(limits=threads) if threadpool_limits else None
    try:
        for row, setup in workloads(args.quick):
            if args.only and args.only not in row.name:
                continue
            fns = setup()
            if args.isa is not None and "fastnn" in fns:
                fns = {**on_paths(fns.pop("fastnn"), isas), **fns}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                timed = measure(fns, args.repeats, 0.0 if row.scale != 1.0 else 0.05)
            for peer, (t, spread) in timed.items():
                row.times[peer], row.spreads[peer] = t * row.scale, spread
                if spread > SPREAD_WARNING:
                    print(f"warning: {row.name} [{peer}]: runs spread {spread:.0%} around the "
                          f"median; the machine is noisy", file=sys.stderr)
            rows.append(row)
            if args.verbose:
                print(format_table([row], peers).splitlines()[-1], file=sys.stderr)
    finally:
        if limiter is not None:
            limiter.unregister()
    return {"machine": info, "peers": peers, "rows": rows, "isas": isas}


def isa_list(text: Optional[str]) -> List[str]:
    """The compiled paths ``--isa`` names: ``all`` (every one this CPU runs, fastest
    first), a comma-separated list, or None for the path in use."""
    if text is None:
        return [fastnn._dispatch.kernels.ISA]
    avail = [isa for isa in fastnn._dispatch.ISA_ORDER if isa in fastnn._dispatch.modules]
    if text.strip().lower() == "all":
        return avail
    isas = [t.strip().lower() for t in text.split(",") if t.strip()]
    bad = [isa for isa in isas if isa not in avail]
    if bad or not isas:
        raise ValueError(f"--isa must be 'all' or a list of {', '.join(avail)}; received: {text!r}")
    return isas


def main(args: argparse.Namespace) -> int:
    try:
        isa_list(args.isa)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    result = run(args)
    info, rows = result["machine"], result["rows"]
    peers = [p for p in result["peers"] if p.startswith("fastnn") or any(p in r.times for r in rows)]
    report = sys.stderr if args.json == "-" else sys.stdout  # stdout: the JSON alone
    print(f"fastnn bench - {info['date']} - {info['cpu']} - {', '.join(result['isas'])} kernels - "
          f"{info['threads']} thread(s) - numpy {info['numpy']}, torch {info['torch']}, "
          f"scikit-learn {info['sklearn']}, gensim {info['gensim']}", file=report)
    print(f"times: median of {args.repeats} runs; 'x vs peer' = peer time / fastnn time; "
          f"training rows: seconds per {EPOCH_SAMPLES:,}-sample epoch", file=report)
    print(format_table(rows, peers), file=report)
    peaks = gemm_peak_report(rows, info["threads"], result["isas"])
    for dtype, rep in peaks.items():
        shares = ", ".join(f"{p} {f:.0%}" for p, f in rep["fraction"].items())
        each = ", ".join(f"{isa} {g:.1f}" for isa, g in rep["peak_by_isa"].items())
        print(f"{dtype} peak measured on {info['threads']} core(s) (register-only FMA loop): "
              f"{each} GFLOP/s; GEMM 512^3 reaches (of {rep['peak_gflops']:.1f}): {shares}",
              file=report)
    if args.json:
        payload = {"machine": info, "peers": peers, "gemm_peak": peaks,
                   "rows": [asdict(r) for r in rows]}
        text = json.dumps(payload, indent=2)
        if args.json == "-":
            print(text)
        else:
            with open(args.json, "w") as fh:
                fh.write(text)
    if args.plot:
        plot(rows, peers, args.plot)
    return 0


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--threads", type=thread_count, default=1,
                   help="threads for every peer (default: %(default)s)")
    p.add_argument("--repeats", type=positive_int, default=5,
                   help="timed runs per measurement (default: %(default)s)")
    p.add_argument("--quick", action="store_true",
                   help="fewer shapes, smaller epochs (default: every shape, full epochs)")
    p.add_argument("--only", default=None,
                   help="only rows whose name contains this text (default: every row)")
    p.add_argument("--json", default=None, metavar="FILE",
                   help="also write JSON; with -, stdout holds only the JSON and the table "
                        "goes to stderr (default: no JSON)")
    p.add_argument("--plot", type=picture_file, default=None, metavar="FILE.png",
                   help="bar chart, needs matplotlib (default: no chart)")
    p.add_argument("--verbose", action="store_true",
                   help="print each row to stderr as it is measured (default: off)")
    p.add_argument("--isa", default=None, metavar="LIST",
                   help="run fastnn on these compiled paths side by side: 'all' or e.g. "
                        "'avx512,avx2' (default: the path in use, as one 'fastnn' column)")
