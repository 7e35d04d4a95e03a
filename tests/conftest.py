"""Shared fixtures: every kernel test runs on each compiled path this CPU can run."""
import numpy as np
import pytest

from fastnn import _dispatch

DTYPES = [np.float32, np.float64]


@pytest.fixture(params=sorted(_dispatch.modules), ids=lambda isa: f"isa={isa}")
def kmod(request):
    """A compiled kernel module (portable, and AVX2/FMA where the CPU has it)."""
    return _dispatch.modules[request.param]


@pytest.fixture(params=DTYPES, ids=lambda d: np.dtype(d).name)
def dtype(request):
    return request.param
