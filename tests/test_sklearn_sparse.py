"""fastnn.sklearn on SciPy sparse X (CSR/CSC, matrices and arrays): fit, partial_fit,
predict, predict_proba and score give what the same data gives dense, without
densifying X; bad sparse input gets an error, never a crash."""
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")
sp = pytest.importorskip("scipy.sparse")
from sklearn.exceptions import ConvergenceWarning  # noqa: E402

from fastnn.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

from _helpers import forbid_densifying  # noqa: E402

KINDS = {"csr_matrix": sp.csr_matrix, "csr_array": sp.csr_array, "csc_matrix": sp.csc_matrix,
         "csc_array": sp.csc_array}


def tfidf_like(n=240, d=300, per_row=8, seed=0, dtype=np.float32):
    """Non-negative sparse rows (a few terms each) and labels that depend on them."""
    rng = np.random.default_rng(seed)
    rows = np.repeat(np.arange(n), per_row)
    cols = rng.integers(0, d, n * per_row)
    X = sp.csr_matrix((rng.random(n * per_row), (rows, cols)), shape=(n, d)).astype(dtype)
    y = np.asarray(X @ rng.standard_normal((d, 3))).argmax(axis=1)
    return X, y


SETTINGS = dict(hidden_layer_sizes=(16,), max_iter=5, random_state=0, batch_size=32,
                learning_rate_init=1e-2)


def fitted(cls, X, y, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return cls(**SETTINGS, **kw).fit(X, y)


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
def test_sparse_equals_dense_without_densifying(kind, cls, monkeypatch):
    X, y = tfidf_like()
    target = y if cls is MLPClassifier else y.astype(np.float64)
    dense = fitted(cls, X.toarray(), target)
    Xs = KINDS[kind](X)
    forbid_densifying(monkeypatch)
    est = fitted(cls, Xs, target)
    np.testing.assert_allclose(est.loss_curve_, dense.loss_curve_, rtol=1e-4)
    for a, b in zip(est.coefs_ + est.intercepts_, dense.coefs_ + dense.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)
    monkeypatch.undo()
    np.testing.assert_allclose(est.predict(Xs), dense.predict(X.toarray()), rtol=1e-4, atol=1e-5)
    assert abs(est.score(Xs, target) - dense.score(X.toarray(), target)) < 1e-3
    if cls is MLPClassifier:
        np.testing.assert_allclose(est.predict_proba(Xs), dense.predict_proba(X.toarray()),
                                   rtol=1e-3, atol=1e-5)


def test_partial_fit_and_early_stopping_on_sparse(monkeypatch):
    X, y = tfidf_like(seed=1)
    forbid_densifying(monkeypatch)
    est = MLPClassifier(**SETTINGS)
    for _ in range(3):
        est.partial_fit(X, y, classes=np.unique(y))
    assert len(est.loss_curve_) == 3 and est.loss_curve_[-1] < est.loss_curve_[0]
    stopped = fitted(MLPClassifier, X.tocsc(), y, early_stopping=True)
    assert len(stopped.validation_scores_) == stopped.n_iter_


def test_float64_sparse_input_and_int64_indices():
    X, y = tfidf_like(seed=2, dtype=np.float64)
    wide = X.copy()
    wide.indices, wide.indptr = X.indices.astype(np.int64), X.indptr.astype(np.int64)
    a, b = fitted(MLPClassifier, X, y), fitted(MLPClassifier, wide, y)
    assert a.predict_proba(X).dtype == np.float64
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(wide))
    assert a.loss_curve_ == b.loss_curve_


def test_unsorted_duplicate_and_explicit_zero_entries():
    """Each gives the answer of the dense matrix it stands for (duplicates add up)."""
    X, y = tfidf_like(seed=3)
    odd = X.copy()
    odd.data[::5] = 0                                                # explicit zeros
    for r in range(0, odd.shape[0], 4):                              # unsorted rows
        lo, hi = odd.indptr[r], odd.indptr[r + 1]
        odd.indices[lo:hi], odd.data[lo:hi] = odd.indices[lo:hi][::-1].copy(), odd.data[lo:hi][::-1].copy()
    odd.has_sorted_indices = False
    dup = sp.csr_matrix((np.repeat(odd.data, 2) / 2, np.repeat(odd.indices, 2), odd.indptr * 2),
                        shape=odd.shape)                             # every entry twice, halved
    est = fitted(MLPClassifier, odd, y)
    dense = odd.toarray()
    np.testing.assert_allclose(est.predict_proba(odd), est.predict_proba(dense), rtol=1e-5)
    np.testing.assert_allclose(est.predict_proba(dup), est.predict_proba(dense), rtol=1e-5)


def test_bad_sparse_input_is_an_error():
    X, y = tfidf_like(seed=4)
    nan = X.copy()
    nan.data[3] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        MLPClassifier(**SETTINGS).fit(nan, y)
    est = fitted(MLPClassifier, X, y)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        est.predict(nan)
    with pytest.raises(ValueError, match="300 features"):
        est.predict(sp.csr_matrix((2, 301), dtype=np.float32))
    for bad in (X.shape[1], 2**31 + 5):
        wide = X.copy()
        wide.indices = wide.indices.astype(np.int64)
        wide.indptr = wide.indptr.astype(np.int64)
        wide.indices[7] = bad
        with pytest.raises(ValueError, match="indices"):
            MLPClassifier(**SETTINGS).fit(wide, y)
        with pytest.raises(ValueError, match="indices"):
            est.predict(wide)


@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
def test_lbfgs_on_sparse_equals_dense(cls, monkeypatch):
    """The full-batch loss and gradient of solver='lbfgs' read the CSR matrix in place."""
    X, y = tfidf_like(n=120, seed=5, dtype=np.float64)
    target = y if cls is MLPClassifier else y.astype(np.float64)
    kw = dict(solver="lbfgs", hidden_layer_sizes=(8,), max_iter=15, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        dense = cls(**kw).fit(X.toarray(), target)
        forbid_densifying(monkeypatch)
        est = cls(**kw).fit(X, target)
    np.testing.assert_allclose(est.loss_, dense.loss_, rtol=1e-6)
    for a, b in zip(est.coefs_, dense.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_sample_weight_on_sparse_equals_dense(solver):
    X, y = tfidf_like(n=150, seed=6, dtype=np.float64)
    weight = np.random.default_rng(6).random(150) * 2
    kw = dict(SETTINGS, solver=solver)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        dense = MLPClassifier(**kw).fit(X.toarray(), y, sample_weight=weight)
        est = MLPClassifier(**kw).fit(X, y, sample_weight=weight)
    np.testing.assert_allclose(est.loss_, dense.loss_, rtol=1e-6)
    if solver != "lbfgs":  # (lbfgs keeps no loss_curve_, as scikit-learn's)
        np.testing.assert_allclose(est.loss_curve_, dense.loss_curve_, rtol=1e-6)
    for a, b in zip(est.coefs_, dense.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-8)
