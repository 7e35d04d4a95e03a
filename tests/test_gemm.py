"""gemm / matmul / linear against the NumPy reference, on every compiled path.

Edge shapes come from each path's ``GEMM_BLOCKING`` (see ``over_blocking``), so they
follow the tiles and blocks that path really runs on."""
import itertools

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fastnn
from fastnn import _dispatch
from fastnn import reference as ref

ACTS = [None, "identity", "relu", "leaky_relu", "tanh", "sigmoid"]
BLOCKING_KEYS = {"MR", "NR", "KC", "MC", "NC", "narrow", "pairs", "cols", "skinny", "gemv"}


def over_blocking(names, derive):
    """Parametrize a test over every compiled path (the ``kmod`` fixture) and dtype, with
    the cases ``derive(blocking)`` gives for that path's ``GEMM_BLOCKING[dtype]``: tuples
    of values for the comma-separated ``names``.  A path with no case gets no test."""
    params = []
    for isa, mod in sorted(_dispatch.modules.items()):
        for dtype in (np.float32, np.float64):
            name = np.dtype(dtype).name
            for case in derive(mod.GEMM_BLOCKING[name]):
                params.append(pytest.param(isa, dtype, *case,
                                           id="-".join([f"isa={isa}", name, *map(str, case)])))
    return pytest.mark.parametrize(f"kmod, dtype, {names}", params, indirect=["kmod"])


def edges(b):
    """Sizes around the register tile: 0, 1, 2, MR and NR, each plus or minus one."""
    return sorted({0, 1, 2} | {b[t] + d for t in ("MR", "NR") for d in (-1, 0, 1)})


