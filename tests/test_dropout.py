"""Dropout: ops.dropout/dropout_backward against the NumPy reference (the mask bit for
bit), the Dropout layer, and the compiled epoch with dropout against a NumPy epoch, the
manual loop and itself on other thread counts; the layer's mask key and step through save
and load."""
import json
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastnn
from fastnn import _training
from fastnn import reference as R

from _helpers import (LOSSES, NUMPY_TRAINING_TOL, OPTIMIZERS, TRAINING_TOL, assert_close,
                      assert_fit_bitwise_for_thread_counts, central_differences, class_data,
                      manual_fit, rand)

RATES = [0.0, 0.1, 0.5, 0.9]
#: 0, 1, odd, prime, more than one parallel chunk (8192), n-D and 0-D
SHAPES = [(0, 5), (1, 1), (1, 7), (7, 1), (13, 17), (101,), (3, 5, 7), (), (131, 127)]


# ------------------------------------------------------------------------ the kernel
@pytest.mark.parametrize("p", RATES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_dropout_matches_reference_bit_for_bit(kmod, dtype, shape, p):
    rng = np.random.default_rng(0)
    x = rand(rng, shape, dtype, 3.0)
    for seed, step in ((0, 0), (12345, 7), (2 ** 64 - 1, 2 ** 62)):
        y = kmod.dropout(x, p, seed=seed, step=step)
        assert y.dtype == dtype and y.shape == x.shape
        np.testing.assert_array_equal(y, R.dropout(x, p, seed=seed, step=step))
        g = rand(rng, shape, dtype)
        np.testing.assert_array_equal(kmod.dropout_backward(g, p, seed=seed, step=step),
                                      R.dropout_backward(g, p, seed=seed, step=step))
        keep = R.dropout_mask(shape, p, seed=seed, step=step)
        np.testing.assert_array_equal(y != 0, keep & (x != 0))


def test_dropout_keeps_one_minus_p_and_scales(dtype):
    x = np.ones((1000, 300), dtype)
    for p in RATES:
        y = fastnn.ops.dropout(x, p, seed=3, step=1)
        kept = (y != 0).mean()
        assert abs(kept - (1 - p)) < 4 * np.sqrt(p * (1 - p) / x.size) + 1e-12
        assert set(np.unique(y)) <= {0.0, dtype(1.0 / (1.0 - p))}


def test_masks_differ_between_seeds_steps_and_elements():
    masks = [R.dropout_mask((64, 64), 0.5, seed=s, step=t) for s, t in
             ((0, 0), (1, 0), (0, 1), (1, 1), (2 ** 63, 0))]
    for i, a in enumerate(masks):
        for b in masks[i + 1:]:
            assert 0.4 < (a != b).mean() < 0.6  # independent masks agree on half
    rows = masks[0]
    assert 0.4 < (rows[:-1] != rows[1:]).mean() < 0.6  # rows are not shifted copies


@pytest.mark.parametrize("view", ["transposed", "strided", "fortran", "negative"])
def test_dropout_of_views_follows_the_logical_c_order(kmod, dtype, view):
    base = rand(np.random.default_rng(1), (40, 33), dtype)
    x = {"transposed": base.T, "strided": base[::3, 1::2], "fortran": np.asfortranarray(base),
         "negative": base[::-1, ::-2]}[view]
    expected = R.dropout(np.ascontiguousarray(x), 0.3, seed=9, step=2)
    np.testing.assert_array_equal(kmod.dropout(x, 0.3, seed=9, step=2), expected)
    out = np.zeros((x.shape[1], x.shape[0]), dtype).T  # a non-contiguous out
    assert kmod.dropout(x, 0.3, seed=9, step=2, out=out) is out
    np.testing.assert_array_equal(out, expected)


def test_dropout_in_place_and_out(kmod, dtype):
    x = rand(np.random.default_rng(2), (17, 19), dtype)
    expected = R.dropout(x, 0.4, seed=5)
    out = np.empty_like(x)
    result = kmod.dropout(x, 0.4, seed=5, out=out)
    assert result is out and np.shares_memory(result, out)
    np.testing.assert_array_equal(out, expected)
    assert kmod.dropout_backward(x, 0.4, seed=5, out=x) is x
    np.testing.assert_array_equal(x, expected)


def test_dropout_is_the_same_for_every_thread_count(kmod):
    x = rand(np.random.default_rng(3), (700, 500), np.float32)  # above the parallel threshold
    results = []
    for n in (1, 2, 3):
        with fastnn.set_num_threads(n):
            results.append(kmod.dropout(x, 0.25, seed=11, step=4))
    for y in results[1:]:
        np.testing.assert_array_equal(y, results[0])
    np.testing.assert_array_equal(results[0], R.dropout(x, 0.25, seed=11, step=4))


@settings(max_examples=60, deadline=None)
@given(x=hnp.arrays(st.sampled_from([np.float32, np.float64]),
                    hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=9),
                    elements=st.floats(-1e6, 1e6, width=32)),
       p=st.floats(0.0, 1.0, exclude_max=True),
       seed=st.integers(0, 2 ** 64 - 1), step=st.integers(0, 2 ** 63 - 1))
