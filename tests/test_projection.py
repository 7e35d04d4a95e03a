"""fastnn.projection: PCA against NumPy's SVD (shapes, both dtypes, views, hypothesis);
t-SNE's pieces against their definitions (perplexity of the calibrated rows, the objective
and its gradient by finite differences) and the embedding on planted clusters."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastnn import ops
from fastnn.projection import (kl_divergence, kl_gradient, neighbour_probabilities, pca,
                               tsne)
from _helpers import central_differences, spectrum_data

#: PCA scores against the float64 SVD, relative to the largest singular value
PCA_TOL = {np.dtype(np.float32): 2e-4, np.dtype(np.float64): 1e-10}


def svd_scores(x, k):
    xc = x.astype(np.float64) - x.astype(np.float64).mean(axis=0)
    u, s, _ = np.linalg.svd(xc, full_matrices=False)
    return u[:, :k] * s[:k], s[:k] ** 2 / (s ** 2).sum()


def assert_scores_match(scores, x, k):
    """Equal to the SVD's ``U S`` up to the sign of each column (a column without variance
    must be zero); returns the SVD's explained-variance ratios."""
    expected, ratio = svd_scores(x, k)
    tol = PCA_TOL[np.dtype(x.dtype)] * max(np.abs(expected).max(), 1.0)
    flat = np.abs(expected).max(axis=0) <= tol
    signs = np.where(flat, 1.0, np.sign((scores * expected).sum(axis=0)))
    assert np.all(signs != 0)
    np.testing.assert_allclose(scores * signs, expected, rtol=0, atol=tol)
    return ratio


# ------------------------------------------------------------------ pca
@pytest.mark.parametrize("n, d", [(2, 2), (3, 7), (7, 3), (13, 13), (31, 5), (5, 97),
                                  (300, 40), (40, 300)])
@pytest.mark.parametrize("k", [1, 2])
def test_pca_matches_numpy_svd(n, d, k, dtype):
    x = spectrum_data(np.random.default_rng(n * 1000 + d), n, d, dtype)
    scores, ratio = pca(x, k)
    assert scores.dtype == dtype and scores.shape == (n, k)
    expected_ratio = assert_scores_match(scores, x, k)
    np.testing.assert_allclose(ratio, expected_ratio, rtol=PCA_TOL[np.dtype(dtype)],
                               atol=PCA_TOL[np.dtype(dtype)])


@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 60), d=st.integers(2, 60), k=st.integers(1, 3),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2 ** 16),
       view=st.sampled_from(["contiguous", "transposed", "strided"]))
def test_pca_property(n, d, k, dtype, seed, view):
    rng = np.random.default_rng(seed)
    if view == "transposed":                 # a Fortran-ordered view of the same rows
        x = np.asfortranarray(spectrum_data(rng, n, d, dtype))
        assert not x.flags.c_contiguous or min(n, d) == 1
    elif view == "strided":                  # every other row and column of a bigger array
        big = np.zeros((2 * n, 2 * d), dtype)
        big[::2, ::2] = spectrum_data(rng, n, d, dtype)
        x = big[::2, ::2]
    else:
        x = spectrum_data(rng, n, d, dtype)
    k = min(k, n - 1, d)
    scores, ratio = pca(x, k)
    assert_scores_match(scores, x, k)
    assert np.all(ratio >= 0) and ratio.sum() <= 1 + 1e-6
    assert np.all(np.diff(ratio) <= 1e-6)                      # largest variance first
    peak = scores[np.abs(scores).argmax(axis=0), np.arange(k)]  # the sign convention
    assert np.all(peak > 0)


def test_pca_goes_through_the_compiled_gemm(monkeypatch):
    calls = []
    gemm = ops.gemm

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return gemm(*args, **kwargs)

    monkeypatch.setattr(ops, "gemm", spy)
    rng = np.random.default_rng(0)
    pca(spectrum_data(rng, 20, 5, np.float64))       # covariance (5 x 5)
    pca(spectrum_data(rng, 5, 20, np.float64))       # Gram matrix (5 x 5)
    assert {"trans_a": True} in calls and {"trans_b": True} in calls


