"""Tolerances, data and small utilities shared by the tests (no test module imports
another test module: what two of them share lives here or in conftest.py)."""

import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest

import fastnn

# (rtol, atol) per dtype, one table per kind of comparison; assert_close takes the table.
#: kernels: results a few roundings away from the reference
TOL = {np.dtype(np.float32): (2e-5, 1e-6), np.dtype(np.float64): (1e-12, 1e-14)}
#: training: the same kernels in another order (fit against the manual loop) over a few epochs
TRAINING_TOL = {np.dtype(np.float32): (1e-5, 1e-5), np.dtype(np.float64): (1e-12, 1e-12)}
#: training against the plain NumPy loop (another implementation) over a few epochs
NUMPY_TRAINING_TOL = {np.dtype(np.float32): (1e-4, 1e-4), np.dtype(np.float64): (1e-10, 1e-10)}


def assert_close(actual, expected, dtype, scale=1.0, tol=TOL):
    """Compare with the dtype's tolerance from ``tol``; ``scale`` widens atol for large
    magnitudes (``scale=0``: relative only, for values far from 0 such as losses)."""
    rtol, atol = tol[np.dtype(dtype)]
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol * scale)


def rand(rng, shape, dtype, scale=1.0):
    return np.asarray(rng.standard_normal(shape) * scale).astype(dtype)


# ------------------------------------------------------------- model-layer data
#: targets for each loss kernel, ``(rng, n, c) -> array``; a new loss adds its own here
TARGETS = {
    "softmax_cross_entropy": lambda rng, n, c: rng.integers(0, c, n),
    "mse": lambda rng, n, c: rng.standard_normal((n, c)),
    "bce_with_logits": lambda rng, n, c: rng.integers(0, 2, (n, c)).astype(float),
    "poisson_nll": lambda rng, n, c: rng.poisson(2.0, (n, c)).astype(float),
}

#: the losses the model tests train with, by short name
LOSSES = {
    "ce": fastnn.SoftmaxCrossEntropy,
    "ce_smooth": lambda: fastnn.SoftmaxCrossEntropy(label_smoothing=0.1),
    "mse": fastnn.MSE,
    "bce": fastnn.BCEWithLogits,
    "poisson": fastnn.PoissonNLL,
}


def targets(kernel, rng, n, c, dtype=np.float64):
    """Targets for the loss ``kernel`` (its entry of TARGETS): labels stay int64, real
    targets become ``dtype``."""
    y = TARGETS[kernel](rng, n, c)
    return y if y.dtype.kind in "iu" else y.astype(dtype)


