"""Pick the compiled kernel module for this CPU, and hold the thread count.

``FASTNN_ISA`` forces a path: ``portable`` (any CPU), ``avx2`` (error when the CPU or
the build lacks it) or ``auto`` (the default: AVX2/FMA when the CPU has it).
``FASTNN_NUM_THREADS`` sets the initial thread count (default: the CPUs this process
may run on).
"""
from __future__ import annotations

import operator
import os
from types import ModuleType
from typing import Dict

from ._kernels import _portable

__all__ = ["kernels", "modules", "set_num_threads", "get_num_threads"]


def _load_modules() -> Dict[str, ModuleType]:
    mods = {"portable": _portable}
    if _portable.cpu_has_avx2_fma():
        try:
            from ._kernels import _avx2
        except ImportError:  # built on a platform without the AVX2 variant
            pass
        else:
            mods["avx2"] = _avx2
    return mods


def _select(mods: Dict[str, ModuleType]) -> ModuleType:
    want = os.environ.get("FASTNN_ISA", "auto").strip().lower() or "auto"
    if want == "auto":
        return mods.get("avx2", mods["portable"])
    if want not in ("portable", "avx2"):
        raise ValueError(f"FASTNN_ISA must be 'auto', 'avx2' or 'portable'; received: {want!r}")
    if want not in mods:
        raise RuntimeError(f"FASTNN_ISA={want!r} but this CPU or build lacks that path")
    return mods[want]


def _default_threads() -> int:
    env = os.environ.get("FASTNN_NUM_THREADS")
    if env:
        try:
            n = int(env)
        except ValueError:
            raise ValueError(f"FASTNN_NUM_THREADS must be a positive integer; received: {env!r}") from None
        if n < 1:
            raise ValueError(f"FASTNN_NUM_THREADS must be a positive integer; received: {env!r}")
        return n
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


#: Every kernel module this CPU can run, by ISA name.
modules: Dict[str, ModuleType] = _load_modules()
#: The kernel module in use.
kernels: ModuleType = _select(modules)


def set_num_threads(n: int) -> None:
    """Set the number of threads the compiled kernels may use (results do not depend on it)."""
    if isinstance(n, bool) or not hasattr(n, "__index__"):
        raise TypeError(f"n must be an integer; received: {n!r}")
    n = operator.index(n)
    if n < 1:
        raise ValueError(f"n must be >= 1; received: {n}")
    for mod in modules.values():
        mod.set_num_threads(n)


def get_num_threads() -> int:
    """The number of threads the compiled kernels may use."""
    return kernels.get_num_threads()


set_num_threads(_default_threads())