def rand(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


def assert_close(got, want, k, a, b):
    """|got - want| <= c * k * eps * max|a| * max|b| (+ eps * |want| for the epilogue)."""
    eps = np.finfo(got.dtype).eps
    scale = (np.abs(a).max() if a.size else 0) * (np.abs(b).max() if b.size else 0)
    tol = 4 * max(k, 1) * eps * max(scale, 1.0) + 4 * eps * np.abs(want)
    assert got.shape == want.shape and got.dtype == a.dtype
    assert np.all(np.abs(got.astype(np.float64) - want) <= tol), np.abs(got - want).max()


def oracle_gemm(a, b, ta=False, tb=False, alpha=1.0, beta=0.0, c=None):
    """The reference in float64 (the kernel's error is then measured alone)."""
    c64 = None if c is None else c.astype(np.float64)
    return ref.gemm(a.astype(np.float64), b.astype(np.float64), trans_a=ta, trans_b=tb,
                    alpha=alpha, beta=beta, out=c64)


def check_transposes(kmod, rng, m, k, n, dtype):
    """gemm(alpha=0.75, beta=-1.25) of random (m, k) @ (k, n) operands, each given as is and
    as the transpose of a contiguous array, against the oracle."""
    a, b, c = rand(rng, (m, k), dtype), rand(rng, (k, n), dtype), rand(rng, (m, n), dtype)
    want = oracle_gemm(a, b, alpha=0.75, beta=-1.25, c=c)
    for ta in (False, True):
        for tb in (False, True):
            at = np.ascontiguousarray(a.T) if ta else a
            bt = np.ascontiguousarray(b.T) if tb else b
            got = kmod.gemm(at, bt, trans_a=ta, trans_b=tb, alpha=0.75, beta=-1.25, out=c.copy())
            assert_close(got, want, k, a, b)


def check_beta_zero_never_reads_out(kmod, rng, m, k, n, dtype):
    """gemm(beta=0) into C- and Fortran-order outs full of NaN."""
    a, b = rand(rng, (m, k), dtype), rand(rng, (k, n), dtype)
    for out in (np.full((m, n), np.nan, dtype), np.full((n, m), np.nan, dtype).T):
        got = kmod.gemm(a, b, alpha=-2.0, beta=0.0, out=out)
        assert got is out
        assert_close(got, oracle_gemm(a, b, alpha=-2.0), k, a, b)


@over_blocking("m, n", lambda b: itertools.product(edges(b) + [16 * b["MR"] + 1],
                                                   edges(b) + [8 * b["NR"] + 3]))
def test_matmul_edge_shapes(kmod, dtype, m, n):
    rng = np.random.default_rng(m * 1000 + n)
    for k in (0, 1, 7, 17):
        a, b = rand(rng, (m, k), dtype), rand(rng, (k, n), dtype)
        assert_close(kmod.matmul(a, b), a.astype(np.float64) @ b, k, a, b)


def block_shapes(b):
    """(m, n, k) across the blocks: MC rows, KC depth, NC columns."""
    mr, nr, kc, mc = b["MR"], b["NR"], b["KC"], b["MC"]
    return [(2 * mc + 12, 64 * nr + 6, kc + 14),  # row blocks, many panels, two depth blocks
            (mc - 13, 6 * nr + 1, 2 * kc + 88),   # one row block, a last panel of one column
            (mr, nr, 2 * kc + 1),                 # one tile, three depth blocks
            (mc + 56, 3, 3 * kc - 68),            # fewer columns than a vector
            (mc // 2, 64 * nr, kc // 6),          # whole panels only, one short depth block
            (2 * mr + 1, b["NC"] + nr + 3, 9)]    # two column blocks


@over_blocking("m, n, k", block_shapes)
@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
def test_gemm_blocks_and_transposes(kmod, dtype, m, n, k, ta, tb):
    rng = np.random.default_rng(m + n + k)
    a, b = rand(rng, (m, k), dtype), rand(rng, (k, n), dtype)
    at, bt = (np.ascontiguousarray(a.T) if ta else a), (np.ascontiguousarray(b.T) if tb else b)
    c = rand(rng, (m, n), dtype)
    want = oracle_gemm(a, b, alpha=0.5, beta=-1.5, c=c)
    got = kmod.gemm(at, bt, trans_a=ta, trans_b=tb, alpha=0.5, beta=-1.5, out=c)
    assert got is c
    assert_close(got, want, k, a, b)


def test_gemm_transposed_views_and_alpha(kmod, dtype):
    rng = np.random.default_rng(1)
    a, b = rand(rng, (37, 53), dtype), rand(rng, (29, 37), dtype)
    got = kmod.gemm(a, b, trans_a=True, trans_b=True, alpha=-2.0)
    assert_close(got, -2.0 * (a.T.astype(np.float64) @ b.T), 37, a, b)
    assert_close(kmod.matmul(a.T, b.T), a.T.astype(np.float64) @ b.T, 37, a, b)


@pytest.mark.parametrize("k", [0, 3, 300])
def test_beta_zero_never_reads_out(kmod, dtype, k):
    rng = np.random.default_rng(k)
    a, b = rand(rng, (23, k), dtype), rand(rng, (k, 41), dtype)
    out = np.full((23, 41), np.nan, dtype)
    got = kmod.gemm(a, b, out=out)
    assert got is out and np.isfinite(out).all()
    assert_close(out, a.astype(np.float64) @ b, k, a, b)
    out[:] = np.nan
    kmod.linear(a, b, rand(rng, 41, dtype), "relu", out=out)
    assert np.isfinite(out).all()


def test_k_zero_scales_out(kmod, dtype):
    c = np.arange(12, dtype=dtype).reshape(3, 4)
    got = kmod.gemm(np.ones((3, 0), dtype), np.ones((0, 4), dtype), beta=2.0, out=c.copy())
    np.testing.assert_array_equal(got, 2 * c)
    bias = np.array([1, -100, 2, -3], dtype)
    got = kmod.linear(np.ones((3, 0), dtype), np.ones((0, 4), dtype), bias, "relu")
    np.testing.assert_array_equal(got, np.broadcast_to(np.maximum(bias, 0), (3, 4)))


def test_out_is_returned_and_shares_memory(kmod, dtype):
    rng = np.random.default_rng(2)
    a, b = rand(rng, (8, 9), dtype), rand(rng, (9, 10), dtype)
    big = np.zeros((20, 30), dtype)
    view = big[2:18:2, 5:25:2]  # non-contiguous out
    got = kmod.matmul(a, b, out=view)
    assert got is view and np.shares_memory(got, big)
    assert_close(big[2:18:2, 5:25:2], a.astype(np.float64) @ b, 9, a, b)
    assert not big[3::2].any() and not big[:, 6:25:2].any()


@pytest.mark.parametrize("slicer", [
    (slice(None, None, -1), slice(None)),
    (slice(None), slice(None, None, -1)),
    (slice(None, None, -2), slice(1, None, 3)),
])
def test_negative_and_noncontiguous_strides(kmod, dtype, slicer):
    rng = np.random.default_rng(3)
    a0, b0, c0 = rand(rng, (60, 70), dtype), rand(rng, (70, 50), dtype), rand(rng, (60, 50), dtype)
    a, b = a0[slicer], b0[:a0[slicer].shape[1]]
    out = c0[slicer][:, :b.shape[1]] if c0[slicer].shape[1] >= b.shape[1] else None
    want = a.astype(np.float64) @ b
    got = kmod.matmul(a, b, out=out)
    assert_close(got, want, a.shape[1], a, b)
    bt = b0[::-1, ::-1][:a.shape[1]]
    assert_close(kmod.matmul(a, bt), a.astype(np.float64) @ bt, a.shape[1], a, bt)


@pytest.mark.parametrize("act", [None, "relu", "sigmoid"])
def test_fortran_order_out(kmod, dtype, act):
    rng = np.random.default_rng(6)
    x, w, bias = rand(rng, (20, 33), dtype), rand(rng, (33, 40), dtype), rand(rng, 40, dtype)
    out = np.empty((20, 40), dtype, order="F")
    assert kmod.linear(x, w, bias, act, out=out) is out
    want = ref.linear(x.astype(np.float64), w.astype(np.float64), bias.astype(np.float64), act)
    assert_close(out, want, 33, x, w)


def test_unaligned_strides_are_copied(kmod, dtype):
    rng = np.random.default_rng(4)
    a, b = rand(rng, (5, 6), dtype), rand(rng, (6, 7), dtype)
    raw = np.zeros(a.nbytes + 1, np.uint8)
    odd = raw[1:].view(dtype).reshape(a.shape)  # misaligned data pointer
    odd[...] = a
    assert_close(kmod.matmul(odd, b), a.astype(np.float64) @ b, 6, a, b)
    rec = np.zeros((5, 6), [("v", dtype), ("pad", np.int8)])  # stride = itemsize + 1
    rec["v"] = a
    assert rec["v"].strides[1] % np.dtype(dtype).itemsize != 0
    assert_close(kmod.matmul(rec["v"], b), a.astype(np.float64) @ b, 6, a, b)
    assert_close(kmod.gemm(b, rec["v"], trans_a=True, trans_b=True), (a.astype(np.float64) @ b).T, 6, a, b)


def test_broadcast_operand(kmod, dtype):
    b = np.broadcast_to(np.arange(4, dtype=dtype), (3, 4))  # zero row stride
    a = np.ones((2, 3), dtype)
    np.testing.assert_allclose(kmod.matmul(a, b), a @ b)


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("with_bias", [False, True])
@pytest.mark.parametrize("shape", [(1, 1, 1), (13, 7, 29), (64, 784, 128), (37, 20, 10)])
def test_linear(kmod, dtype, act, with_bias, shape):
    batch, fan_in, fan_out = shape
    rng = np.random.default_rng(batch + fan_out)
    x, w = rand(rng, (batch, fan_in), dtype), rand(rng, (fan_in, fan_out), dtype) * dtype(fan_in ** -0.5)
    bias = rand(rng, fan_out, dtype) if with_bias else None
    want = ref.linear(x.astype(np.float64), w.astype(np.float64),
                      None if bias is None else bias.astype(np.float64), act)
    got = kmod.linear(x, w, bias, act)
    assert_close(got, want, fan_in, x, w)
    # the same through out= and a transposed weight view
    out = np.empty((batch, fan_out), dtype)
    assert kmod.linear(x, np.ascontiguousarray(w.T).T, bias, act, out=out) is out
    assert_close(out, want, fan_in, x, w)


def test_linear_strided_bias_and_nan(kmod, dtype):
    x = np.array([[1.0, np.nan], [-1.0, 2.0], [-3.0, 0.5]], dtype)
    w = np.array([[1.0, 0.0], [0.0, -1.0]], dtype)
    for bias in (np.arange(4, dtype=dtype)[::2], np.arange(2, dtype=dtype)[::-1],
                 np.broadcast_to(dtype(3), (2,))):  # strided, reversed, zero stride
        for act in ACTS:
            np.testing.assert_allclose(kmod.linear(x, w, bias, act), ref.linear(x, w, bias, act),
                                       rtol=1e-6)  # NaN positions must match too


@settings(max_examples=40, deadline=None)
@given(m=st.integers(0, 40), n=st.integers(0, 40), k=st.integers(0, 40),
       sa=st.sampled_from([1, 2, -1]), sb=st.sampled_from([1, 3, -2]),
       ta=st.booleans(), tb=st.booleans(), beta=st.sampled_from([0.0, 1.0, -0.5]),
       f64=st.booleans(), seed=st.integers(0, 2**16))
def test_property_random_shapes_and_strides(m, n, k, sa, sb, ta, tb, beta, f64, seed):
    dtype = np.float64 if f64 else np.float32
    rng = np.random.default_rng(seed)
    a = rand(rng, (k, m) if ta else (m, k), dtype)
    b = rand(rng, (n, k) if tb else (k, n), dtype)
    # strided views: every other / every third element, possibly reversed
    av = np.repeat(a, abs(sa), axis=1)[:, ::sa] if a.size else a
    bv = np.repeat(b, abs(sb), axis=0)[::sb] if b.size else b
    if sa < 0:
        av = av[:, ::-1]
    if sb < 0:
        bv = bv[::-1]
    c = rand(rng, (m, n), dtype)
    want = oracle_gemm(a, b, ta, tb, 1.25, beta, c)
    for mod in fastnn._dispatch.modules.values():
        got = mod.gemm(av, bv, trans_a=ta, trans_b=tb, alpha=1.25, beta=beta, out=c.copy())
        assert_close(got, want, k, a, b)


def thread_shapes(b):
    """(m, k, n): the MLP's products (64 x 128 @ 128 x 784: B wider than A is tall, split by
    columns when B is given transposed), and products on the path's narrow, column and
    row-pair tiles (the narrow ones also split by columns, m = MR)."""
    shapes = [(300, 1030, 270), (64, 784, 128), (784, 64, 128), (64, 128, 784), (1000, 10, 300),
              (1100, 100, 48)]
    for t in b["narrow"] + ([b["cols"]] if b["cols"] else []):
        shapes += [(1100, 300, t["min_cols"] + 1), (1300, 200, t["max_cols"]),
                   (b["MR"], 20000, t["min_cols"] + 1)]
    if b["pairs"]:
        shapes += [(1000, 64, 6 * b["NR"] + b["pairs"]["max_cols"] // 2),
                   (900, 300, 2 * b["NR"] + b["pairs"]["max_cols"] - 2)]
    return shapes


@over_blocking("m, k, n", thread_shapes)
def test_threads_bitwise_identical(kmod, dtype, m, k, n):
    rng = np.random.default_rng(5)
    x, w, bias = rand(rng, (m, k), dtype), rand(rng, (k, n), dtype), rand(rng, n, dtype)
    results = []
    for nt in (1, 2, 3):
        with fastnn.set_num_threads(nt):
            results.append((kmod.matmul(x, w), kmod.linear(x, w, bias, "tanh"),
                            kmod.gemm(x.T.copy(), w, trans_a=True),
                            kmod.gemm(x, w.T.copy(), trans_b=True)))
    for other in results[1:]:
        for r0, r1 in zip(results[0], other):
            np.testing.assert_array_equal(r0, r1)



def in_place_b_limits(b):
    """(rows of C, B's row length in elements, for float32 and float64 alike) on both
    sides of each limit of C's rows up to which the driver reads unit-stride B in place
    (csrc/gemm.c): 256 rows when B's rows are a multiple of 64 bytes apart, 128 when they
    are not (row loads span two cache lines), 64 when a multiple of 4 KiB."""
    cases = []
    for limit, fits in ((256, lambda nbytes: nbytes % 64 == 0 and nbytes % 4096),
                        (128, lambda nbytes: nbytes % 64 != 0),
                        (64, lambda nbytes: nbytes % 4096 == 0)):
        width = 3 * b["NR"] + 3
        while not all(fits(width * itemsize) for itemsize in (4, 8)):
            width += 1
        cases.append((limit, width))
    return cases


@over_blocking("limit, width", in_place_b_limits)
def test_b_in_place_or_packed_same_bits(kmod, dtype, limit, width):
    """Rows of C computed with B read in place (limit rows) and with B packed (limit + 1
    rows) are the same bits, and match NumPy: C wider than 2 NR (A packed) with a partial
    last column panel, several depth blocks, B a view into wider rows."""
    blocking = kmod.GEMM_BLOCKING[np.dtype(dtype).name]
    n, k = 3 * blocking["NR"] + 3, 2 * blocking["KC"] + 11
    rng = np.random.default_rng(limit + width)
    a = rand(rng, (limit + 1, k), dtype)
    b = rand(rng, (k, width), dtype)[:, :n]
    bias = rand(rng, n, dtype)
    with fastnn.set_num_threads(1):
        in_place = kmod.linear(a[:limit], b, bias, "relu")
        packed = kmod.linear(a, b, bias, "relu")
    np.testing.assert_array_equal(in_place, packed[:limit])
    want = ref.linear(a.astype(np.float64), b.astype(np.float64), bias.astype(np.float64),
                      "relu")
    assert_close(packed, want, k, a, b)

def direct_a_shapes(b):
    """(rows, columns, depth) of C on both sides of the limits of the driver's rule that
    reads row-major A in place (csrc/gemm.c, FNN_GEMM_DIRECT_A_*: at least 96 rows, whole
    NR-wide panels, at most 16 of them, on the AVX2 path): rows 95 and 96, a partial last
    panel, 16 and 17 panels, one and several depth blocks."""
    nr, kc = b["NR"], b["KC"]
    return [(95, 3 * nr, kc + 5), (96, 3 * nr, 37), (101, 6 * nr, 2 * kc + 3),
            (150, 3 * nr + 1, 40), (200, 16 * nr, 61), (97, 17 * nr, 29)]


@over_blocking("m, n, k", direct_a_shapes)
def test_a_in_place_or_packed_same_bits(kmod, dtype, m, n, k):
    """Row-major A (read in place where the rule says so) and the same A as a column-major
    view (always packed) give the same bits, with bias and activation, and match NumPy."""
    rng = np.random.default_rng(m + n + k)
    a, b, bias = rand(rng, (m, k), dtype), rand(rng, (k, n), dtype), rand(rng, n, dtype)
    with fastnn.set_num_threads(1):
        row_major = kmod.linear(a, b, bias, "relu")
        column_major = kmod.linear(np.asfortranarray(a), b, bias, "relu")
    np.testing.assert_array_equal(row_major, column_major)
    want = ref.linear(a.astype(np.float64), b.astype(np.float64), bias.astype(np.float64),
                      "relu")
    assert_close(row_major, want, k, a, b)


def test_blocking_table(kmod):
    """GEMM_BLOCKING: every key, block sizes that hold whole tiles, tiles that fit the
    panels they serve; the x86 paths have their narrow and row-pair tiles."""
    assert set(kmod.GEMM_BLOCKING) == {"float32", "float64"}
    for b in kmod.GEMM_BLOCKING.values():
        assert set(b) == BLOCKING_KEYS
        assert all(type(b[key]) is int and b[key] > 0 for key in ("MR", "NR", "KC", "MC", "NC"))
        assert b["MC"] % b["MR"] == 0 and b["NC"] % b["NR"] == 0
        spans = [(t["min_cols"], t["max_cols"]) for t in b["narrow"]]
        assert spans == sorted(spans)
        assert all(hi < lo for (_, hi), (lo, _) in zip(spans, spans[1:]))  # disjoint
        for t in b["narrow"]:
            assert t["rows"] > 0 and 1 <= t["min_cols"] <= t["max_cols"] < 2 * b["NR"]
        if b["pairs"] is not None:
            p = b["pairs"]
            assert p["rows"] % b["MR"] == 0 and 1 <= p["min_cols"] <= p["max_cols"] < b["NR"]
        assert b["skinny"]["max_rows"] > 0 and b["skinny"]["col_block"] > 0
        assert (kmod.ISA in ("avx2", "avx512")) == (bool(b["narrow"]) and b["pairs"] is not None)
        if b["cols"] is not None:  # SSE2's column tile: whole vectors of rows, beyond the narrow tiles
            c = b["cols"]
            assert kmod.ISA == "portable" and c["rows"] > 1 and 1 <= c["min_cols"] <= c["max_cols"]
            assert all(hi < c["min_cols"] for _, hi in spans)
        if b["gemv"] is not None:
            assert 1 <= b["gemv"]["max_cols"] < b["NR"]


def test_ops_exports_dispatched_functions():
    for name in ("gemm", "matmul", "linear"):
        assert getattr(fastnn.ops, name) is getattr(fastnn._dispatch.kernels, name)


# ----------------------------------------------------------------- bad input
def test_rejects_non_arrays_and_dtypes(kmod):
    a = np.ones((2, 2), np.float32)
    with pytest.raises(TypeError, match="a must be a numpy.ndarray of float32 or float64; received list"):
        kmod.matmul([[1.0]], a)
    with pytest.raises(TypeError, match="b must be a numpy.ndarray"):
        kmod.gemm(a, 3.0)
    with pytest.raises(TypeError, match="x must have dtype float32 or float64 .*; received dtype int64"):
        kmod.linear(np.ones((2, 2), np.int64), a)
    with pytest.raises(TypeError, match=r"b must have the same dtype as a \(float32\); received dtype float64"):
        kmod.matmul(a, a.astype(np.float64))
    with pytest.raises(TypeError, match="weight must have dtype"):
        kmod.linear(a, a.astype(np.float16))


def test_rejects_byte_swapped_operands(kmod):
    """Non-native byte order is an error, not a product of misread numbers."""
    a = np.arange(4.0).reshape(2, 2)
    for args in ((a.astype(">f8"), a), (a, a.astype(">f8"))):
        with pytest.raises(TypeError, match=r"native byte order\); received dtype >f8"):
            kmod.matmul(*args)
    with pytest.raises(TypeError, match="out must have dtype float32 or float64"):
        kmod.matmul(a, a, out=np.empty((2, 2), ">f8"))
    with pytest.raises(TypeError, match="bias must have dtype float32 or float64"):
        kmod.linear(a, a, a[0].astype(">f8"))


def test_rejects_bad_shapes(kmod):
    a = np.ones((2, 3))
    with pytest.raises(ValueError, match=r"a must be 2-D; received a 1-D array of shape \(3,\)"):
        kmod.matmul(np.ones(3), a)
    with pytest.raises(ValueError, match=r"b must be 2-D; received a 3-D array of shape \(1, 2, 3\)"):
        kmod.matmul(a, np.ones((1, 2, 3)))
    with pytest.raises(ValueError, match=r"b must have 3 rows, the columns of a \(shape \(2, 3\)\); "
                                         r"received shape \(2, 3\)"):
        kmod.matmul(a, a)
    with pytest.raises(ValueError, match=r"b must have 2 rows, the columns of a.T \(shape \(3, 2\)\)"):
        kmod.gemm(a, a.T, trans_a=True)
    with pytest.raises(ValueError, match=r"b.T must have 3 rows, the columns of a \(shape \(2, 3\)\); "
                                         r"received shape \(2, 3\)"):
        kmod.gemm(a, a.T, trans_b=True)
    with pytest.raises(ValueError, match=r"weight must have 3 rows, the columns of x"):
        kmod.linear(a, np.ones((2, 4)))


def test_rejects_bad_bias_and_activation(kmod):
    x, w = np.ones((2, 3)), np.ones((3, 4))
    with pytest.raises(ValueError, match=r"bias must have shape \(4,\); received shape \(3,\)"):
        kmod.linear(x, w, np.ones(3))
    with pytest.raises(TypeError, match=r"bias must have the same dtype as x \(float64\); "
                                        "received dtype float32"):
        kmod.linear(x, w, np.ones(4, np.float32))
    with pytest.raises(ValueError, match="bias must be 1-D"):
        kmod.linear(x, w, np.ones((1, 4)))
    with pytest.raises(TypeError, match="bias must be a numpy.ndarray"):
        kmod.linear(x, w, [0.0] * 4)
    with pytest.raises(ValueError, match="activation must be one of .*; received 'gelu'"):
        kmod.linear(x, w, activation="gelu")
    with pytest.raises(ValueError, match="activation must be one of"):
        kmod.linear(x, w, activation=1)


def test_rejects_bad_out(kmod):
    a, b = np.ones((2, 3)), np.ones((3, 4))
    with pytest.raises(ValueError, match=r"out must have shape \(2, 4\); received shape \(4, 2\)"):
        kmod.matmul(a, b, out=np.empty((4, 2)))
    with pytest.raises(ValueError, match=r"out must have shape \(2, 4\); received shape \(8,\)"):
        kmod.matmul(a, b, out=np.empty(8))
    with pytest.raises(TypeError, match=r"out must have the same dtype as a \(float64\); "
                                        "received dtype float32"):
        kmod.matmul(a, b, out=np.empty((2, 4), np.float32))
    with pytest.raises(TypeError, match="out must be a numpy.ndarray"):
        kmod.matmul(a, b, out=[[0.0] * 4] * 2)
    ro = np.empty((2, 4))
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="out must be a writeable array; received a read-only array"):
        kmod.matmul(a, b, out=ro)
    with pytest.raises(ValueError, match=r"out \(the C operand\) is required when beta != 0 "
                                         r"\(beta=1.0\); received None"):
        kmod.gemm(a, b, beta=1.0)
    rows_alias = np.lib.stride_tricks.as_strided(np.zeros(4), (2, 4), (0, 8))
    with pytest.raises(ValueError, match="out must not have zero strides"):
        kmod.matmul(a, b, out=rows_alias)
    buf = np.zeros(2 * 4 * 8 + 1, np.uint8)
    with pytest.raises(ValueError, match="out must be aligned"):
        kmod.matmul(a, b, out=buf[1:].view(np.float64).reshape(2, 4))


def test_rejects_out_overlapping_inputs(kmod):
    buf = np.ones((4, 4))
    with pytest.raises(ValueError, match="out must not overlap a; received an array sharing its memory"):
        kmod.matmul(buf, buf, out=buf)
    with pytest.raises(ValueError, match="out must not overlap a"):
        kmod.matmul(buf[:, :2], buf[:2, :2], out=buf[::-1, 1:3])
    with pytest.raises(ValueError, match="out must not overlap b"):
        kmod.matmul(np.ones((2, 2)), buf[:2, :2], out=buf[1:3, 1:3])
    flat = np.zeros(9)
    with pytest.raises(ValueError, match="out must not overlap bias"):
        kmod.linear(np.ones((2, 2)), np.ones((2, 3)), flat[:3], out=flat[:6].reshape(2, 3))
    # interleaved columns may share memory (np.may_share_memory semantics): rejected
    big = np.ones((4, 8))
    with pytest.raises(ValueError, match="out must not overlap a"):
        kmod.matmul(big[:, :4], big[:, :4], out=big[:, 4:])
    # disjoint halves of one buffer are fine
    big = np.ones((8, 4))
    out = kmod.matmul(big[:4], big[:4], out=big[4:])
    assert out.base is big and (big[4:] == 4).all()
