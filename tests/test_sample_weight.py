"""Sample weights in the compiled epoch and the full-batch objective (against the Python
loop, the weighted NumPy reference, finite differences, repeated rows) and in
fastnn.sklearn (against scikit-learn)."""
import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fastnn
from fastnn import reference
from fastnn._training import full_batch_gradient

from _helpers import (LOSSES, TRAINING_TOL, PythonLoop, assert_close,
                      central_differences, mlp, targets)

OPTIMIZERS = {
    "sgd": lambda params: fastnn.SGD(params, lr=0.01),
    "sgd_momentum_decay": lambda params: fastnn.SGD(params, lr=0.01, momentum=0.9,
                                                    nesterov=True, weight_decay=0.01),
    "adam_decay": lambda params: fastnn.Adam(params, lr=0.01, weight_decay=0.01),
}


def _problem(loss_name, n, dtype, seed=0, sizes=(6, 7, 3), signed=False):
    """Weights in [0.5, 2] with about 20% zeros; ``signed``: also about 25% negative ones
    in [-0.6, -0.1] (scikit-learn accepts them: they count against the loss)."""
    rng = np.random.default_rng(seed)
    loss = LOSSES[loss_name]()
    X = rng.standard_normal((n, sizes[0])).astype(dtype)
    y = targets(loss.kernel, rng, n, sizes[-1], dtype)
    w = rng.uniform(0.5, 2.0, n).astype(dtype)
    w[rng.random(n) < 0.2] = 0.0
    if signed:
        negative = rng.random(n) < 0.25
        w[negative] = -rng.uniform(0.1, 0.6, negative.sum())
    return loss, X, y, w


def _assert_compiled_equals_python_loop(loss_name, opt, batch_size, dtype, signed=False):
    """Weighted fits, compiled and in the Python loop: the same losses, weights and L2
    logs (the latter only with weight decay)."""
    loss, X, y, w = _problem(loss_name, 37, dtype, signed=signed)
    compiled, python = mlp((6, 7, 3), dtype=dtype), mlp((6, 7, 3), dtype=dtype)
    python = fastnn.Sequential(python.layers[:2] + [PythonLoop()] + python.layers[2:])
    hist_c = compiled.fit(X, y, loss=loss, optimizer=OPTIMIZERS[opt](compiled.parameters()),
                          epochs=3, batch_size=batch_size, seed=1, verbose=False,
                          sample_weight=w)
    hist_p = python.fit(X, y, loss=LOSSES[loss_name](),
                        optimizer=OPTIMIZERS[opt](python.parameters()), epochs=3,
                        batch_size=batch_size, seed=1, verbose=False, sample_weight=w)
    assert_close(hist_c.loss, hist_p.loss, dtype, tol=TRAINING_TOL)
    for a, b in zip(compiled.parameters(), python.parameters()):
        assert_close(a.value, b.value, dtype, tol=TRAINING_TOL)
    # the L2 term of the weights each minibatch starts with (NumPy in the Python loop)
    assert ("l2" in hist_c.history) == ("l2" in hist_p.history) == (opt != "sgd")
    if opt != "sgd":
        assert_close(hist_c.history["l2"], hist_p.history["l2"], dtype, tol=TRAINING_TOL)


@pytest.mark.parametrize("loss_name", ["ce", "ce_smooth", "mse", "bce"])
@pytest.mark.parametrize("opt", sorted(OPTIMIZERS))
@pytest.mark.parametrize("batch_size", [1, 8, 13])
def test_weighted_fit_matches_manual_loop(loss_name, opt, batch_size, dtype, on_each_isa):
    """Compiled weighted epochs give the numbers of the Python loop (Loss.forward with
    sample_weight, weight decay scaled by rows / sum(w))."""
    _assert_compiled_equals_python_loop(loss_name, opt, batch_size, dtype)


