"""The GEMM on rows of X read in place (``gather_linear``: csrc/gemm.h, fnn_*gemm_gather),
which the compiled epochs use for the first layer of a dense X: ``act(X[rows] @ W + b)``
and ``X[rows].T @ dz`` against NumPy, bit for bit equal to the GEMM on the gathered rows,
across the register tile and the cache blocks of each path and dtype."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fastnn
from fastnn import _dispatch
from fastnn import reference as R

from _helpers import mlp
from test_gemm import assert_close, over_blocking


def shapes(b):
    """(batch rows, features, outputs): around MR, past KC (several depth blocks) and MC
    (several row blocks), outputs just above the unpacked-A limit (2 NR) and wide."""
    mr, nr, kc, mc = b["MR"], b["NR"], b["KC"], b["MC"]
    return [(mr + 1, 37, 2 * nr + 1), (2 * mr - 1, kc + 3, 2 * nr + 5), (mc + 7, 61, 3 * nr),
            (200, 2 * kc + 11, 100), (13, 97, 4 * nr + 3)]


def packs_a(b, m, n):
    """True when the blocked GEMM packs A for an (m, n) C on one thread (and so gathers it)."""
    return n > 2 * b["NR"] and m > b["skinny"]["max_rows"]


def operands(rng, n_x, d, n_out, batch, dtype):
    x = rng.standard_normal((n_x, d)).astype(dtype)
    rows = rng.integers(0, n_x, batch).astype(np.int64)
    return x, rows, rng.standard_normal((d, n_out)).astype(dtype)


@over_blocking("batch, d, n_out", shapes)
@pytest.mark.parametrize("activation", [None, "relu", "tanh"])
def test_forward_against_numpy(kmod, dtype, batch, d, n_out, activation):
    rng = np.random.default_rng(batch * 7 + d)
    x, rows, w = operands(rng, 3 * batch + 5, d, n_out, batch, dtype)
    bias = rng.standard_normal(n_out).astype(dtype)
    with fastnn.set_num_threads(1):
        got, in_place = kmod.gather_linear(x, rows, w, bias, activation)
    assert in_place == packs_a(kmod.GEMM_BLOCKING[np.dtype(dtype).name], batch, n_out)
    assert_close(got, R.linear(x[rows].astype(np.float64), w.astype(np.float64),
                               bias.astype(np.float64), activation), d, x, w)
    np.testing.assert_array_equal(got, kmod.linear(x[rows], w, bias, activation))


@over_blocking("batch, d, n_out", shapes)
def test_weight_gradient_against_numpy(kmod, dtype, batch, d, n_out):
    rng = np.random.default_rng(batch * 5 + d)
    x, rows, _ = operands(rng, 2 * batch + 3, d, n_out, batch, dtype)
    dz = rng.standard_normal((batch, n_out)).astype(dtype)
    with fastnn.set_num_threads(1):
        got, in_place = kmod.gather_linear(x, rows, dz, transpose=True)
    assert in_place == packs_a(kmod.GEMM_BLOCKING[np.dtype(dtype).name], d, n_out)
    assert_close(got, x[rows].astype(np.float64).T @ dz.astype(np.float64), batch, x, dz)
    np.testing.assert_array_equal(got, kmod.gemm(x[rows], dz, trans_a=True))


@pytest.mark.parametrize("threads", [2, 3])
def test_same_bits_on_every_thread_count(kmod, dtype, threads):
    rng = np.random.default_rng(4)
    x, rows, w = operands(rng, 900, 300, 200, 400, dtype)
    dz = rng.standard_normal((400, 200)).astype(dtype)
    with fastnn.set_num_threads(1):
        one = [kmod.gather_linear(x, rows, w)[0], kmod.gather_linear(x, rows, dz, transpose=True)[0]]
    with fastnn.set_num_threads(threads):
        many = [kmod.gather_linear(x, rows, w)[0], kmod.gather_linear(x, rows, dz, transpose=True)[0]]
    for a, b in zip(one, many):
        np.testing.assert_array_equal(a, b)


def test_strided_weight_and_repeated_rows(kmod, dtype):
    """A transposed, strided weight view, rows repeated and in any order."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((50, 70)).astype(dtype)
    rows = np.array([49, 0, 0, 3, 49, 17] * 9, np.int64)
    w = rng.standard_normal((2 * 90, 70)).astype(dtype)[::2].T  # (70, 90), strides (1, 2*70)
    got, in_place = kmod.gather_linear(x, rows, w, None, "relu")
    assert in_place
    np.testing.assert_array_equal(got, kmod.linear(x[rows], w, None, "relu"))
    assert_close(got, np.maximum(x[rows].astype(np.float64) @ w.astype(np.float64), 0), 70, x, w)


