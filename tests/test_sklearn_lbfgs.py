"""The full-batch objective (compiled forward and backward without an update) and
``solver="lbfgs"`` of fastnn.sklearn, against the NumPy reference, finite differences
and scikit-learn."""
import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fastnn
from fastnn import reference
from fastnn._training import full_batch_gradient

from _helpers import TARGETS, PythonLoop, assert_close, estimator_data, mlp

ACTS = {"relu": fastnn.ReLU, "tanh": fastnn.Tanh, "sigmoid": fastnn.Sigmoid,
        "identity": fastnn.Identity}
LOSS_CLASSES = {"softmax_cross_entropy": fastnn.SoftmaxCrossEntropy, "mse": fastnn.MSE,
                "bce_with_logits": fastnn.BCEWithLogits, "poisson_nll": fastnn.PoissonNLL}


def _problem(n, sizes, loss, act, dtype, seed=0):
    rng = np.random.default_rng(seed)
    model = mlp(sizes, ACTS[act], dtype=dtype, seed=seed)
    X = rng.standard_normal((n, sizes[0])).astype(dtype)
    y = TARGETS[loss](rng, n, sizes[-1])
    y = y if y.dtype.kind in "iu" else y.astype(dtype)
    return model, X, y


def _check_against_reference(n, sizes, loss, act, dtype):
    model, X, y = _problem(n, sizes, loss, act, dtype)
    dense = model.layers[::2]
    expected, dWs, dbs = reference.mlp_loss_gradient(
        [d.weight.copy() for d in dense], [d.bias.copy() for d in dense], X, y,
        activation=act, loss=loss)
    total = full_batch_gradient(model, LOSS_CLASSES[loss](), X, y)()
    assert_close(total / n, expected, dtype, scale=0)
    for d, dW, db in zip(dense, dWs, dbs):
        assert_close(d.grad_weight, dW, dtype, scale=10)
        assert_close(d.grad_bias, db, dtype, scale=10)


