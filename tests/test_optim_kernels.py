"""SGD and Adam steps: many steps against a fastnn.reference loop."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastnn
from fastnn import reference as R
from _helpers import rand

SHAPES = [(0,), (1,), (7,), (13, 17), (3, 4, 5), (257, 129)]
# Many steps accumulate roundings: a looser bound than one kernel call.
STEP_TOL = {np.dtype(np.float32): (1e-5, 1e-6), np.dtype(np.float64): (1e-12, 1e-14)}


def close(a, b, dtype):
    rtol, atol = STEP_TOL[np.dtype(dtype)]
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


SGD_CONFIGS = [dict(momentum=0.0), dict(momentum=0.9), dict(momentum=0.9, nesterov=True),
               dict(momentum=0.0, weight_decay=0.01), dict(momentum=0.5, weight_decay=0.1),
               dict(momentum=0.9, nesterov=True, weight_decay=0.05)]


@pytest.mark.parametrize("cfg", SGD_CONFIGS, ids=str)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_sgd_many_steps(kmod, dtype, cfg, shape):
    rng = np.random.default_rng(0)
    p = rand(rng, shape, dtype)
    p_ref = p.copy()
    vel, vel_ref = np.zeros_like(p), np.zeros_like(p)
    for _ in range(20):
        g = rand(rng, shape, dtype)
        v = vel if cfg["momentum"] else None
        assert kmod.sgd_step(p, g, lr=0.05, velocity=v, **cfg) is p
        R.sgd_step(p_ref, g, lr=0.05, velocity=vel_ref if cfg["momentum"] else None, **cfg)
    close(p, p_ref, dtype)
    close(vel, vel_ref, dtype)


ADAM_CONFIGS = [dict(), dict(weight_decay=0.01), dict(weight_decay=0.1, decoupled=True),
                dict(beta1=0.0, beta2=0.5, eps=1e-3), dict(decoupled=True)]


@pytest.mark.parametrize("cfg", ADAM_CONFIGS, ids=str)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_adam_many_steps(kmod, dtype, cfg, shape):
    rng = np.random.default_rng(1)
    p = rand(rng, shape, dtype)
    m, v = np.zeros_like(p), np.zeros_like(p)
    p_ref, m_ref, v_ref = p.copy(), m.copy(), v.copy()
    for step in range(1, 21):
        g = rand(rng, shape, dtype)
        assert kmod.adam_step(p, g, m, v, step=step, lr=1e-2, **cfg) is p
        R.adam_step(p_ref, g, m_ref, v_ref, step=step, lr=1e-2, **cfg)
    close(p, p_ref, dtype)
    close(m, m_ref, dtype)
    close(v, v_ref, dtype)


def test_optimizers_on_strided_views(kmod, dtype):
    rng = np.random.default_rng(2)
    big = rand(rng, (40, 30), dtype)
    p, p_ref = big[::2, ::3], big[::2, ::3].copy()           # a non-contiguous parameter
    vel = np.zeros((30, 40), dtype).T[::2, ::3]
    vel_ref = np.zeros_like(p_ref)
    for _ in range(5):
        g = rand(rng, (10, 20), dtype).T
        kmod.sgd_step(p, g, lr=0.1, momentum=0.9, velocity=vel, nesterov=True)
        R.sgd_step(p_ref, g, lr=0.1, momentum=0.9, velocity=vel_ref, nesterov=True)
    close(p, p_ref, dtype)
    close(vel, vel_ref, dtype)
    m, v = np.zeros((10, 20), dtype).T, np.zeros((10, 20), dtype).T
    m_ref, v_ref = np.zeros_like(p_ref), np.zeros_like(p_ref)
    for step in range(1, 6):
        g = rand(rng, (20, 10), dtype)
        kmod.adam_step(p, g, m, v, step=np.int64(step), lr=0.01, weight_decay=0.1)
        R.adam_step(p_ref, g, m_ref, v_ref, step=step, lr=0.01, weight_decay=0.1)
    close(p, p_ref, dtype)
    close(m, m_ref, dtype)
    close(v, v_ref, dtype)


def test_threads_bitwise_identical(kmod):
    rng = np.random.default_rng(3)
    p0 = rand(rng, (600, 700), np.float32)
    grads = [rand(rng, p0.shape, np.float32) for _ in range(3)]
    results = []
    for n in (1, 2, 3):
        with fastnn.set_num_threads(n):
            p, vel = p0.copy(), np.zeros_like(p0)
            q, m, v = p0.copy(), np.zeros_like(p0), np.zeros_like(p0)
            for step, g in enumerate(grads, 1):
                kmod.sgd_step(p, g, lr=0.1, momentum=0.9, velocity=vel, weight_decay=0.01)
                kmod.adam_step(q, g, m, v, step=step, lr=1e-3, weight_decay=0.01, decoupled=True)
            results.append((p, vel, q, m, v))
    for res in results[1:]:
        for a, b in zip(res, results[0]):
            assert np.array_equal(a, b)


@settings(max_examples=40, deadline=None)
@given(p=hnp.arrays(np.float64, hnp.array_shapes(max_dims=2, max_side=10),
                    elements=st.floats(-10, 10)),
       lr=st.floats(0, 1), momentum=st.floats(0, 0.99), wd=st.floats(0, 0.5),
       beta1=st.floats(0, 0.99), beta2=st.floats(0, 0.999), step=st.integers(1, 10**6))
def test_property_single_step(p, lr, momentum, wd, beta1, beta2, step):
    from fastnn import ops
    g = np.sin(p * 3.0)
    a, b = p.copy(), p.copy()
    va, vb = np.full_like(p, 0.5), np.full_like(p, 0.5)
    ops.sgd_step(a, g, lr=lr, momentum=momentum, velocity=va, weight_decay=wd)
    R.sgd_step(b, g, lr=lr, momentum=momentum, velocity=vb, weight_decay=wd)
    np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(va, vb, rtol=1e-13, atol=1e-13)
    a, b = p.copy(), p.copy()
    ma, mb, sa, sb = (np.full_like(p, 0.1), np.full_like(p, 0.1),
                      np.full_like(p, 0.2), np.full_like(p, 0.2))
    ops.adam_step(a, g, ma, sa, step=step, lr=lr, beta1=beta1, beta2=beta2, weight_decay=wd)
    R.adam_step(b, g, mb, sb, step=step, lr=lr, beta1=beta1, beta2=beta2, weight_decay=wd)
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ma, mb, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(sa, sb, rtol=1e-13, atol=1e-13)
