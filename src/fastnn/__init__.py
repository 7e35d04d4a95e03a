"""fastnn: a small neural-network engine for the CPU with compiled kernels.

``fastnn.ops`` holds the compiled kernels, ``fastnn.reference`` their NumPy twins.
"""
from __future__ import annotations

import sys

from . import ops, reference
from . import _dispatch
from ._dispatch import get_num_threads, set_num_threads

__version__ = "0.1.0"

__all__ = ["ops", "reference", "set_num_threads", "get_num_threads", "show_config",
           "__version__"]


def show_config(file=None) -> dict:
    """Print (and return) the kernel path, thread count and build flags in use."""
    info = {
        "version": __version__,
        "isa": _dispatch.kernels.ISA,
        "isa_available": sorted(_dispatch.modules),
        "threads": get_num_threads(),
        "openmp": _dispatch.kernels.OPENMP,
        "build_flags": _dispatch.kernels.BUILD_FLAGS,
    }
    out = file or sys.stdout
    for key, value in info.items():
        print(f"{key:>14}: {value}", file=out)
    return info
