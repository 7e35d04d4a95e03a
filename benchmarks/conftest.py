"""pytest-benchmark suite (not part of the test run): ``pytest benchmarks/``.

Every benchmark pins fastnn and NumPy's BLAS to one thread (``--bench-threads`` to
change), so the saved JSON of two runs compare like with like.
"""
import pytest

import fastnn


def pytest_addoption(parser):
    parser.addoption("--bench-threads", type=int, default=1, help="threads for every library")


@pytest.fixture(autouse=True, scope="session")
def _threads(request):
    n = request.config.getoption("--bench-threads")
    fastnn.set_num_threads(n)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=n):
        yield
