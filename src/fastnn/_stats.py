"""Correlation statistics for ``KeyedVectors.evaluate_word_pairs``, in NumPy (no SciPy).

``pearson`` and ``spearman`` return ``(coefficient, two-sided p-value)`` as
``scipy.stats.pearsonr`` and ``spearmanr`` do.  Under the null hypothesis
``t = r * sqrt((n - 2) / (1 - r**2))`` follows Student's t with ``n - 2`` degrees of
freedom, whose two-sided tail is the regularized incomplete beta function
``I_{1 - r**2}((n - 2) / 2, 1 / 2)``; it is evaluated by its continued fraction
(modified Lentz method).
"""
from __future__ import annotations

import math
from typing import Tuple

import numpy as np

__all__ = ["pearson", "spearman", "rankdata", "betainc"]

_TINY = 1e-300
_EPS = 1e-15
_MAX_TERMS = 10_000


def _beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of ``I_x(a, b)`` (converges fast for ``x < (a+1)/(a+b+2)``)."""
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, _MAX_TERMS + 1):
        # even term, then odd term of the fraction
        for num in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                    -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > _TINY else _TINY)
            c = 1.0 + num / c
            c = c if abs(c) > _TINY else _TINY
            h *= d * c
        if abs(d * c - 1.0) < _EPS:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function ``I_x(a, b)`` for ``a, b > 0``."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                 + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_fraction(b, a, 1.0 - x) / b


def rankdata(values: np.ndarray) -> np.ndarray:
    """Ranks from 1, ties given the mean of their ranks (``scipy.stats.rankdata``'s default)."""
    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    # [start, end) of each run of equal values in the sorted order
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], len(values)]
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    return ranks


def pearson(x, y) -> Tuple[float, float]:
    """Pearson's r and its two-sided p-value; ``(nan, nan)`` when an input is constant."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1 or len(x) < 2:
        raise ValueError(f"pearson needs two 1-D sequences of one length >= 2; received "
                         f"shapes {x.shape} and {y.shape}")
    dx, dy = x - x.mean(), y - y.mean()
    denom = math.sqrt(float(dx @ dx) * float(dy @ dy))
    if denom == 0.0:
        return math.nan, math.nan
    r = max(-1.0, min(1.0, float(dx @ dy) / denom))
    return r, _two_sided_p(r, len(x))


def spearman(x, y) -> Tuple[float, float]:
    """Spearman's rho (Pearson's r of the ranks) and its two-sided p-value."""
    return pearson(rankdata(x), rankdata(y))


def _two_sided_p(r: float, n: int) -> float:
    if n == 2:
        return 1.0
    return betainc((n - 2) / 2.0, 0.5, 1.0 - r * r)
