"""Pickling models (how they travel to joblib and Dask workers): Sequential through the
same pickle-free .npz bytes as save/load; fitted scikit-learn estimators keep training."""
import copy
import io
import pickle
import pickletools
import warnings

import numpy as np
import pytest

import fastnn

DTYPES = [np.float32, np.float64]


def _model(dtype, loss=None):
    model = fastnn.Sequential([
        fastnn.Dense(8, 16, dtype=dtype, seed=0), fastnn.LeakyReLU(0.05),
        fastnn.Dropout(0.25, seed=5), fastnn.Dense(16, 12, init="glorot", dtype=dtype, seed=1),
        fastnn.Tanh(), fastnn.Dense(12, 3, bias=False, dtype=dtype, seed=2)])
    if loss is not None:
        model.loss_ = loss
    return model


def _data(dtype, n=64):
    rng = np.random.default_rng(0)
    return rng.standard_normal((n, 8)).astype(dtype), rng.integers(0, 3, n)


def _same_model(a, b):
    assert [repr(layer) for layer in a.layers] == [repr(layer) for layer in b.layers]
    assert repr(a.loss_) == repr(b.loss_)
    for p, q in zip(a.parameters(), b.parameters()):
        assert p.name == q.name and p.value.dtype == q.value.dtype
        np.testing.assert_array_equal(p.value, q.value)
        assert not np.shares_memory(p.value, q.value)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss", [None, fastnn.SoftmaxCrossEntropy(label_smoothing=0.1),
                                  fastnn.MSE(), fastnn.BCEWithLogits()])
def test_sequential_pickles_round_trip(dtype, loss):
    model = _model(dtype, loss)
    X, _ = _data(dtype)
    for protocol in range(2, pickle.HIGHEST_PROTOCOL + 1):
        back = pickle.loads(pickle.dumps(model, protocol=protocol))
        _same_model(model, back)
        np.testing.assert_array_equal(back.forward(X, training=False),
                                      model.forward(X, training=False))


def test_copy_and_deepcopy_go_through_the_same_format():
    model = _model(np.float32, fastnn.MSE())
    for clone in (copy.copy(model), copy.deepcopy(model)):
        _same_model(model, clone)


def test_pickle_holds_the_save_format_and_no_pickle_inside(tmp_path):
    model = _model(np.float64, fastnn.SoftmaxCrossEntropy())
    ops = list(pickletools.genops(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)))
    names = [arg for op, arg, _ in ops if isinstance(arg, str)]
    assert names == ["fastnn.serialization", "loads"]  # the loader is all the pickle names
    (payload,) = [arg for op, arg, _ in ops if isinstance(arg, bytes)]
    path = tmp_path / "saved.npz"
    model.save(path)
    with np.load(io.BytesIO(payload), allow_pickle=False) as got, np.load(path) as want:
        assert got.files == want.files and "__fastnn__" in got.files
        for key in want.files:
            np.testing.assert_array_equal(got[key], want[key])


@pytest.mark.parametrize("dtype", DTYPES)
def test_unpickled_model_trains_like_the_original(dtype):
    X, y = _data(dtype)
    model = _model(dtype)
    twin = pickle.loads(pickle.dumps(model))
    for m in (model, twin):
        m.fit(X, y, loss=fastnn.SoftmaxCrossEntropy(), optimizer=fastnn.Adam(m.parameters()),
              epochs=2, batch_size=16, seed=3, verbose=False)
    _same_model(model, twin)


def test_unknown_layer_cannot_be_pickled_or_saved(tmp_path):
    class Twice(fastnn.Identity):
        pass

    model = fastnn.Sequential([fastnn.Dense(4, 4, seed=0), Twice()])
    with pytest.raises(ValueError, match="cannot save the layer Twice"):
        pickle.dumps(model)
    with pytest.raises(ValueError, match="cannot save the layer Twice"):
        model.save(tmp_path / "m.npz")  # instead of a file load cannot read
    assert not (tmp_path / "m.npz").exists()


def test_sequential_subclass_is_not_pickled_as_a_plain_sequential():
    class Net(fastnn.Sequential):
        pass

    with pytest.raises(ValueError, match="cannot pickle a Net"):
        pickle.dumps(Net([fastnn.Dense(4, 2, seed=0)]))


def test_corrupt_payload_is_a_clear_error():
    from fastnn import serialization

    with pytest.raises(ValueError, match="not a readable fastnn model"):
        serialization.loads(b"not an npz archive")


# ------------------------------------------------------------ scikit-learn estimators
sk = pytest.importorskip("fastnn.sklearn")


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_fitted_estimator_keeps_training_after_unpickling(solver):
    X, y = _data(np.float64, n=120)
    est = sk.MLPClassifier(hidden_layer_sizes=(10,), solver=solver, max_iter=3,
                           random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
        twin = pickle.loads(pickle.dumps(est))
        np.testing.assert_array_equal(twin.predict_proba(X), est.predict_proba(X))
        for e in (est, twin):
            e.partial_fit(X, y)
            e.partial_fit(X, y)
        for a, b in zip(est.coefs_ + est.intercepts_, twin.coefs_ + twin.intercepts_):
            np.testing.assert_array_equal(a, b)
        assert twin.loss_curve_ == est.loss_curve_
        for e in (est, twin):
            e.set_params(warm_start=True).fit(X, y)
    np.testing.assert_array_equal(twin.predict_proba(X), est.predict_proba(X))
