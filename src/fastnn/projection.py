"""Projections of vectors to a few dimensions for pictures (model layer, NumPy and the
compiled GEMM): :func:`pca`, linear, the principal components; :func:`tsne`, non-linear,
t-distributed stochastic neighbour embedding (van der Maaten and Hinton, 2008), which
keeps neighbourhoods and so draws classes as separate clusters."""
from __future__ import annotations

from typing import Any, Tuple

import numpy as np

from . import ops

__all__ = ["pca", "tsne", "neighbour_probabilities", "kl_divergence", "kl_gradient",
           "float_matrix"]


def float_matrix(values: Any, name: str) -> np.ndarray:
    """``values`` as a finite 2-D float32/float64 array (other real types become float64)."""
    x = np.asarray(values)
    if x.dtype not in (np.float32, np.float64):
        if x.dtype.kind not in "biuf":
            raise TypeError(f"{name} must hold real numbers; received dtype {x.dtype}")
        x = x.astype(np.float64)
    if x.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_vectors, dim); received shape {x.shape}")
    if x.size == 0:
        raise ValueError(f"{name} is empty; received shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or infinity")
    return x


def pca(vectors: Any, n_components: int = 2) -> Tuple[np.ndarray, np.ndarray]:
    """Principal component analysis of the rows of ``vectors`` ``(n, d)``.

    Returns ``scores`` ``(n, n_components)`` (the centred rows in the basis of the
    leading principal directions, as ``U S`` of the SVD of the centred data) and the
    fraction of the total variance each component explains. The smaller of the covariance
    ``Xc.T @ Xc`` ``(d, d)`` and the Gram matrix ``Xc @ Xc.T`` ``(n, n)`` is computed with
    the compiled GEMM and diagonalised by ``numpy.linalg.eigh``. Each score column is
    signed so its largest magnitude is positive. float32 stays float32."""
    x = float_matrix(vectors, "vectors")
    n, d = x.shape
    if isinstance(n_components, bool) or not isinstance(n_components, (int, np.integer)) \
            or not 1 <= n_components <= min(n, d):
        raise ValueError(f"n_components must be an integer in [1, min(n, d)] = [1, "
                         f"{min(n, d)}] for vectors of shape {x.shape}; "
                         f"received: {n_components!r}")
    xc = x - x.mean(axis=0)
    if d <= n:
        evals, evecs = np.linalg.eigh(ops.gemm(xc, xc, trans_a=True))
        top = np.argsort(evals)[::-1][:n_components]
        scores = ops.gemm(xc, np.ascontiguousarray(evecs[:, top]))
    else:
        evals, evecs = np.linalg.eigh(ops.gemm(xc, xc, trans_b=True))
        top = np.argsort(evals)[::-1][:n_components]
        scores = evecs[:, top] * np.sqrt(np.maximum(evals[top], 0))
    total = float(np.einsum("ij,ij->", xc, xc, dtype=np.float64))
    ratio = np.maximum(evals[top], 0) / total if total > 0 else np.zeros(n_components)
    peak = np.abs(scores).argmax(axis=0)
    scores *= np.where(scores[peak, np.arange(n_components)] < 0, -1, 1).astype(x.dtype)
    return scores, ratio.astype(np.float64)


def _squared_distances(x: np.ndarray) -> np.ndarray:
    """``|x_i - x_j|^2`` for all pairs of rows, as ``|x_i|^2 + |x_j|^2 - 2 x_i.x_j`` with
    the products from the compiled GEMM; clipped at 0, exact zeros on the diagonal."""
    sq = np.einsum("ij,ij->i", x, x)
    d = ops.gemm(x, x, trans_b=True, alpha=-2.0)
    d += sq[:, None]
    d += sq[None, :]
    np.maximum(d, 0.0, out=d)
    np.fill_diagonal(d, 0.0)
    return d


def neighbour_probabilities(distances: np.ndarray, perplexity: float,
                            steps: int = 100) -> np.ndarray:
    """t-SNE's conditional probabilities ``p(j | i)`` (rows sum to 1, zero diagonal): a
    Gaussian kernel on the squared distances of row ``i`` whose precision is found by
    bisection (all rows at once) so the row's perplexity ``exp(entropy)`` is ``perplexity``."""
    n = len(distances)
    target = np.log(perplexity)
    off = ~np.eye(n, dtype=bool)
    # distances above each row's nearest neighbour: the largest kernel value is exp(0)
    shifted = distances - np.where(off, distances, np.inf).min(axis=1, keepdims=True)
    finite = np.where(off, shifted, 0.0)
    shifted[~off] = np.inf
    beta = np.ones(n)
    low, high = np.zeros(n), np.full(n, np.inf)
    for _ in range(steps):
        p = np.exp(-shifted * beta[:, None])
        total = p.sum(axis=1)
        entropy = np.log(total) + beta * np.einsum("ij,ij->i", finite, p) / total
        if np.abs(entropy - target).max() < 1e-6:
            break
        wide = entropy > target                      # too flat: sharpen (raise beta)
        low = np.where(wide, beta, low)
        high = np.where(wide, high, beta)
        beta = np.where(np.isinf(high), beta * 2, (low + high) / 2)
    return p / total[:, None]