def test_pca_edge_cases():
    x = np.ones((6, 4))                              # no variance at all
    scores, ratio = pca(x, 2)
    assert np.all(scores == 0) and np.all(ratio == 0)
    scores, ratio = pca(np.array([[1.0, 2.0]]), 1)   # one vector
    assert scores.shape == (1, 1) and scores[0, 0] == 0
    ints = np.arange(12).reshape(4, 3) ** 2          # integers become float64
    assert pca(ints, 2)[0].dtype == np.float64
    assert_scores_match(pca(ints, 2)[0], ints.astype(np.float64), 2)


@pytest.mark.parametrize("vectors, k, error, match", [
    (np.zeros(5), 2, ValueError, r"2-D .*\(5,\)"),
    (np.zeros((2, 3, 4)), 2, ValueError, r"2-D .*\(2, 3, 4\)"),
    (np.zeros((0, 4)), 2, ValueError, r"empty; .*\(0, 4\)"),
    (np.zeros((3, 0)), 1, ValueError, r"empty; .*\(3, 0\)"),
    (np.array([[1.0, np.nan], [0.0, 1.0]]), 1, ValueError, "NaN"),
    (np.array([[1.0, np.inf], [0.0, 1.0]]), 1, ValueError, "infinity"),
    (np.array([["a", "b"], ["c", "d"]]), 1, TypeError, "real numbers"),
    (np.ones((3, 3), complex), 1, TypeError, "complex"),
    (np.ones((5, 3)), 4, ValueError, r"\[1, 3\] .*received: 4"),
    (np.ones((2, 9)), 3, ValueError, r"\[1, 2\]"),
    (np.ones((5, 3)), 0, ValueError, "received: 0"),
    (np.ones((5, 3)), 1.0, ValueError, "received: 1.0"),
    (np.ones((5, 3)), True, ValueError, "received: True"),
])
def test_pca_bad_input(vectors, k, error, match):
    with pytest.raises(error, match=match):
        pca(vectors, k)


# ------------------------------------------------------------------ t-SNE
def blobs(rng, clusters=4, per=25, d=30, spread=1.0, gap=10.0):
    centres = rng.standard_normal((clusters, d)) * gap
    labels = np.repeat(np.arange(clusters), per)
    return centres[labels] + rng.standard_normal((clusters * per, d)) * spread, labels


