"""Compiled kernel layer.

``_portable`` and ``_avx2`` are the same sources (``kernels.pxi`` and ``csrc/``)
compiled with different instruction sets; ``fastnn._dispatch`` imports one of them.
"""