def _student_weights(y: np.ndarray) -> np.ndarray:
    """``w_ij = 1 / (1 + |y_i - y_j|^2)`` with a zero diagonal."""
    w = _squared_distances(y)
    w += 1.0
    np.reciprocal(w, out=w)
    np.fill_diagonal(w, 0.0)
    return w


def kl_divergence(p: np.ndarray, y: np.ndarray) -> float:
    """The t-SNE objective ``KL(P || Q)`` of the points ``y`` ``(n, k)``, ``Q`` the
    Student-t weights :math:`w_{ij}` normalised over all pairs."""
    w = _student_weights(y)
    positive = p > 0
    q = w[positive] / w.sum()
    return float(np.sum(p[positive] * np.log(p[positive] / np.maximum(q, 1e-300))))


def kl_gradient(p: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The gradient of :func:`kl_divergence` with respect to ``y``:
    ``grad_i = 4 sum_j (p_ij - q_ij) w_ij (y_i - y_j)``, the sum over ``j`` as a GEMM."""
    w = _student_weights(y)
    m = w * (p - w * (1.0 / w.sum()))
    return 4.0 * (m.sum(axis=1)[:, None] * y - ops.gemm(m, np.ascontiguousarray(y)))


def tsne(vectors: Any, n_components: int = 2, *, perplexity: float = 30.0,
         n_iter: int = 750) -> np.ndarray:
    """t-SNE of the rows of ``vectors`` ``(n, d)``: ``(n, n_components)`` float64 points
    whose Student-t neighbourhoods match the Gaussian ones of the rows (exact, O(n^2)
    memory and time per step, fine for a few thousand rows).

    Symmetrised ``p_ij`` from :func:`neighbour_probabilities` (``perplexity`` capped at
    ``(n - 1) / 3``); start from the :func:`pca` scores scaled to a standard deviation of
    1e-4 plus a fixed jitter (the result is deterministic); gradient descent on
    :func:`kl_gradient` with momentum 0.5 then 0.8, per-coordinate gains, ``P`` exaggerated 12 times for the first 250
    steps and a learning rate of ``max(n / 48, 50)``."""
    x = float_matrix(vectors, "vectors").astype(np.float64)
    n, d = x.shape
    if isinstance(n_components, bool) or not isinstance(n_components, (int, np.integer)) \
            or not 1 <= n_components <= d:
        raise ValueError(f"n_components must be an integer in [1, {d}] for vectors of shape "
                         f"{x.shape}; received: {n_components!r}")
    if n < 2:
        raise ValueError(f"t-SNE needs at least 2 vectors; received shape {x.shape}")
    if not (isinstance(perplexity, (int, float, np.number)) and perplexity > 0
            and np.isfinite(perplexity)):
        raise ValueError(f"perplexity must be a positive number; received: {perplexity!r}")
    if isinstance(n_iter, bool) or not isinstance(n_iter, (int, np.integer)) or n_iter < 1:
        raise ValueError(f"n_iter must be a positive integer; received: {n_iter!r}")
    conditional = neighbour_probabilities(_squared_distances(x), min(perplexity, (n - 1) / 3))
    p = (conditional + conditional.T) / (2 * n)
    np.maximum(p, 1e-12, out=p)
    np.fill_diagonal(p, 0.0)
    y = pca(x, min(n_components, n))[0]
    if y.shape[1] < n_components:                # fewer rows than components
        y = np.hstack([y, np.zeros((n, n_components - y.shape[1]))])
    y *= 1e-4 / max(float(y[:, 0].std()), 1e-300)
    # a fixed jitter, 1% of that spread: equal rows and flat directions do not stay stuck
    y += np.random.default_rng(0).standard_normal(y.shape) * 1e-6
    rate = max(n / 48.0, 50.0)
    velocity, gains = np.zeros_like(y), np.ones_like(y)
    exaggerated = p * 12.0
    for step in range(int(n_iter)):
        early = step < 250
        grad = kl_gradient(exaggerated if early else p, y)
        gains = np.where(np.sign(grad) != np.sign(velocity), gains + 0.2, gains * 0.8)
        np.maximum(gains, 0.01, out=gains)
        velocity = (0.5 if early else 0.8) * velocity - rate * gains * grad
        y += velocity
    return y - y.mean(axis=0)
