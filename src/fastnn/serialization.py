"""Saving and loading models: the ``.npz`` format has its home here.

A file is an ``.npz`` archive without pickle: ``__fastnn__`` holds a JSON header
``{"format": "fastnn.Sequential/1", "layers": [{"type": ..., "config": {...}}, ...],
"loss": {"type": ..., "config": {...}} or null}`` and ``layer<i>.<name>`` holds each
array of layer ``i`` (``Layer.state_arrays``: ``layer0.weight``, ``layer0.bias``, ...).
Layers and losses are rebuilt from their class name and ``config()``, so only fastnn's
own layer and loss classes, with JSON-representable configurations, can be saved.  A
layer entry may also hold ``"state"`` (``Layer.training_state``: a ``Dropout``'s mask key
and step), restored after the layer is built, so that training goes on after ``load`` as
it would have without the round trip; readers of the first layout ignore it, and a file
without it loads as a fresh layer.

``save`` to a path writes a temporary file in the same directory, flushes it to disk,
then renames it over the target: a failed save (disk full, an error mid-way) leaves an
existing file intact.  A path without the ``.npz`` suffix gets it, on ``save`` and on
``load`` alike.  ``load`` checks the shapes a file declares (its layer configurations
and each array's header) against each other before it allocates any layer.

Pickling a ``Sequential`` stores these same bytes (:func:`dumps`, :func:`loads`): a
pickled model holds no pickle, and travels to joblib's and Dask's workers as it would
in a file.  Like a file, it keeps the architecture, the loss and the weights.
"""
from __future__ import annotations

import io
import json
import os
import uuid
import zipfile

import numpy as np

from .layers import LAYER_CLASSES
from .losses import LOSS_CLASSES
from .model import Sequential

__all__ = ["FORMAT", "save", "load", "dumps", "loads"]

FORMAT = "fastnn.Sequential/1"

_LAYER_TYPES = {cls.__name__: cls for cls in LAYER_CLASSES}
_LOSS_TYPES = {cls.__name__: cls for cls in LOSS_CLASSES}


def _entry(obj, types: dict, kind: str) -> dict:
    """The header entry of a layer or loss; a ValueError for a class ``load`` cannot rebuild
    or a configuration JSON cannot hold (a ``Generator`` seed)."""
    name = type(obj).__name__
    if types.get(name) is not type(obj):
        raise ValueError(f"cannot save the {kind} {obj!r}: a fastnn model file holds only "
                         f"fastnn's {kind}s ({', '.join(sorted(types))})")
    config = obj.config()
    for key, value in config.items():
        try:
            json.dumps(value)
        except TypeError:
            raise ValueError(f"cannot save the {kind} {obj!r}: its {key}={value!r} has no "
                             f"file form (build it with an integer {key} or None)") from None
    entry = {"type": name, "config": config}
    state = obj.training_state() if kind == "layer" else {}
    if state:
        entry["state"] = state
    return entry


def _file_name(path):
    """``path`` with the ``.npz`` suffix ``np.savez`` gives it (file objects unchanged)."""
    if isinstance(path, (str, os.PathLike)):
        path = os.fspath(path)
        if isinstance(path, str) and not path.endswith(".npz"):
            return path + ".npz"
    return path


def _write_atomically(path: str, write) -> None:
    """``write(file)`` into a new file beside ``path``, synced to disk, then renamed over
    ``path``; on any error the temporary file goes and ``path`` is untouched."""
    folder = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{uuid.uuid4().hex}.tmp")
    # mode as open() gives; O_BINARY: without it Windows writes every \n byte as \r\n
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    try:  # make the rename itself durable where the platform allows
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def save(model: Sequential, path) -> None:
    """Write ``model``'s architecture, loss and weights to ``path`` (a file name or a
    binary file object; see the module docstring)."""
    spec = {"format": FORMAT, "layers": [], "loss": None}
    arrays = {}
    for i, layer in enumerate(model.layers):
        spec["layers"].append(_entry(layer, _LAYER_TYPES, "layer"))
        for name, value in layer.state_arrays().items():
            arrays[f"layer{i}.{name}"] = value
    if model.loss_ is not None:
        spec["loss"] = _entry(model.loss_, _LOSS_TYPES, "loss")
    path = _file_name(path)

    def write(f) -> None:
        np.savez(f, __fastnn__=np.array(json.dumps(spec)), **arrays)

    if isinstance(path, (str, bytes)):
        _write_atomically(os.fsdecode(path), write)
    else:
        write(path)


def dumps(model: Sequential) -> bytes:
    """The bytes :func:`save` writes: what a pickled ``Sequential`` holds.  A subclass
    is refused: it would come back as a plain ``Sequential``."""
    if type(model) is not Sequential:
        raise ValueError(f"cannot pickle a {type(model).__name__} through the Sequential "
                         "format; define its own __reduce__")
    buffer = io.BytesIO()
    save(model, buffer)
    return buffer.getvalue()


