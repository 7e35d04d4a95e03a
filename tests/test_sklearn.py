"""fastnn.sklearn: scikit-learn's estimator checks, parity with sklearn.neural_network,
meta-estimators, stopping rule, partial_fit/warm_start, bad input."""
import os
import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")

import scipy.sparse as scipy_sparse  # noqa: E402
from sklearn import neural_network  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_breast_cancer  # noqa: E402
from sklearn.exceptions import ConvergenceWarning, NotFittedError  # noqa: E402
from sklearn.model_selection import GridSearchCV, train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import fastnn  # noqa: E402
from _helpers import estimator_data  # noqa: E402
from fastnn.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

no_convergence_warning = pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.ConvergenceWarning")


def test_import_fastnn_does_not_import_sklearn():
    src = os.path.dirname(os.path.dirname(fastnn.__file__))
    code = "import sys, fastnn; sys.exit('sklearn' in sys.modules)"
    env = dict(os.environ, PYTHONPATH=src)
    assert subprocess.run([sys.executable, "-c", code], env=env).returncode == 0


@no_convergence_warning
@parametrize_with_checks([MLPClassifier(max_iter=100, random_state=0),
                          MLPRegressor(max_iter=100, random_state=0)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


# ---------------------------------------------------------------- exact parity (float64)
def _data(kind, n=120, seed=0):
    return estimator_data(kind, n, seed=seed)


def _pair(kind):
    if kind in ("regression", "multioutput"):
        return MLPRegressor, neural_network.MLPRegressor
    return MLPClassifier, neural_network.MLPClassifier


KINDS = ["multiclass", "binary", "multilabel", "regression", "multioutput"]


@no_convergence_warning
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("activation", ["relu", "logistic", "tanh"])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_matches_sklearn_exactly(kind, activation, momentum):
    """Same initial weights and minibatches: SGD (with alpha, momentum and Nesterov) gives
    scikit-learn's weights to rounding, and scikit-learn's loss values."""
    X, y = _data(kind)
    params = dict(hidden_layer_sizes=(7, 4), activation=activation, solver="sgd", alpha=0.1,
                  batch_size=40, max_iter=5, shuffle=False, random_state=1,
                  learning_rate_init=0.05, momentum=momentum)
    ours_cls, theirs_cls = _pair(kind)
    ours = ours_cls(dtype="float64", **params).fit(X, y)
    theirs = theirs_cls(**params).fit(X, y)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)
    assert ours.n_iter_ == theirs.n_iter_ and ours.t_ == theirs.t_


@no_convergence_warning
@pytest.mark.parametrize("kind", KINDS)
def test_adam_matches_sklearn(kind):
    """Adam matches scikit-learn up to where epsilon is added (to the bias-corrected
    sqrt(v) here, to the raw one in scikit-learn): exact with a negligible epsilon."""
    X, y = _data(kind)
    params = dict(hidden_layer_sizes=(7,), alpha=0.01, batch_size=30, max_iter=4, shuffle=False,
                  random_state=3, learning_rate_init=0.01, epsilon=1e-30)
    ours_cls, theirs_cls = _pair(kind)
    ours = ours_cls(dtype="float64", **params).fit(X, y)
    theirs = theirs_cls(**params).fit(X, y)
    for a, b in zip(ours.coefs_, theirs.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)


@no_convergence_warning
def test_deep_networks_match_sklearn():
    """Seventeen hidden layers (36 parameters), beyond any fixed table of the compiled epoch."""
    X, y = _data("multiclass")
    params = dict(hidden_layer_sizes=(4,) * 17, activation="tanh", solver="sgd", batch_size=40,
                  max_iter=3, shuffle=False, random_state=1, learning_rate_init=0.05)
    ours = MLPClassifier(dtype="float64", **params).fit(X, y)
    theirs = neural_network.MLPClassifier(**params).fit(X, y)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize("kind", ["multiclass", "regression"])
def test_partial_fit_matches_sklearn(kind):
    X, y = _data(kind)
    params = dict(hidden_layer_sizes=(6,), solver="sgd", batch_size=20, shuffle=False,
                  random_state=0, learning_rate_init=0.1)
    ours_cls, theirs_cls = _pair(kind)
    ours, theirs = ours_cls(dtype="float64", **params), theirs_cls(**params)
    extra = {"classes": np.unique(y)} if kind == "multiclass" else {}
    for start in (0, 60, 0):
        ours.partial_fit(X[start:start + 60], y[start:start + 60], **extra)
        theirs.partial_fit(X[start:start + 60], y[start:start + 60], **extra)
    for a, b in zip(ours.coefs_, theirs.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-10)
    assert ours.n_iter_ == theirs.n_iter_ == 1 and len(ours.loss_curve_) == 3
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-6)


