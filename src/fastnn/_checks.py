"""Argument checks shared by the model layer's Python entry points."""
from __future__ import annotations

import numpy as np


def finite_array(values: np.ndarray, dtype: np.dtype, name: str) -> np.ndarray:
    """``values`` as a C-contiguous ``dtype`` array: a dtype that does not hold numbers is a
    ``TypeError`` and NaN or infinity a ``ValueError``, both naming ``name``."""
    if values.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold numbers; received dtype {values.dtype}")
    out = np.ascontiguousarray(values, dtype=dtype)
    if not np.isfinite(out).all():
        raise ValueError(f"{name} contains NaN or infinity")
    return out