@pytest.mark.parametrize("loss_name", ["ce", "mse", "bce", "poisson"])
@pytest.mark.parametrize("opt", ["sgd_momentum_decay", "adam_decay"])
@pytest.mark.parametrize("batch_size", [1, 13])
def test_negative_weights_fit_matches_manual_loop(loss_name, opt, batch_size, dtype,
                                                  on_each_isa):
    """Negative weights through the compiled epochs: the Python loop's numbers, also for
    one-row minibatches of negative weight (a negative weight decay there)."""
    _assert_compiled_equals_python_loop(loss_name, opt, batch_size, dtype, signed=True)


@pytest.mark.parametrize("loss_name", ["ce", "mse", "bce"])
def test_negated_weights(loss_name, dtype):
    """Negating every weight leaves each minibatch's weighted mean and gradient as they
    were (bit for bit: ``-w * rows / -sum(w)``) and negates its L2 term: the same
    training without weight decay, a negative ``l2`` log with it."""
    loss, X, y, w = _problem(loss_name, 29, dtype)
    runs = []
    for weights in (w, -w):
        for opt, epochs, batch_size in (("sgd", 2, 8), ("sgd_momentum_decay", 1, 29)):
            model = mlp((6, 7, 3), dtype=dtype)
            hist = model.fit(X, y, loss=LOSSES[loss_name](),
                             optimizer=OPTIMIZERS[opt](model.parameters()), epochs=epochs,
                             batch_size=batch_size, seed=0, verbose=False,
                             sample_weight=weights)
            runs.append((hist, [p.value.copy() for p in model.parameters()]))
    (plain, plain_w), (decay, _), (negated, negated_w), (negated_decay, _) = runs
    np.testing.assert_array_equal(plain.loss, negated.loss)
    for a, b in zip(plain_w, negated_w):
        np.testing.assert_array_equal(a, b)
    # one minibatch: the same weights W as it starts, the L2 term's sign flipped
    assert decay.history["l2"][0] > 0
    assert negated_decay.history["l2"][0] == pytest.approx(-decay.history["l2"][0], rel=1e-6)


def test_zero_sum_minibatch_contributes_nothing(dtype):
    """A minibatch whose weights cancel has no loss, gradient or weight decay: with plain
    SGD its step leaves the weights as they were."""
    loss, X, y, w = _problem("ce", 24, dtype)
    w[:8] = np.array([1.5, -1.5, 0.25, -0.25] * 2, dtype)
    skipped, rest = mlp((6, 7, 3), dtype=dtype), mlp((6, 7, 3), dtype=dtype)
    hist = skipped.fit(X, y, loss=loss, verbose=False, sample_weight=w, epochs=1,
                       optimizer=fastnn.SGD(skipped.parameters(), lr=0.01, weight_decay=0.01),
                       batch_size=8, shuffle=False)
    hist_rest = rest.fit(X[8:], y[8:], loss=LOSSES["ce"](), verbose=False,
                         sample_weight=w[8:], epochs=1,
                         optimizer=fastnn.SGD(rest.parameters(), lr=0.01, weight_decay=0.01),
                         batch_size=8, shuffle=False)
    for a, b in zip(skipped.parameters(), rest.parameters()):
        assert_close(a.value, b.value, dtype, tol=TRAINING_TOL)
    assert_close(hist.loss[0] * 24, hist_rest.loss[0] * 16, dtype, tol=TRAINING_TOL)