def loads(data: bytes) -> Sequential:
    """The model of :func:`dumps` bytes (how pickle rebuilds a ``Sequential``)."""
    return _read(io.BytesIO(data), "the pickled data")


def load(path) -> Sequential:
    """Read a model written by :meth:`Sequential.save` (``path`` as given, else with the
    ``.npz`` suffix ``save`` adds); a corrupt or foreign file is a ValueError."""
    if isinstance(path, (str, os.PathLike)) and not os.path.exists(path):
        path = _file_name(path)
    return _read(path, str(path))


_NPY_HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0,
                       (2, 0): np.lib.format.read_array_header_2_0}


def _array_headers(data) -> dict:
    """``{name: (shape, dtype)}`` of each array of an open ``.npz``, from the ``.npy``
    headers alone (no array data is read)."""
    headers = {}
    for info in data.zip.infolist():
        with data.zip.open(info) as f:
            version = np.lib.format.read_magic(f)
            read_header = _NPY_HEADER_READERS.get(version)
            if read_header is None:
                raise ValueError(f"{info.filename} has .npy format version {version}")
            shape, _, dtype = read_header(f)
            size = int(np.prod(shape, dtype=object)) * dtype.itemsize
            if info.file_size < f.tell() + size:
                raise ValueError(f"{info.filename} declares shape {shape} {dtype} but holds "
                                 f"{info.file_size} bytes")
        headers[info.filename[:-4] if info.filename.endswith(".npy") else info.filename] = (
            shape, dtype)
    return headers


def _read(path, name: str) -> Sequential:
    try:
        with np.load(path, allow_pickle=False) as data:
            if "__fastnn__" not in data.files:
                raise ValueError("no fastnn header")
            spec = json.loads(str(data["__fastnn__"]))
            headers = _array_headers(data)
            headers.pop("__fastnn__")
            _check_declared_shapes(spec, headers)
            arrays = {key: data[key] for key in headers}
    except FileNotFoundError:
        raise
    except Exception as exc:  # zip, npy, JSON and pickle-refusal errors all mean the same
        raise ValueError(f"{name} is not a readable fastnn model file ({exc})") from exc
    try:
        layers = [_LAYER_TYPES[entry["type"]](**entry["config"]) for entry in spec["layers"]]
        for i, (layer, entry) in enumerate(zip(layers, spec["layers"])):
            state = entry.get("state", {})
            try:
                if not isinstance(state, dict):
                    raise ValueError(f"a state must be a JSON object; received {state!r}")
                layer.load_training_state(state)
            except ValueError as exc:
                raise ValueError(f"{name} is not a valid fastnn model file (layer {i}: "
                                 f"{exc})") from exc
        model = Sequential(layers)
        for i, layer in enumerate(layers):
            for key, value in layer.state_arrays().items():
                arr = arrays[f"layer{i}.{key}"]
                if arr.shape != value.shape or arr.dtype != value.dtype:
                    raise ValueError(f"layer{i}.{key} has shape {arr.shape} {arr.dtype}, "
                                     f"expected {value.shape} {value.dtype}")
                value[...] = arr
        if spec.get("loss"):
            model.loss_ = _LOSS_TYPES[spec["loss"]["type"]](**spec["loss"]["config"])
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{name} is not a valid fastnn model file ({exc!r})") from exc
    return model


def _check_declared_shapes(spec, headers: dict) -> None:
    """The layers a header declares have exactly the arrays, of exactly the shapes, the
    file holds: checked before any layer allocates its weights."""
    if not isinstance(spec, dict) or spec.get("format") != FORMAT:
        raise ValueError(f"unknown format {spec.get('format') if isinstance(spec, dict) else spec!r}")
    if not isinstance(spec.get("layers"), list):
        raise ValueError("the header lists no layers")
    expected = {}
    for i, entry in enumerate(spec["layers"]):
        if not isinstance(entry, dict) or entry.get("type") not in _LAYER_TYPES:
            raise ValueError(f"layer {i} is not one of fastnn's layers: {entry!r}")
        if not isinstance(entry.get("config"), dict):
            raise ValueError(f"layer {i} has no configuration: {entry!r}")
        shapes = _LAYER_TYPES[entry["type"]].state_shapes(**entry["config"])
        expected.update({f"layer{i}.{key}": shape for key, shape in shapes.items()})
    declared = {key: shape for key, (shape, _) in headers.items()}
    if declared != expected:
        raise ValueError(f"the arrays {declared} do not match the layers, which declare "
                         f"{expected}")