def _sklearn_epoch_losses(batches, n, alpha, regression):
    """scikit-learn's loss curve, by its arithmetic in NumPy (float64), from the minibatches
    ``(x, targets, sample weights or None, weights, intercepts)`` of each epoch as they
    start: per minibatch the (weighted) mean loss plus ``alpha / 2 * sum(W**2) / s_b``
    (``s_b`` the sum of its weights, else its rows), averaged over the epoch by rows."""
    curve = []
    for epoch in batches:
        total = 0.0
        for x, t, w, coefs, intercepts in epoch:
            a = x.astype(np.float64)
            for i, (W, b) in enumerate(zip(coefs, intercepts)):
                a = a @ W.astype(np.float64) + b
                if i < len(coefs) - 1:
                    a = np.maximum(a, 0.0)
            if regression:
                loss = 0.5 * np.average((t - a) ** 2, weights=w, axis=0).mean()
            else:
                a = a - a.max(axis=1, keepdims=True)
                log_p = a - np.log(np.exp(a).sum(axis=1, keepdims=True))
                loss = -np.average(log_p[np.arange(len(t)), t], weights=w)
            s_b = len(x) if w is None else w.sum(dtype=np.float64)
            sq = sum(np.dot(W.ravel().astype(np.float64), W.ravel().astype(np.float64))
                     for W in coefs)
            total += (loss + 0.5 * alpha * sq / s_b) * len(x)
        curve.append(total / n)
    return curve


@no_convergence_warning
@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("kind", ["multiclass", "regression"])
def test_loss_curve_l2_term_uses_the_weights_of_each_minibatch(solver, weighted, kind, dtype,
                                                                monkeypatch):
    """The compiled epochs' loss_curve_ is scikit-learn's arithmetic to rounding: each
    minibatch's L2 term from the weights as that minibatch starts (a strong alpha, so an
    interpolation over the epoch would be off by about 1e-3).  The reference reads the
    weights of each minibatch from the Python loop (the same training, step by step)."""
    X, y = _data(kind, n=100)
    X = X.astype(dtype)
    w = np.random.RandomState(5).uniform(0.2, 2.0, len(X)) if weighted else None
    params = dict(hidden_layer_sizes=(9, 5), solver=solver, alpha=2.0, batch_size=16,
                  max_iter=4, random_state=2, learning_rate_init=0.05 if solver == "sgd"
                  else 0.02)
    cls = MLPRegressor if kind == "regression" else MLPClassifier
    compiled = cls(**params).fit(X, y, sample_weight=w)

    epochs = []

    def record(model, xb, yb, loss, optimizer, sw=None):
        dense = [layer for layer in model.layers if isinstance(layer, fastnn.Dense)]
        if len(epochs) == 0 or sum(len(b[0]) for b in epochs[-1]) == len(X):
            epochs.append([])
        epochs[-1].append((xb, yb, None if sw is None else sw.astype(np.float64),
                           [d.weight.copy() for d in dense], [d.bias.copy() for d in dense]))
        return train_batch(model, xb, yb, loss, optimizer, sw)

    train_batch = fastnn.Sequential.train_batch
    monkeypatch.setattr(fastnn._training, "compiled_runner", lambda *args: None)
    monkeypatch.setattr(fastnn.Sequential, "train_batch", record)
    python = cls(**params).fit(X, y, sample_weight=w)
    expected = _sklearn_epoch_losses(epochs, len(X), params["alpha"], kind == "regression")
    rtol = 1e-12 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(python.loss_curve_, expected, rtol=rtol)
    np.testing.assert_allclose(compiled.loss_curve_, expected, rtol=rtol)


