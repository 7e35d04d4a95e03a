"""fastnn's thread pool as threadpoolctl sees it (imported only when threadpoolctl is).

threadpoolctl finds thread pools by the shared libraries loaded in the process; this
controller matches the compiled kernel module in use (by its file name and the symbol
``fastnn_num_threads`` it exports).  fastnn passes an explicit thread count to each
parallel region, so threadpoolctl's own OpenMP controller (``omp_set_num_threads``)
does not reach it: this one sets fastnn's count.  ``user_api`` is ``"openmp"`` (what
the pool is), so ``threadpool_limits(n)`` and ``threadpool_limits(n, user_api="openmp")``
both limit it; ``internal_api="fastnn"`` selects it alone.
"""
from __future__ import annotations

import os

from threadpoolctl import LibController

from . import _dispatch

__all__ = ["FastnnController"]


class FastnnController(LibController):
    """threadpoolctl controller of fastnn's kernel threads."""

    user_api = "openmp"
    internal_api = "fastnn"
    filename_prefixes = (os.path.basename(_dispatch.kernels.__file__).lower(),)
    check_symbols = ("fastnn_num_threads",)

    def get_num_threads(self) -> int:
        return self.dynlib.fastnn_num_threads()

    def set_num_threads(self, num_threads) -> None:
        # threadpoolctl passes limits through unchecked: a bad one warns, never raises
        # halfway through its loop over the libraries
        _dispatch._limit(num_threads, "threadpoolctl limit")

    def get_version(self) -> str:
        from . import __version__

        return __version__

    def set_additional_attributes(self) -> None:
        self.isa = _dispatch.kernels.ISA
