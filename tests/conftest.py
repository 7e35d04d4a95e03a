"""Shared fixtures: every kernel test runs on each compiled path this CPU can run
(``kmod``), the model tests on each path through ``on_each_isa``."""
import numpy as np
import pytest

from fastnn import _dispatch

DTYPES = [np.float32, np.float64]


@pytest.fixture(params=sorted(_dispatch.modules), ids=lambda isa: f"isa={isa}")
def kmod(request):
    """A compiled kernel module (portable, and AVX2/FMA and AVX-512 where the CPU has them)."""
    return _dispatch.modules[request.param]


@pytest.fixture(params=DTYPES, ids=lambda d: np.dtype(d).name)
def dtype(request):
    return request.param


@pytest.fixture(params=sorted(_dispatch.modules), ids=lambda isa: f"isa={isa}")
def on_each_isa(request):
    """Run the model layer on each compiled path (the ops and the compiled epochs)."""
    with _dispatch.use(request.param) as mod:
        yield mod