@pytest.mark.parametrize("learning_rate", ["invscaling", "adaptive"])
def test_stopping_rule_matches_sklearn(learning_rate):
    """tol / n_iter_no_change stop at the same epoch as scikit-learn, with the same
    learning-rate schedule (momentum 0, where the schedules coincide exactly)."""
    X, y = _data("multiclass")
    params = dict(hidden_layer_sizes=(5,), solver="sgd", momentum=0.0, batch_size=40,
                  shuffle=False, random_state=0, learning_rate=learning_rate,
                  learning_rate_init=0.2, tol=1e-2, n_iter_no_change=3, max_iter=500)
    ours = MLPClassifier(dtype="float64", **params).fit(X, y)
    theirs = neural_network.MLPClassifier(**params).fit(X, y)
    assert ours.n_iter_ == theirs.n_iter_ < 500
    np.testing.assert_allclose(ours.best_loss_, theirs.best_loss_, rtol=1e-4)


# ---------------------------------------------------------------- accuracy parity
def _accuracy_pair(X_train, X_test, y_train, y_test, seeds, **params):
    ours, theirs = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for seed in seeds:
            ours.append(MLPClassifier(random_state=seed, **params)
                        .fit(X_train, y_train).score(X_test, y_test))
            theirs.append(neural_network.MLPClassifier(random_state=seed, **params)
                          .fit(X_train, y_train).score(X_test, y_test))
    return np.mean(ours), np.mean(theirs)


def test_accuracy_parity_digits():
    X, y = fastnn.load_digits(dtype=np.float64)
    split = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    ours, theirs = _accuracy_pair(*split, seeds=range(3), max_iter=100)
    print(f"digits test accuracy: fastnn {ours:.4f}, scikit-learn {theirs:.4f}")
    assert ours > 0.95
    assert abs(ours - theirs) <= 0.01


def test_accuracy_parity_breast_cancer():
    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0,
                                                        stratify=y)
    scaler = StandardScaler().fit(X_train)
    ours, theirs = _accuracy_pair(scaler.transform(X_train), scaler.transform(X_test),
                                  y_train, y_test, seeds=range(3), max_iter=100)
    print(f"breast cancer test accuracy: fastnn {ours:.4f}, scikit-learn {theirs:.4f}")
    assert ours > 0.94
    assert abs(ours - theirs) <= 0.01


# ---------------------------------------------------------------- attributes
@no_convergence_warning
@pytest.mark.parametrize("kind, n_outputs, out_activation", [
    ("multiclass", 3, "softmax"), ("binary", 1, "logistic"), ("multilabel", 4, "logistic"),
    ("regression", 1, "identity"), ("multioutput", 3, "identity")])
def test_fitted_attributes(kind, n_outputs, out_activation):
    X, y = _data(kind)
    est = _pair(kind)[0](hidden_layer_sizes=(8, 6), max_iter=3, random_state=0).fit(
        X.astype(np.float32), y)
    assert [c.shape for c in est.coefs_] == [(5, 8), (8, 6), (6, n_outputs)]
    assert [b.shape for b in est.intercepts_] == [(8,), (6,), (n_outputs,)]
    assert all(c.dtype == np.float32 for c in est.coefs_ + est.intercepts_)
    assert est.n_layers_ == 4 and est.n_outputs_ == n_outputs
    assert est.out_activation_ == out_activation
    assert est.n_features_in_ == 5 and est.n_iter_ == 3 and est.t_ == 3 * len(X)
    assert len(est.loss_curve_) == 3 and est.best_loss_ == min(est.loss_curve_)
    assert est.loss_ == est.loss_curve_[-1]
    assert est.validation_scores_ is None and est.best_validation_score_ is None
    pred = est.predict(X)
    assert pred.shape == y.shape
    if kind in ("multiclass", "binary", "multilabel"):
        proba = est.predict_proba(X)
        assert proba.shape == (len(X), n_outputs if n_outputs > 1 else 2)
        if kind != "multilabel":
            np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
            np.testing.assert_array_equal(est.classes_[proba.argmax(axis=1)], pred)
        np.testing.assert_allclose(est.predict_log_proba(X), np.log(proba), rtol=1e-6)


