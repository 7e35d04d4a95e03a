"""The narrow-C micro-kernels (``GEMM_BLOCKING[...]["narrow"]`` and ``["cols"]``), on every
path that has them, and their neighbours.  On the AVX2 path: one vector and a tail a row (9..12 float32
/ 5..6 float64 columns, e.g. a classifier's output layer and its weight gradient) and two
vectors and a tail (17..24 float32 / 9..12 float64 columns); on SSE2 the column tile
(9..10 float64 columns, rows as vectors).  Shapes are derived from each path's blocking."""
import itertools

import numpy as np

from fastnn import reference as ref

from test_gemm import (ACTS, assert_close, check_beta_zero_never_reads_out, check_transposes,
                       over_blocking, rand)


def tiles(b):
    """The narrow tiles and the column tile of a blocking."""
    return b["narrow"] + ([b["cols"]] if b["cols"] else [])


def widths(b):
    """Every width each narrow tile serves, and one on either side."""
    return sorted({n for t in tiles(b) for n in range(t["min_cols"] - 1, t["max_cols"] + 2)})


def rows(b):
    """Around each tile's rows and twice them, above the skinny products' rows."""
    skinny = b["skinny"]["max_rows"]
    near = {q * t["rows"] + d for t in tiles(b) for q in (1, 2) for d in (-1, 0, 1)}
    return sorted(m for m in near | {skinny + 1, 50} if m > skinny)


def depths(b):
    """One step, a few, one depth block, two equal ones, three."""
    return [1, 3, 37, b["KC"], b["KC"] + 1, 2 * b["KC"] + 88]


def tile_ends(b):
    """Each tile's first, second and last width."""
    return sorted({n for t in tiles(b) for n in (t["min_cols"], t["min_cols"] + 1, t["max_cols"])})


@over_blocking("m, n", lambda b: itertools.product(rows(b), widths(b)))
def test_shapes_depths_and_transposes(kmod, dtype, m, n):
    rng = np.random.default_rng(m * 100 + n)
    for k in depths(kmod.GEMM_BLOCKING[np.dtype(dtype).name]):
        check_transposes(kmod, rng, m, k, n, dtype)


@over_blocking("n, k", lambda b: [(n, k) for n in tile_ends(b) for k in (5, b["KC"] + 44)])
def test_beta_zero_never_reads_out(kmod, dtype, n, k):
    check_beta_zero_never_reads_out(kmod, np.random.default_rng(n + k), 31, k, n, dtype)


@over_blocking("n, act, fortran_out",
               lambda b: [(n, act, f) for t in tiles(b)
                          for n in range(t["min_cols"], t["max_cols"] + 1)
                          for act in ACTS for f in (False, True)])
def test_linear_bias_activations(kmod, dtype, n, act, fortran_out):
    rng = np.random.default_rng(n)
    x, w, bias = rand(rng, (45, 128), dtype), rand(rng, (128, n), dtype) / 8, rand(rng, n, dtype)
    want = ref.linear(x.astype(np.float64), w.astype(np.float64), bias.astype(np.float64), act)
    out = np.full((45, n), np.nan, dtype, order="F" if fortran_out else "C")
    assert kmod.linear(x, w, bias, act, out=out) is out
    assert_close(out, want, 128, x, w)
    assert_close(kmod.linear(x, w, None, act), ref.linear(x.astype(np.float64), w.astype(np.float64),
                                                          None, act), 128, x, w)


@over_blocking("n", lambda b: [(n,) for t in tiles(b) for n in (t["min_cols"], t["max_cols"])])
def test_strided_and_reversed_operands(kmod, dtype, n):
    rng = np.random.default_rng(7)
    a0, b0 = rand(rng, (40, 90), dtype), rand(rng, (60, 2 * n + 2), dtype)
    for a in (a0[::-1, ::3], a0[::2, 1::3], a0.T[::-3][:30].T):
        # every other row reversed, reversed columns, every other column, a column offset
        for b in (b0[::-2, :n], b0[:30, n:0:-1], b0[:30, ::2][:, :n], b0[::-2, 2 * n + 1:n + 1:-1],
                  b0[:30, 1:n + 1]):
            assert_close(kmod.matmul(a, b), a.astype(np.float64) @ b, 30, a, b)
