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
    loaded = fastnn.load(old)
    loaded.save(new)
    with np.load(new, allow_pickle=False) as data:
        header = json.loads(str(data["__fastnn__"]))
    # besides, the Dropout entry keeps the layer's mask key and step, which the first
    # layout's reader ignores (it reads each entry's "type" and "config")
    assert header["layers"][2].pop("state") == {"key": loaded.layers[2].key, "step": 0}
    assert header == OLD_HEADER
    with np.load(new, allow_pickle=False) as data:
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


# -------------------------------------------------------------- issue 11: save and load
def test_a_failed_save_leaves_the_old_file_intact(tmp_path, monkeypatch):
    """save writes a temporary file and renames it: a save that fails half-way (a full
    disk) once destroyed the good file it was replacing."""
    good, other = mlp([4, 5, 2], seed=0), mlp([4, 5, 2], seed=7)
    path = tmp_path / "m.npz"
    good.save(path)
    before = path.read_bytes()
    real_savez = np.savez

    def savez_then_fail(file, *args, **kwargs):
        real_savez(file, *args, **kwargs)
        file.truncate(100)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", savez_then_fail)
    with pytest.raises(OSError, match="No space left"):
        other.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]  # no temporary file left
    np.testing.assert_array_equal(fastnn.load(path).layers[0].weight, good.layers[0].weight)


def test_save_under_a_file_size_limit_keeps_the_old_file(tmp_path):
    """The reproducer of the issue: RLIMIT_FSIZE stands in for a full disk."""
    pytest.importorskip("resource")  # POSIX only
    import os
    import subprocess
    import sys

    path = tmp_path / "m.npz"
    mlp([4, 5, 2]).save(path)
    before = path.read_bytes()
    script = (
        "import resource, signal, numpy as np, fastnn\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({len(before) // 2}, {len(before) // 2}))\n"
        "m = fastnn.Sequential([fastnn.Dense(4, 50), fastnn.ReLU(), fastnn.Dense(50, 2)])\n"
        "try:\n"
        f"    m.save({str(path)!r})\n"
        "except OSError as exc:\n"
        "    print('refused', exc.errno)\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert "refused" in out.stdout, out.stderr
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]


def test_save_opens_its_file_in_binary_mode(tmp_path, monkeypatch):
    """On Windows a file descriptor from os.open is in text mode unless O_BINARY is given
    (every \\n byte of the archive would be written as \\r\\n); here O_BINARY is 0."""
    import os

    opened = []
    real_open = os.open

    def record(path, flags, *args):
        opened.append(flags)
        return real_open(path, flags & ~0x8000, *args)

    monkeypatch.setattr(os, "O_BINARY", 0x8000, raising=False)
    monkeypatch.setattr(os, "open", record)
    mlp([4, 5, 2]).save(tmp_path / "m.npz")
    assert opened and opened[0] & 0x8000 and opened[0] & os.O_EXCL


@pytest.mark.parametrize("name", ["model", "model.v2", "dir/model"])
def test_load_finds_the_file_save_named(tmp_path, name):
    (tmp_path / "dir").mkdir()
    model = mlp([4, 5, 2])
    model.save(str(tmp_path / name))
    assert (tmp_path / (name + ".npz")).exists()
    for path in (str(tmp_path / name), tmp_path / name, tmp_path / (name + ".npz")):
        np.testing.assert_array_equal(fastnn.load(path).layers[0].weight, model.layers[0].weight)


def test_a_generator_seed_is_refused_at_save_time(tmp_path):
    model = fastnn.Sequential([fastnn.Dense(4, 2, seed=np.random.default_rng(0))])
    with pytest.raises(ValueError, match=r"cannot save the layer Dense\(.*\): its seed=Generator"):
        model.save(tmp_path / "m.npz")
    assert not list(tmp_path.iterdir())
    fastnn.Sequential([fastnn.Dense(4, 2, seed=np.int64(3)), fastnn.Dropout(0.1, seed=np.int32(1))]
                      ).save(tmp_path / "m.npz")
    assert fastnn.load(tmp_path / "m.npz").layers[1].seed == 1


def _with_header(path, change):
    """Rewrite the model file at ``path`` with its JSON header changed by ``change``."""
    with np.load(path) as data:
        spec = json.loads(str(data["__fastnn__"]))
        arrays = {key: data[key] for key in data.files if key != "__fastnn__"}
    change(spec)
    np.savez(path, __fastnn__=np.array(json.dumps(spec)), **arrays)


@pytest.mark.parametrize("change, match", [
    (lambda s: s["layers"][0]["config"].update(in_features=40000, out_features=40000),
     r"layer0.weight.: \(40000, 40000\)"),
    (lambda s: s["layers"][0]["config"].update(in_features=15000), r"\(15000, 5\)"),
    (lambda s: s["layers"][0]["config"].update(bias=False), "do not match the layers"),
    (lambda s: s["layers"][0]["config"].update(in_features="4"), "in_features must be"),
    (lambda s: s["layers"].append({"type": "Dense", "config": {"in_features": 2,
                                                                "out_features": 10**6}}),
     "do not match the layers"),
    (lambda s: s["layers"][1].update(type="MyDense"), "layer 1 is not one of fastnn's layers"),
    (lambda s: s.update(layers={"a": 1}), "lists no layers"),
])
def test_load_checks_declared_shapes_before_allocating(tmp_path, change, match):
    """A small file declaring a huge layer once took seconds and gigabytes (or raised a
    raw MemoryError) before the mismatch was found."""
    path = tmp_path / "m.npz"
    mlp([4, 5, 2]).save(path)
    _with_header(path, change)
    with pytest.raises(ValueError, match=match):
        fastnn.load(path)


def test_load_checks_array_headers_against_their_data(tmp_path):
    """An array whose .npy header declares more data than the archive member holds."""
    import zipfile

    path = tmp_path / "m.npz"
    mlp([4, 5, 2]).save(path)
    with zipfile.ZipFile(path) as z:
        members = {info.filename: z.read(info) for info in z.infolist()}
    weight = members["layer0.weight.npy"]
    members["layer0.weight.npy"] = weight.replace(b"(4, 5)", b"(4, 9)")  # same header length
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    with pytest.raises(ValueError, match=r"layer0.weight.npy declares shape \(4, 9\) float64 "
                                         r"but holds \d+ bytes"):
        fastnn.load(path)