def _visible(value):
    """What a user sees of a fitted attribute: its type, with dtype and shape for arrays
    and, for lists, their length and what their items are."""
    if isinstance(value, np.ndarray):
        return ("ndarray", value.dtype, value.shape)
    if isinstance(value, list):
        return ("list", len(value), sorted({repr(_visible(v)) for v in value}))
    return (type(value).__name__,)


def _fit_like(cls, kind, mode, X, y, **params):
    """Fit ``cls`` as ``mode`` says; its public fitted attributes (``vars`` ending in
    ``_``) as :func:`_visible` and the classes of the warnings raised."""
    est = cls(hidden_layer_sizes=(5,), random_state=0, max_iter=4,
              early_stopping=mode == "early_stopping", **params)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if mode == "partial_fit":
            classes = {} if kind in ("regression", "multioutput", "poisson") else {
                "classes": np.arange(y.shape[1]) if y.ndim == 2 else np.unique(y)}
            est.partial_fit(X, y, **classes)
            est.partial_fit(X, y)
        else:
            est.set_params(warm_start=mode == "warm_start").fit(X, y)
            if mode == "warm_start":
                est.fit(X, y)
    state = {k: _visible(v) for k, v in vars(est).items()
             if k.endswith("_") and not k.startswith("_")}
    return state, sorted({w.category.__name__ for w in caught})


@pytest.mark.parametrize("input_dtype", [np.float64, np.float32])
@pytest.mark.parametrize("solver, mode", [
    (solver, mode) for solver in ("sgd", "adam", "lbfgs")
    for mode in ("fit", "early_stopping", "warm_start", "partial_fit")
    if solver != "lbfgs" or mode in ("fit", "warm_start")])  # (lbfgs has no others)
@pytest.mark.parametrize("kind", KINDS + ["poisson"])
def test_fitted_attributes_are_sklearns(kind, solver, mode, input_dtype):
    """The same public fitted attributes as scikit-learn's estimator (names; types, e.g.
    NumPy floats for loss_ and loss_curve_; dtypes and shapes of arrays; lengths of
    lists; none of the stochastic solvers' for lbfgs) and the same warnings."""
    X, y = _data("regression" if kind == "poisson" else kind, n=60)
    params = {"solver": solver}
    if kind == "poisson":
        y, params["loss"] = np.random.RandomState(0).poisson(np.exp(X[:, 0] / 2)), "poisson"
    ours_cls, theirs_cls = ((MLPRegressor, neural_network.MLPRegressor)
                            if kind == "poisson" else _pair(kind))
    X = X.astype(input_dtype)
    ours = _fit_like(ours_cls, kind, mode, X, y, **params)
    theirs = _fit_like(theirs_cls, kind, mode, X, y, **params)
    assert ours == theirs


def test_multilabel_partial_fit_classes_are_label_columns():
    """scikit-learn reads partial_fit's ``classes`` for a multi-label y as the indices of
    its columns: the same error when they do not cover them, none when they do."""
    X, y = _data("multilabel")
    for classes in ([0, 1], list(range(y.shape[1]))):
        ours = _outcome(lambda: MLPClassifier(max_iter=2).partial_fit(X, y, classes=classes))
        theirs = _outcome(lambda: neural_network.MLPClassifier(max_iter=2).partial_fit(
            X, y, classes=classes))
        assert ours == theirs
    assert ours == [] and "not in `self.classes_`" in _outcome(
        lambda: MLPClassifier().partial_fit(X, y, classes=[0, 1]))[1]


