"""Data sets bundled with fastnn (no download at run time)."""
from __future__ import annotations

from importlib import resources
from typing import Tuple

import numpy as np

__all__ = ["load_digits", "train_test_split"]


def load_digits(*, dtype=np.float32) -> Tuple[np.ndarray, np.ndarray]:
    """The 1,797 8x8 handwritten digits of the UCI "Optical Recognition of Handwritten
    Digits" data set (its test part, as shipped by scikit-learn).

    Returns ``X`` of shape ``(1797, 64)`` scaled to [0, 1] and ``y`` (int64 labels 0-9).
    """
    with resources.files("fastnn").joinpath("data/digits.npz").open("rb") as fh:
        with np.load(fh, allow_pickle=False) as data:
            images, target = data["images"], data["target"]
    return (images / 16.0).astype(dtype), target.astype(np.int64)


def train_test_split(X: np.ndarray, y: np.ndarray, *, test_size: float = 0.25,
                     seed: int = 0) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shuffle with ``seed`` and split into ``X_train, X_test, y_train, y_test``."""
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must be in (0, 1); received: {test_size}")
    if len(X) != len(y):
        raise ValueError(f"X and y have different lengths: {len(X)} and {len(y)}")
    order = np.random.default_rng(seed).permutation(len(X))
    n_test = max(1, int(round(test_size * len(X))))
    test, train = order[:n_test], order[n_test:]
    return X[train], X[test], y[train], y[test]
