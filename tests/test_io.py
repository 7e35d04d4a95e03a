"""Saving and loading models (fastnn.serialization): round trips, the file layout
both ways (files written before save/load moved still load), corrupt and foreign files."""
import json

import numpy as np
import pytest

import fastnn

from _helpers import class_data, mlp


def test_save_load_roundtrip(tmp_path):
    X, y = class_data(n=50, d=6, c=3, dtype=np.float32)
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


#: a file of fastnn.Sequential/1 as the first release wrote it (layout written out by hand)
OLD_HEADER = {
    "format": "fastnn.Sequential/1",
    "layers": [
        {"type": "Dense", "config": {"in_features": 4, "out_features": 5, "bias": True,
                                     "init": "he", "dtype": "float32", "seed": 0}},
        {"type": "LeakyReLU", "config": {"negative_slope": 0.01}},
        {"type": "Dropout", "config": {"p": 0.5, "seed": None}},
        {"type": "Dense", "config": {"in_features": 5, "out_features": 2, "bias": False,
                                     "init": "glorot", "dtype": "float32", "seed": 7}},
    ],
    "loss": {"type": "BCEWithLogits", "config": {}},
}


def _old_arrays():
    rng = np.random.default_rng(3)
    return {"layer0.weight": rng.standard_normal((4, 5)).astype(np.float32),
            "layer0.bias": rng.standard_normal(5).astype(np.float32),
            "layer3.weight": rng.standard_normal((5, 2)).astype(np.float32)}


def test_file_of_the_first_layout_loads(tmp_path):
    path = tmp_path / "old.npz"
    arrays = _old_arrays()
    np.savez(path, __fastnn__=np.array(json.dumps(OLD_HEADER)), **arrays)
    model = fastnn.load(path)
    assert [type(layer).__name__ for layer in model.layers] == ["Dense", "LeakyReLU", "Dropout",
                                                                "Dense"]
    assert model.layers[3].bias is None and model.layers[3].init == "glorot"
    np.testing.assert_array_equal(model.layers[0].weight, arrays["layer0.weight"])
    np.testing.assert_array_equal(model.layers[0].bias, arrays["layer0.bias"])
    np.testing.assert_array_equal(model.layers[3].weight, arrays["layer3.weight"])
    assert isinstance(model.loss_, fastnn.BCEWithLogits)
    X = np.random.default_rng(4).standard_normal((6, 4)).astype(np.float32)
    hidden = fastnn.ops.leaky_relu(X @ arrays["layer0.weight"] + arrays["layer0.bias"])
    np.testing.assert_array_equal(model.predict(X),
                                  (hidden @ arrays["layer3.weight"] > 0).astype(np.int64))


def test_save_writes_the_first_layout(tmp_path):
    """What save writes, the first release's load reads: the same header and array names."""
    old = tmp_path / "old.npz"
    np.savez(old, __fastnn__=np.array(json.dumps(OLD_HEADER)), **_old_arrays())
    new = tmp_path / "new.npz"
    fastnn.load(old).save(new)
    with np.load(new, allow_pickle=False) as data:
        assert json.loads(str(data["__fastnn__"])) == OLD_HEADER
        arrays = {key: data[key] for key in data.files if key != "__fastnn__"}
    assert sorted(arrays) == sorted(_old_arrays())
    for key, value in _old_arrays().items():
        np.testing.assert_array_equal(arrays[key], value)
        assert arrays[key].dtype == value.dtype


def test_a_model_trained_by_hand_saves_without_a_loss(tmp_path):
    model = mlp([3, 4, 2])
    model.save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz") as data:
        assert json.loads(str(data["__fastnn__"]))["loss"] is None
    assert fastnn.load(tmp_path / "m.npz").loss_ is None


def test_load_rejects_corrupt_truncated_and_foreign_files(tmp_path):
    model = mlp([4, 5, 2])
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
