"""ops.sparse_linear and ops.sparse_linear_backward (CSR rows times a dense weight)
against the NumPy reference and a dense product, on every compiled path."""
import types

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fastnn
from fastnn import reference as ref

from _helpers import assert_close, rand

ACTS = [None, "relu", "leaky_relu", "tanh", "sigmoid"]


def csr(rng, n, d, nnz_per_row, dtype, index=np.int32, *, duplicates=False, zeros=False,
        unsorted=False, empty_every=0):
    """A CSR matrix as a plain object (no SciPy): ``nnz_per_row`` random columns per row,
    optionally with repeated columns, explicit zeros, unsorted columns and empty rows."""
    counts = np.full(n, nnz_per_row if d else 0)
    if empty_every:
        counts[::empty_every] = 0
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(index)
    nnz = int(indptr[-1])
    cols = rng.integers(0, max(d, 1), nnz)
    if duplicates and nnz > 1:
        cols[1::3] = cols[0:-1:3][:len(cols[1::3])]
    if not unsorted:
        for r in range(n):
            cols[indptr[r]:indptr[r + 1]] = np.sort(cols[indptr[r]:indptr[r + 1]])
    data = rand(rng, nnz, dtype)
    if zeros:
        data[::4] = 0
    return types.SimpleNamespace(shape=(n, d), indptr=indptr, indices=cols.astype(index),
                                 data=data)


def dense(x):
    """The dense matrix of the CSR object ``x`` (duplicates added), in float64."""
    out = np.zeros(x.shape)
    rows = np.repeat(np.arange(x.shape[0]), np.diff(x.indptr))
    k0, k1 = x.indptr[0], x.indptr[-1]
    np.add.at(out, (rows, x.indices[k0:k1]), x.data[k0:k1].astype(np.float64))
    return out


SHAPES = [(0, 5, 3, 2), (1, 1, 1, 1), (7, 13, 5, 3), (31, 97, 17, 6), (33, 40, 65, 4),
          (70, 300, 129, 12), (5, 20, 1, 0)]


@pytest.mark.parametrize("n, d, m, per_row", SHAPES)
@pytest.mark.parametrize("index", [np.int32, np.int64])
@pytest.mark.parametrize("act", ACTS)
def test_forward_matches_reference_and_dense(kmod, dtype, index, act, n, d, m, per_row):
    rng = np.random.default_rng(n * 7 + d)
    x = csr(rng, n, d, per_row, dtype, index, duplicates=True, zeros=True, unsorted=True,
            empty_every=3)
    w, b = rand(rng, (d, m), dtype), rand(rng, m, dtype)
    got = kmod.sparse_linear(x, w, b, act)
    assert got.dtype == dtype and got.shape == (n, m)
    assert_close(got, ref.sparse_linear(x, w, b, act), dtype, scale=per_row + 1)
    assert_close(got, ref.linear(dense(x).astype(dtype), w, b, act), dtype, scale=per_row + 1)
    assert_close(kmod.sparse_linear(x, w), dense(x) @ w, dtype, scale=per_row + 1)


@pytest.mark.parametrize("n, d, m, per_row", SHAPES)
@pytest.mark.parametrize("index", [np.int32, np.int64])
def test_backward_matches_reference_and_dense(kmod, dtype, index, n, d, m, per_row):
    rng = np.random.default_rng(n + 3 * d)
    x = csr(rng, n, d, per_row, dtype, index, duplicates=True, zeros=True, unsorted=True,
            empty_every=4)
    g = rand(rng, (n, m), dtype)
    got = kmod.sparse_linear_backward(x, g)
    assert got.dtype == dtype and got.shape == (d, m)
    assert_close(got, ref.sparse_linear_backward(x, g), dtype, scale=n + 1)
    assert_close(got, dense(x).T @ g, dtype, scale=n + 1)
    untouched = np.setdiff1d(np.arange(d), x.indices[x.indptr[0]:x.indptr[-1]])
    assert (got[untouched] == 0).all()


def test_zero_nonzeros_gives_bias(kmod, dtype):
    x = types.SimpleNamespace(shape=(4, 6), indptr=np.zeros(5, np.int32),
                              indices=np.zeros(0, np.int32), data=np.zeros(0, dtype))
    w, b = np.ones((6, 3), dtype), np.arange(3, dtype=dtype)
    np.testing.assert_array_equal(kmod.sparse_linear(x, w, b), np.tile(b, (4, 1)))
    np.testing.assert_array_equal(kmod.sparse_linear_backward(x, np.ones((4, 3), dtype)),
                                  np.zeros((6, 3), dtype))