@pytest.mark.parametrize("params", [{}, {"solver": "lbfgs"}, {"early_stopping": True}])
def test_tags_are_sklearns(params):
    """Every field of __sklearn_tags__ (MLPRegressor's multi_output too: False in
    scikit-learn although it fits several outputs)."""
    for ours, theirs in ((MLPClassifier, neural_network.MLPClassifier),
                         (MLPRegressor, neural_network.MLPRegressor)):
        assert ours(**params).__sklearn_tags__() == theirs(**params).__sklearn_tags__()
    assert MLPRegressor(loss="poisson").__sklearn_tags__() == (
        neural_network.MLPRegressor(loss="poisson").__sklearn_tags__())


@no_convergence_warning
@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
@pytest.mark.parametrize("input_dtype, dtype, trained", [
    (np.float32, None, np.float32), (np.float64, None, np.float64),
    (np.int64, None, np.float64), (np.float64, "float32", np.float32),
    (np.float32, "float64", np.float64)])
def test_training_dtype(solver, input_dtype, dtype, trained):
    """dtype=None trains in the input's dtype (float32 stays float32, anything else
    float64, as scikit-learn; lbfgs ends in float64, as scikit-learn's); a dtype given
    trains in it; warm starts keep it."""
    if solver == "lbfgs" and dtype is None:
        trained = np.float64
    X, y = _data("multiclass")
    X = (X * 10).astype(input_dtype)
    est = MLPClassifier(max_iter=3, solver=solver, dtype=dtype, warm_start=True,
                        random_state=0).fit(X, y)
    assert all(p.dtype == trained for p in est.coefs_ + est.intercepts_)
    est.fit(X.astype(np.float64 if input_dtype == np.float32 else np.float32), y)
    assert all(p.dtype == trained for p in est.coefs_ + est.intercepts_)


def test_string_labels_and_dtype_float64():
    X, y = _data("multiclass")
    labels = np.array(["cat", "dog", "emu"])[y]
    est = MLPClassifier(max_iter=5, dtype="float64", random_state=0)
    with pytest.warns(ConvergenceWarning, match="Maximum iterations"):
        est.fit(X, labels)
    assert list(est.classes_) == ["cat", "dog", "emu"]
    assert set(est.predict(X)) <= set(est.classes_)
    assert est.coefs_[0].dtype == np.float64


@no_convergence_warning
def test_predictions_follow_the_input_dtype():
    """Trained in float32 (dtype="float32"); predictions in float32 for float32 X, else
    float64."""
    X, y = _data("multioutput")
    est = MLPRegressor(max_iter=3, random_state=0, dtype="float32").fit(X, y)
    assert est.coefs_[0].dtype == np.float32
    assert est.predict(X.astype(np.float32)).dtype == np.float32
    assert est.predict(X).dtype == est.predict(X.astype(np.int64)).dtype == np.float64
    np.testing.assert_allclose(est.predict(X.astype(np.float32)), est.predict(X), rtol=1e-4,
                               atol=1e-5)


@no_convergence_warning
@pytest.mark.parametrize("kind", ["multiclass", "regression"])
@pytest.mark.parametrize("sparse", [False, True])
def test_prediction_dtype_is_sklearns(kind, sparse):
    """Predictions come in the wider of the input's and the network's dtype, as
    scikit-learn's (a float64 network predicts float32 input in float64, from the float32
    values exactly: the same numbers as for that input cast to float64)."""
    X, y = _data(kind)
    pairs = []
    for fit_dtype in (np.float32, np.float64):
        ours = _pair(kind)[0](max_iter=3, random_state=0).fit(X.astype(fit_dtype), y)
        theirs = _pair(kind)[1](max_iter=3, random_state=0).fit(X.astype(fit_dtype), y)
        for pred_dtype in (np.float32, np.float64):
            Xp = X.astype(pred_dtype)
            Xp = scipy_sparse.csr_matrix(Xp) if sparse else Xp
            method = "predict" if kind == "regression" else "predict_proba"
            got, want = getattr(ours, method)(Xp), getattr(theirs, method)(Xp)
            pairs.append((got.dtype, want.dtype))
            if fit_dtype == np.float64 and pred_dtype == np.float32:
                exact = getattr(ours, method)(Xp.astype(np.float64))
                np.testing.assert_array_equal(got, exact)
    assert [a for a, _ in pairs] == [b for _, b in pairs] == [
        np.float32, np.float64, np.float64, np.float64]


