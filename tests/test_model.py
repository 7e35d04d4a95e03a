"""The model layer: gradients of whole networks, training parity with a plain NumPy
loop, fit == manual loop, fit's checks, save/load, callbacks and schedules."""
import math

import numpy as np
import pytest

import fastnn
from fastnn import reference as R
from fastnn.__main__ import main as cli_main


@pytest.fixture(params=sorted(fastnn._dispatch.modules), ids=lambda isa: f"isa={isa}")
def on_each_isa(request, monkeypatch):
    """Run the model layer on each compiled path (the ops and the compiled epochs)."""
    mod = fastnn._dispatch.modules[request.param]
    monkeypatch.setattr(fastnn._dispatch, "kernels", mod)
    for name in fastnn.ops.__all__:
        monkeypatch.setattr(fastnn.ops, name, getattr(mod, name))
    return mod


def _data(n=64, d=7, c=4, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(dtype)
    y = rng.integers(0, c, n)
    return X, y


def _mlp(sizes, act=fastnn.ReLU, dtype=np.float64, seed=0):
    layers = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(fastnn.Dense(a, b, dtype=dtype, seed=seed + i,
                                   init="he" if act is fastnn.ReLU else "glorot"))
        if i < len(sizes) - 2:
            layers.append(act())
    return fastnn.Sequential(layers)


# ------------------------------------------------------------- gradient checks
LOSSES = {
    "ce": (fastnn.SoftmaxCrossEntropy, lambda rng, n, c: rng.integers(0, c, n)),
    "ce_smooth": (lambda: fastnn.SoftmaxCrossEntropy(label_smoothing=0.1),
                  lambda rng, n, c: rng.integers(0, c, n)),
    "mse": (fastnn.MSE, lambda rng, n, c: rng.standard_normal((n, c))),
    "bce": (fastnn.BCEWithLogits, lambda rng, n, c: rng.integers(0, 2, (n, c)).astype(float)),
}


@pytest.mark.parametrize("act", [fastnn.ReLU, fastnn.Tanh, fastnn.Sigmoid, fastnn.LeakyReLU,
                                 fastnn.Identity])
@pytest.mark.parametrize("loss_name", sorted(LOSSES))
def test_network_gradients_match_finite_differences(act, loss_name):
    make_loss, make_y = LOSSES[loss_name]
    rng = np.random.default_rng(1)
    X = rng.standard_normal((9, 5))
    y = make_y(rng, 9, 3)
    model = _mlp([5, 6, 4, 3], act=act)
    loss = make_loss()

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


# ------------------------------------------------- parity with a plain NumPy loop
@pytest.mark.parametrize("dtype,batch_size", [(np.float64, 16), (np.float32, 10),
                                              (np.float64, 1), (np.float32, 300)])
def test_training_curve_matches_plain_numpy(dtype, batch_size, on_each_isa):
    X, y = _data(n=300, d=12, c=5, dtype=dtype)
    model = _mlp([12, 16, 5], dtype=dtype)
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
    rtol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(hist.loss, expected, rtol=rtol)
    np.testing.assert_allclose(model.layers[2].weight, W2, rtol=rtol * 10, atol=rtol)


OPTIMIZERS = {
    "sgd": lambda p: fastnn.SGD(p, lr=0.05),
    "momentum": lambda p: fastnn.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
    "adam": lambda p: fastnn.Adam(p, lr=1e-2, weight_decay=1e-4),
    "adamw": lambda p: fastnn.AdamW(p, lr=1e-2),
}


@pytest.mark.parametrize("opt_name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("loss_name", ["ce", "mse", "bce"])
@pytest.mark.parametrize("act", [fastnn.ReLU, fastnn.Tanh])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batch_size", [1, 32])
def test_fit_equals_manual_loop(opt_name, loss_name, act, dtype, batch_size, on_each_isa):
    make_loss, make_y = LOSSES[loss_name]
    rng = np.random.default_rng(2)
    n, epochs, seed = 203 if batch_size > 1 else 61, 3, 7
    X = rng.standard_normal((n, 10)).astype(dtype)
    y = make_y(rng, n, 4)
    if loss_name != "ce":
        y = y.astype(dtype)
    a, b = _mlp([10, 24, 12, 4], act=act, dtype=dtype), _mlp([10, 24, 12, 4], act=act, dtype=dtype)
    hist = a.fit(X, y, loss=make_loss(), optimizer=OPTIMIZERS[opt_name](a.parameters()),
                 epochs=epochs, batch_size=batch_size, seed=seed, verbose=False)
    loss, opt = make_loss(), OPTIMIZERS[opt_name](b.parameters())
    order_rng = np.random.default_rng(seed)
    manual = []
    for _ in range(epochs):
        order = order_rng.permutation(n)
        total = 0.0
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            out = b.forward(X[idx])
            total += loss.forward(out, y[idx]) * len(idx)
            b.backward(loss.backward())
            opt.step()
        manual.append(total / n)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(hist.loss, manual, rtol=tol)
    for pa, pb in zip(a.parameters(), b.parameters()):
        np.testing.assert_allclose(pa.value, pb.value, rtol=tol, atol=tol)


def test_fit_learns_digits_and_predicts():
    X, y = fastnn.load_digits()
    assert X.shape == (1797, 64) and y.shape == (1797,) and X.max() == 1.0
    model = _mlp([64, 32, 10], dtype=np.float32)
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


# -------------------------------------------------------------------- bad input
def _bad_fit_cases():
    X, y = _data(n=20, d=5, c=3)
    Xnan = X.copy()
    Xnan[3, 2] = np.nan
    return {
        "wrong features": (X[:, :4], y, ValueError, "features"),
        "label count": (X, y[:19], ValueError, "rows"),
        "labels out of range": (X, np.where(y == 0, 3, y), ValueError, "outside"),
        "negative label": (X, np.where(y == 0, -1, y), ValueError, "outside"),
        "float labels": (X, y.astype(float), TypeError, "integer"),
        "nan": (Xnan, y, ValueError, "NaN"),
        "empty": (X[:0], y[:0], ValueError, "empty"),
        "list": (X.tolist(), y, TypeError, "ndarray"),
        "1-D X": (X[:, 0], y, ValueError, "2-D"),
        "strings": (X.astype(str), y, TypeError, "numbers"),
    }


@pytest.mark.parametrize("case", sorted(_bad_fit_cases()))
def test_fit_rejects_bad_input_and_keeps_weights(case):
    X, y, exc, match = _bad_fit_cases()[case]
    model = _mlp([5, 8, 3])
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
    X, y = _data(n=20, d=5, c=3)
    model = _mlp([5, 8, 3])
    with pytest.raises((ValueError, TypeError), match=match):
        model.fit(X, y, loss="cross_entropy", optimizer=fastnn.SGD(model.parameters(), lr=0.1),
                  verbose=False, **kwargs)


def test_fit_rejects_foreign_optimizer():
    X, y = _data(n=20, d=5, c=3)
    model, other = _mlp([5, 8, 3]), _mlp([5, 8, 3])
    with pytest.raises(ValueError, match="not this model's parameters"):
        model.fit(X, y, loss="cross_entropy", optimizer=fastnn.SGD(other.parameters(), lr=0.1),
                  verbose=False)


def test_predict_rejects_wrong_features():
    model = _mlp([5, 8, 3])
    with pytest.raises(ValueError, match="features"):
        model.predict(np.zeros((4, 6)))


@pytest.mark.parametrize("make,match", [
    (lambda: fastnn.Dense(0, 3), "in_features"),
    (lambda: fastnn.Dense(3, 2, dtype=np.int32), "dtype"),
    (lambda: fastnn.Dense(3, 2, init="magic"), "init"),
    (lambda: fastnn.Dropout(1.0), "p must be"),
    (lambda: fastnn.Sequential([fastnn.Dense(3, 4), fastnn.Dense(5, 2)]), "chain"),
    (lambda: fastnn.SGD(fastnn.Dense(3, 2).parameters(), lr=-1.0), "Invalid learning rate"),
    (lambda: fastnn.SGD(fastnn.Dense(3, 2).parameters(), lr=0.1, nesterov=True), "Nesterov"),
    (lambda: fastnn.Adam(fastnn.Dense(3, 2).parameters(), betas=(0.9, 1.0)), "beta"),
])
def test_constructors_validate(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


# ------------------------------------------------------------------ save / load
def test_save_load_roundtrip(tmp_path):
    X, y = _data(n=50, d=6, c=3, dtype=np.float32)
    model = fastnn.Sequential([fastnn.Dense(6, 8, seed=1), fastnn.Tanh(), fastnn.Dropout(0.2),
                               fastnn.Dense(8, 3, seed=2)])
    model.fit(X, y, loss="cross_entropy", optimizer=fastnn.Adam(model.parameters()),
              epochs=2, verbose=False)
    path = tmp_path / "model.npz"
    model.save(path)
    loaded = fastnn.load(path)
    assert repr(loaded) == repr(model)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_load_rejects_corrupt_truncated_and_foreign_files(tmp_path):
    model = _mlp([4, 5, 2])
    good = tmp_path / "good.npz"
    model.save(good)
    data = good.read_bytes()
    cases = {
        "truncated.npz": data[: len(data) // 2],
        "garbage.npz": b"\x00not a zip at all" * 10,
        "empty.npz": b"",
    }
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
    np.savez(tmp_path / "foreign.npz", a=np.zeros(3))
    np.savez(tmp_path / "pickled.npz", __fastnn__=np.array([{"x": 1}], dtype=object))
    np.savez(tmp_path / "badspec.npz", __fastnn__=np.array('{"format": "fastnn.Sequential/1", "layers": [{"type": "Conv"}]}'))
    for name in [*cases, "foreign.npz", "pickled.npz", "badspec.npz"]:
        with pytest.raises(ValueError, match="fastnn model file"):
            fastnn.load(tmp_path / name)
    with pytest.raises(FileNotFoundError):
        fastnn.load(tmp_path / "missing.npz")


# ------------------------------------------------------ callbacks and schedules
def test_early_stopping_stops_and_restores():
    X, y = _data(n=60, d=5, c=3)
    model = _mlp([5, 32, 3])
    stopper = fastnn.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    # validation labels unrelated to X: the validation loss soon stops improving
    Xv, yv = _data(n=40, d=5, c=3, seed=9)
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
    X, y = _data(n=20, d=5, c=3)
    model = _mlp([5, 8, 3])
    opt = fastnn.SGD(model.parameters(), lr=0.1)
    model.fit(X, y, loss="cross_entropy", optimizer=opt, epochs=3, verbose=False,
              callbacks=[fastnn.ExponentialLR(opt, gamma=0.5)])
    assert opt.lr == pytest.approx(0.0125)


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


def test_verbose_fit_prints_progress(capsys):
    X, y = _data(n=40, d=5, c=3)
    model = _mlp([5, 8, 3])
    model.fit(X, y, loss="cross_entropy", optimizer=fastnn.SGD(model.parameters(), lr=0.1),
              epochs=2, verbose=True)
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out and "loss:" in out


def test_demo_reaches_95_percent(capsys):
    assert cli_main(["demo", "--epochs", "30"]) == 0
    out = capsys.readouterr().out
    accuracy = float(out.split("test accuracy:")[1].split("%")[0])
    assert accuracy >= 95.0, out


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


def test_compiled_runner_is_used_for_dense_stacks_only():
    from fastnn import _training

    X, y = _data(n=20, d=5, c=3)
    plain = _mlp([5, 8, 3])
    assert _training.compiled_layers(plain) is not None
    dropout = fastnn.Sequential([fastnn.Dense(5, 8, dtype=np.float64), fastnn.Dropout(0.1),
                                 fastnn.Dense(8, 3, dtype=np.float64)])
    assert _training.compiled_layers(dropout) is None
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
    from fastnn import _dispatch, _training

    X, y = _data(n=20, d=5, c=3)
    model = _mlp([5, 8, 3])
    layers = _training.compiled_layers(model)
    params = model.parameters()
    plan = _dispatch.kernels.TrainPlan(
        X, y, 8, [p.value for p in params], [p.grad for p in params], None, None,
        [0, 2], [1, 3], [code for _, code, _ in layers], [0.0, 0.0], 0, 0.0)
    before = [p.value.copy() for p in params]
    with pytest.raises(ValueError, match=match):
        plan.run_sgd(bad_order, 0, 3, 0.1, 0.0, False, np.zeros(4))
    for p, old in zip(params, before):
        np.testing.assert_array_equal(p.value, old)
    assert plan.run_sgd(np.arange(20), 0, 3, 0.1, 0.0, False, np.zeros(4)) > 0
    # only the rows of the requested minibatches are checked (and used)
    assert plan.run_sgd(np.where(np.arange(20) < 16, np.arange(20), 99), 0, 2, 0.1, 0.0,
                        False, np.zeros(4)) > 0


def test_autoencoder_example_runs(capsys):
    import pathlib
    import runpy

    path = pathlib.Path(__file__).resolve().parents[1] / "examples" / "autoencoder.py"
    if not path.exists():
        pytest.skip("examples/ is not next to the tests")
    runpy.run_path(str(path), run_name="__main__")
    out = capsys.readouterr().out
    first, last = (float(v) for v in out.split("first epoch ")[1].split(", test")[0].split(", last "))
    assert last < first / 4


def test_fit_is_bitwise_identical_for_every_thread_count():
    X, y = _data(n=700, d=300, c=10, dtype=np.float32)
    results = []
    old = fastnn.get_num_threads()
    try:
        for threads in (1, 2, 3):
            fastnn.set_num_threads(threads)
            model = _mlp([300, 256, 10], dtype=np.float32)
            hist = model.fit(X, y, loss="cross_entropy",
                             optimizer=fastnn.Adam(model.parameters(), lr=1e-3), epochs=2,
                             batch_size=128, seed=0, verbose=False)
            results.append((hist.loss, [p.value.copy() for p in model.parameters()]))
    finally:
        fastnn.set_num_threads(old)
    for loss, params in results[1:]:
        assert loss == results[0][0]
        for a, b in zip(params, results[0][1]):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("state1", [[None], [np.zeros((5, 8))], "zz"])
def test_train_plan_rejects_state_lists_of_the_wrong_length(state1):
    from fastnn import _dispatch

    X, y = _data(n=20, d=5, c=3)
    model = _mlp([5, 8, 3])
    params = model.parameters()
    with pytest.raises((ValueError, TypeError)):
        _dispatch.kernels.TrainPlan(
            X, y, 8, [p.value for p in params], [p.grad for p in params], state1, None,
            [0, 2], [1, 3], [1, 0], [0.0, 0.0], 0, 0.0)