def test_indptr_offset_and_trailing_storage(kmod, dtype):
    """Nonzeros are those between indptr[0] and indptr[-1]; storage beyond them is ignored."""
    rng = np.random.default_rng(1)
    x = csr(rng, 9, 11, 3, dtype)
    shifted = types.SimpleNamespace(shape=x.shape, indptr=x.indptr + 2,
                                    indices=np.concatenate([[10, 10], x.indices, [10]]),
                                    data=np.concatenate([[9, 9], x.data, [9]]).astype(dtype))
    w, g = rand(rng, (11, 4), dtype), rand(rng, (9, 4), dtype)
    np.testing.assert_array_equal(kmod.sparse_linear(shifted, w), kmod.sparse_linear(x, w))
    np.testing.assert_array_equal(kmod.sparse_linear_backward(shifted, g),
                                  kmod.sparse_linear_backward(x, g))


def test_out_and_non_contiguous_operands(kmod, dtype):
    rng = np.random.default_rng(2)
    x = csr(rng, 12, 30, 4, dtype)
    w = rand(rng, (8, 30), dtype).T          # a transposed view
    b = rand(rng, 16, dtype)[::2]            # a strided view
    out = np.empty((12, 8), dtype)
    got = kmod.sparse_linear(x, w, b, "relu", out=out)
    assert got is out
    assert_close(out, ref.sparse_linear(x, w, b, "relu"), dtype, scale=5)
    g = rand(rng, (8, 12), dtype).T
    dw = np.full((30, 8), np.nan, dtype)     # old contents never read
    assert kmod.sparse_linear_backward(x, g, out=dw) is dw
    assert_close(dw, ref.sparse_linear_backward(x, g), dtype, scale=12)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 40), d=st.integers(1, 60), m=st.integers(1, 70),
       per_row=st.integers(0, 8), wide=st.booleans(), f64=st.booleans(),
       flags=st.tuples(st.booleans(), st.booleans(), st.booleans()),
       seed=st.integers(0, 2**16))
def test_property_random_matrices(n, d, m, per_row, wide, f64, flags, seed):
    dtype = np.float64 if f64 else np.float32
    rng = np.random.default_rng(seed)
    x = csr(rng, n, d, per_row, dtype, np.int64 if wide else np.int32, duplicates=flags[0],
            zeros=flags[1], unsorted=flags[2], empty_every=5)
    w, b, g = rand(rng, (d, m), dtype), rand(rng, m, dtype), rand(rng, (n, m), dtype)
    for mod in fastnn._dispatch.modules.values():
        assert_close(mod.sparse_linear(x, w, b, "tanh"), ref.sparse_linear(x, w, b, "tanh"),
                     dtype, scale=per_row + 1)
        assert_close(mod.sparse_linear_backward(x, g), ref.sparse_linear_backward(x, g),
                     dtype, scale=n + 1)


@pytest.mark.parametrize("act", ACTS)
def test_backward_by_finite_differences(kmod, act):
    """d/dW of sum(R * sparse_linear(x, W, b, act)) is x.T @ (R * act'(output))."""
    rng = np.random.default_rng(3)
    x = csr(rng, 6, 9, 3, np.float64, duplicates=True, unsorted=True)
    w, b, r = rand(rng, (9, 4), np.float64), rand(rng, 4, np.float64), rand(rng, (6, 4), np.float64)
    out = kmod.sparse_linear(x, w, b, act)
    dz = getattr(ref, (act or "identity") + "_backward")(r, out)
    grad = kmod.sparse_linear_backward(x, dz)
    numeric = np.zeros_like(w)
    eps = 1e-6
    for i, j in np.ndindex(*w.shape):
        wp, wm = w.copy(), w.copy()
        wp[i, j] += eps
        wm[i, j] -= eps
        numeric[i, j] = (np.sum(r * kmod.sparse_linear(x, wp, b, act))
                         - np.sum(r * kmod.sparse_linear(x, wm, b, act))) / (2 * eps)
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("n, d, m", [(500, 2000, 100), (130, 50, 200), (64, 10, 7)])
def test_threads_bitwise_identical(kmod, dtype, n, d, m):
    rng = np.random.default_rng(4)
    x = csr(rng, n, d, 12, dtype, duplicates=True)
    w, b, g = rand(rng, (d, m), dtype), rand(rng, m, dtype), rand(rng, (n, m), dtype)
    results = []
    for nt in (1, 2, 3):
        with fastnn.set_num_threads(nt):
            results.append((kmod.sparse_linear(x, w, b, "relu"),
                            kmod.sparse_linear_backward(x, g)))
    for other in results[1:]:
        for r0, r1 in zip(results[0], other):
            np.testing.assert_array_equal(r0, r1)


