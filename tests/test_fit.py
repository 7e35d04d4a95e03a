"""Training: fit against a plain NumPy loop and against the manual loop, on each compiled
path; predictions and scores; fit's checks; callbacks, schedules and parameter groups;
the compiled epoch's plan and its checks; bitwise results for any thread count."""
import numpy as np
import pytest

import fastnn
from fastnn import _checks, _dispatch, _training
from fastnn import reference as R

from _helpers import (LOSSES, NUMPY_TRAINING_TOL, OPTIMIZERS, TRAINING_TOL, assert_close,
                      assert_fit_bitwise_for_thread_counts, assert_fit_equals_manual_loop,
                      PythonLoop, class_data, manual_fit, mlp, targets)


# ------------------------------------------------- parity with a plain NumPy loop
@pytest.mark.parametrize("dtype,batch_size", [(np.float64, 16), (np.float32, 10),
                                              (np.float64, 1), (np.float32, 300)])
def test_training_curve_matches_plain_numpy(dtype, batch_size, on_each_isa):
    X, y = class_data(n=300, d=12, c=5, dtype=dtype)
    model = mlp([12, 16, 5], dtype=dtype)
    W1, b1 = model.layers[0].weight.copy(), model.layers[0].bias.copy()
    W2, b2 = model.layers[2].weight.copy(), model.layers[2].bias.copy()
    epochs, lr, seed = 4, 0.05, 3
    rng = np.random.default_rng(seed)
    orders = [rng.permutation(len(X)) for _ in range(epochs)]
    expected = [R.mlp_train_epoch([W1, W2], [b1, b2], X, y, order, lr=lr, batch_size=batch_size)
                for order in orders]
    hist = model.fit(X, y, loss=fastnn.SoftmaxCrossEntropy(),
                     optimizer=fastnn.SGD(model.parameters(), lr=lr), epochs=epochs,
                     batch_size=batch_size, seed=seed, verbose=False)
    assert_close(hist.loss, expected, dtype, scale=0, tol=NUMPY_TRAINING_TOL)
    assert_close(model.layers[2].weight, W2, dtype, tol=NUMPY_TRAINING_TOL)


