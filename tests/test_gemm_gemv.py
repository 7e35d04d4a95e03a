"""Matrix times a few vectors (``GEMM_BLOCKING[...]["gemv"]``: C with at most
``max_cols`` columns, or rows when B's columns are contiguous) on every path that has it,
and its neighbours (one column or row more: the register tiles), against the float64
oracle.  The dot form (rows of A, or columns of B, contiguous: horizontal sums at the end)
and the axpy form (A given transposed) over depths that end inside a vector, strided and
reversed views, every epilogue, and thread counts."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fastnn
from fastnn import _dispatch
from fastnn import reference as ref

from test_gemm import (ACTS, assert_close, check_beta_zero_never_reads_out, check_transposes,
                       oracle_gemm, over_blocking, rand)

#: depths: none, one, within a vector, odd and prime ones, one past the packing block
DEPTHS = [0, 1, 2, 3, 7, 8, 9, 13, 31, 97, 300]
#: the other dimension: 1 (matrix-vector both ways), within and around vectors and blocks
OTHER = [1, 2, 3, 5, 8, 9, 15, 16, 17, 33, 67]


def few(b):
    """Every gemv width and the one past it."""
    return list(range(1, b["gemv"]["max_cols"] + 2)) if b["gemv"] else []


@over_blocking("n, m", lambda b: [(n, m) for n in few(b) for m in OTHER])
def test_few_columns_and_few_rows(kmod, dtype, n, m):
    """C of n columns (and, transposed, of n rows) by every depth, each operand as is and
    given transposed, alpha and beta."""
    rng = np.random.default_rng(100 * n + m)
    for k in DEPTHS:
        check_transposes(kmod, rng, m, k, n, dtype)
        check_transposes(kmod, rng, n, k, m, dtype)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17])
def test_classifier_widths_on_a_batch(kmod, dtype, n):
    """256 x 128 @ 128 x n, the sizes of an output layer, on every path."""
    rng = np.random.default_rng(n)
    a, b = rand(rng, (256, 128), dtype), rand(rng, (128, n), dtype)
    assert_close(kmod.matmul(a, b), a.astype(np.float64) @ b, 128, a, b)
    assert_close(kmod.matmul(a.T.copy().T, b), a.astype(np.float64) @ b, 128, a, b)


@over_blocking("n", lambda b: [(n,) for n in few(b)])
def test_strided_and_reversed_operands(kmod, dtype, n):
    rng = np.random.default_rng(7)
    a0, b0 = rand(rng, (40, 90), dtype), rand(rng, (60, 2 * n + 2), dtype)
    for a in (a0[::-1, :30], a0[::2, 1:31], a0[:, ::3], a0.T[::-3][:30].T, a0[:30, :30].T):
        for b in (b0[:30, :n], b0[::-2, :n], b0[:30, n:0:-1], b0[:30, ::2][:, :n], b0[:30, 1:n + 1]):
            want = a.astype(np.float64) @ b
            assert_close(kmod.matmul(a, b), want, 30, a, b)
            assert_close(kmod.matmul(b.T, a.T), want.T, 30, a, b)  # few rows


@over_blocking("n", lambda b: [(n,) for n in range(1, 5)] if b["gemv"] else [])
def test_transposed_a_at_every_alignment(kmod, dtype, n):
    """A given transposed (the axpy form) starting at every element of a cache line: the
    rows before its first line boundary run as a block of their own, which must change
    no bit of C, on one thread or two.  Columns 64 (every column at the same offset), 36
    (float64: half of them half a line off) and 8 (float32: less than a line) long."""
    per_line = 64 // np.dtype(dtype).itemsize
    rng = np.random.default_rng(n)
    for m, k, threads in ((64, 97, (1,)), (36, 13, (1,)), (8, 5, (1,)), (4096, 300, (1, 2))):
        at0, b = rand(rng, (k, m), dtype), rand(rng, (k, n), dtype)
        want = at0.T.astype(np.float64) @ b
        buf = np.empty(k * m + per_line, dtype)
        first = None
        for off in range(per_line):
            at = buf[off:off + k * m].reshape(k, m)
            at[...] = at0
            for nt in threads:
                with fastnn.set_num_threads(nt):
                    got = kmod.matmul(at.T, b)
                if first is None:
                    first = got
                    assert_close(got, want, k, at0, b)
                np.testing.assert_array_equal(got, first, err_msg=f"m={m} offset {off} threads {nt}")


@over_blocking("n, act", lambda b: [(n, act) for n in few(b) for act in ACTS])
def test_linear_bias_activations_and_out_layouts(kmod, dtype, n, act):
    rng = np.random.default_rng(n)
    x, w, bias = rand(rng, (45, 131), dtype), rand(rng, (131, n), dtype) / 8, rand(rng, n, dtype)
    want = ref.linear(x.astype(np.float64), w.astype(np.float64), bias.astype(np.float64), act)
    for order in "CF":
        out = np.full((45, n), np.nan, dtype, order=order)
        assert kmod.linear(x, w, bias, act, out=out) is out
        assert_close(out, want, 131, x, w)
        assert_close(kmod.linear(x.T.copy().T, w, bias, act), want, 131, x, w)
    # one sample through a layer given as W.T (x @ W.T: columns of B contiguous)
    wt = rand(rng, (70, 131), dtype) / 8
    b70 = rand(rng, 70, dtype)
    got = kmod.linear(x[:n], wt.T, b70, act)
    assert_close(got, ref.linear(x[:n].astype(np.float64), wt.T.astype(np.float64),
                                 b70.astype(np.float64), act), 131, x, wt)


@over_blocking("n", lambda b: [(n,) for n in few(b)])
def test_beta_zero_never_reads_out(kmod, dtype, n):
    for k in (5, 300):
        rng = np.random.default_rng(n + k)
        check_beta_zero_never_reads_out(kmod, rng, 31, k, n, dtype)
        check_beta_zero_never_reads_out(kmod, rng, n, k, 31, dtype)


@over_blocking("m, k, n", lambda b: [(20_000, 300, 1), (5_000, 301, 3), (3, 300, 9_000)]
               if b["gemv"] else [])
def test_threads_bitwise_identical(kmod, dtype, m, k, n):
    """Large enough to split the rows between threads: the same bits for every count."""
    rng = np.random.default_rng(5)
    x, w = rand(rng, (m, k), dtype), rand(rng, (k, n), dtype)
    wt = np.ascontiguousarray(w.T)
    results = []
    for nt in (1, 2, 3):
        with fastnn.set_num_threads(nt):
            results.append((kmod.matmul(x, w), kmod.matmul(x, wt.T),
                            kmod.gemm(x.T.copy(), w, trans_a=True)))
    for other in results[1:]:
        for r0, r1 in zip(results[0], other):
            np.testing.assert_array_equal(r0, r1)
    assert_close(results[0][0], x.astype(np.float64) @ w, k, x, w)


@pytest.mark.parametrize("isa", sorted(_dispatch.modules))
@settings(max_examples=60, deadline=None)
@given(m=st.integers(1, 40), n=st.integers(1, 9), k=st.integers(0, 70),
       ta=st.booleans(), tb=st.booleans(), few_rows=st.booleans(),
       alpha=st.sampled_from([1.0, -0.5, 2.0]), beta=st.sampled_from([0.0, 1.0, -1.5]),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2**16))
def test_property_matches_oracle(isa, m, n, k, ta, tb, few_rows, alpha, beta, dtype, seed):
    """Any few-column (or, swapped, few-row) product, any transposes, alpha and beta."""
    kmod = _dispatch.modules[isa]
    if few_rows:
        m, n = n, m
    rng = np.random.default_rng(seed)
    a, b, c = rand(rng, (m, k), dtype), rand(rng, (k, n), dtype), rand(rng, (m, n), dtype)
    at = np.ascontiguousarray(a.T) if ta else a
    bt = np.ascontiguousarray(b.T) if tb else b
    want = oracle_gemm(a, b, alpha=alpha, beta=beta, c=c)
    got = kmod.gemm(at, bt, trans_a=ta, trans_b=tb, alpha=alpha, beta=beta, out=c.copy())
    assert_close(got, want, k, a, b)


def test_rejects_out_overlapping_inputs(kmod, dtype):
    buf = np.zeros((8, 8), dtype)
    with pytest.raises(ValueError, match="out must not overlap a"):
        kmod.matmul(buf[:, :4], np.ones((4, 1), dtype), out=buf[:, 3:4])
    with pytest.raises(ValueError, match="out must not overlap b"):
        kmod.matmul(np.ones((1, 4), dtype), buf[:4, :], out=buf[3:4, :])