@settings(max_examples=40, deadline=None)
@given(n_x=st.integers(1, 60), d=st.integers(1, 90), n_out=st.integers(1, 80),
       batch=st.integers(1, 70), transpose=st.booleans(), seed=st.integers(0, 2**16),
       isa=st.sampled_from(sorted(_dispatch.modules)),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_property_equals_gathered_product(n_x, d, n_out, batch, transpose, seed, isa, dtype):
    kmod = _dispatch.modules[isa]
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n_x, d)).astype(dtype)
    rows = rng.integers(0, n_x, batch).astype(np.int64)
    b = rng.standard_normal((batch if transpose else d, n_out)).astype(dtype)
    got, _ = kmod.gather_linear(x, rows, b, transpose=transpose)
    want = kmod.gemm(x[rows], b, trans_a=transpose)
    np.testing.assert_array_equal(got, want)
    xr = x[rows].astype(np.float64)
    assert_close(got, (xr.T if transpose else xr) @ b.astype(np.float64),
                 batch if transpose else d, x, b)


def test_empty_products(kmod, dtype):
    x = np.ones((4, 3), dtype)
    got, in_place = kmod.gather_linear(x, np.zeros(0, np.int64), np.ones((3, 5), dtype))
    assert got.shape == (0, 5) and not in_place
    got, in_place = kmod.gather_linear(x, np.zeros(0, np.int64), np.ones((0, 5), dtype),
                                       transpose=True)
    np.testing.assert_array_equal(got, np.zeros((3, 5), dtype))


@pytest.mark.parametrize("rows, error, match", [
    (np.array([0, 4], np.int64), ValueError, r"rows must hold row indices of x in \[0, 4\); received 4"),
    (np.array([-1], np.int64), ValueError, r"received -1"),
    (np.array([0, 1], np.int32), ValueError, "rows must be an aligned, C-contiguous array of dtype int64"),
    ([0, 1], TypeError, "rows must be a numpy.ndarray"),
])
def test_bad_rows(kmod, rows, error, match):
    with pytest.raises(error, match=match):
        kmod.gather_linear(np.ones((4, 3)), rows, np.ones((3, 2)))


def test_bad_operands(kmod):
    x, rows = np.ones((4, 3)), np.array([0, 1], np.int64)
    with pytest.raises(ValueError, match=r"weight must have 3 rows, the columns of x\[rows\]"):
        kmod.gather_linear(x, rows, np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"weight must have 2 rows, the columns of x\[rows\].T"):
        kmod.gather_linear(x, rows, np.ones((3, 2)), transpose=True)
    with pytest.raises(ValueError, match="x must be C-contiguous"):
        kmod.gather_linear(np.ones((3, 4)).T, rows, np.ones((3, 2)))
    with pytest.raises(TypeError, match="same dtype|dtype"):
        kmod.gather_linear(x, rows, np.ones((3, 2), np.float32))
    with pytest.raises(ValueError, match="bias must have shape"):
        kmod.gather_linear(x, rows, np.ones((3, 2)), np.ones(3))
    with pytest.raises(ValueError, match="activation must be one of"):
        kmod.gather_linear(x, rows, np.ones((3, 2)), activation="gelu")


@pytest.mark.parametrize("opt", ["sgd", "adam"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fit_reading_rows_in_place_equals_manual_loop(on_each_isa, opt, dtype):
    """A first layer wide enough for the GEMM to pack A (so the epoch gathers the rows of X
    into its blocks): fit and the manual loop give the same weights, bit for bit."""
    rng = np.random.default_rng(6)
    X = rng.standard_normal((301, 45)).astype(dtype)
    y = rng.integers(0, 7, 301)
    models = [mlp([45, 83, 7], dtype=dtype) for _ in range(2)]
    make = {"sgd": lambda m: fastnn.SGD(m.parameters(), lr=0.05, momentum=0.9),
            "adam": lambda m: fastnn.Adam(m.parameters(), lr=1e-3)}[opt]
    models[0].fit(X, y, loss="cross_entropy", optimizer=make(models[0]), epochs=2,
                  batch_size=64, seed=1, verbose=False)
    loss, optimizer = fastnn.SoftmaxCrossEntropy(), make(models[1])
    order_rng = np.random.default_rng(1)
    for _ in range(2):
        order = order_rng.permutation(len(X))
        for start in range(0, len(X), 64):
            idx = order[start:start + 64]
            models[1].train_batch(X[idx], y[idx], loss, optimizer)
    for a, b in zip(models[0].parameters(), models[1].parameters()):
        np.testing.assert_array_equal(a.value, b.value)