@pytest.mark.parametrize("loss_name", ["ce", "mse", "bce"])
def test_unit_weights_change_nothing(loss_name, dtype):
    loss, X, y, _ = _problem(loss_name, 29, dtype)
    plain, weighted = mlp((6, 7, 3), dtype=dtype), mlp((6, 7, 3), dtype=dtype)
    opt = OPTIMIZERS["sgd_momentum_decay"]
    h1 = plain.fit(X, y, loss=loss, optimizer=opt(plain.parameters()), epochs=2,
                   batch_size=8, seed=0, verbose=False)
    h2 = weighted.fit(X, y, loss=LOSSES[loss_name](), optimizer=opt(weighted.parameters()),
                      epochs=2, batch_size=8, seed=0, verbose=False,
                      sample_weight=np.ones(len(X)))
    assert_close(h1.loss, h2.loss, dtype, tol=TRAINING_TOL)
    assert_close(h1.history["l2"], h2.history["l2"], dtype, tol=TRAINING_TOL)
    for a, b in zip(plain.parameters(), weighted.parameters()):
        np.testing.assert_array_equal(a.value, b.value)


def _weighted_reference(model, X, y, w, loss_kernel, act="relu"):
    """The weighted mean loss and its gradients in NumPy: reference.mlp_loss_gradient of
    each single row, combined with the weights (the definition, row by row)."""
    dense = model.layers[::2]
    Ws, bs = [d.weight.astype(np.float64) for d in dense], [d.bias.astype(np.float64)
                                                             for d in dense]
    total, dWs, dbs = 0.0, [np.zeros_like(W) for W in Ws], [np.zeros_like(b) for b in bs]
    for r in range(len(X)):
        value, gWs, gbs = reference.mlp_loss_gradient(Ws, bs, X[r:r + 1].astype(np.float64),
                                                      y[r:r + 1], activation=act,
                                                      loss=loss_kernel)
        total += w[r] * value
        for acc, g in zip(dWs + dbs, gWs + gbs):
            acc += w[r] * g
    wsum = float(np.sum(w))
    return total / wsum, [g / wsum for g in dWs], [g / wsum for g in dbs]


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 40), loss_name=st.sampled_from(["ce", "mse", "bce"]),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 1000),
       signed=st.booleans(), negated=st.booleans())
def test_weighted_full_batch_gradient_matches_reference(n, loss_name, dtype, seed, signed,
                                                        negated):
    """Any finite weights whose sum is away from 0: positive, mixed signs, or all
    negated (a negative sum)."""
    loss, X, y, w = _problem(loss_name, n, dtype, seed=seed, signed=signed)
    w[0] = 1.0 + abs(float(w[1:].sum()))  # a sum >= 1
    if negated:
        w = -w
    model = mlp((6, 7, 3), dtype=dtype, seed=seed)
    total = full_batch_gradient(model, loss, X, y, w)()
    expected, dWs, dbs = _weighted_reference(model, X, y, w, loss.kernel)
    tol = {np.dtype(np.float32): (2e-4, 2e-5), np.dtype(np.float64): (1e-9, 1e-11)}
    assert_close(total / n, expected, dtype, scale=0, tol=tol)
    for d, dW, db in zip(model.layers[::2], dWs, dbs):
        assert_close(d.grad_weight, dW, dtype, tol=tol)
        assert_close(d.grad_bias, db, dtype, tol=tol)


def test_integer_weights_equal_repeated_rows():
    loss, X, y, _ = _problem("ce", 15, np.float64)
    counts = np.arange(15) % 3
    a, b = mlp((6, 7, 3)), mlp((6, 7, 3))
    value_w = full_batch_gradient(a, loss, X, y, counts.astype(np.float64))() / 15
    value_r = full_batch_gradient(b, LOSSES["ce"](), np.repeat(X, counts, axis=0),
                                  np.repeat(y, counts, axis=0))() / counts.sum()
    assert value_w == pytest.approx(value_r, rel=1e-12)
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_allclose(p.grad, q.grad, rtol=1e-10, atol=1e-13)


