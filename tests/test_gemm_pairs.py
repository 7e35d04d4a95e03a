"""The row-pair tile for a packed partial last column panel (``GEMM_BLOCKING[...]["pairs"]``:
1..8 float32 / 1..4 float64 columns after the 16 / 8 wide panels of the AVX2 path, e.g.
n = 100 = 6 * 16 + 4), on every path that has one, and the vector packing of a
transposed A, on every compiled path.  Shapes are derived from each path's blocking."""
import numpy as np
import pytest

from fastnn import reference as ref

from test_gemm import (ACTS, assert_close, check_beta_zero_never_reads_out, check_transposes,
                       oracle_gemm, over_blocking, rand)


def widths(b):
    """Two full panels (A is packed from n > 2 NR on) plus 0..max_cols + 1 columns, and
    six panels plus half the tile's columns."""
    nr, most = b["NR"], b["pairs"]["max_cols"]
    return [2 * nr + w for w in range(most + 2)] + [6 * nr + most // 2]


def rows(b):
    """Around the MR-tall micro-panels, the row-pair tile and the MC row block."""
    mr, p = b["MR"], b["pairs"]["rows"]
    return sorted({mr - 1, mr, mr + 1, 2 * mr, 2 * mr + 1, 3 * mr, 3 * mr + 1,
                   p - 1, p, p + 1, 2 * p + 1, b["MC"] + 6})


def with_pairs(derive):
    """`derive` on the paths that have a row-pair tile."""
    return lambda b: derive(b) if b["pairs"] is not None else []


@over_blocking("m", with_pairs(lambda b: [(m,) for m in rows(b)]))
def test_shapes_depths_and_transposes(kmod, dtype, m):
    rng = np.random.default_rng(m)
    b = kmod.GEMM_BLOCKING[np.dtype(dtype).name]
    for n in widths(b):
        for k in (2, 10, 64, b["KC"] + 1):  # one depth block, then two
            check_transposes(kmod, rng, m, k, n, dtype)


@over_blocking("k", with_pairs(lambda b: [(3,), (b["KC"] + 44,)]))
def test_beta_zero_never_reads_out(kmod, dtype, k):
    rng = np.random.default_rng(k)
    for n in widths(kmod.GEMM_BLOCKING[np.dtype(dtype).name])[1:]:
        check_beta_zero_never_reads_out(kmod, rng, 31, k, n, dtype)


@over_blocking("m", with_pairs(lambda b: [(2 * b["MR"] + 1,), (b["MC"] + 56,)]))
@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("fortran_out", [False, True])
def test_linear_bias_activations(kmod, dtype, m, act, fortran_out):
    rng = np.random.default_rng(m)
    w_all = widths(kmod.GEMM_BLOCKING[np.dtype(dtype).name])
    for n in (w_all[1], w_all[-3], w_all[-1]):  # one column, the tile's most, half of it
        x, w, bias = rand(rng, (m, 64), dtype), rand(rng, (64, n), dtype) / 8, rand(rng, n, dtype)
        x64, w64 = x.astype(np.float64), w.astype(np.float64)
        out = np.full((m, n), np.nan, dtype, order="F" if fortran_out else "C")
        assert kmod.linear(x, w, bias, act, out=out) is out
        assert_close(out, ref.linear(x64, w64, bias.astype(np.float64), act), 64, x, w)
        assert_close(kmod.linear(x, w, None, act), ref.linear(x64, w64, None, act), 64, x, w)


def test_strided_and_reversed_operands(kmod, dtype):
    rng = np.random.default_rng(7)
    nr = kmod.GEMM_BLOCKING[np.dtype(dtype).name]["NR"]
    a0, b0 = rand(rng, (90, 80), dtype), rand(rng, (120, 15 * nr), dtype)
    # A as transposed views (row stride 1): plain, strided columns, reversed columns; and not.
    # B with partial last panels, every sixth column, reversed rows, transposed.
    for a in (a0.T[:50, :40], a0.T[:50:2, 5:45], a0.T[::-1][:30, :40], a0[::3, ::2]):
        k = a.shape[1]
        for b in (b0[:k, :6 * nr + 4], b0[:2 * k:2, ::6], b0[k - 1::-1, 3:6 * nr + 7],
                  b0.T[:k, :2 * nr + 4]):
            want = a.astype(np.float64) @ b
            assert_close(kmod.matmul(a, b), want, k, a, b)
            c = rand(rng, want.shape, dtype)
            got = kmod.gemm(a, b, alpha=0.5, beta=2.0, out=c.copy())
            assert_close(got, 0.5 * want + 2.0 * c, k, a, b)


@over_blocking("m, k", lambda b: [(m, k) for m in (b["MC"] + 5, 2 * b["MC"] + 13)
                                  for k in (7, 2 * b["KC"] + 88)])
def test_transposed_a_across_blocks(kmod, dtype, m, k):
    """Packing a transposed A: several row blocks (MC) and depth blocks (KC), a partial
    last panel, full B panels only and with a partial one."""
    rng = np.random.default_rng(m + k)
    at = rand(rng, (k, m), dtype)
    nr = kmod.GEMM_BLOCKING[np.dtype(dtype).name]["NR"]
    for n in (4 * nr, 4 * nr + 6, 6 * nr + 4):
        b, c = rand(rng, (k, n), dtype), rand(rng, (m, n), dtype)
        got = kmod.gemm(at, b, trans_a=True, beta=-0.5, out=c.copy())
        assert_close(got, oracle_gemm(at.T, b, beta=-0.5, c=c), k, at, b)


@pytest.fixture
def guarded():
    """guarded(shape, dtype): a C-contiguous array ending where an unreadable page begins
    (Linux), so that a read past its last element faults."""
    import ctypes
    import mmap
    import sys
    if not sys.platform.startswith("linux"):
        pytest.skip("needs mprotect")
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    maps = []

    def make(shape, dtype):
        nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
        page = mmap.PAGESIZE
        size = -(-nbytes // page) * page + page
        buf = mmap.mmap(-1, size)
        guard = ctypes.addressof(ctypes.c_char.from_buffer(buf)) + size - page
        assert libc.mprotect(guard, page, 0) == 0  # PROT_NONE
        maps.append((buf, guard))
        arr = np.frombuffer(buf, dtype, count=int(np.prod(shape)), offset=size - page - nbytes)
        return arr.reshape(shape)

    yield make
    for buf, guard in maps:
        libc.mprotect(guard, mmap.PAGESIZE, mmap.PROT_READ | mmap.PROT_WRITE)


@over_blocking("m, k", lambda b: [(q * b["MR"] + 1, k) for q in (1, 2, 4) for k in (5, b["KC"] + 44)])
def test_transposed_a_at_the_end_of_memory(kmod, dtype, guarded, m, k):
    """Packing a transposed A reads whole vectors of a column only where its rows exist:
    the last column in memory (the first one when reversed) ends at a guard page."""
    rng = np.random.default_rng(m + k)
    g = guarded((k, m), dtype)
    g[:] = rand(rng, (k, m), dtype)
    nr = kmod.GEMM_BLOCKING[np.dtype(dtype).name]["NR"]
    for at in (g, g[::-1]):
        for n in (2 * nr + 8, 6 * nr + 4):  # A packed (n > 2 NR)
            b = rand(rng, (k, n), dtype)
            assert_close(kmod.matmul(at.T, b), at.T.astype(np.float64) @ b, k, at, b)