def test_early_stopping():
    X, y = fastnn.load_digits()
    est = MLPClassifier(early_stopping=True, n_iter_no_change=3, max_iter=200,
                        validation_fraction=0.2, random_state=0).fit(X, y)
    assert est.n_iter_ < 200
    assert len(est.validation_scores_) == est.n_iter_
    assert est.best_validation_score_ == max(est.validation_scores_) > 0.9
    assert est.best_loss_ is None


class _SnapshotRegressor(MLPRegressor):
    """Records the weights each validation score was computed with."""

    def _validation_score(self, X, Y, sample_weight):
        score = super()._validation_score(X, Y, sample_weight)
        self.snapshots.append((score, [c.copy() for c in self.coefs_]))
        return score


def test_early_stopping_restores_the_best_weights():
    X, y = _data("regression", n=200)
    est = _SnapshotRegressor(early_stopping=True, max_iter=100, n_iter_no_change=2,
                             learning_rate_init=0.05, random_state=0)
    est.snapshots = []
    est.fit(X, y + X[:, 0])  # noisy target: the validation score peaks, then falls
    scores = [score for score, _ in est.snapshots]
    best = int(np.argmax(scores))
    assert best < len(scores) - 1
    assert est.best_validation_score_ == scores[best]
    for restored, snapshot in zip(est.coefs_, est.snapshots[best][1]):
        np.testing.assert_array_equal(restored, snapshot)


def test_verbose_prints_losses(capsys):
    X, y = _data("binary")
    est = MLPClassifier(max_iter=5, verbose=True, random_state=0, tol=10.0,
                        n_iter_no_change=1).fit(X, y)
    assert est.n_iter_ == 3
    out = capsys.readouterr().out
    assert "Iteration 1, loss = " in out and "Stopping." in out


# ---------------------------------------------------------------- warm_start, partial_fit
@no_convergence_warning
def test_warm_start_continues_training():
    X, y = _data("multiclass")
    est = MLPClassifier(max_iter=3, warm_start=True, random_state=0).fit(X, y)
    first = [c.copy() for c in est.coefs_]
    est.fit(X, y)
    assert est.n_iter_ == 3 and len(est.loss_curve_) == 6 and est.t_ == 6 * len(X)
    cold = MLPClassifier(max_iter=3, random_state=0).fit(X, y)
    np.testing.assert_array_equal(cold.coefs_[0], first[0])
    with pytest.raises(ValueError, match="same classes"):
        est.fit(X[y < 2], y[y < 2])
    for change in ({"hidden_layer_sizes": (50,)}, {"activation": "tanh"}, {"dtype": "float32"}):
        fitted = pickle.loads(pickle.dumps(est)).set_params(**change)
        with pytest.raises(ValueError, match=f"{next(iter(change))} changed"):
            fitted.fit(X, y)


def test_partial_fit_checks():
    X, y = _data("multiclass")
    est = MLPClassifier(random_state=0)
    with pytest.raises(ValueError, match="classes must be passed"):
        est.partial_fit(X, y)
    est.partial_fit(X[y == 0], y[y == 0], classes=[0, 1, 2])
    assert list(est.classes_) == [0, 1, 2] and est.n_iter_ == 1
    est.partial_fit(X, y)
    with pytest.raises(ValueError, match="has classes not in `self.classes_`"):
        est.partial_fit(X, y + 1)
    with pytest.raises(ValueError, match="early_stopping"):
        MLPRegressor(early_stopping=True).partial_fit(X, y)


def test_assigned_coefs_are_used():
    X, y = _data("regression")
    est = MLPRegressor(hidden_layer_sizes=(4,), max_iter=1, random_state=0)
    with pytest.warns(ConvergenceWarning):
        est.fit(X, y)
    est.coefs_ = [np.zeros_like(c) for c in est.coefs_]
    est.intercepts_ = [np.zeros_like(b) for b in est.intercepts_]
    np.testing.assert_array_equal(est.predict(X), 0)
    est.partial_fit(X, y)  # trains from the assigned weights
    assert est.coefs_[-1] is est._model.layers[-1].weight