def test_negative_weights_finite_differences():
    """The weighted full-batch gradient with mixed-sign weights is the derivative of
    the weighted objective."""
    loss, X, y, w = _problem("bce", 11, np.float64, seed=4, signed=True)
    assert (w < 0).any() and w.sum() > 0
    model = mlp((6, 5, 3), fastnn.Tanh)
    evaluate = full_batch_gradient(model, loss, X, y, w)
    evaluate()
    analytic = [p.grad.copy() for p in model.parameters()]
    for p, grad in zip(model.parameters(), analytic):
        start = p.value.copy()

        def objective(value, p=p):
            p.value[...] = value
            return evaluate() / len(X)

        numeric = central_differences(objective, start)
        p.value[...] = start
        np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-8)


def test_bad_sample_weight():
    loss, X, y, w = _problem("ce", 10, np.float64)
    model = mlp((6, 7, 3))
    opt = fastnn.SGD(model.parameters(), lr=0.1)
    before = [p.value.copy() for p in model.parameters()]
    for bad, match in ((w[:-1], "one number per sample"), (np.full(10, np.nan), "finite"),
                       (np.where(w > 1, np.inf, -w), "finite"),
                       (np.array(["a"] * 10), "one number per sample")):
        with pytest.raises(ValueError, match=match):
            model.fit(X, y, loss=loss, optimizer=opt, sample_weight=bad, verbose=False)
    for p, b in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.value, b)
    plan_args = fastnn._training  # the compiled plan checks its own argument too
    layers = plan_args.compiled_layers(model)
    with pytest.raises(ValueError, match="sample_weight"):
        plan_args._train_plan(layers, loss.compiled_args(), X, y, 4,
                              sample_weight=np.ones(10, np.float32))


# ------------------------------------------------------------------ the estimators
pytest.importorskip("sklearn")
from sklearn import neural_network  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402

from fastnn.sklearn import MLPClassifier, MLPRegressor  # noqa: E402


def _data(kind, n=80, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, 5)
    y = {"multiclass": rng.randint(0, 3, n), "binary": rng.randint(0, 2, n),
         "multilabel": rng.randint(0, 2, (n, 3)), "regression": rng.randn(n),
         "multioutput": rng.randn(n, 2)}[kind]
    return X, y, rng.uniform(0.2, 3.0, n)


@pytest.mark.parametrize("kind", ["multiclass", "binary", "multilabel", "regression"])
@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_sample_weight_matches_sklearn(kind, solver):
    X, y, w = _data(kind)
    ours_cls, theirs_cls = ((MLPRegressor, neural_network.MLPRegressor) if kind == "regression"
                            else (MLPClassifier, neural_network.MLPClassifier))
    params = dict(hidden_layer_sizes=(6,), solver=solver, alpha=0.1, batch_size=20,
                  max_iter=4, shuffle=False, random_state=0, learning_rate_init=0.05)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = ours_cls(**params).fit(X, y, sample_weight=w)
        theirs = theirs_cls(**params).fit(X, y, sample_weight=w)
    rtol = 2e-2 if solver == "adam" else 1e-6  # Adam: epsilon placement (module docstring)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * 1e-2)
    np.testing.assert_allclose(ours.loss_, theirs.loss_, rtol=1e-3)


@pytest.mark.parametrize("kind", ["multiclass", "binary", "multilabel", "regression",
                                  "multioutput", "poisson"])
