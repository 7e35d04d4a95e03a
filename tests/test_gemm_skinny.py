"""The skinny-product paths of the GEMM (few rows; k == 1) against NumPy, including
column blocks wider than the path's buffer, every epilogue and strided operands.  Row
counts and column blocks come from each path's ``GEMM_BLOCKING[...]["skinny"]``."""
import itertools

import numpy as np
import pytest

from fastnn import reference as R

from test_gemm import over_blocking

TOL = {np.float32: 2e-5, np.float64: 1e-12}


def _close(got, want, dtype, k):
    scale = max(1.0, float(np.abs(want).max(initial=0.0)))
    np.testing.assert_allclose(got, want, rtol=0, atol=TOL[dtype] * max(k, 1) * scale)


def few_rows(b):
    """Every skinny row count by widths within, at and past the column block."""
    rows, block = b["skinny"]["max_rows"], b["skinny"]["col_block"]
    return itertools.product(range(1, rows + 1), [1, 7, block, block + 45, 2 * block + 88])


@over_blocking("m, n", few_rows)
@pytest.mark.parametrize("trans_b", [False, True])
@pytest.mark.parametrize("trans_a", [False, True])
def test_few_rows(kmod, dtype, m, n, trans_a, trans_b):
    rng = np.random.default_rng(m * 1000 + n)
    k = 37
    a = rng.standard_normal((k, m) if trans_a else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if trans_b else (k, n)).astype(dtype)
    c = rng.standard_normal((m, n)).astype(dtype)
    want = R.gemm(a, b, trans_a=trans_a, trans_b=trans_b, alpha=0.5, beta=-1.5, out=c.copy())
    got = kmod.gemm(a, b, trans_a=trans_a, trans_b=trans_b, alpha=0.5, beta=-1.5, out=c.copy())
    _close(got, want, dtype, k)


@pytest.mark.parametrize("m", [1, 5, 300])
@pytest.mark.parametrize("n", [1, 9, 513])
def test_outer_product(kmod, dtype, m, n):
    rng = np.random.default_rng(m + n)
    x = rng.standard_normal((1, m)).astype(dtype)
    dz = rng.standard_normal((1, n)).astype(dtype)
    out = np.full((m, n), np.nan, dtype)  # beta = 0: never read
    got = kmod.gemm(x, dz, trans_a=True, out=out)
    np.testing.assert_array_equal(got, x.T * dz)


@pytest.mark.parametrize("activation", [None, "relu", "leaky_relu", "tanh", "sigmoid"])
@pytest.mark.parametrize("rows", [1, 3])
def test_linear_one_sample(kmod, dtype, activation, rows):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((rows, 300)).astype(dtype)
    w = rng.standard_normal((300, 270)).astype(dtype) / 10
    b = rng.standard_normal(270).astype(dtype)
    _close(kmod.linear(x, w, b, activation), R.linear(x, w, b, activation), dtype, 300)


def test_strided_rows_and_reversed_operands(kmod, dtype):
    rng = np.random.default_rng(4)
    a = rng.standard_normal((4, 90)).astype(dtype)[::-1, ::3]  # negative row stride, column stride 3
    b = rng.standard_normal((30, 20)).astype(dtype)[::-1]
    _close(kmod.matmul(a, b), a @ b, dtype, 30)
