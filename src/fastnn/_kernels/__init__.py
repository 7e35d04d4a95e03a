"""Compiled kernel layer.

``_portable``, ``_avx2`` and ``_avx512`` are the same sources (``kernels.pxi`` and
``csrc/``) compiled with different instruction sets; ``fastnn._dispatch`` imports one of them.
"""
