"""The row-pair tile for a partial last column panel (1..8 float32 / 1..4 float64 columns
after the 16 / 8 wide micro-panels, e.g. n = 100 = 6 * 16 + 4) and the vector packing of
a transposed A, on every compiled path."""
import numpy as np
import pytest

from fastnn import reference as ref

from test_gemm import (ACTS, assert_close, check_beta_zero_never_reads_out, check_transposes,
                       oracle_gemm, rand)

PANEL = {np.float32: 16, np.float64: 8}  # NR of the AVX2 kernels
ROWS = [5, 6, 7, 12, 13, 18, 19, 23, 24, 25, 49, 150]  # 6-row panels, 24-row tiles, MC = 144
DEPTHS = [2, 10, 64, 257]  # KC = 256: one block, then two of 129


def widths(dtype):
    """Two full panels (A is packed from n > 2 panels on) plus 0..VL+1 columns."""
    nr = PANEL[dtype]
    return [2 * nr + w for w in range(nr // 2 + 2)]


@pytest.mark.parametrize("m", ROWS)
def test_shapes_depths_and_transposes(kmod, dtype, m):
    rng = np.random.default_rng(m)
    for n in widths(dtype) + [100]:
        for k in DEPTHS:
            check_transposes(kmod, rng, m, k, n, dtype)


@pytest.mark.parametrize("k", [3, 300])
def test_beta_zero_never_reads_out(kmod, dtype, k):
    rng = np.random.default_rng(k)
    for n in widths(dtype)[1:] + [100]:
        check_beta_zero_never_reads_out(kmod, rng, 31, k, n, dtype)


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("m", [13, 200])
@pytest.mark.parametrize("fortran_out", [False, True])
def test_linear_bias_activations(kmod, dtype, act, m, fortran_out):
    rng = np.random.default_rng(m)
    for n in (widths(dtype)[1], widths(dtype)[-2], 100):  # one column, VL columns, 100
        x, w, bias = rand(rng, (m, 64), dtype), rand(rng, (64, n), dtype) / 8, rand(rng, n, dtype)
        x64, w64 = x.astype(np.float64), w.astype(np.float64)
        out = np.full((m, n), np.nan, dtype, order="F" if fortran_out else "C")
        assert kmod.linear(x, w, bias, act, out=out) is out
        assert_close(out, ref.linear(x64, w64, bias.astype(np.float64), act), 64, x, w)
        assert_close(kmod.linear(x, w, None, act), ref.linear(x64, w64, None, act), 64, x, w)


def test_strided_and_reversed_operands(kmod, dtype):
    rng = np.random.default_rng(7)
    a0, b0 = rand(rng, (90, 80), dtype), rand(rng, (120, 240), dtype)
    # A as transposed views (row stride 1): plain, strided columns, reversed columns; and not
    for a in (a0.T[:50, :40], a0.T[:50:2, 5:45], a0.T[::-1][:30, :40], a0[::3, ::2]):
        k = a.shape[1]
        for b in (b0[:k, :100], b0[:2 * k:2, ::6], b0[k - 1::-1, 3:103], b0.T[:k, :36]):
            want = a.astype(np.float64) @ b
            assert_close(kmod.matmul(a, b), want, k, a, b)
            c = rand(rng, want.shape, dtype)
            got = kmod.gemm(a, b, alpha=0.5, beta=2.0, out=c.copy())
            assert_close(got, 0.5 * want + 2.0 * c, k, a, b)


@pytest.mark.parametrize("m", [149, 301])
@pytest.mark.parametrize("k", [7, 600])
def test_transposed_a_across_blocks(kmod, dtype, m, k):
    """Packing a transposed A: several row blocks (MC) and depth blocks (KC), a partial
    last panel, full B panels only and with a partial one."""
    rng = np.random.default_rng(m + k)
    at = rand(rng, (k, m), dtype)
    for n in (64, 70, 100):
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


@pytest.mark.parametrize("m", [7, 13, 25])
@pytest.mark.parametrize("k", [5, 300])
def test_transposed_a_at_the_end_of_memory(kmod, dtype, guarded, m, k):
    """Packing a transposed A reads whole vectors of a column only where its rows exist:
    the last column in memory (the first one when reversed) ends at a guard page."""
    rng = np.random.default_rng(m + k)
    g = guarded((k, m), dtype)
    g[:] = rand(rng, (k, m), dtype)
    for at in (g, g[::-1]):
        for n in (40, 100):
            b = rand(rng, (k, n), dtype)
            assert_close(kmod.matmul(at.T, b), at.T.astype(np.float64) @ b, k, at, b)