def test_dropout_property(x, p, seed, step):
    np.testing.assert_array_equal(fastnn.ops.dropout(x, p, seed=seed, step=step),
                                  R.dropout(x, p, seed=seed, step=step))


def test_dropout_backward_by_finite_differences():
    """sum(w * dropout(x)) is linear in x: its central differences are its gradient."""
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal((6, 7)), rng.standard_normal((6, 7))
    grad = fastnn.ops.dropout_backward(w, 0.3, seed=8, step=1)
    numeric = central_differences(
        lambda z: np.sum(w * fastnn.ops.dropout(z, 0.3, seed=8, step=1)), x)
    np.testing.assert_allclose(grad, numeric, rtol=1e-7, atol=1e-8)
    assert (grad == 0).any() and (grad != 0).any()


X32 = np.ones((3, 4), np.float32)


@pytest.mark.parametrize("call,exc,match", [
    (lambda k: k.dropout(X32, 1.0, seed=0), ValueError, r"p must be a real number in \[0, 1\)"),
    (lambda k: k.dropout(X32, -0.1, seed=0), ValueError, "p must be"),
    (lambda k: k.dropout(X32, float("nan"), seed=0), ValueError, "p must be"),
    (lambda k: k.dropout(X32, "0.5", seed=0), TypeError, "p must be a real number"),
    (lambda k: k.dropout(X32, 0.5, seed=-1), ValueError, r"seed must be an integer in \[0, 2\*\*64\)"),
    (lambda k: k.dropout(X32, 0.5, seed=2 ** 64), ValueError, "seed must be an integer"),
    (lambda k: k.dropout(X32, 0.5, seed=1.5), TypeError, "seed must be an integer"),
    (lambda k: k.dropout(X32, 0.5, seed=True), TypeError, "seed must be an integer"),
    (lambda k: k.dropout(X32, 0.5, seed=0, step=-1), ValueError, "step must be an integer >= 0"),
    (lambda k: k.dropout(X32, 0.5, seed=0, step=0.5), TypeError, "step must be an integer"),
    (lambda k: k.dropout(X32.astype(np.int32), 0.5, seed=0), TypeError, "x must have dtype"),
    (lambda k: k.dropout([1.0], 0.5, seed=0), TypeError, "x must be a numpy.ndarray"),
    (lambda k: k.dropout_backward(X32.astype(">f4"), 0.5, seed=0), TypeError, "grad_output"),
    (lambda k: k.dropout(X32, 0.5, seed=0, out=np.empty((4, 3), np.float32)), ValueError, "out"),
    (lambda k: k.dropout(X32, 0.5, seed=0, out=np.empty((3, 4))), TypeError, "out"),
    (lambda k: k.dropout(X32, 0.5, seed=0, out=np.ones((3, 4), np.float32)[::-1]), None, None),
])
def test_dropout_bad_arguments(kmod, call, exc, match):
    if exc is None:
        call(kmod)  # a reversed view as out is fine
        return
    with pytest.raises(exc, match=match):
        call(kmod)


