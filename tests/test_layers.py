"""Layers and losses, the building blocks: gradients of whole networks by finite
differences, the fused Dense + activation step, constructors and initialization, and what
a loss tells the model (target checks, probabilities, predictions, compiled code)."""
import math

import numpy as np
import pytest

import fastnn
from fastnn import _training, layers, losses
from fastnn import reference as R

from _helpers import LOSSES, assert_close, class_data, manual_fit, mlp, targets


# ------------------------------------------------------------- gradient checks
@pytest.mark.parametrize("act", [fastnn.ReLU, fastnn.Tanh, fastnn.Sigmoid, fastnn.LeakyReLU,
                                 fastnn.Identity])
@pytest.mark.parametrize("loss_name", sorted(LOSSES))
def test_network_gradients_match_finite_differences(act, loss_name):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((9, 5))
    loss = LOSSES[loss_name]()
    y = targets(loss.kernel, rng, 9, 3)
    model = mlp([5, 6, 4, 3], act=act)

    def value():
        return loss.forward(model.forward(X), y)

    value()
    grad_x = model.backward(loss.backward())
    for p in model.parameters():
        _check_finite_differences(value, p.value, p.grad.copy(), p.name)
    _check_finite_differences(value, X, grad_x, "input")


def _check_finite_differences(value, array, grad, name, eps=1e-6):
    """Every entry of ``grad`` against the central difference of ``value()`` in ``array``."""
    flat, gflat = array.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        up = value()
        flat[i] = old - eps
        down = value()
        flat[i] = old
        assert gflat[i] == pytest.approx((up - down) / (2 * eps), rel=1e-5, abs=1e-7), (name, i)


# ------------------------------------------------------ the fused Dense + activation
def test_fused_steps_pair_each_dense_with_a_fusable_activation():
    d = [fastnn.Dense(4, 4) for _ in range(4)]
    relu, slope, drop, leaky, tanh = (fastnn.ReLU(), fastnn.LeakyReLU(0.2), fastnn.Dropout(0.1),
                                      fastnn.LeakyReLU(), fastnn.Tanh())
    steps = layers.fused_steps([d[0], relu, d[1], slope, drop, d[2], leaky, d[3], tanh])
    expected = [(d[0], relu), (d[1], None), (slope, None), (drop, None), (d[2], leaky),
                (d[3], tanh)]
    assert len(steps) == len(expected)
    for (layer, act), (want_layer, want_act) in zip(steps, expected):
        assert layer is want_layer and act is want_act


