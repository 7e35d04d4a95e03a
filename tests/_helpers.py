"""Tolerances and small utilities shared by the kernel tests."""
import contextlib

import numpy as np

import fastnn

# (rtol, atol) per dtype for results that are a few roundings away from the reference.
TOL = {np.dtype(np.float32): (2e-5, 1e-6), np.dtype(np.float64): (1e-12, 1e-14)}


def assert_close(actual, expected, dtype, scale=1.0):
    """Compare with the dtype's tolerance; `scale` widens atol for large magnitudes."""
    rtol, atol = TOL[np.dtype(dtype)]
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol * scale)


@contextlib.contextmanager
def threads(n):
    old = fastnn.get_num_threads()
    fastnn.set_num_threads(n)
    try:
        yield
    finally:
        fastnn.set_num_threads(old)


def rand(rng, shape, dtype, scale=1.0):
    return np.asarray(rng.standard_normal(shape) * scale).astype(dtype)
