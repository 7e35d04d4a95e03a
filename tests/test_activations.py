"""Activations and their backward passes against fastnn.reference, on every CPU path."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastnn
from fastnn import reference as R
from _helpers import assert_close, rand

ACTS = ["relu", "leaky_relu", "tanh", "sigmoid", "identity"]
SHAPES = [(0, 5), (1, 7), (7, 1), (13, 17), (101,), (3, 5, 7), (2, 3, 4, 5), ()]


def fwd(mod, name, x, **kw):
    return getattr(mod, name)(x, **kw)


def bwd(mod, name, g, y, **kw):
    return getattr(mod, name + "_backward")(g, y, **kw)


@pytest.mark.parametrize("name", ACTS)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_forward_and_backward_match_reference(kmod, dtype, name, shape):
    rng = np.random.default_rng(0)
    x = rand(rng, shape, dtype, 3.0)
    y = fwd(kmod, name, x)
    assert y.dtype == dtype and y.shape == x.shape
    assert_close(y, fwd(R, name, x), dtype)
    g = rand(rng, shape, dtype)
    yr = np.asarray(fwd(R, name, x))
    gx = bwd(kmod, name, g, yr)
    assert gx.dtype == dtype and gx.shape == x.shape
    assert_close(gx, bwd(R, name, g, yr), dtype)


@pytest.mark.parametrize("slope", [0.0, 0.2, 1.5])
def test_leaky_relu_slope(kmod, dtype, slope):
    x = rand(np.random.default_rng(1), (9, 11), dtype)
    assert_close(kmod.leaky_relu(x, slope), R.leaky_relu(x, slope), dtype)
    g = rand(np.random.default_rng(2), (9, 11), dtype)
    y = R.leaky_relu(x, slope)
    assert_close(kmod.leaky_relu_backward(g, y, negative_slope=slope),
                 R.leaky_relu_backward(g, y, negative_slope=slope), dtype)


@pytest.mark.parametrize("name", ["relu", "tanh"])
def test_large(kmod, name):
    x = rand(np.random.default_rng(3), (4096, 1000), np.float32, 4.0)
    assert_close(fwd(kmod, name, x), fwd(R, name, x), np.float32)


def test_extreme_values(kmod, dtype):
    big = np.finfo(dtype).max
    x = np.array([0.0, -0.0, 1e4, -1e4, big, -big, np.inf, -np.inf, 1e-30, -1e-30], dtype=dtype)
    for name in ACTS:
        assert_close(fwd(kmod, name, x), fwd(R, name, x), dtype)
    nan = np.array([np.nan], dtype=dtype)
    for name in ACTS:
        assert np.isnan(fwd(kmod, name, nan)).all(), name


@pytest.mark.parametrize("name", ACTS)
@pytest.mark.parametrize("view", ["transpose", "step", "reversed", "fortran_out"])
def test_non_contiguous(kmod, dtype, name, view):
    rng = np.random.default_rng(4)
    base = rand(rng, (20, 31), dtype, 3.0)
    gbase = rand(rng, (20, 31), dtype)
    pick = {"transpose": lambda a: a.T, "step": lambda a: a[::2, 1::3],
            "reversed": lambda a: a[::-1, ::-2], "fortran_out": lambda a: a}[view]
    x, g = pick(base), pick(gbase)
    out = np.empty(x.shape, dtype, order="F") if view == "fortran_out" else None
    y = fwd(kmod, name, x, out=out)
    assert_close(y, fwd(R, name, x), dtype)
    out = np.zeros((x.shape[1], x.shape[0]), dtype).T  # a strided destination
    yr = np.asarray(fwd(R, name, x))
    res = bwd(kmod, name, g, yr, out=out)
    assert res is out
    assert_close(out, bwd(R, name, g, yr), dtype)


@pytest.mark.parametrize("name", ACTS)
def test_out_and_in_place(kmod, dtype, name):
    rng = np.random.default_rng(5)
    x = rand(rng, (17, 19), dtype)
    expected = fwd(R, name, x)
    out = np.empty_like(x)
    res = fwd(kmod, name, x, out=out)
    assert res is out and np.shares_memory(res, out)
    assert_close(out, expected, dtype)
    xs = x[:, 2:]                          # in place on a strided view
    exp_s = fwd(R, name, xs)
    assert fwd(kmod, name, xs, out=xs) is xs
    assert_close(xs, exp_s, dtype)
    g, y = rand(rng, (17, 19), dtype), expected.copy()
    expected_g = bwd(R, name, g, y)
    assert bwd(kmod, name, g, y, out=g) is g      # in place over grad_output
    assert_close(g, expected_g, dtype)
    g2 = rand(rng, (17, 19), dtype)
    expected_g = bwd(R, name, g2, y)
    assert bwd(kmod, name, g2, y, out=y) is y     # in place over output
    assert_close(y, expected_g, dtype)


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "tanh", "sigmoid", "identity"])
def test_backward_matches_finite_differences(kmod, name):
    rng = np.random.default_rng(6)
    x = rng.uniform(-3, 3, 200)
    x = x[np.abs(x) > 1e-3]                # keep off the ReLU kink
    g = rng.standard_normal(x.shape)
    h = 1e-6
    numeric = (fwd(R, name, x + h) - fwd(R, name, x - h)) / (2 * h) * g
    analytic = bwd(kmod, name, g, fwd(kmod, name, x))
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", ACTS)
def test_threads_bitwise_identical(kmod, name):
    rng = np.random.default_rng(7)
    x = rand(rng, (700, 513), np.float32, 3.0)
    g = rand(rng, (700, 513), np.float32)
    res = []
    for n in (1, 2, 3):
        with fastnn.set_num_threads(n):
            y = fwd(kmod, name, x)
            res.append((y, bwd(kmod, name, g, y)))
    for y, gx in res[1:]:
        assert np.array_equal(y, res[0][0]) and np.array_equal(gx, res[0][1])


def test_column_sum(kmod, dtype):
    rng = np.random.default_rng(8)
    for shape in [(0, 3), (1, 5), (5, 1), (37, 129), (3, 0)]:
        x = rand(rng, shape, dtype)
        assert_close(kmod.column_sum(x), x.sum(axis=0), dtype, scale=10)
    x = rand(rng, (30, 20), dtype)
    out = np.empty(60, dtype)[::2]
    assert kmod.column_sum(x.T, out=out) is out
    assert_close(out, x.T.sum(axis=0), dtype, scale=10)


float_arrays = st.sampled_from([np.float32, np.float64]).flatmap(
    lambda dt: hnp.arrays(dt, hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=9),
                          elements=st.floats(-60, 60, width=np.dtype(dt).itemsize * 8)))


@settings(max_examples=60, deadline=None)
@given(x=float_arrays, name=st.sampled_from(ACTS))
def test_property_forward_backward(x, name):
    from fastnn import ops
    assert_close(fwd(ops, name, x), fwd(R, name, x), x.dtype)
    y = fwd(R, name, x)
    assert_close(bwd(ops, name, x, y), bwd(R, name, x, y), x.dtype, scale=60)


def _ulp_error(y, exact, dtype):
    """|y - exact| in units of the spacing of `dtype` at |exact| (the finer one just below a
    power of two)."""
    e = np.abs(exact).astype(dtype)
    spacing = np.minimum(np.spacing(e), np.spacing(np.nextafter(e, dtype(0))))
    return np.abs(y.astype(np.float64) - exact) / spacing.astype(np.float64)


def test_tanh_special_values(kmod, dtype):
    fi = np.finfo(dtype)
    y = kmod.tanh(np.array([np.inf, -np.inf, fi.max, -fi.max, 30.0, -30.0, np.nan], dtype))
    assert np.array_equal(y[:6], [1, -1, 1, -1, 1, -1]) and np.isnan(y[6])
    zeros = kmod.tanh(np.array([0.0, -0.0], dtype))
    assert np.array_equal(zeros, [0, 0]) and list(np.signbit(zeros)) == [False, True]
    tiny = np.array([fi.smallest_subnormal, fi.smallest_normal / 3, fi.smallest_normal,
                     1e-30, 1e-12], dtype)
    assert np.array_equal(kmod.tanh(tiny), tiny) and np.array_equal(kmod.tanh(-tiny), -tiny)


def test_tanh_float32_dense_sweep(kmod):
    """Every 256th float32 in [0, 10] (4.3 million) and its negative: odd, |tanh| <= 1,
    within the tolerance of np.tanh and 8 ulp of tanh (np.tanh in double)."""
    x = np.arange(0, np.float32(10).view(np.uint32), 256, dtype=np.uint32).view(np.float32)
    y = kmod.tanh(x)
    assert np.array_equal(kmod.tanh(-x), -y) and np.abs(y).max() <= 1
    exact = np.tanh(x.astype(np.float64))
    assert_close(y, R.tanh(x), np.float32)
    assert _ulp_error(y, exact, np.float32).max() <= 8


def test_tanh_float64_sample(kmod):
    """A million doubles, log-uniform in [1e-10, 25] and uniform around 1 and the
    saturation point: within the tolerance of and 12 ulp of np.tanh (itself ~1 ulp)."""
    rng = np.random.default_rng(10)
    x = np.concatenate([10 ** rng.uniform(-10, np.log10(25), 600_000), rng.uniform(0, 2, 200_000),
                        rng.uniform(18.5, 19.5, 200_000)])
    y = kmod.tanh(x)
    assert np.array_equal(kmod.tanh(-x), -y) and np.abs(y).max() <= 1
    assert_close(y, R.tanh(x), np.float64)
    assert _ulp_error(y, np.tanh(x), np.float64).max() <= 12


@settings(max_examples=100, deadline=None)
@given(x=st.sampled_from([np.float32, np.float64]).flatmap(
    lambda dt: hnp.arrays(dt, st.integers(0, 40),
                          elements=st.floats(width=np.dtype(dt).itemsize * 8))))
def test_property_tanh(x):
    """Any values, inf and NaN included: odd, |tanh| <= 1, NaN exactly where x is NaN,
    within tolerance of np.tanh."""
    from fastnn import ops
    y = ops.tanh(x)
    assert np.array_equal(ops.tanh(-x), -y, equal_nan=True)
    assert np.array_equal(np.isnan(y), np.isnan(x))
    assert (np.abs(y[~np.isnan(y)]) <= 1).all()
    assert_close(y, R.tanh(x), x.dtype)


def test_misaligned_buffers(kmod, dtype):
    """Arrays whose data pointer is not aligned to the item size take the copy path."""
    itemsize = np.dtype(dtype).itemsize
    raw = np.zeros(50 * itemsize + 1, np.uint8)
    x = raw[1:].view(dtype)
    x[:] = rand(np.random.default_rng(9), 50, dtype, 3.0)
    assert not x.flags.aligned
    expected = R.sigmoid(x.copy())
    assert_close(kmod.sigmoid(x), expected, dtype)
    assert kmod.sigmoid(x, out=x) is x
    assert_close(x, expected, dtype)
    t = x.copy() + 1
    assert_close(kmod.mse(x, t)[1], R.mse(x.copy(), t)[1], dtype)