# ---------------------------------------------------------------- meta-estimators
@no_convergence_warning
def test_pipeline():
    X, y = load_breast_cancer(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), MLPClassifier(max_iter=30, random_state=0)).fit(X, y)
    assert pipe.score(X, y) > 0.95
    assert pipe.predict_proba(X).shape == (len(X), 2)


@no_convergence_warning
def test_grid_search_in_two_processes():
    X, y = load_breast_cancer(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), MLPClassifier(max_iter=20, random_state=0))
    grid = GridSearchCV(pipe, {"mlpclassifier__alpha": [1e-4, 1e-1],
                               "mlpclassifier__hidden_layer_sizes": [(10,), (20,)]},
                        cv=3, n_jobs=2, error_score="raise")
    grid.fit(X, y)
    assert grid.best_score_ > 0.9
    assert np.isfinite(grid.cv_results_["mean_test_score"]).all()


@no_convergence_warning
def test_clone():
    X, y = _data("multiclass")
    est = MLPClassifier(hidden_layer_sizes=(9,), alpha=0.5, dtype="float64", max_iter=3).fit(X, y)
    twin = clone(est)
    assert twin.get_params() == est.get_params()
    assert not hasattr(twin, "coefs_")
    twin.fit(X, y)
    assert twin.coefs_[0] is not est.coefs_[0]


@no_convergence_warning
@pytest.mark.parametrize("cls, kind", [(MLPClassifier, "multilabel"),
                                       (MLPRegressor, "multioutput")])
def test_pickle_keeps_predictions_and_optimizer_state(cls, kind):
    X, y = _data(kind)
    est = cls(max_iter=2, random_state=0, shuffle=False).fit(X, y)
    copy = pickle.loads(pickle.dumps(est))
    predict = "predict_proba" if cls is MLPClassifier else "predict"
    np.testing.assert_array_equal(getattr(copy, predict)(X), getattr(est, predict)(X))
    est.partial_fit(X, y)
    copy.partial_fit(X, y)
    np.testing.assert_array_equal(copy.predict(X), est.predict(X))
    assert copy._optimizer.t == est._optimizer.t == 3  # one minibatch per epoch


@no_convergence_warning
@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic", "identity"])
@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize("kind", ["multiclass", "multilabel", "multioutput"])
def test_network_is_eligible_for_compiled_epochs(activation, solver, kind):
    """Everything Sequential.fit needs to run whole epochs in compiled code: Dense layers
    with fusable activations, a loss with compiled code, SGD/Adam over the parameters in order."""
    from fastnn import _training

    X, y = _data(kind)
    est = _pair(kind)[0](hidden_layer_sizes=(8, 4), activation=activation, solver=solver,
                         max_iter=1).fit(X, y)
    assert _training.compiled_layers(est._model) is not None
    assert est._loss.compiled_args() is not None
    assert type(est._optimizer) in (fastnn.SGD, fastnn.Adam)
    assert [id(p.value) for p in est._optimizer.params] == \
        [id(p.value) for p in est._model.parameters()]


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("params, match", [
    ({"solver": "newton"}, "solver"), ({"max_fun": 0}, "max_fun"),
    ({"activation": "softplus"}, "activation"), ({"hidden_layer_sizes": (10, 0)}, "hidden"),
    ({"alpha": -1.0}, "alpha"), ({"batch_size": 0}, "batch_size"), ({"max_iter": 0}, "max_iter"),
    ({"learning_rate_init": 0.0}, "learning_rate_init"), ({"momentum": 1.5}, "momentum"),
    ({"beta_1": 1.0}, "beta_1"), ({"validation_fraction": 1.0}, "validation_fraction"),
    ({"learning_rate": "optimal"}, "learning_rate"), ({"dtype": "float16"}, "dtype"),
    ({"dtype": "int32"}, "dtype"), ({"n_iter_no_change": -np.inf}, "n_iter_no_change"),
    ({"n_iter_no_change": 0}, "n_iter_no_change"), ({"epsilon": 0.0}, "epsilon")])