@pytest.mark.parametrize("n", [1, 2, 7, 31, 257])
@pytest.mark.parametrize("sizes", [(5, 3), (9, 6, 4), (13, 17, 5, 3)])
@pytest.mark.parametrize("loss", sorted(LOSS_CLASSES))
@pytest.mark.parametrize("act", sorted(ACTS))
def test_full_batch_gradient_matches_reference(n, sizes, loss, act, dtype, on_each_isa):
    _check_against_reference(n, sizes, loss, act, dtype)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 300), width=st.integers(1, 40), depth=st.integers(1, 4),
       loss=st.sampled_from(sorted(LOSS_CLASSES)), act=st.sampled_from(sorted(ACTS)),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_full_batch_gradient_property(n, width, depth, loss, act, dtype):
    sizes = (width,) + (max(1, width // 2 + 1),) * (depth - 1) + (3,)
    _check_against_reference(n, sizes, loss, act, dtype)


@pytest.mark.parametrize("loss", sorted(LOSS_CLASSES))
def test_full_batch_gradient_finite_differences(loss):
    model, X, y = _problem(11, (4, 5, 3), loss, "tanh", np.float64, seed=3)
    evaluate = full_batch_gradient(model, LOSS_CLASSES[loss](), X, y)
    evaluate()
    for p in model.parameters():
        analytic, numeric = p.grad.copy(), np.empty_like(p.grad)
        for i in range(p.value.size):
            old = p.value.flat[i]
            p.value.flat[i] = old + 1e-6
            up = evaluate()
            p.value.flat[i] = old - 1e-6
            down = evaluate()
            p.value.flat[i] = old
            numeric.flat[i] = (up - down) / (2e-6 * len(X))
        np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-7)


def test_full_batch_gradient_python_fallback_agrees():
    """A network the compiled epoch does not run (PythonLoop inside) takes
    the Python forward/backward and gives the same numbers."""
    model, X, y = _problem(20, (6, 5, 3), "softmax_cross_entropy", "relu", np.float64)
    other = fastnn.Sequential(model.layers[:2] + [PythonLoop()] + model.layers[2:])
    compiled = full_batch_gradient(model, fastnn.SoftmaxCrossEntropy(), X, y)()
    grads = [p.grad.copy() for p in model.parameters()]
    python = full_batch_gradient(other, fastnn.SoftmaxCrossEntropy(), X, y)()
    assert_close(python, compiled, np.float64, scale=0)
    for p, g in zip(model.parameters(), grads):
        assert_close(p.grad, g, np.float64)


def test_full_batch_gradient_threads_bitwise():
    model, X, y = _problem(500, (30, 40, 4), "softmax_cross_entropy", "relu", np.float32)
    evaluate = full_batch_gradient(model, fastnn.SoftmaxCrossEntropy(), X, y)
    results = []
    for threads in (1, 2):
        with fastnn.set_num_threads(threads):
            total = evaluate()
        results.append((total, [p.grad.copy() for p in model.parameters()]))
    assert results[0][0] == results[1][0]
    for a, b in zip(results[0][1], results[1][1]):
        np.testing.assert_array_equal(a, b)


def test_loss_gradient_needs_a_full_batch_plan():
    model, X, y = _problem(10, (3, 2), "mse", "relu", np.float64)
    from fastnn._training import _train_plan, compiled_layers
    plan = _train_plan(compiled_layers(model), fastnn.MSE().compiled_args(), X, y, 4)
    with pytest.raises(ValueError, match="batch covers X"):
        plan.loss_gradient()


# ------------------------------------------------------------------ the estimators
sklearn = pytest.importorskip("sklearn")
from sklearn import neural_network  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402

from fastnn.sklearn import MLPClassifier, MLPRegressor  # noqa: E402


def _data(kind):
    return estimator_data(kind, n=90, d=6, width=3)


@pytest.mark.parametrize("kind", ["multiclass", "binary", "multilabel", "regression",
                                  "multioutput", "poisson"])
@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic"])
def test_lbfgs_follows_sklearn(kind, activation):
    """float64, same initial weights: the same objective and gradient, so L-BFGS-B takes
    scikit-learn's steps (to rounding over a few iterations) and reports its loss_ (for
    several squared-error outputs the mean over them, not the sum)."""
    X, y = _data("regression" if kind == "poisson" else kind)
    regression = kind in ("regression", "multioutput", "poisson")
    ours_cls, theirs_cls = ((MLPRegressor, neural_network.MLPRegressor) if regression
                            else (MLPClassifier, neural_network.MLPClassifier))
    params = dict(hidden_layer_sizes=(8, 5), activation=activation, solver="lbfgs",
                  alpha=0.05, max_iter=8, random_state=2)
    if kind == "poisson":
        y = np.random.RandomState(1).poisson(np.exp(X[:, 0] / 2))
        params["loss"] = "poisson"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = ours_cls(**params).fit(X, y)
        theirs = theirs_cls(**params).fit(X, y)
    assert ours.n_iter_ == theirs.n_iter_
    np.testing.assert_allclose(ours.loss_, theirs.loss_, rtol=1e-7)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_lbfgs_attributes_and_warning():
    X, y = _data("multiclass")
    clf = MLPClassifier(solver="lbfgs", max_iter=5, random_state=0)
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge after 5"):
        clf.fit(X, y)
    assert clf.n_iter_ == 5 and type(clf.loss_) is np.float64
    with pytest.warns(ConvergenceWarning):
        theirs = neural_network.MLPClassifier(solver="lbfgs", max_iter=5).fit(X, y)
    # scikit-learn's lbfgs keeps no stochastic bookkeeping
    for name in ("loss_curve_", "best_loss_", "validation_scores_", "best_validation_score_"):
        assert not hasattr(clf, name) and not hasattr(theirs, name)
    assert not hasattr(clf, "partial_fit")
    with pytest.warns(ConvergenceWarning):
        MLPClassifier(solver="lbfgs", max_fun=3, random_state=0).fit(X, y)
    clf = MLPClassifier(solver="lbfgs", hidden_layer_sizes=(20,), max_iter=500, tol=1e-2,
                        random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf.fit(X, y)
    assert clf.n_iter_ < 500


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lbfgs_ends_in_float64_or_the_dtype_given(dtype):
    """dtype=None: float64 weights whatever the input, as scikit-learn's L-BFGS (SciPy
    returns a float64 vector), predictions then in float64; dtype= keeps the dtype
    given."""
    X, y = _data("multiclass")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        default = MLPClassifier(solver="lbfgs", max_iter=50, random_state=0).fit(
            X.astype(dtype), y)
        given = MLPClassifier(solver="lbfgs", max_iter=50, random_state=0,
                              dtype=np.dtype(dtype).name).fit(X, y)
    assert all(c.dtype == np.float64 for c in default.coefs_ + default.intercepts_)
    assert all(c.dtype == dtype for c in given.coefs_ + given.intercepts_)
    assert default.predict_proba(X.astype(dtype)).dtype == np.float64
    assert default.score(X.astype(dtype), y) > 0.8 and given.score(X, y) > 0.8


@pytest.mark.parametrize("kind", ["multiclass", "regression"])
def test_lbfgs_on_float32_input_follows_sklearn(kind):
    """float32 X: SciPy hands scikit-learn's objective float32 weights (the dtype of
    its starting point) and returns float64 ones; fastnn's the same, so both take the
    steps (to float32 rounding) and end with float64 weights."""
    X, y = _data(kind)
    X = X.astype(np.float32)
    ours_cls, theirs_cls = ((MLPRegressor, neural_network.MLPRegressor) if kind == "regression"
                            else (MLPClassifier, neural_network.MLPClassifier))
    params = dict(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=8, random_state=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours, theirs = ours_cls(**params).fit(X, y), theirs_cls(**params).fit(X, y)
    np.testing.assert_allclose(ours.loss_, theirs.loss_, rtol=1e-5)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        assert a.dtype == b.dtype == np.float64
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)


def test_lbfgs_verbose_prints_the_objective(capsys):
    X, y = _data("multiclass")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifier(solver="lbfgs", max_iter=3, verbose=True, random_state=0).fit(X, y)
    out = capsys.readouterr().out
    assert "Iteration 3, loss = " in out and f"{clf.loss_:.8f}" in out


def test_solver_switch_keeps_the_bookkeeping_consistent():
    """A fresh fit resets the stochastic bookkeeping (lbfgs after adam has none); a warm
    start of sgd after lbfgs starts it (scikit-learn's fails there on the missing
    loss_curve_)."""
    X, y = _data("multiclass")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = MLPClassifier(max_iter=3, random_state=0).fit(X, y)
        assert len(est.loss_curve_) == 3
        est.set_params(solver="lbfgs").fit(X, y)
        assert not hasattr(est, "loss_curve_") and not hasattr(est, "best_loss_")
        est.set_params(solver="sgd", warm_start=True).fit(X, y)
    assert len(est.loss_curve_) == 3 and est.best_loss_ == min(est.loss_curve_)
    assert est.validation_scores_ is None


def test_lbfgs_warm_start_continues():
    X, y = _data("regression")
    reg = MLPRegressor(solver="lbfgs", max_iter=10, warm_start=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        first = reg.fit(X, y).loss_
        second = reg.fit(X, y).loss_
    assert second < first