@pytest.mark.parametrize("solver", ["sgd", "lbfgs"])
def test_negative_sample_weight_matches_sklearn(kind, solver):
    """Negative weights are accepted as by scikit-learn (its _check_sample_weight without
    ensure_non_negative) with its meaning: its weights, loss_ and loss_curve_, with sgd
    also through a first minibatch (no shuffling) of negative sum, whose L2 term changes
    sign.  (Not so for lbfgs: weights that make the objective fall fast enough send both
    towards saturated predictions, where scikit-learn's log-loss clips probabilities at
    eps and fastnn's, from the logits, does not.)"""
    X, y, w = _data("regression" if kind == "poisson" else kind)
    w[::4] *= -0.3
    if solver == "sgd":
        w[:20] = -np.abs(w[:20])
    params = dict(hidden_layer_sizes=(6,), solver=solver, alpha=0.1, batch_size=20,
                  max_iter=4, shuffle=False, random_state=0, learning_rate_init=0.05)
    if kind == "poisson":
        y = np.random.RandomState(3).poisson(np.exp(X[:, 0] / 2 + X[:, 1] / 3))
        params["loss"] = "poisson"
    regression = kind in ("regression", "multioutput", "poisson")
    ours_cls, theirs_cls = ((MLPRegressor, neural_network.MLPRegressor) if regression
                            else (MLPClassifier, neural_network.MLPClassifier))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = ours_cls(**params).fit(X, y, sample_weight=w)
        theirs = theirs_cls(**params).fit(X, y, sample_weight=w)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(ours.loss_, theirs.loss_, rtol=1e-7)
    if solver == "sgd":
        np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)


