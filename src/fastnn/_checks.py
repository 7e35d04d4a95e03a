"""Argument checks shared by the model layer's Python entry points."""
from __future__ import annotations

import numpy as np


def all_finite(x: np.ndarray) -> bool:
    """True when the float array ``x`` holds no NaN or infinity.  A finite sum proves it in
    one pass and without a temporary (``np.isfinite(x).all()`` first allocates a boolean
    array as large as ``x``); only a sum that is not finite (a NaN or infinity, or finite
    values whose sum overflows) is looked at element by element."""
    with np.errstate(over="ignore", invalid="ignore"):
        total = np.add.reduce(x, axis=None)
    return bool(np.isfinite(total)) or bool(np.isfinite(x).all())


def finite_array(values: np.ndarray, dtype: np.dtype, name: str) -> np.ndarray:
    """``values`` as a C-contiguous ``dtype`` array: a dtype that does not hold numbers is a
    ``TypeError`` and NaN or infinity a ``ValueError``, both naming ``name``."""
    if values.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold numbers; received dtype {values.dtype}")
    out = np.ascontiguousarray(values, dtype=dtype)
    if not all_finite(out):
        raise ValueError(f"{name} contains NaN or infinity")
    return out
