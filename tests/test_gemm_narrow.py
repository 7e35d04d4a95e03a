"""The narrow-C micro-kernels, on every compiled path, and their neighbours: one vector and
a tail a row (9..12 float32 / 5..6 float64 columns, e.g. a classifier's output layer and its
weight gradient) and two vectors and a tail (17..24 float32 / 9..12 float64 columns)."""
import numpy as np
import pytest

from fastnn import reference as ref

from test_gemm import (ACTS, assert_close, check_beta_zero_never_reads_out, check_transposes,
                       rand)

# float64 5..6 and 9..12, float32 9..12 and 17..24, and their neighbours
NARROW_N = list(range(4, 14)) + list(range(16, 26))
ROWS = [5, 6, 7, 8, 9, 15, 16, 17, 50]  # around the 8- and 4-row tiles (m <= 4 is skinny)
DEPTHS = [1, 3, 37, 256, 257, 600]  # KC = 256: one block, equal blocks of 129, 200


@pytest.mark.parametrize("m", ROWS)
@pytest.mark.parametrize("n", NARROW_N)
def test_shapes_depths_and_transposes(kmod, dtype, m, n):
    rng = np.random.default_rng(m * 100 + n)
    for k in DEPTHS:
        check_transposes(kmod, rng, m, k, n, dtype)


@pytest.mark.parametrize("n", [9, 10, 12, 17, 20, 24])
@pytest.mark.parametrize("k", [5, 300])
def test_beta_zero_never_reads_out(kmod, dtype, n, k):
    check_beta_zero_never_reads_out(kmod, np.random.default_rng(n + k), 31, k, n, dtype)


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("n", [5, 6, 9, 10, 11, 12, 17, 19, 20, 23, 24])
@pytest.mark.parametrize("fortran_out", [False, True])
def test_linear_bias_activations(kmod, dtype, act, n, fortran_out):
    rng = np.random.default_rng(n)
    x, w, bias = rand(rng, (45, 128), dtype), rand(rng, (128, n), dtype) / 8, rand(rng, n, dtype)
    want = ref.linear(x.astype(np.float64), w.astype(np.float64), bias.astype(np.float64), act)
    out = np.full((45, n), np.nan, dtype, order="F" if fortran_out else "C")
    assert kmod.linear(x, w, bias, act, out=out) is out
    assert_close(out, want, 128, x, w)
    assert_close(kmod.linear(x, w, None, act), ref.linear(x.astype(np.float64), w.astype(np.float64),
                                                          None, act), 128, x, w)


def test_strided_and_reversed_operands(kmod, dtype):
    rng = np.random.default_rng(7)
    a0, b0 = rand(rng, (40, 90), dtype), rand(rng, (60, 24), dtype)
    for a in (a0[::-1, ::3], a0[::2, 1::3], a0.T[::-3][:30].T):
        for b in (b0[::-2, ::2], b0[:30, 10:1:-1], b0[:30, :10], b0[::-2, 22:1:-1], b0[:30, 1:21],
                  b0[:30]):
            assert_close(kmod.matmul(a, b), a.astype(np.float64) @ b, 30, a, b)
