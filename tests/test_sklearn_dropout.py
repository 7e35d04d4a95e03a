"""MLPClassifier/MLPRegressor(dropout=...): checked parameters, the compiled epochs against
a NumPy epoch with the same masks, dropout off wherever the estimator predicts or scores,
dropout=0 bitwise the estimator without it, masks that go on across partial_fit, warm_start
and pickling, and the regularisation it is for."""
import pickle
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")
import scipy.sparse as sp  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import make_classification  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.metrics import log_loss  # noqa: E402
from sklearn.utils.estimator_checks import check_estimator  # noqa: E402

import fastnn  # noqa: E402
from fastnn import _training  # noqa: E402
from fastnn import reference as R  # noqa: E402
from fastnn.sklearn import MLPClassifier, MLPRegressor  # noqa: E402
from _helpers import NUMPY_TRAINING_TOL, assert_close, estimator_data  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _cls(kind):
    return MLPRegressor if kind in ("regression", "multioutput") else MLPClassifier


@pytest.fixture
def python_loop_forbidden(monkeypatch):
    """Fail any fit that would leave the compiled epochs for the Python loop."""
    def refuse(*args, **kwargs):
        raise AssertionError("the Python epoch ran: dropout must run in the compiled epochs")

    monkeypatch.setattr(_training, "python_runner", refuse)


@pytest.fixture
def networks(monkeypatch):
    """The networks the estimators train, each with copies of its weights as they were
    before training, recorded as ``(network, weights, biases)``."""
    seen = []
    build = MLPClassifier._training_network

    def record(self, rng):
        network = build(self, rng)
        seen.append((network, [c.copy() for c in self.coefs_],
                     [b.copy() for b in self.intercepts_]))
        return network

    monkeypatch.setattr(MLPClassifier, "_training_network", record)
    return seen


# ------------------------------------------------------------------ the parameter
@pytest.mark.parametrize("dropout", [0.0, 0, [0.0, 0.0], (0, 0.0), np.zeros(2)])
@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_dropout_zero_is_bitwise_the_estimator_without_it(dropout, solver):
    X, y = estimator_data("multiclass", n=90)
    w = np.random.default_rng(0).random(len(y))
    params = dict(hidden_layer_sizes=(7, 5), solver=solver, max_iter=4, random_state=3,
                  class_weight="balanced")
    plain = MLPClassifier(**params).fit(X, y, sample_weight=w)
    dropped = MLPClassifier(dropout=dropout, **params).fit(X, y, sample_weight=w)
    assert dropped.loss_ == plain.loss_
    if solver != "lbfgs":  # (lbfgs keeps no loss_curve_, as scikit-learn's)
        assert dropped.loss_curve_ == plain.loss_curve_
    for a, b in zip(dropped.coefs_ + dropped.intercepts_, plain.coefs_ + plain.intercepts_):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dropout,match", [
    (-0.1, r"dropout must hold real numbers in \[0, 1\); received: dropout=-0.1"),
    (1.0, r"dropout must hold real numbers in \[0, 1\)"),
    (float("nan"), r"dropout must hold real numbers in \[0, 1\)"),
    ([0.1, 1.5], r"dropout must hold real numbers in \[0, 1\); received: dropout=\[0.1, 1.5\]"),
    ([0.1], r"dropout must have one rate per hidden layer \(2\); received 1"),
    ((0.1, 0.2, 0.3), r"dropout must have one rate per hidden layer \(2\); received 3"),
    ("0.5", "dropout must be a real number in \\[0, 1\\) or a sequence"),
    (None, "dropout must be a real number in \\[0, 1\\) or a sequence"),
    (True, "dropout must be a real number in \\[0, 1\\) or a sequence"),
    ([0.1, "x"], r"dropout must hold real numbers"),
])
@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
def test_bad_dropout_is_refused_at_fit(cls, dropout, match):
    X, y = estimator_data("regression" if cls is MLPRegressor else "binary", n=30)
    est = cls(hidden_layer_sizes=(4, 3), dropout=dropout, max_iter=2)
    with pytest.raises(ValueError, match=match):
        est.fit(X, y)
    assert not hasattr(est, "coefs_")


def test_lbfgs_refuses_dropout():
    X, y = estimator_data("multiclass", n=30)
    with pytest.raises(ValueError, match="dropout is not supported by solver='lbfgs'.*"
                                         "breaks L-BFGS's line search"):
        MLPClassifier(solver="lbfgs", dropout=[0.0, 0.2], hidden_layer_sizes=(4, 3)).fit(X, y)