def class_data(n=64, d=7, c=4, seed=0, dtype=np.float64):
    """``X`` standard normal ``(n, d)`` and labels in ``[0, c)``."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(dtype)
    y = rng.integers(0, c, n)
    return X, y


def mlp(sizes, act=fastnn.ReLU, dtype=np.float64, seed=0):
    """``Dense`` layers of ``sizes`` with ``act`` between them (He init for ReLU, else Glorot)."""
    layers = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(fastnn.Dense(a, b, dtype=dtype, seed=seed + i,
                                   init="he" if act is fastnn.ReLU else "glorot"))
        if i < len(sizes) - 2:
            layers.append(act())
    return fastnn.Sequential(layers)


def central_differences(f, x, h=1e-6):
    """The gradient of the scalar function ``f`` at ``x`` (float64) by central differences."""
    numeric = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[idx] += h
        down[idx] -= h
        numeric[idx] = (f(up) - f(down)) / (2 * h)
    return numeric


class PythonLoop(fastnn.layers.Layer):
    """The identity, as a layer the compiled epoch does not know: a network with one
    inside trains in the Python loop (the numbers the compiled epoch must equal)."""

    def forward(self, x, training=True):
        return x

    def backward(self, grad):
        return grad


def manual_fit(model, loss, optimizer, X, y, *, epochs, batch_size, seed):
    """The lecture's loop over the minibatches ``fit(..., seed=seed)`` draws (forward,
    loss, backward, step); returns the mean loss of each epoch, like ``History.loss``."""
    order_rng = np.random.default_rng(seed)
    n, curve = X.shape[0], []
    for _ in range(epochs):
        order, total = order_rng.permutation(n), 0.0
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            total += loss.forward(model.forward(X[idx]), y[idx]) * len(idx)
            model.backward(loss.backward())
            optimizer.step()
        curve.append(total / n)
    return curve


def assert_fit_bitwise_for_thread_counts(X, y, sizes, *, build=None, batch_size=128):
    """``fit`` (Adam, float32, 2 epochs) on 1, 2 and 3 threads: the same losses and weights,
    bit for bit; ``build(sizes)`` makes the network (default: :func:`mlp` in float32)."""
    results = []
    for n_threads in (1, 2, 3):
        with fastnn.set_num_threads(n_threads):
            model = build(sizes) if build else mlp(sizes, dtype=np.float32)
            hist = model.fit(X, y, loss="cross_entropy",
                             optimizer=fastnn.Adam(model.parameters(), lr=1e-3), epochs=2,
                             batch_size=batch_size, seed=0, verbose=False)
        results.append((hist.loss, [p.value.copy() for p in model.parameters()]))
    for loss, params in results[1:]:
        assert loss == results[0][0]
        for a, b in zip(params, results[0][1]):
            np.testing.assert_array_equal(a, b)


def forbid_densifying(monkeypatch):
    """Make every conversion of a SciPy CSR/CSC matrix or array to a dense array fail."""
    import scipy.sparse as sp

    def refuse(*args, **kwargs):
        raise AssertionError("sparse input was densified")

    for cls in (sp.csr_matrix, sp.csc_matrix, sp.csr_array, sp.csc_array):
        monkeypatch.setattr(cls, "toarray", refuse)
        monkeypatch.setattr(cls, "todense", refuse)
        monkeypatch.setattr(cls, "__array__", refuse, raising=False)


#: the optimizers the model tests train with, by short name: ``name -> (params -> optimizer)``
OPTIMIZERS = {
    "sgd": lambda p: fastnn.SGD(p, lr=0.05),
    "momentum": lambda p: fastnn.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
    "adam": lambda p: fastnn.Adam(p, lr=1e-2, weight_decay=1e-4),
    "adamw": lambda p: fastnn.AdamW(p, lr=1e-2),
}


def assert_fit_equals_manual_loop(sizes, act, opt_name, loss_name, X, y, dtype, *, epochs,
                                  batch_size, seed, grads=False):
    """``fit`` and :func:`manual_fit` of two equal networks give the same loss curve and
    weights (and, with ``grads``, the same last gradients)."""
    a, b = mlp(sizes, act=act, dtype=dtype), mlp(sizes, act=act, dtype=dtype)
    hist = a.fit(X, y, loss=LOSSES[loss_name](), optimizer=OPTIMIZERS[opt_name](a.parameters()),
                 epochs=epochs, batch_size=batch_size, seed=seed, verbose=False)
    manual = manual_fit(b, LOSSES[loss_name](), OPTIMIZERS[opt_name](b.parameters()), X, y,
                        epochs=epochs, batch_size=batch_size, seed=seed)
    assert_close(hist.loss, manual, dtype, scale=0, tol=TRAINING_TOL)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert_close(pa.value, pb.value, dtype, tol=TRAINING_TOL)
        if grads:
            assert_close(pa.grad, pb.grad, dtype, tol=TRAINING_TOL)


# ------------------------------------------------------------- projections and pictures
def spectrum_data(rng, n, d, dtype, rank=None):
    """Rows with a known, well separated spectrum (singular values 8, 4, 2, ...) plus an
    offset, so the principal directions are unique and the centring matters."""
    r = min(n - 1, d) if rank is None else rank
    u = np.linalg.qr(rng.standard_normal((n, n)))[0][:, :r]
    u -= u.mean(axis=0)                      # centred columns: the spectrum survives centring
    u /= np.linalg.norm(u, axis=0)
    v = np.linalg.qr(rng.standard_normal((d, d)))[0][:, :r]
    s = 8.0 * 0.5 ** np.arange(r)
    return ((u * s) @ v.T + rng.standard_normal(d)).astype(dtype)


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path) -> tuple:
    """``(width, height)`` from the IHDR header of a PNG file; fails on anything else."""
    with open(path, "rb") as fh:
        head = fh.read(24)
    assert head[:8] == PNG_SIGNATURE, f"{path} is not a PNG file"
    assert head[12:16] == b"IHDR", f"{path}: the first chunk is not IHDR"
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def drawn_points(ax) -> np.ndarray:
    """The points of every scatter of ``ax``, in drawing order, ``(n, 2)``."""
    parts = [np.asarray(c.get_offsets()) for c in ax.collections]
    return np.concatenate(parts) if parts else np.empty((0, 2))


def legend_texts(ax) -> list:
    legend = ax.get_legend()
    return [] if legend is None else [t.get_text() for t in legend.get_texts()]


def estimator_data(kind, n=120, d=5, width=4, seed=0):
    """``X`` standard normal ``(n, d)`` and targets of ``kind`` for the scikit-learn
    estimators: multiclass (3 labels), binary, multilabel (``width`` labels), regression,
    multioutput (``width - 1`` outputs)."""
    rng = np.random.RandomState(seed)
    X = rng.randn(n, d)
    y = {"multiclass": rng.randint(0, 3, n), "binary": rng.randint(0, 2, n),
         "multilabel": rng.randint(0, 2, (n, width)), "regression": rng.randn(n),
         "multioutput": rng.randn(n, width - 1)}[kind]
    return X, y


# ------------------------------------------------------ cross-compiled C harness
def needs_programs(*programs: str, install: str):
    """Skips a test unless every one of ``programs`` is on PATH (``install``: how to get them)."""
    missing = [p for p in programs if shutil.which(p) is None]
    return pytest.mark.skipif(bool(missing), reason=f"needs {', '.join(missing)} ({install})")


def run_tools_script(name: str, timeout: float) -> str:
    """Runs ``tools/<name>`` (a cross-compiling harness script, which reads setup.py's
    flags with this Python); returns its output, failing the test on a nonzero exit."""
    script = pathlib.Path(__file__).resolve().parents[1] / "tools" / name
    # tools/sanitize.sh preloads the sanitizer runtime for this interpreter's extension
    # modules; the harness scripts build their own C and run it under wine or qemu, which
    # abort with that runtime preloaded
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    res = subprocess.run(["sh", str(script)], capture_output=True, text=True, timeout=timeout,
                         env=dict(env, PYTHON=sys.executable))
    assert res.returncode == 0, (f"tools/{name} exited with {res.returncode}\n"
                                 + res.stdout[-3000:] + res.stderr[-3000:])
    return res.stdout