@pytest.mark.parametrize("name", sorted(layers.ACTIVATION_LAYERS))
def test_fused_step_keeps_what_backward_needs(name, dtype):
    """Dense.forward_activated equals Dense.forward then the activation's forward, and
    leaves both layers ready for backward (nothing kept at inference)."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((11, 6)).astype(dtype)
    g = rng.standard_normal((11, 5)).astype(dtype)
    dense, act = fastnn.Dense(6, 5, dtype=dtype, seed=0), layers.ACTIVATION_LAYERS[name]()
    dense2, act2 = fastnn.Dense(6, 5, dtype=dtype, seed=0), layers.ACTIVATION_LAYERS[name]()
    assert_close(dense.forward_activated(x, act), act2.forward(dense2.forward(x)), dtype,
                 scale=10)
    assert_close(dense.backward(act.backward(g)), dense2.backward(act2.backward(g)), dtype,
                 scale=10)
    assert_close(dense.grad_weight, dense2.grad_weight, dtype, scale=10)
    assert_close(dense.grad_bias, dense2.grad_bias, dtype, scale=10)
    dense.forward_activated(x, act, training=False)
    for layer in (dense, act):
        with pytest.raises(RuntimeError, match="before forward"):
            layer.backward(g)


@pytest.mark.parametrize("make,match", [
    (lambda: fastnn.Dense(0, 3), "in_features"),
    (lambda: fastnn.Dense(3, 2, dtype=np.int32), "dtype"),
    (lambda: fastnn.Dense(3, 2, init="magic"), "init"),
    (lambda: fastnn.Dropout(1.0), "p must be"),
    (lambda: fastnn.Sequential([fastnn.Dense(3, 4), fastnn.Dense(5, 2)]), "chain"),
    (lambda: fastnn.SGD(fastnn.Dense(3, 2).parameters(), lr=-1.0), "lr must be .* >= 0"),
    (lambda: fastnn.SGD(fastnn.Dense(3, 2).parameters(), lr=0.1, nesterov=True), "nesterov"),
    (lambda: fastnn.Adam(fastnn.Dense(3, 2).parameters(), betas=(0.9, 1.0)),
     r"betas\[1\] must be a real number in \[0, 1\); received 1.0"),
    # issue 11: every scalar is named, NaN and infinity are refused where they make no sense
    (lambda: fastnn.LeakyReLU(float("nan")), "negative_slope must be a finite real number"),
    (lambda: fastnn.LeakyReLU("0.1"), r"negative_slope must be a real number; received '0.1'"),
    (lambda: fastnn.Dropout("0.5"), "p must be a real number"),
    (lambda: fastnn.Dropout(float("nan")), r"p must be a real number in \[0, 1\)"),
    (lambda: fastnn.SoftmaxCrossEntropy(label_smoothing="0.1"), "label_smoothing must be a real"),
    (lambda: fastnn.SoftmaxCrossEntropy(label_smoothing=float("nan")), "label_smoothing"),
    (lambda: fastnn.Dense("3", 2), "in_features must be a positive integer"),
    (lambda: fastnn.Dense(3, 2, dtype=">f4"), "dtype must be float32 or float64"),
    (lambda: fastnn.Dense(3, 2, dtype="no such type"), "dtype must be float32 or float64"),
    (lambda: fastnn.Dense(3, 2, seed=-1), "seed must be an integer >= 0"),
    (lambda: fastnn.Dense(3, 2, seed=1.5), "seed must be None, an integer"),
    (lambda: fastnn.Dropout(0.1, seed="x"), "seed must be None, an integer"),
    (lambda: fastnn.SGD(fastnn.Dense(3, 2).parameters(), lr=float("inf")), "lr must be a finite"),
    (lambda: fastnn.SGD(fastnn.Dense(3, 2).parameters(), lr="0.1"), "lr must be a real number"),
    (lambda: fastnn.SGD(fastnn.Dense(3, 2).parameters(), lr=0.1, momentum=float("nan")),
     "momentum must be a finite"),
    (lambda: fastnn.SGD(fastnn.Dense(3, 2).parameters(), lr=0.1, weight_decay=float("inf")),
     "weight_decay must be a finite"),
    (lambda: fastnn.Adam(fastnn.Dense(3, 2).parameters(), eps=-1.0), "eps must be .* >= 0"),
    (lambda: fastnn.Adam(fastnn.Dense(3, 2).parameters(), betas=0.9), "betas must be a pair"),
    (lambda: fastnn.ExponentialLR(fastnn.SGD(fastnn.Dense(3, 2).parameters(), lr=0.1), gamma=-1),
     "gamma must be a finite real number > 0; received -1"),
    (lambda: fastnn.ExponentialLR(fastnn.SGD(fastnn.Dense(3, 2).parameters(), lr=0.1),
                                  gamma=float("nan")), "gamma must be a finite"),
    (lambda: fastnn.StepLR(fastnn.SGD(fastnn.Dense(3, 2).parameters(), lr=0.1), step_size="2"),
     "step_size must be a positive integer"),
    (lambda: fastnn.StepLR(fastnn.SGD(fastnn.Dense(3, 2).parameters(), lr=0.1), 2, gamma=0),
     "gamma must be a finite real number > 0"),
    (lambda: fastnn.CosineAnnealingLR(fastnn.SGD(fastnn.Dense(3, 2).parameters(), lr=0.1), 4,
                                      eta_min=-1), "eta_min must be .* >= 0"),
    (lambda: fastnn.ExponentialLR("opt", gamma=0.9), "optimizer must be an Optimizer"),
    (lambda: fastnn.EarlyStopping(patience=-1), "patience must be an integer >= 0"),
    (lambda: fastnn.EarlyStopping(min_delta="0"), "min_delta must be a real number"),
    (lambda: fastnn.EarlyStopping(monitor=3), "monitor must be a str"),
])
def test_constructors_validate(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_dropout_is_identity_at_inference_and_scales_in_training():
    x = np.ones((1000, 50))
    drop = fastnn.Dropout(0.25, seed=0)
    np.testing.assert_array_equal(drop.forward(x, training=False), x)
    y = drop.forward(x)
    assert set(np.unique(y)) == {0.0, 1 / 0.75}
    assert abs((y == 0).mean() - 0.25) < 0.01
    np.testing.assert_array_equal(drop.backward(np.ones_like(x)), y)


def test_weight_assignment_keeps_optimizer_reference():
    layer = fastnn.Dense(3, 2, dtype=np.float64)
    params = layer.parameters()
    layer.weight = np.arange(6.0).reshape(3, 2)
    assert params[0].value is layer.weight
    np.testing.assert_array_equal(params[0].value, np.arange(6.0).reshape(3, 2))
    with pytest.raises(ValueError, match="shape"):
        layer.weight = np.zeros((2, 3))


def test_seeded_init_is_reproducible_and_scaled():
    a, b = fastnn.Dense(500, 400, seed=3), fastnn.Dense(500, 400, seed=3)
    np.testing.assert_array_equal(a.weight, b.weight)
    assert a.weight.std() == pytest.approx(math.sqrt(2 / 500), rel=0.02)
    g = fastnn.Dense(500, 400, init="glorot", seed=3)
    assert np.abs(g.weight).max() <= math.sqrt(6 / 900)


# ------------------------------------------------------ what a loss tells the model
@pytest.mark.parametrize("loss,y,exc,match", [
    (fastnn.SoftmaxCrossEntropy(), np.array([0.0, 1.0, 2.0]), TypeError, "integer class labels"),
    (fastnn.SoftmaxCrossEntropy(), np.array([0, 3, 1]), ValueError, r"outside \[0, 3\)"),
    (fastnn.SoftmaxCrossEntropy(), np.ones((3, 2)), ValueError, r"shape \(3, 3\)"),
    (fastnn.MSE(), np.ones((3, 2)), ValueError, r"shape \(3, 3\) for MSE"),
    (fastnn.MSE(), np.array([[1.0, np.inf, 0.0]] * 3), ValueError, "NaN or infinity"),
    (fastnn.MSE(), np.array([["a", "b", "c"]] * 3), TypeError, "numbers"),
    (fastnn.BCEWithLogits(), np.full((3, 3), 1.5), ValueError, r"lie in \[0, 1\]"),
])
def test_loss_rejects_bad_targets(loss, y, exc, match):
    with pytest.raises(exc, match=match):
        loss.check_targets(y, 3, np.dtype(np.float32), "y_val")


def test_loss_returns_targets_as_its_kernel_takes_them():
    labels = fastnn.SoftmaxCrossEntropy().check_targets(np.array([2, 0, 1], np.int32)[::-1], 3,
                                                        np.dtype(np.float32))
    assert labels.dtype == np.int64 and labels.flags.c_contiguous
    np.testing.assert_array_equal(labels, [1, 0, 2])
    column = fastnn.MSE().check_targets(np.arange(4), 1, np.dtype(np.float32))
    assert column.shape == (4, 1) and column.dtype == np.float32
    probs = np.full((2, 3), 1 / 3)
    assert fastnn.SoftmaxCrossEntropy().check_targets(probs, 3, np.dtype(np.float64)).shape == (2, 3)


def test_loss_turns_outputs_into_probabilities_predictions_and_accuracy():
    out = np.array([[2.0, -1.0, 0.5], [-0.5, -2.0, 3.0]])
    ce, mse, bce = fastnn.SoftmaxCrossEntropy(), fastnn.MSE(), fastnn.BCEWithLogits()
    np.testing.assert_allclose(ce.probabilities(out.copy()), R.softmax(out), rtol=1e-12)
    np.testing.assert_allclose(bce.probabilities(out.copy()), R.sigmoid(out), rtol=1e-12)
    buf = out.copy()
    assert ce.probabilities(buf) is buf  # written over the outputs
    np.testing.assert_array_equal(ce.predictions(out), [0, 2])
    np.testing.assert_array_equal(bce.predictions(out), [[1, 0, 1], [0, 0, 1]])
    assert bce.predictions(out).dtype == np.int64
    assert mse.predictions(out) is out
    assert ce.accuracy(out, np.array([0, 1])) == 0.5
    assert ce.accuracy(out, np.array([[1.0, 0, 0], [0, 0, 1.0]])) == 1.0
    assert bce.accuracy(out, np.array([[1.0, 0, 1], [0, 1, 1]])) == pytest.approx(5 / 6)
    assert mse.accuracy(out, out) is None


def test_compiled_epoch_gets_the_label_smoothing():
    assert fastnn.SoftmaxCrossEntropy(0.25).compiled_args()[1] == 0.25
    assert fastnn.MSE().compiled_args()[1] == 0.0


class _DoubledCrossEntropy(fastnn.SoftmaxCrossEntropy):
    """A loss with its own forward: only the Python loop can run it."""

    def forward(self, outputs, targets):
        loss = super().forward(outputs, targets)
        self._grad = self._grad * 2
        return 2 * loss


def test_a_loss_with_its_own_forward_runs_the_python_loop():
    assert _DoubledCrossEntropy().compiled_args() is None
    assert losses.Loss().compiled_args() is None  # no kernel
    X, y = class_data(n=40, d=5, c=3)
    a, b = mlp([5, 8, 3]), mlp([5, 8, 3])
    assert _training.compiled_runner(a, _DoubledCrossEntropy(), fastnn.SGD(a.parameters(), lr=0.1),
                                     X, y, 8) is None
    hist = a.fit(X, y, loss=_DoubledCrossEntropy(), optimizer=fastnn.SGD(a.parameters(), lr=0.1),
                 epochs=2, batch_size=8, seed=1, verbose=False)
    manual = manual_fit(b, _DoubledCrossEntropy(), fastnn.SGD(b.parameters(), lr=0.1), X, y,
                        epochs=2, batch_size=8, seed=1)
    assert hist.loss == manual


@pytest.mark.parametrize("seed", [np.int64(3), np.int32(3), np.uint8(3)])
def test_numpy_integer_seeds_are_plain_ints(seed):
    """A NumPy integer seed once made save fail (not JSON serializable)."""
    assert fastnn.Dense(3, 2, seed=seed).config()["seed"] == 3
    assert type(fastnn.Dropout(0.1, seed=seed).seed) is int
    np.testing.assert_array_equal(fastnn.Dense(3, 2, seed=seed).weight,
                                  fastnn.Dense(3, 2, seed=3).weight)


@pytest.mark.parametrize("shared", ["dense", "activation"])
def test_a_layer_used_twice_is_refused(shared):
    """A layer keeps one input (or output) for backward and overwrites its gradients, so
    the same object at two positions of a network got wrong gradients."""
    dense, act = fastnn.Dense(4, 4), fastnn.ReLU()
    layers = ([dense, fastnn.ReLU(), dense] if shared == "dense"
              else [dense, act, fastnn.Dense(4, 4), act])
    with pytest.raises(ValueError, match=r"layers\[\d\] and layers\[\d\] are the same"):
        fastnn.Sequential(layers)
    # the same layer in two different networks stays allowed
    fastnn.Sequential([dense, act])
    fastnn.Sequential([dense, fastnn.Tanh()])


def test_model_layer_refuses_byte_swapped_arrays_where_it_computes_in_place():
    """Big-endian input once went through Dense.forward, Sequential.forward and train_batch
    as if native (a product of misread numbers); predict and fit convert it."""
    model = fastnn.Sequential([fastnn.Dense(3, 2, dtype=np.float64, seed=0)])
    x, labels = np.arange(6.0).reshape(2, 3).astype(">f8"), np.array([0, 1])
    calls = [lambda: model.layers[0].forward(x), lambda: model.forward(x),
             lambda: model.train_batch(x, labels, fastnn.SoftmaxCrossEntropy(),
                                       fastnn.SGD(model.parameters(), lr=0.1))]
    before = model.layers[0].weight.copy()
    for call in calls:
        with pytest.raises(TypeError, match=r"x must have dtype .*received dtype >f8"):
            call()
    np.testing.assert_array_equal(model.layers[0].weight, before)
    np.testing.assert_array_equal(model.predict_proba(x), model.predict_proba(x.astype(np.float64)))
