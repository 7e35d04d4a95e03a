"""Sparse input for the model layer: SciPy's CSR and CSC matrices and arrays.

The kernels take any object with SciPy's CSR attributes (``shape``, ``indptr``,
``indices``, ``data``; see ``ops.sparse_linear``), so SciPy stays optional: a sparse
matrix can only exist when SciPy is imported.  Here the model layer recognises one,
converts CSC to CSR (never to a dense array) and the values to the network's dtype.
"""
from __future__ import annotations

import sys

import numpy as np

from ._checks import all_finite

__all__ = ["is_sparse", "is_csr", "as_csr"]

#: the sparse formats the model layer accepts (CSC is converted to CSR)
FORMATS = ("csr", "csc")


def is_sparse(x) -> bool:
    """True for any ``scipy.sparse`` matrix or array."""
    sp = sys.modules.get("scipy.sparse")
    return sp is not None and sp.issparse(x)


def is_csr(x) -> bool:
    """True for a CSR matrix (what ``ops.sparse_linear`` takes)."""
    return getattr(x, "format", None) == "csr"


def as_csr(x, dtype: np.dtype, name: str = "X"):
    """The sparse ``x`` as CSR with values of ``dtype``: CSC converted (never densified),
    values converted when their dtype differs; NaN or infinity is an error."""
    if x.format not in FORMATS:
        raise TypeError(f"{name} must be a CSR or CSC sparse matrix; received format "
                        f"{x.format!r} (convert it with {name}.tocsr())")
    if x.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold numbers; received dtype {x.dtype}")
    x = x.tocsr()
    if x.dtype != dtype:
        x = x.astype(dtype)
    if not all_finite(x.data):
        raise ValueError(f"{name} contains NaN or infinity")
    return x