def test_scipy_matrices_and_arrays(kmod, dtype):
    sp = pytest.importorskip("scipy.sparse")
    rng = np.random.default_rng(5)
    w, g = rand(rng, (40, 6), dtype), rand(rng, (25, 6), dtype)
    m = sp.random(25, 40, density=0.1, format="csr", dtype=dtype, random_state=0)
    for x in (m, sp.csr_array(m)):
        assert_close(kmod.sparse_linear(x, w), x @ w, dtype, scale=5)
        assert_close(kmod.sparse_linear_backward(x, g), x.T @ g, dtype, scale=25)
    big = sp.csr_matrix(m)
    big.indices, big.indptr = big.indices.astype(np.int64), big.indptr.astype(np.int64)
    assert_close(kmod.sparse_linear(big, w), m @ w, dtype, scale=5)
    with pytest.raises(TypeError, match=r"x must be a CSR matrix; received format 'csc'"):
        kmod.sparse_linear(m.tocsc(), w)


# ------------------------------------------------------------------ bad input
def _ok(dtype=np.float32):
    return csr(np.random.default_rng(0), 4, 5, 2, dtype)


def test_rejects_non_csr_objects(kmod):
    w = np.ones((5, 3), np.float32)
    with pytest.raises(TypeError, match="x must be a CSR matrix .*received ndarray"):
        kmod.sparse_linear(np.ones((4, 5), np.float32), w)
    with pytest.raises(TypeError, match="x.indices must hold integers"):
        x = _ok()
        x.indices = x.indices.astype(np.float64)
        kmod.sparse_linear(x, w)
    with pytest.raises(TypeError, match="x.data must have dtype float32 or float64"):
        x = _ok()
        x.data = x.data.astype(np.int64)
        kmod.sparse_linear(x, w)
    with pytest.raises(TypeError, match="weight must have the same dtype as x.data"):
        kmod.sparse_linear(_ok(), w.astype(np.float64))
    with pytest.raises(ValueError, match=r"x.shape must be two non-negative integers"):
        x = _ok()
        x.shape = (4, 5, 1)
        kmod.sparse_linear(x, w)


def test_rejects_bad_shapes(kmod):
    w = np.ones((5, 3), np.float32)
    with pytest.raises(ValueError, match=r"x must have 6 columns, the rows of weight; received "
                                         r"shape \(4, 5\)"):
        kmod.sparse_linear(_ok(), np.ones((6, 3), np.float32))
    with pytest.raises(ValueError, match=r"bias must have shape \(3,\); received shape \(4,\)"):
        kmod.sparse_linear(_ok(), w, np.ones(4, np.float32))
    with pytest.raises(ValueError, match=r"x.indptr must have shape \(5,\); received shape \(4,\)"):
        x = _ok()
        x.indptr = x.indptr[:-1]
        kmod.sparse_linear(x, w)
    with pytest.raises(ValueError, match=r"grad_output must have 4 rows"):
        kmod.sparse_linear_backward(_ok(), np.ones((3, 3), np.float32))
    with pytest.raises(ValueError, match=r"out must be a writeable, aligned, C-contiguous array .*\(4, 3\)"):
        kmod.sparse_linear(_ok(), w, out=np.ones((3, 4), np.float32).T)
    with pytest.raises(ValueError, match=r"out must be a writeable, aligned, C-contiguous array .*\(5, 3\)"):
        kmod.sparse_linear_backward(_ok(), np.ones((4, 3), np.float32), out=np.ones((5, 2), np.float32))
    with pytest.raises(ValueError, match="activation must be one of"):
        kmod.sparse_linear(_ok(), w, activation="softmax")


def test_rejects_out_of_range_indices(kmod):
    w = np.ones((5, 3), np.float32)
    for bad in (5, -1, 2**31 + 3, 2**40):
        x = _ok()
        x.indices = x.indices.astype(np.int64)
        x.indices[3] = bad
        with pytest.raises(ValueError, match=rf"x.indices must hold column indices in \[0, 5\); "
                                             rf"received {bad} at index 3"):
            kmod.sparse_linear(x, w)
        with pytest.raises(ValueError, match=r"x.indices must hold column indices"):
            kmod.sparse_linear_backward(x, np.ones((4, 3), np.float32))


@pytest.mark.parametrize("indptr, where", [([0, 2, 1, 6, 8], 2), ([-1, 2, 4, 6, 8], 0),
                                           ([0, 2, 4, 6, 9], 4), ([0, 2, 4, 6, 2**40], 4)])
def test_rejects_bad_index_pointers(kmod, indptr, where):
    x = _ok()
    x.indptr = np.array(indptr, np.int64)
    with pytest.raises(ValueError, match=rf"x.indptr must start at >= 0, never decrease .* "
                                         rf"at index {where}"):
        kmod.sparse_linear(x, np.ones((5, 3), np.float32))


def test_rejects_out_overlapping_inputs(kmod):
    x = _ok()
    w = np.ones((5, 4), np.float32)
    with pytest.raises(ValueError, match="out must not overlap weight"):
        kmod.sparse_linear(x, w, out=w[:4])
    g = np.ones((5, 4), np.float32)
    with pytest.raises(ValueError, match="out must not overlap grad_output"):
        kmod.sparse_linear_backward(x, g[:4], out=g)