@pytest.mark.parametrize("opt_name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("loss_name", ["ce", "mse", "bce"])
@pytest.mark.parametrize("act", [fastnn.ReLU, fastnn.Tanh])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batch_size", [1, 32])
def test_fit_equals_manual_loop(opt_name, loss_name, act, dtype, batch_size, on_each_isa):
    rng = np.random.default_rng(2)
    n, epochs, seed = 203 if batch_size > 1 else 61, 3, 7
    X = rng.standard_normal((n, 10)).astype(dtype)
    y = targets(LOSSES[loss_name]().kernel, rng, n, 4, dtype)
    assert_fit_equals_manual_loop([10, 24, 12, 4], act, opt_name, loss_name, X, y, dtype,
                                  epochs=epochs, batch_size=batch_size, seed=seed)


@pytest.mark.parametrize("opt_name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("batch_size", [1, 13])
@pytest.mark.parametrize("sparse", [False, True])
def test_fit_logs_the_l2_term_of_each_minibatchs_weights(opt_name, batch_size, sparse, dtype,
                                                         on_each_isa):
    """With coupled weight decay, logs["l2"] is the mean over the epoch of
    sum(W**2) / 2 over the decayed parameters as each minibatch starts: the compiled epoch
    gives the numbers of the Python loop (NumPy's dot product) and of a direct sum over
    the weights the manual loop sees; decoupled decay (AdamW) or none logs no l2."""
    scipy_sparse = pytest.importorskip("scipy.sparse") if sparse else None
    rng = np.random.default_rng(4)
    X = rng.standard_normal((41, 6)).astype(dtype)
    X[rng.random(X.shape) < 0.5] = 0.0
    y = rng.integers(0, 3, len(X))
    data = scipy_sparse.csr_matrix(X) if sparse else X
    hists = []
    for layers in ([], [PythonLoop()]):
        model = mlp([6, 8, 3], dtype=dtype)
        model = fastnn.Sequential(model.layers[:2] + layers + model.layers[2:])
        hists.append(model.fit(data, y, loss="cross_entropy",
                               optimizer=OPTIMIZERS[opt_name](model.parameters()), epochs=3,
                               batch_size=batch_size, seed=2, verbose=False))
    decayed = opt_name in ("momentum", "adam")
    assert ("l2" in hists[0].history) == ("l2" in hists[1].history) == decayed
    if not decayed:
        return
    model = mlp([6, 8, 3], dtype=dtype)
    optimizer = OPTIMIZERS[opt_name](model.parameters())
    expected, order_rng = [], np.random.default_rng(2)
    for _ in range(3):
        order, total = order_rng.permutation(len(X)), 0.0
        for start in range(0, len(X), batch_size):
            total += sum(0.5 * float(np.sum(p.value.astype(np.float64) ** 2))
                         for p in model.parameters())
            idx = order[start:start + batch_size]
            model.train_batch(X[idx], y[idx], fastnn.SoftmaxCrossEntropy(), optimizer)
        expected.append(total / len(X))
    assert_close(hists[0].history["l2"], hists[1].history["l2"], dtype, scale=0,
                 tol=TRAINING_TOL)
    assert_close(hists[0].history["l2"], expected, dtype, scale=0, tol=TRAINING_TOL)


def test_fit_learns_digits_and_predicts():
    X, y = fastnn.load_digits()
    assert X.shape == (1797, 64) and y.shape == (1797,) and X.max() == 1.0
    model = mlp([64, 32, 10], dtype=np.float32)
    hist = model.fit(X[:1400], y[:1400], loss="cross_entropy",
                     optimizer=fastnn.SGD(model.parameters(), lr=0.05, momentum=0.9),
                     epochs=15, batch_size=32, seed=0, verbose=False,
                     validation_data=(X[1400:], y[1400:]))
    assert hist.loss[-1] < hist.loss[0] / 5
    assert hist.val_accuracy[-1] > 0.9
    proba = model.predict_proba(X[1400:])
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_array_equal(model.predict(X[1400:]), proba.argmax(axis=1))
    scores = model.evaluate(X[1400:], y[1400:])
    assert scores["accuracy"] == pytest.approx(hist.val_accuracy[-1])
    assert scores["loss"] == pytest.approx(hist.val_loss[-1], rel=1e-5)


def test_regression_predict_returns_outputs():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.3
    model = fastnn.Sequential([fastnn.Dense(3, 1, dtype=np.float64, seed=0)])
    model.fit(X, y, loss="mse", optimizer=fastnn.SGD(model.parameters(), lr=0.1), epochs=200,
              batch_size=100, verbose=False)
    np.testing.assert_allclose(model.predict(X)[:, 0], y, atol=1e-3)


def test_multilabel_predictions_come_from_the_trained_loss():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((80, 6))
    Y = (X[:, :3] > 0).astype(np.float64)
    model = mlp([6, 12, 3])
    untrained = model.predict_proba(X[:4])  # no loss yet: softmax over the outputs
    np.testing.assert_allclose(untrained.sum(axis=1), 1, rtol=1e-12)
    model.fit(X, Y, loss="bce", optimizer=fastnn.Adam(model.parameters(), lr=1e-2), epochs=30,
              batch_size=16, seed=0, verbose=False)
    out = model.forward(X, training=False)
    np.testing.assert_array_equal(model.predict_proba(X), fastnn.ops.sigmoid(out))
    np.testing.assert_array_equal(model.predict(X), (out > 0).astype(np.int64))
    scores = model.evaluate(X, Y)
    assert scores["accuracy"] == pytest.approx(((out > 0) == (Y > 0.5)).mean())
    assert scores["accuracy"] > 0.9
    assert scores["loss"] == pytest.approx(R.bce_with_logits(out, Y)[0], rel=1e-12)


# -------------------------------------------------------------------- bad input
def _bad_fit_cases():
    X, y = class_data(n=20, d=5, c=3)
    Xnan = X.copy()
    Xnan[3, 2] = np.nan
    return {
        "wrong features": (X[:, :4], y, ValueError, "features"),
        "label count": (X, y[:19], ValueError, "rows"),
        "labels out of range": (X, np.where(y == 0, 3, y), ValueError, "outside"),
        "negative label": (X, np.where(y == 0, -1, y), ValueError, "outside"),
        "float labels": (X, y.astype(float), TypeError, "integer"),
        "nan": (Xnan, y, ValueError, "NaN"),
        "inf": (np.where(Xnan != Xnan, np.inf, X), y, ValueError, "NaN or infinity"),
        "-inf and inf": (np.where(Xnan != Xnan, -np.inf, np.where(X == X.max(), np.inf, X)), y,
                         ValueError, "NaN or infinity"),
        "empty": (X[:0], y[:0], ValueError, "empty"),
        "list": (X.tolist(), y, TypeError, "ndarray"),
        "1-D X": (X[:, 0], y, ValueError, "2-D"),
        "strings": (X.astype(str), y, TypeError, "numbers"),
    }


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_all_finite_equals_isfinite(dtype):
    """The finite check of X (a sum first, element by element only when the sum is not
    finite) against np.isfinite(x).all(): NaN, infinities of either sign (alone and
    cancelling into a NaN sum), finite values whose sum overflows, empty arrays."""
    big = np.finfo(dtype).max
    rng = np.random.default_rng(0)
    cases = [np.zeros((0, 3), dtype), np.ones((4, 5), dtype), rng.standard_normal((7, 13)).astype(dtype),
             np.full((3, 4), big, dtype), np.array([[big, -big, big, big]], dtype)]
    for special in [np.nan, np.inf, -np.inf]:
        x = rng.standard_normal((9, 11)).astype(dtype)
        x[5, 7] = special
        cases += [x, np.full((2, 3), big, dtype)]
        cases[-1][1, 2] = special
    cancelling = np.ones((3, 3), dtype)
    cancelling[0, 0], cancelling[2, 1] = np.inf, -np.inf
    cases.append(cancelling)
    for x in cases:
        assert _checks.all_finite(x) == bool(np.isfinite(x).all()), x


def test_check_x_accepts_finite_values_whose_sum_overflows():
    X = np.full((20, 5), np.finfo(np.float32).max / 4, np.float32)
    with np.errstate(over="ignore"):
        assert not np.isfinite(np.add.reduce(X, axis=None))
    np.testing.assert_array_equal(mlp([5, 8, 3])._check_x(X), X)


@pytest.mark.parametrize("case", sorted(_bad_fit_cases()))
def test_fit_rejects_bad_input_and_keeps_weights(case):
    X, y, exc, match = _bad_fit_cases()[case]
    model = mlp([5, 8, 3])
    before = [p.value.copy() for p in model.parameters()]
    with pytest.raises(exc, match=match):
        model.fit(X, y, loss="cross_entropy", optimizer=fastnn.SGD(model.parameters(), lr=0.1),
                  verbose=False)
    for p, old in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.value, old)


@pytest.mark.parametrize("kwargs,match", [({"epochs": -1}, "epochs"), ({"batch_size": 0}, "batch_size"),
                                          ({"batch_size": 2.5}, "batch_size"),
                                          ({"validation_data": (np.zeros((2, 4)), np.zeros(2, int))}, "X_val")])
def test_fit_rejects_bad_arguments(kwargs, match):
    X, y = class_data(n=20, d=5, c=3)
    model = mlp([5, 8, 3])
    with pytest.raises((ValueError, TypeError), match=match):
        model.fit(X, y, loss="cross_entropy", optimizer=fastnn.SGD(model.parameters(), lr=0.1),
                  verbose=False, **kwargs)


def test_fit_rejects_foreign_optimizer():
    X, y = class_data(n=20, d=5, c=3)
    model, other = mlp([5, 8, 3]), mlp([5, 8, 3])
    with pytest.raises(ValueError, match="not this model's parameters"):
        model.fit(X, y, loss="cross_entropy", optimizer=fastnn.SGD(other.parameters(), lr=0.1),
                  verbose=False)


def test_predict_rejects_wrong_features():
    model = mlp([5, 8, 3])
    with pytest.raises(ValueError, match="features"):
        model.predict(np.zeros((4, 6)))


# ------------------------------------------------------ callbacks and schedules
def test_early_stopping_stops_and_restores():
    X, y = class_data(n=60, d=5, c=3)
    model = mlp([5, 32, 3])
    stopper = fastnn.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    # validation labels unrelated to X: the validation loss soon stops improving
    Xv, yv = class_data(n=40, d=5, c=3, seed=9)
    hist = model.fit(X, y, loss="cross_entropy", optimizer=fastnn.SGD(model.parameters(), lr=0.5),
                     epochs=200, batch_size=8, validation_data=(Xv, yv), verbose=False,
                     callbacks=[stopper])
    assert stopper.stopped_epoch is not None and len(hist.loss) < 200
    best = min(hist.val_loss)
    assert model.evaluate(Xv, yv)["loss"] == pytest.approx(best, rel=1e-9)


def test_lr_schedules():
    opt = fastnn.SGD(fastnn.Dense(2, 2).parameters(), lr=1.0)
    step = fastnn.StepLR(opt, step_size=2, gamma=0.5)
    lrs = []
    for _ in range(5):
        step.step()
        lrs.append(opt.lr)
    assert lrs == [1.0, 0.5, 0.5, 0.25, 0.25]
    opt.lr = 1.0
    exp = fastnn.ExponentialLR(opt, gamma=0.9)
    exp.step()
    exp.step()
    assert opt.lr == pytest.approx(0.81)
    opt.lr = 1.0
    cos = fastnn.CosineAnnealingLR(opt, T_max=4, eta_min=0.1)
    values = []
    for _ in range(4):
        cos.step()
        values.append(opt.lr)
    assert values[1] == pytest.approx(0.55) and values[-1] == pytest.approx(0.1)


def test_scheduler_as_fit_callback_changes_lr():
    X, y = class_data(n=20, d=5, c=3)
    model = mlp([5, 8, 3])
    opt = fastnn.SGD(model.parameters(), lr=0.1)
    model.fit(X, y, loss="cross_entropy", optimizer=opt, epochs=3, verbose=False,
              callbacks=[fastnn.ExponentialLR(opt, gamma=0.5)])
    assert opt.lr == pytest.approx(0.0125)


def test_verbose_fit_prints_progress(capsys):
    X, y = class_data(n=40, d=5, c=3)
    model = mlp([5, 8, 3])
    model.fit(X, y, loss="cross_entropy", optimizer=fastnn.SGD(model.parameters(), lr=0.1),
              epochs=2, verbose=True)
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out and "loss:" in out


def test_parameter_groups_set_weight_decay_per_parameter():
    layer = fastnn.Dense(3, 2, dtype=np.float64, seed=0)
    w0 = layer.weight.copy()
    layer.grad_weight[...] = 0
    layer.grad_bias[...] = 0
    layer.bias[...] = 1.0
    opt = fastnn.SGD([{"params": [layer.parameters()[0]], "weight_decay": 0.5},
                      {"params": [layer.parameters()[1]], "weight_decay": 0.0}], lr=0.1)
    assert opt.weight_decays == [0.5, 0.0]
    opt.step()
    np.testing.assert_allclose(layer.weight, w0 * (1 - 0.1 * 0.5))
    np.testing.assert_array_equal(layer.bias, np.ones(2))
    with pytest.raises(ValueError, match="parameter group"):
        fastnn.SGD([{"params": layer.parameters(), "momentum": 0.9}], lr=0.1)


# ---------------------------------------------------------- the compiled epoch
def test_compiled_runner_is_used_for_dense_stacks_only():
    """Dense layers, fusable activations and a Dropout after any Dense but the last."""
    X, y = class_data(n=20, d=5, c=3)
    plain = mlp([5, 8, 3])
    assert _training.compiled_layers(plain) is not None
    d1, d2 = (fastnn.Dense(5, 8, dtype=np.float64), fastnn.Dense(8, 3, dtype=np.float64))
    inside = fastnn.Sequential([d1, fastnn.ReLU(), fastnn.Dropout(0.1), d2])
    assert [drop for *_, drop in _training.compiled_layers(inside)] == [inside.layers[2], None]
    for layers in ([d1, d2, fastnn.Dropout(0.1)], [fastnn.Dropout(0.1), d1, d2],
                   [d1, fastnn.Dropout(0.1), fastnn.Dropout(0.2), d2], [d1, PythonLoop(), d2]):
        assert _training.compiled_layers(fastnn.Sequential(layers)) is None
    slope = fastnn.Sequential([fastnn.Dense(5, 8, dtype=np.float64), fastnn.LeakyReLU(0.2),
                               fastnn.Dense(8, 3, dtype=np.float64)])
    assert _training.compiled_layers(slope) is None


@pytest.mark.parametrize("bad_order,match", [
    (np.arange(20)[::-1].copy() + 5, "outside"),
    (np.where(np.arange(20) == 7, -1, np.arange(20)), "outside"),
    (np.arange(19), "length"),
    (np.arange(20).astype(np.int32), "int64"),
])
def test_train_plan_rejects_bad_order(bad_order, match):
    X, y = class_data(n=20, d=5, c=3)
    model = mlp([5, 8, 3])
    layers = _training.compiled_layers(model)
    params = model.parameters()
    plan = _dispatch.kernels.TrainPlan(
        X, y, 8, [p.value for p in params], [p.grad for p in params], None, None,
        [0, 2], [1, 3], [code for _, code, *_ in layers], [0.0, 0.0], 0, 0.0)
    before = [p.value.copy() for p in params]
    with pytest.raises(ValueError, match=match):
        plan.run_sgd(bad_order, 0, 3, 0.1, 0.0, False, np.zeros(4))
    for p, old in zip(params, before):
        np.testing.assert_array_equal(p.value, old)
    assert plan.run_sgd(np.arange(20), 0, 3, 0.1, 0.0, False, np.zeros(4)) > 0
    # only the rows of the requested minibatches are checked (and used)
    assert plan.run_sgd(np.where(np.arange(20) < 16, np.arange(20), 99), 0, 2, 0.1, 0.0,
                        False, np.zeros(4)) > 0



def test_train_plan_trains_on_its_own_copy_of_the_labels():
    """The compiled epoch indexes logits rows by the labels: it must never read labels the
    caller can change after the plan checked them."""
    X, y = class_data(n=20, d=5, c=3)
    models = [mlp([5, 8, 3]), mlp([5, 8, 3])]
    losses = []
    for model, labels in zip(models, (y.copy(), y)):
        params = model.parameters()
        plan = _dispatch.kernels.TrainPlan(
            X, labels, 8, [p.value for p in params], [p.grad for p in params], None, None,
            [0, 2], [1, 3], [_dispatch.kernels.ACTIVATION_CODES["relu"], 0], [0.0, 0.0], 0, 0.0)
        labels[:] = 10**12 if labels is y else labels  # the caller spoils its own labels
        losses.append(plan.run_sgd(np.arange(20), 0, 3, 0.1, 0.0, False, np.zeros(4)))
    assert losses[0] == losses[1]
    for a, b in zip(*[m.parameters() for m in models]):
        np.testing.assert_array_equal(a.value, b.value)


def test_uninitialized_train_plan_refuses_to_run():
    plan = _dispatch.kernels.TrainPlan.__new__(_dispatch.kernels.TrainPlan)
    with pytest.raises(ValueError, match="not initialized"):
        plan.run_sgd(np.arange(4), 0, 1, 0.1, 0.0, False, np.zeros(0))
    with pytest.raises(ValueError, match="not initialized"):
        plan.run_adam(np.arange(4), 0, 1, 0, 0.1, 0.9, 0.999, 1e-8, np.zeros(0), False)


class _SpoilLabels:
    """A callback that overwrites the first labels of the caller's ``y`` after each epoch."""

    def __init__(self, y, value):
        self.y, self.value = y, value

    def on_epoch_end(self, epoch, logs, model):
        self.y[:50] = self.value


@pytest.mark.parametrize("value", [-1, 10**12])
@pytest.mark.parametrize("classes", [3, 40])  # AVX2 row kernels up to 32 classes, blocks above
@pytest.mark.parametrize("compiled", [True, False])
def test_fit_trains_on_the_labels_it_was_given(value, classes, compiled, on_each_isa):
    X, y = class_data(n=120, d=6, c=classes)
    runs = []
    for labels in (y.copy(), y):
        layers = [fastnn.Dense(6, 9, dtype=np.float64, seed=0), fastnn.ReLU(),
                  fastnn.Dense(9, classes, dtype=np.float64, seed=1)]
        model = fastnn.Sequential(layers if compiled else layers[:2] + [PythonLoop()]
                                  + layers[2:])
        assert (_training.compiled_layers(model) is not None) == compiled
        hist = model.fit(X, labels, loss="cross_entropy",
                         optimizer=fastnn.SGD(model.parameters(), lr=0.1), epochs=3,
                         batch_size=16, seed=0, verbose=False,
                         callbacks=[_SpoilLabels(labels, value)] if labels is y else [])
        runs.append((hist.loss, [p.value.copy() for p in model.parameters()]))
    assert (y[:50] == value).all()
    assert runs[1][0] == runs[0][0]
    for a, b in zip(runs[0][1], runs[1][1]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("n_dense", [17, 40])
def test_fit_compiles_networks_of_any_depth(n_dense, on_each_isa):
    """More than 16 layers and 32 parameters: the compiled epoch, equal to the manual loop."""
    X, y = class_data(n=50, d=5, c=3)
    sizes = [5] + [6] * (n_dense - 1) + [3]
    a, b = mlp(sizes, act=fastnn.Tanh), mlp(sizes, act=fastnn.Tanh)
    opt_a, opt_b = fastnn.Adam(a.parameters(), lr=1e-2), fastnn.Adam(b.parameters(), lr=1e-2)
    assert _training.compiled_runner(a, fastnn.SoftmaxCrossEntropy(), opt_a, X, y, 8) is not None
    hist = a.fit(X, y, loss="cross_entropy", optimizer=opt_a, epochs=2, batch_size=8, seed=1,
                 verbose=False)
    manual = manual_fit(b, fastnn.SoftmaxCrossEntropy(), opt_b, X, y, epochs=2, batch_size=8,
                        seed=1)
    assert_close(hist.loss, manual, np.float64, scale=0, tol=TRAINING_TOL)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert_close(pa.value, pb.value, np.float64, tol=TRAINING_TOL)


@pytest.mark.parametrize("state1", [[None], [np.zeros((5, 8))], "zz"])
def test_train_plan_rejects_state_lists_of_the_wrong_length(state1):
    X, y = class_data(n=20, d=5, c=3)
    model = mlp([5, 8, 3])
    params = model.parameters()
    with pytest.raises((ValueError, TypeError)):
        _dispatch.kernels.TrainPlan(
            X, y, 8, [p.value for p in params], [p.grad for p in params], state1, None,
            [0, 2], [1, 3], [1, 0], [0.0, 0.0], 0, 0.0)


def test_fit_is_bitwise_identical_for_every_thread_count():
    X, y = class_data(n=700, d=300, c=10, dtype=np.float32)
    assert_fit_bitwise_for_thread_counts(X, y, [300, 256, 10])



# ------------------------------------- issue 11: fit checks everything before training
def _spoiled(make, attr, value):
    def build(params):
        opt = make(params)
        setattr(opt, attr, value)
        return opt
    return build


SPOILED_OPTIMIZERS = {
    "sgd lr nan": _spoiled(lambda p: fastnn.SGD(p, lr=0.1), "lr", float("nan")),
    "sgd lr inf": _spoiled(lambda p: fastnn.SGD(p, lr=0.1), "lr", float("inf")),
    "sgd lr negative": _spoiled(lambda p: fastnn.SGD(p, lr=0.1), "lr", -1.0),
    "sgd lr str": _spoiled(lambda p: fastnn.SGD(p, lr=0.1), "lr", "0.1"),
    "momentum nan": _spoiled(lambda p: fastnn.SGD(p, lr=0.1, momentum=0.9), "momentum",
                             float("nan")),
    "momentum negative": _spoiled(lambda p: fastnn.SGD(p, lr=0.1, momentum=0.9), "momentum",
                                  -5.0),
    "momentum without velocity": _spoiled(lambda p: fastnn.SGD(p, lr=0.1), "momentum", 0.9),
    "weight decay nan": _spoiled(lambda p: fastnn.SGD(p, lr=0.1), "weight_decays",
                                 [float("nan")] * 4),
    "weight decay negative": _spoiled(lambda p: fastnn.Adam(p), "weight_decays", [-1.0] * 4),
    "weight decays too few": _spoiled(lambda p: fastnn.Adam(p), "weight_decays", [0.0]),
    "beta1 2": _spoiled(lambda p: fastnn.Adam(p), "betas", (2.0, 0.999)),
    "betas scalar": _spoiled(lambda p: fastnn.Adam(p), "betas", 0.9),
    "eps negative": _spoiled(lambda p: fastnn.AdamW(p), "eps", -1.0),
    "adam lr nan": _spoiled(lambda p: fastnn.AdamW(p), "lr", float("nan")),
}


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("case", sorted(SPOILED_OPTIMIZERS))
def test_fit_checks_the_optimizer_as_it_is(case, compiled):
    """Hyperparameters changed after construction: fit (compiled epoch or Python loop)
    refuses them before any weight changes, as train_batch and step do."""
    X, y = class_data(n=20, d=5, c=3)
    model = mlp([5, 8, 3]) if compiled else fastnn.Sequential(
        [fastnn.Dense(5, 8, dtype=np.float64, seed=0), PythonLoop(),
         fastnn.Dense(8, 3, dtype=np.float64, seed=1)])
    opt = SPOILED_OPTIMIZERS[case](model.parameters())
    before = [p.value.copy() for p in model.parameters()]
    with pytest.raises((ValueError, TypeError),
                       match=r"^(lr|momentum|weight_decays|betas|eps)\b"):
        model.fit(X, y, loss="cross_entropy", optimizer=opt, epochs=2, verbose=False)
    with pytest.raises((ValueError, TypeError), match=r"^(lr|momentum|weight_decays|betas|eps)\b"):
        opt.step()
    for p, old in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.value, old)


@pytest.mark.parametrize("compiled", [True, False])
def test_a_callback_spoiling_the_learning_rate_stops_fit_before_the_next_epoch(compiled):
    X, y = class_data(n=20, d=5, c=3)
    model = mlp([5, 8, 3]) if compiled else mlp([5, 8, 3], act=PythonLoop)
    opt = fastnn.SGD(model.parameters(), lr=0.1)
    seen = []

    class Spoil:
        def on_epoch_end(self, epoch, logs, model):
            seen.append([p.value.copy() for p in model.parameters()])
            opt.lr = float("nan")

    with pytest.raises(ValueError, match="lr must be a finite real number >= 0; received nan"):
        model.fit(X, y, loss="cross_entropy", optimizer=opt, epochs=3, verbose=False,
                  callbacks=[Spoil()])
    assert len(seen) == 1
    for p, after_first in zip(model.parameters(), seen[0]):
        np.testing.assert_array_equal(p.value, after_first)


def test_early_stopping_without_its_logs_is_refused_before_training():
    X, y = class_data(n=20, d=5, c=3)
    model = mlp([5, 8, 3])
    before = [p.value.copy() for p in model.parameters()]
    with pytest.raises(ValueError, match=r"monitors 'val_loss' but fit logs only \['loss', "
                                         r"'time'\] \(pass validation_data\)"):
        model.fit(X, y, loss="cross_entropy", optimizer=fastnn.SGD(model.parameters(), lr=0.1),
                  verbose=False, callbacks=[fastnn.EarlyStopping()])
    with pytest.raises(ValueError, match="monitors 'val_accuracy'"):
        model.fit(X, y.astype(float)[:, None].repeat(3, 1), loss="mse",
                  optimizer=fastnn.SGD(model.parameters(), lr=0.1), verbose=False,
                  validation_data=(X, y.astype(float)[:, None].repeat(3, 1)),
                  callbacks=[fastnn.EarlyStopping(monitor="val_accuracy")])
    for p, old in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.value, old)
    model.fit(X, y, loss="cross_entropy", optimizer=fastnn.SGD(model.parameters(), lr=0.1),
              verbose=False, validation_data=(X, y),
              callbacks=[fastnn.EarlyStopping(monitor="val_accuracy")])