def test_dropout_refuses_read_only_and_overlapping_out(kmod):
    x = np.ones((4, 6))
    frozen = np.zeros_like(x)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="out"):
        kmod.dropout(x, 0.5, seed=0, out=frozen)
    with pytest.raises(ValueError, match="out must not overlap x"):
        kmod.dropout(x[:, :5], 0.5, seed=0, out=x[:, 1:])


# ------------------------------------------------------------------------- the layer
def test_dropout_layer_uses_one_step_per_training_forward(dtype):
    drop = fastnn.Dropout(0.3, seed=21)
    x = rand(np.random.default_rng(5), (9, 8), dtype)
    np.testing.assert_array_equal(drop.forward(x, training=False), x)
    assert drop.step == 0
    for step in range(3):
        np.testing.assert_array_equal(drop.forward(x), R.dropout(x, 0.3, seed=21, step=step))
        g = rand(np.random.default_rng(step), x.shape, dtype)
        np.testing.assert_array_equal(drop.backward(g),
                                      R.dropout_backward(g, 0.3, seed=21, step=step))
    assert drop.step == 3
    assert drop.backward is not None and fastnn.Dropout(0.0).forward(x) is x


def test_dropout_layer_seeds():
    x = np.ones((50, 50))
    assert fastnn.Dropout(0.5, seed=7).key == 7
    a, b = fastnn.Dropout(0.5), fastnn.Dropout(0.5)
    assert 0 <= a.key < 2 ** 64 and a.key != b.key
    assert not np.array_equal(a.forward(x), b.forward(x))
    g1, g2 = (fastnn.Dropout(0.5, seed=np.random.default_rng(1)) for _ in range(2))
    assert g1.key == g2.key


# ------------------------------------------------------------- the compiled epoch
def _dropout_mlp(sizes, rates, act=fastnn.ReLU, dtype=np.float64, seed=0):
    """Dense layers with ``act`` and ``Dropout(rates[l], seed=100 + l)`` after hidden layer l."""
    layers = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(fastnn.Dense(a, b, dtype=dtype, seed=seed + i))
        if i < len(sizes) - 2:
            layers += [act(), fastnn.Dropout(rates[i], seed=100 + i)]
    return fastnn.Sequential(layers)