@pytest.mark.parametrize("n, perplexity", [(3, 1.5), (20, 5.0), (60, 12.0), (150, 30.0)])
def test_neighbour_probabilities_reach_the_perplexity(n, perplexity):
    x = np.random.default_rng(n).standard_normal((n, 6)) * 3
    d = ((x[:, None, :] - x[None, :, :]) ** 2).sum(axis=-1)
    p = neighbour_probabilities(d, perplexity)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-12)
    assert np.all(np.diag(p) == 0) and np.all(p >= 0)
    q = np.where(p > 0, p, 1.0)
    entropy = -(p * np.log(q)).sum(axis=1)
    np.testing.assert_allclose(np.exp(entropy), perplexity, rtol=1e-5)
    for i in (0, n // 2, n - 1):                     # a Gaussian kernel: log p affine in d
        off = np.arange(n) != i
        slope, _ = np.polyfit(d[i, off], np.log(p[i, off]), 1)
        np.testing.assert_allclose(np.log(p[i, off]) - slope * d[i, off],
                                   np.log(p[i, off][0]) - slope * d[i, off][0], atol=1e-8)
        assert slope < 0


def kl_by_definition(p, y):
    n = len(y)
    w = np.array([[0.0 if i == j else 1.0 / (1.0 + np.sum((y[i] - y[j]) ** 2))
                   for j in range(n)] for i in range(n)])
    q = w / w.sum()
    return sum(p[i, j] * np.log(p[i, j] / q[i, j]) for i in range(n) for j in range(n)
               if p[i, j] > 0)


@pytest.mark.parametrize("n, k", [(2, 1), (7, 2), (12, 3)])
def test_kl_gradient_by_finite_differences(n, k):
    rng = np.random.default_rng(n)
    p = rng.random((n, n))
    p = p + p.T
    np.fill_diagonal(p, 0.0)
    p /= p.sum()
    y = rng.standard_normal((n, k))
    grad = kl_gradient(p, y)
    assert kl_divergence(p, y) == pytest.approx(kl_by_definition(p, y), rel=1e-12)
    numeric = central_differences(lambda z: kl_divergence(p, z), y)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tsne_separates_planted_clusters(dtype):
    x, labels = blobs(np.random.default_rng(0))
    y = tsne(x.astype(dtype), perplexity=15)
    assert y.shape == (100, 2) and y.dtype == np.float64
    np.testing.assert_allclose(y.mean(axis=0), 0, atol=1e-9)
    d = ((y[:, None, :] - y[None, :, :]) ** 2).sum(axis=-1)
    np.fill_diagonal(d, np.inf)
    assert np.all(labels[d.argmin(axis=1)] == labels)        # every nearest neighbour
    centres = np.array([y[labels == c].mean(axis=0) for c in range(4)])
    radius = max(np.linalg.norm(y[labels == c] - centres[c], axis=1).max() for c in range(4))
    gaps = np.linalg.norm(centres[:, None] - centres[None, :], axis=-1)[np.triu_indices(4, 1)]
    assert gaps.min() > 2 * radius                           # clusters apart, not touching
    np.testing.assert_array_equal(tsne(x.astype(dtype), perplexity=15), y)   # no randomness


def test_tsne_goes_through_the_compiled_gemm(monkeypatch):
    calls = []
    gemm = ops.gemm
    monkeypatch.setattr(ops, "gemm", lambda *a, **kw: calls.append(kw) or gemm(*a, **kw))
    tsne(np.random.default_rng(0).standard_normal((10, 4)), n_iter=3)
    assert len(calls) >= 3 * 2      # distances and the gradient's product at every step


@pytest.mark.parametrize("n, d, k", [(2, 2, 2), (3, 5, 1), (5, 3, 3), (40, 8, 2)])
def test_tsne_small_shapes(n, d, k):
    x = np.random.default_rng(n).standard_normal((n, d))
    y = tsne(x, k, n_iter=300)
    assert y.shape == (n, k) and np.isfinite(y).all()


def test_tsne_equal_and_nearly_equal_rows():
    x = np.vstack([np.ones((10, 3)), np.zeros((10, 3))])
    assert np.isfinite(tsne(x, n_iter=300, perplexity=5)).all()    # no NaN from equal rows
    x += np.random.default_rng(0).standard_normal(x.shape) * 0.01
    y = tsne(x, perplexity=5)
    gap = np.linalg.norm(y[:10].mean(axis=0) - y[10:].mean(axis=0))
    assert max(np.ptp(y[:10], axis=0).max(), np.ptp(y[10:], axis=0).max()) < gap / 2


@pytest.mark.parametrize("kwargs, error, match", [
    ({"vectors": np.ones((1, 3))}, ValueError, r"at least 2 vectors; received shape \(1, 3\)"),
    ({"vectors": np.ones((4, 3)), "n_components": 4}, ValueError, r"\[1, 3\] .*received: 4"),
    ({"vectors": np.ones((4, 3)), "n_components": 0}, ValueError, "received: 0"),
    ({"vectors": np.ones((4, 3)), "perplexity": 0}, ValueError, "perplexity .*received: 0"),
    ({"vectors": np.ones((4, 3)), "perplexity": np.nan}, ValueError, "received: nan"),
    ({"vectors": np.ones((4, 3)), "perplexity": "5"}, ValueError, "received: '5'"),
    ({"vectors": np.ones((4, 3)), "n_iter": 0}, ValueError, "n_iter .*received: 0"),
    ({"vectors": np.ones((4, 3)), "n_iter": 2.5}, ValueError, "received: 2.5"),
    ({"vectors": np.ones(4)}, ValueError, r"2-D .*\(4,\)"),
    ({"vectors": [[1, np.nan], [0, 1]]}, ValueError, "NaN"),
])
def test_tsne_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        tsne(**kwargs)