def test_invalid_parameters(params, match):
    X, y = _data("binary")
    with pytest.raises(ValueError, match=match):
        MLPClassifier(**params).fit(X, y)


def _outcome(call):
    """``(exception type name, message)`` of ``call()``, or its warnings' messages."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            call()
        except Exception as exc:
            return type(exc).__name__, str(exc)
    return [str(w.message) for w in caught if not issubclass(w.category, ConvergenceWarning)]


def _partial_fit_then(classes, y_next=None, classes_next=None):
    def run(cls, X, y):
        est = cls(random_state=0)
        if classes is not None:
            est.partial_fit(X, y, classes=classes)
        est.partial_fit(X, y if y_next is None else y_next(y), classes=classes_next)
    return run


@pytest.mark.parametrize("case", [
    *({name: value} for name, value in [
        ("alpha", -1), ("alpha", "x"), ("hidden_layer_sizes", (5, 0)), ("hidden_layer_sizes", 0),
        ("solver", "x"), ("batch_size", 0), ("batch_size", "x"), ("max_iter", 0),
        ("momentum", 2), ("learning_rate", "x"), ("validation_fraction", 1.0),
        ("n_iter_no_change", 0), ("n_iter_no_change", -np.inf), ("tol", -1), ("beta_1", 1),
        ("beta_2", -0.5), ("epsilon", 0), ("max_fun", 0), ("power_t", -1), ("shuffle", "x"),
        ("early_stopping", 3), ("warm_start", None), ("nesterovs_momentum", 1.0),
        ("activation", "x"), ("learning_rate_init", 0), ("random_state", "x"),
        ("verbose", "x")]),
    {"batch_size": 500},  # a warning
    _partial_fit_then(None), _partial_fit_then([0, 1, 2], classes_next=[0, 1, 2, 3]),
    _partial_fit_then([0, 1, 2], y_next=lambda y: y + 1),
    _partial_fit_then([0, 1], y_next=lambda y: y),
], ids=lambda case: repr(case) if isinstance(case, dict) else None)
def test_errors_and_warnings_are_sklearns(case):
    """Bad parameters (scikit-learn's own constraint checks: its InvalidParameterError,
    also a TypeError, and its message), partial_fit's class checks and the clipped
    batch_size warning read as scikit-learn's, word for word."""
    X, y = _data("multiclass")
    if isinstance(case, dict):
        params = {"max_iter": 2, **case}
        ours = _outcome(lambda: MLPClassifier(**params).fit(X, y))
        theirs = _outcome(lambda: neural_network.MLPClassifier(**params).fit(X, y))
    else:
        ours = _outcome(lambda: case(MLPClassifier, X, y))
        theirs = _outcome(lambda: case(neural_network.MLPClassifier, X, y))
    assert ours == theirs and ours


def test_regressor_loss_is_checked_as_sklearn_does():
    X, y = _data("regression")
    ours = _outcome(lambda: MLPRegressor(loss="huber").fit(X, y))
    assert ours == _outcome(lambda: neural_network.MLPRegressor(loss="huber").fit(X, y))
    assert _outcome(lambda: MLPClassifier(class_weight="x").fit(*_data("binary"))) == (
        "InvalidParameterError", "The 'class_weight' parameter of MLPClassifier must be an "
        "instance of 'dict', a str among {'balanced'} or None. Got 'x' instead.")


def test_bad_data():
    X, y = _data("multiclass")
    est = MLPClassifier(max_iter=2)
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        est.fit(bad, y)
    with pytest.raises(NotFittedError):
        est.predict(X)
    with pytest.raises(ValueError, match="Unknown label type"):
        est.fit(X, X[:, 0])
    with pytest.raises(ValueError):
        est.fit(X, y[:-1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    with pytest.raises(ValueError, match="features"):
        est.predict(X[:, :3])
    with pytest.raises(ValueError, match="NaN"):
        est.predict(bad)
    with pytest.raises(ValueError):
        MLPRegressor().fit(X, np.array(["a"] * len(X)))