@pytest.mark.parametrize("p", RATES)
@pytest.mark.parametrize("batch_size", [1, 7, 45])
@pytest.mark.parametrize("act", ["relu", "tanh"])
def test_compiled_epoch_equals_numpy_epoch(dtype, p, batch_size, act, on_each_isa):
    """fit's compiled epochs (SGD, two hidden layers with dropout) against
    reference.mlp_train_epoch with the same masks: the same numbers to tolerance (a
    different mask would change the weights by far more)."""
    X, y = class_data(n=45, d=9, c=4, dtype=dtype)
    rates = [p, p / 2]
    model = _dropout_mlp([9, 13, 11, 4], rates,
                         act={"relu": fastnn.ReLU, "tanh": fastnn.Tanh}[act], dtype=dtype)
    assert _training.compiled_layers(model) is not None
    dense = model.layers[::3]
    Ws, bs = [d.weight.copy() for d in dense], [d.bias.copy() for d in dense]
    epochs, lr, seed = 2, 0.05, 4
    rng = np.random.default_rng(seed)
    n_batches = -(-45 // batch_size)
    expected = [R.mlp_train_epoch(Ws, bs, X, y, rng.permutation(45), lr=lr,
                                  batch_size=batch_size, activation=act, dropout_rates=rates,
                                  seeds=[100, 101], step=e * n_batches) for e in range(epochs)]
    hist = model.fit(X, y, loss="cross_entropy", optimizer=fastnn.SGD(model.parameters(), lr=lr),
                     epochs=epochs, batch_size=batch_size, seed=seed, verbose=False)
    assert_close(hist.loss, expected, dtype, scale=0, tol=NUMPY_TRAINING_TOL)
    for d, W, b in zip(dense, Ws, bs):
        assert_close(d.weight, W, dtype, tol=NUMPY_TRAINING_TOL)
        assert_close(d.bias, b, dtype, tol=NUMPY_TRAINING_TOL)
    drops = [layer for layer in model.layers if isinstance(layer, fastnn.Dropout)]
    assert [d.step for d in drops] == [epochs * n_batches if r > 0 else 0 for r in rates]


@pytest.mark.parametrize("opt_name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("loss_name", ["ce", "mse"])
@pytest.mark.parametrize("batch_size", [1, 16])
@pytest.mark.parametrize("sparse", [False, True])
def test_fit_with_dropout_equals_manual_loop(opt_name, loss_name, batch_size, sparse, dtype):
    """fit and the manual loop (forward, loss, backward, step) draw the same masks."""
    import scipy.sparse as sp

    rng = np.random.default_rng(6)
    n = 53
    X = rng.standard_normal((n, 10)).astype(dtype)
    if sparse:
        X = sp.csr_matrix(np.where(rng.random(X.shape) < 0.3, X, 0).astype(dtype))
    y = (rng.integers(0, 4, n) if loss_name == "ce"
         else rng.standard_normal((n, 4)).astype(dtype))
    a, b = (_dropout_mlp([10, 24, 12, 4], [0.5, 0.2], dtype=dtype) for _ in range(2))
    hist = a.fit(X, y, loss=LOSSES[loss_name](), optimizer=OPTIMIZERS[opt_name](a.parameters()),
                 epochs=2, batch_size=batch_size, seed=3, verbose=False)
    manual = manual_fit(b, LOSSES[loss_name](), OPTIMIZERS[opt_name](b.parameters()), X, y,
                        epochs=2, batch_size=batch_size, seed=3)
    assert_close(hist.loss, manual, dtype, scale=0, tol=TRAINING_TOL)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert_close(pa.value, pb.value, dtype, tol=TRAINING_TOL)


def test_fit_with_dropout_is_bitwise_the_same_for_every_thread_count():
    """Minibatches of 600 x 300 outputs: the dropout of the first hidden layer runs on
    several threads."""
    X, y = class_data(n=600, d=40, c=5, dtype=np.float32)
    assert_fit_bitwise_for_thread_counts(
        X, y, [40, 300, 200, 5], batch_size=600,
        build=lambda sizes: _dropout_mlp(sizes, [0.3, 0.5], dtype=np.float32))


def test_dropout_is_off_at_predict_and_evaluate():
    X, y = class_data(n=40, d=6, c=3)
    model = _dropout_mlp([6, 10, 3], [0.5])
    model.fit(X, y, loss="cross_entropy", optimizer=fastnn.SGD(model.parameters(), lr=0.1),
              epochs=1, batch_size=8, seed=0, verbose=False)
    plain = fastnn.Sequential([model.layers[0], model.layers[1], model.layers[3]])
    step = model.layers[2].step
    np.testing.assert_array_equal(model.predict_proba(X), plain.predict_proba(X))
    assert model.evaluate(X, y) == plain.evaluate(X, y)
    assert model.layers[2].step == step


def test_fit_continues_the_layers_mask_stream():
    """Two one-epoch fits draw the masks of one two-epoch fit: the steps go on."""
    X, y = class_data(n=30, d=5, c=3)
    runs = []
    for epochs in ((2,), (1, 1)):
        model = _dropout_mlp([5, 8, 3], [0.5])
        for e in epochs:
            model.fit(X, y, loss="cross_entropy", optimizer=fastnn.SGD(model.parameters(), lr=0.1),
                      epochs=e, batch_size=7, shuffle=False, verbose=False)
        runs.append([p.value.copy() for p in model.parameters()])
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


def _round_trip(how, model, tmp_path):
    if how == "save":
        model.save(tmp_path / "mid.npz")
        return fastnn.load(tmp_path / "mid.npz")
    return pickle.loads(pickle.dumps(model))


@pytest.mark.parametrize("how", ["save", "pickle"])
@pytest.mark.parametrize("seed", [None, 11])
@pytest.mark.parametrize("batch_size", [1, 7])
def test_save_and_load_mid_training_continue_the_masks(how, seed, batch_size, dtype, tmp_path):
    """Saved and loaded (or pickled) between two fits, a network with dropout (a random or
    a given seed) trains on bitwise as if it had never left memory: the layer's mask key
    and step travel with the file."""
    X, y = class_data(n=30, d=5, c=3, dtype=dtype)
    runs = []
    for interrupted in (False, True):
        model = fastnn.Sequential([fastnn.Dense(5, 8, dtype=dtype, seed=0), fastnn.ReLU(),
                                   fastnn.Dropout(0.4, seed=seed),
                                   fastnn.Dense(8, 3, dtype=dtype, seed=1)])
        if runs:  # the first run's key (a random one for seed=None)
            model.layers[2].load_training_state({"key": runs[0][2]})
        for part in range(2):
            model.fit(X, y, loss="cross_entropy",
                      optimizer=fastnn.SGD(model.parameters(), lr=0.1), epochs=2,
                      batch_size=batch_size, seed=part, verbose=False)
            if interrupted and part == 0:
                model = _round_trip(how, model, tmp_path)
        runs.append(([p.value.copy() for p in model.parameters()], model.layers[2].step,
                     model.layers[2].key))
    for a, b in zip(runs[0][0], runs[1][0]):
        np.testing.assert_array_equal(a, b)
    assert runs[0][1] == runs[1][1] == 4 * -(-30 // batch_size)


def test_dropout_training_state_round_trips_and_is_checked(tmp_path):
    drop = fastnn.Dropout(0.3)
    drop.forward(np.ones((2, 3)))
    state = drop.training_state()
    assert state == {"key": drop.key, "step": 1}
    twin = fastnn.Dropout(0.3, seed=5)
    twin.load_training_state(state)
    assert (twin.key, twin.step) == (drop.key, 1)
    for bad, match in [({"step": -1}, "step must be an integer in"),
                       ({"key": 2 ** 64}, "key must be an integer in"),
                       ({"step": 1.0}, "step must be an integer in"),
                       ({"key": True}, "key must be an integer in"),
                       ({"mask": 3}, "Dropout keeps its key and step")]:
        with pytest.raises(ValueError, match=match):
            twin.load_training_state(bad)
        assert (twin.key, twin.step) == (drop.key, 1)
    x = np.ones((4, 6))
    np.testing.assert_array_equal(twin.forward(x), drop.forward(x))
    with pytest.raises(ValueError, match="ReLU keeps no training state"):
        fastnn.ReLU().load_training_state({"step": 1})
    fastnn.ReLU().load_training_state({})


@pytest.mark.parametrize("state", [{"step": -3}, {"key": "x"}, [1, 2], {"other": 1}])
def test_load_refuses_a_bad_dropout_state(state, tmp_path):
    model = fastnn.Sequential([fastnn.Dense(3, 4, seed=0), fastnn.Dropout(0.5, seed=1),
                               fastnn.Dense(4, 2, seed=2)])
    path = tmp_path / "m.npz"
    model.save(path)
    with np.load(path) as data:
        arrays = {key: data[key] for key in data.files}
    header = json.loads(str(arrays["__fastnn__"]))
    assert header["layers"][1]["state"] == {"key": 1, "step": 0}
    header["layers"][1]["state"] = state
    arrays["__fastnn__"] = np.array(json.dumps(header))
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match="is not a valid fastnn model file .layer 1"):
        fastnn.load(path)


def test_fit_follows_a_dropout_schedule_set_by_a_callback():
    """A callback changing the rate after each epoch (from 0: no dropout, to 0.5, to 0.2):
    fit's compiled epochs follow it, with the numbers of the manual loop."""
    X, y = class_data(n=40, d=6, c=3)
    schedule = [0.0, 0.5, 0.2]
    a, b = (_dropout_mlp([6, 10, 3], [schedule[0]]) for _ in range(2))

    class Schedule:
        def on_epoch_end(self, epoch, logs, model):
            model.layers[2].p = schedule[min(epoch + 1, len(schedule) - 1)]

    hist = a.fit(X, y, loss="cross_entropy", optimizer=fastnn.SGD(a.parameters(), lr=0.1),
                 epochs=3, batch_size=8, shuffle=False, verbose=False, callbacks=[Schedule()])
    loss, opt, manual = fastnn.SoftmaxCrossEntropy(), fastnn.SGD(b.parameters(), lr=0.1), []
    for rate in schedule:
        b.layers[2].p, total = rate, 0.0
        for start in range(0, 40, 8):
            total += loss.forward(b.forward(X[start:start + 8]), y[start:start + 8]) * 8
            b.backward(loss.backward())
            opt.step()
        manual.append(total / 40)
    assert_close(hist.loss, manual, np.float64, scale=0, tol=TRAINING_TOL)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert_close(pa.value, pb.value, np.float64, tol=TRAINING_TOL)
    assert a.layers[2].step == b.layers[2].step == 10


@pytest.mark.parametrize("change,match", [
    (dict(dropout=[0.5]), "one entry per layer"),
    (dict(dropout=[0.5, 0.0], dropout_seeds=None), "one entry per layer"),
    (dict(dropout=[1.0, 0.0]), r"dropout\[0\] must be a real number in \[0, 1\)"),
    (dict(dropout=[float("nan"), 0.0]), r"dropout\[0\] must be"),
    (dict(dropout=[0.0, 0.5]), r"dropout\[1\] \(the output layer's\) must be 0"),
    (dict(dropout_seeds=[-1, 0]), r"dropout_seeds\[0\] must be an integer in \[0, 2\*\*64\)"),
])
def test_train_plan_checks_its_dropout(kmod, change, match):
    X, y = class_data(n=12, d=5, c=3)
    model = _dropout_mlp([5, 8, 3], [0.5])
    layers = _training.compiled_layers(model)
    params = [p for d, *_ in layers for p in d.parameters()]
    kwargs = dict(dropout=[0.5, 0.0], dropout_seeds=[1, 0])
    kwargs.update(change)
    with pytest.raises(ValueError, match=match):
        kmod.TrainPlan(X, y, 4, [p.value for p in params], [p.grad for p in params], None, None,
                       [0, 2], [1, 3], [kmod.ACTIVATION_CODES["relu"], 0], [0.0, 0.0],
                       *fastnn.SoftmaxCrossEntropy().compiled_args(), None, **kwargs)


def test_full_batch_gradient_with_dropout_runs_the_python_forward():
    """The compiled full-batch objective is deterministic: a plan with dropout refuses
    it, and full_batch_gradient of a network with dropout runs the Python layers (new
    masks each evaluation)."""
    X, y = class_data(n=20, d=5, c=3)
    model = _dropout_mlp([5, 8, 3], [0.5])
    plan = _training._train_plan(_training.compiled_layers(model),
                                 fastnn.SoftmaxCrossEntropy().compiled_args(), X, y, 20)
    with pytest.raises(ValueError, match="loss_gradient needs a plan without dropout"):
        plan.loss_gradient()
    evaluate = _training.full_batch_gradient(model, fastnn.SoftmaxCrossEntropy(), X, y)
    first = evaluate()
    assert model.layers[2].step == 1 and evaluate() != first