def test_dropout_is_a_parameter_like_the_others():
    est = MLPClassifier(dropout=[0.1, 0.2], hidden_layer_sizes=(4, 3))
    assert est.get_params()["dropout"] == [0.1, 0.2]
    assert MLPRegressor().get_params()["dropout"] == 0.0
    assert clone(est).dropout == [0.1, 0.2]
    assert est.set_params(dropout=0.3).dropout == 0.3


@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
def test_check_estimator_with_dropout(cls):
    """Every check but the two of sample-weight equivalence: a sample of weight k is not
    k repeated samples under dropout (each repeat draws its own mask)."""
    reason = "dropout draws one mask per row: repeated rows get different masks"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check_estimator(cls(max_iter=30, random_state=0, dropout=0.2), expected_failed_checks={
            f"check_sample_weight_equivalence_on_{kind}_data": reason
            for kind in ("dense", "sparse")})


# -------------------------------------------------------------- the compiled epochs
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
@pytest.mark.parametrize("batch_size", [1, 13, 60])
def test_sgd_epoch_equals_numpy_epoch(dtype, p, batch_size, networks, python_loop_forbidden):
    """One SGD epoch (no momentum, alpha 0, no shuffling) against
    reference.mlp_train_epoch with the dropout layers' seeds: the same weights."""
    X, y = estimator_data("multiclass", n=60, d=6)
    X = X.astype(dtype)
    est = MLPClassifier(hidden_layer_sizes=(9, 7), solver="sgd", momentum=0.0, alpha=0.0,
                        learning_rate_init=0.05, batch_size=batch_size, shuffle=False,
                        max_iter=1, dropout=[p, p / 3], random_state=1).fit(X, y)
    network, Ws, bs = networks[-1]
    drops = [layer for layer in network.layers if isinstance(layer, fastnn.Dropout)]
    assert [d.p for d in drops] == [p, p / 3]
    assert _training.compiled_layers(network) is not None
    labels = np.searchsorted(est.classes_, y)
    R.mlp_train_epoch(Ws, bs, X, labels, np.arange(60), lr=0.05, batch_size=batch_size,
                      dropout_rates=[p, p / 3], seeds=[d.key for d in drops])
    for coef, W in zip(est.coefs_ + est.intercepts_, Ws + bs):
        assert_close(coef, W, dtype, tol=NUMPY_TRAINING_TOL)
    assert all(d.step == -(-60 // batch_size) for d in drops)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize("kind", ["multiclass", "binary", "multilabel", "regression",
                                  "multioutput"])
@pytest.mark.parametrize("sparse", [False, True])
def test_dropout_trains_compiled_with_every_target_and_input(solver, kind, sparse,
                                                             python_loop_forbidden):
    X, y = estimator_data(kind, n=80)
    w = np.random.default_rng(1).random(80)
    X = sp.csr_matrix(np.where(np.abs(X) > 0.7, X, 0)) if sparse else X
    params = dict(hidden_layer_sizes=(8, 6), solver=solver, max_iter=3, random_state=0)
    if kind == "multiclass":
        params["class_weight"] = {0: 2.0}
    est = _cls(kind)(dropout=(0.3, 0.1), **params).fit(X, y, sample_weight=w)
    plain = _cls(kind)(**params).fit(X, y, sample_weight=w)
    assert len(est.loss_curve_) == 3 and np.isfinite(est.loss_curve_).all()
    assert not np.array_equal(est.coefs_[0], plain.coefs_[0])
    est.partial_fit(X, y, sample_weight=w)
    assert len(est.loss_curve_) == 4


def test_partial_fit_and_warm_start_with_dropout(python_loop_forbidden):
    X, y = estimator_data("multiclass", n=60)
    est = MLPClassifier(hidden_layer_sizes=(6,), dropout=0.4, random_state=0)
    for _ in range(3):
        est.partial_fit(X, y, classes=[0, 1, 2])
    assert len(est.loss_curve_) == 3
    est.set_params(warm_start=True, max_iter=2, dropout=0.0).fit(X, y)
    est.set_params(dropout=0.6).fit(X, y)
    assert len(est.loss_curve_) == 7