def test_weights_summing_to_zero():
    """lbfgs: scikit-learn's ZeroDivisionError before any step.  sgd/adam: a minibatch
    whose weights cancel is skipped (scikit-learn raises the same error in mid-fit)."""
    X, y, w = _data("binary")
    w[:40], w[40:] = 1.0, -1.0
    est = MLPClassifier(solver="lbfgs", random_state=0, hidden_layer_sizes=(4,))
    with pytest.raises(ZeroDivisionError, match="Weights sum to zero"):
        est.fit(X, y, sample_weight=w)
    w[:20] = np.tile([2.0, -2.0], 10)
    kw = dict(solver="sgd", momentum=0.0, batch_size=20, shuffle=False, max_iter=2,
              random_state=0, hidden_layer_sizes=(4,), learning_rate_init=0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        skipped = MLPClassifier(**kw).fit(X, y, sample_weight=w)
        without = MLPClassifier(**kw).fit(X[20:], y[20:], sample_weight=w[20:])
    for a, b in zip(skipped.coefs_ + skipped.intercepts_, without.coefs_ + without.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


def test_sample_weight_early_stopping_scores_with_weights():
    X, y, w = _data("multiclass", n=200)
    params = dict(early_stopping=True, max_iter=5, random_state=0, hidden_layer_sizes=(8,),
                  solver="sgd", learning_rate_init=0.1, shuffle=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = MLPClassifier(**params).fit(X, y, sample_weight=w)
        theirs = neural_network.MLPClassifier(**params).fit(X, y, sample_weight=w)
    # the same split (the weights travel with their rows) and weighted accuracy
    assert len(ours.validation_scores_) == len(theirs.validation_scores_)
    np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_, rtol=1e-12)
    assert ours.validation_scores_ != MLPClassifier(**params).fit(X, y).validation_scores_


def test_zero_weights_ignore_rows():
    X, y, w = _data("binary")
    w[:40] = 0.0
    kw = dict(solver="lbfgs", max_iter=30, random_state=0, hidden_layer_sizes=(5,))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = MLPClassifier(**kw).fit(X, y, sample_weight=w)
        b = MLPClassifier(**kw).fit(X[40:], y[40:], sample_weight=w[40:])
    for p, q in zip(a.coefs_, b.coefs_):
        np.testing.assert_allclose(p, q, rtol=1e-6, atol=1e-9)


# ------------------------------------------------------------------ class_weight
@pytest.mark.parametrize("solver", ["sgd", "lbfgs"])
def test_class_weight_is_a_sample_weight(solver):
    """class_weight (dict or "balanced") trains exactly as the per-sample weights it
    stands for, multiplied into any sample_weight given."""
    from sklearn.utils.class_weight import compute_sample_weight
    X, y, w = _data("multiclass")
    labels = np.array(["ant", "bee", "cat"])[y]
    kw = dict(solver=solver, max_iter=5, random_state=0, hidden_layer_sizes=(6,),
              shuffle=False)
    cases = [({"ant": 3.0, "cat": 0.5}, np.choose(y, [3.0, 1.0, 0.5])),
             ("balanced", compute_sample_weight("balanced", y))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for class_weight, per_sample in cases:
            a = MLPClassifier(class_weight=class_weight, **kw).fit(X, labels, sample_weight=w)
            b = MLPClassifier(**kw).fit(X, labels, sample_weight=w * per_sample)
            for p, q in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
                np.testing.assert_allclose(p, q, rtol=1e-12, atol=1e-14)


def test_class_weight_shifts_predictions_and_checks():
    X, y, _ = _data("binary", n=200)
    kw = dict(solver="lbfgs", max_iter=200, random_state=0, hidden_layer_sizes=(4,))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        plain = MLPClassifier(**kw).fit(X, y).predict(X).mean()
        tilted = MLPClassifier(class_weight={1: 20.0}, **kw).fit(X, y).predict(X).mean()
    assert tilted > plain
    Xm, ym, _ = _data("multilabel")
    with pytest.raises(ValueError, match="multi-label"):
        MLPClassifier(class_weight={0: 2.0}, max_iter=2).fit(Xm, ym)
    with pytest.raises(ValueError, match="partial_fit"):
        MLPClassifier(class_weight="balanced").partial_fit(X, y, classes=[0, 1])
    assert MLPClassifier(class_weight="balanced").get_params()["class_weight"] == "balanced"
    assert "loss" in MLPRegressor().get_params() and MLPRegressor("poisson").loss == "poisson"


# ------------------------------------------------------------------ Poisson
@pytest.mark.parametrize("solver", ["sgd", "lbfgs"])
def test_poisson_regressor_matches_sklearn(solver):
    """loss="poisson": exponential output trained with the Poisson deviance in the
    compiled epoch; scikit-learn's weights, predictions and loss values (with weights)."""
    X, _, w = _data("regression")
    y = np.random.RandomState(3).poisson(np.exp(X[:, 0] / 2 + X[:, 1] / 3))
    params = dict(loss="poisson", hidden_layer_sizes=(6,), solver=solver, alpha=0.01,
                  batch_size=20, max_iter=6, shuffle=False, random_state=0,
                  learning_rate_init=0.02)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = MLPRegressor(**params).fit(X, y, sample_weight=w)
        theirs = neural_network.MLPRegressor(**params).fit(X, y, sample_weight=w)
    assert ours.out_activation_ == theirs.out_activation_ == "exp"
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-6)
    np.testing.assert_allclose(ours.loss_, theirs.loss_, rtol=1e-9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours, theirs = MLPRegressor(**params).fit(X, y), neural_network.MLPRegressor(
            **params).fit(X, y)
    np.testing.assert_allclose(ours.loss_, theirs.loss_, rtol=1e-9)
    with pytest.raises(ValueError, match="negative"):
        MLPRegressor(loss="poisson").fit(X, -np.abs(y) - 1)


@pytest.mark.parametrize("loss,kind", [("poisson", "regression"),
                                       ("squared_error", "multioutput")])
@pytest.mark.parametrize("batch_size", [20, 7])
def test_weighted_loss_curve_is_sklearns(loss, kind, batch_size):
    """Weighted minibatches, alpha 0: scikit-learn's loss of each epoch, its per-minibatch
    weighted means of the Poisson targets' own terms included (an average over the data
    instead was 0.5% off)."""
    X, y, w = _data(kind)
    if loss == "poisson":
        y = np.random.RandomState(3).poisson(np.exp(X[:, 0] / 2 + X[:, 1] / 3))
    params = dict(loss=loss, hidden_layer_sizes=(6,), solver="sgd", alpha=0.0,
                  batch_size=batch_size, max_iter=4, shuffle=False, random_state=0,
                  learning_rate_init=0.02)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = MLPRegressor(**params).fit(X, y, sample_weight=w)
        theirs = neural_network.MLPRegressor(**params).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-12)