def _same_fit(a, b):
    assert a.loss_curve_ == b.loss_curve_
    for x, y in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_array_equal(x, y)
    assert [(d.key, d.step) for d in a._dropouts] == [(d.key, d.step) for d in b._dropouts]


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_partial_fit_and_warm_start_go_on_with_the_masks_of_one_fit(solver,
                                                                    python_loop_forbidden):
    """Three partial_fit calls (and, for SGD without momentum, three warm-started fits of
    one epoch) train bitwise as one fit of three epochs: each call's masks go on from the
    previous call's step instead of drawing the first call's masks again."""
    X, y = estimator_data("multiclass", n=60)
    params = dict(hidden_layer_sizes=(8, 6), dropout=(0.3, 0.2), solver=solver, momentum=0.0,
                  batch_size=16, shuffle=False, random_state=0, learning_rate_init=0.05)
    whole = MLPClassifier(max_iter=3, **params).fit(X, y)
    assert [d.step for d in whole._dropouts] == [3 * 4, 3 * 4]
    parts = MLPClassifier(**params)
    for _ in range(3):
        parts.partial_fit(X, y, classes=[0, 1, 2])
    _same_fit(parts, whole)
    if solver == "sgd":  # (a warm start builds a new optimizer: Adam's moments start again)
        warm = MLPClassifier(max_iter=1, warm_start=True, **params)
        for _ in range(3):
            warm.fit(X, y)
        _same_fit(warm, whole)


@pytest.mark.parametrize("path", ["partial_fit", "warm_start"])
@pytest.mark.parametrize("random_state", [0, "generator"])
@pytest.mark.parametrize("kind", ["multiclass", "regression"])
def test_pickled_estimator_with_dropout_trains_on_bitwise(path, random_state, kind,
                                                          python_loop_forbidden):
    """Pickled and unpickled between two calls of partial_fit or of a warm-started fit,
    an estimator with dropout trains on bitwise as the one that stayed in memory."""
    X, y = estimator_data(kind, n=70)
    runs = []
    for pickled in (False, True):
        state = np.random.RandomState(4) if random_state == "generator" else random_state
        est = _cls(kind)(hidden_layer_sizes=(9, 5), dropout=[0.2, 0.5], max_iter=2,
                         batch_size=20, random_state=state, warm_start=path == "warm_start")
        extra = {"classes": [0, 1, 2]} if kind == "multiclass" and path == "partial_fit" else {}
        for call in range(3):
            if pickled and call == 1:
                est = pickle.loads(pickle.dumps(est))
            if path == "partial_fit":
                est.partial_fit(X, y, **extra)
            else:
                est.fit(X, y)
        runs.append(est)
    _same_fit(*runs)


# ------------------------------------------------------------ off when predicting
def test_dropout_is_off_at_predict_and_score():
    X, y = estimator_data("multiclass", n=60)
    est = MLPClassifier(hidden_layer_sizes=(10,), dropout=0.5, max_iter=5,
                        random_state=0).fit(X, y)
    hidden = np.maximum(X @ est.coefs_[0] + est.intercepts_[0], 0)
    expected = R.softmax(hidden @ est.coefs_[1] + est.intercepts_[1])
    assert_close(est.predict_proba(X), expected, np.float64)
    np.testing.assert_array_equal(est.predict_proba(X), est.predict_proba(X))
    assert est.score(X, y) == est.score(X, y)


def test_early_stopping_scores_without_dropout(monkeypatch):
    """The best validation score is the score of the restored best weights on the
    validation split: computed from the weights alone, no mask involved."""
    X, y = estimator_data("multiclass", n=200)
    calls = []
    score = MLPClassifier._validation_score

    def spy(self, X_val, y_val, w_val):
        calls.append((X_val, y_val, w_val))
        return score(self, X_val, y_val, w_val)

    monkeypatch.setattr(MLPClassifier, "_validation_score", spy)
    est = MLPClassifier(hidden_layer_sizes=(20,), dropout=0.5, early_stopping=True,
                        max_iter=30, random_state=0).fit(X, y)
    assert len(calls) == len(est.validation_scores_) > 1
    assert score(est, *calls[-1]) == est.best_validation_score_


# ---------------------------------------------------------------- what it is for
def test_dropout_regularises():
    """200 noisy samples, 40 features, (128,) hidden units, 100 epochs: without dropout
    the network memorises the training set; dropout 0.5 shrinks the train/test gap of
    the log-loss and lowers the test log-loss (three seeds averaged)."""
    X, y = make_classification(n_samples=1200, n_features=40, n_informative=6, flip_y=0.25,
                               random_state=0)
    (Xtr, ytr), (Xte, yte) = (X[:200], y[:200]), (X[200:], y[200:])
    results = {}
    for rate in (0.0, 0.5):
        losses = []
        for seed in range(3):
            est = MLPClassifier(hidden_layer_sizes=(128,), max_iter=100, alpha=0.0,
                                batch_size=50, random_state=seed, dropout=rate).fit(Xtr, ytr)
            losses.append((log_loss(ytr, est.predict_proba(Xtr)),
                           log_loss(yte, est.predict_proba(Xte))))
        results[rate] = np.mean(losses, axis=0)
    gap = {rate: test - train for rate, (train, test) in results.items()}
    assert gap[0.5] < 0.85 * gap[0.0]
    assert results[0.5][1] < results[0.0][1]
