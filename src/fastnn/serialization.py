"""Saving and loading models: the ``.npz`` format has its home here.

A file is an ``.npz`` archive without pickle: ``__fastnn__`` holds a JSON header
``{"format": "fastnn.Sequential/1", "layers": [{"type": ..., "config": {...}}, ...],
"loss": {"type": ..., "config": {...}} or null}`` and ``layer<i>.<name>`` holds each
array of layer ``i`` (``Layer.state_arrays``: ``layer0.weight``, ``layer0.bias``, ...).
Layers and losses are rebuilt from their class name and ``config()``, so only fastnn's
own layer and loss classes can be saved.

Pickling a ``Sequential`` stores these same bytes (:func:`dumps`, :func:`loads`): a
pickled model holds no pickle, and travels to joblib's and Dask's workers as it would
in a file.  Like a file, it keeps the architecture, the loss and the weights.
"""
from __future__ import annotations

import io
import json

import numpy as np

from .layers import LAYER_CLASSES
from .losses import LOSS_CLASSES
from .model import Sequential

__all__ = ["FORMAT", "save", "load", "dumps", "loads"]

FORMAT = "fastnn.Sequential/1"

_LAYER_TYPES = {cls.__name__: cls for cls in LAYER_CLASSES}
_LOSS_TYPES = {cls.__name__: cls for cls in LOSS_CLASSES}


def _entry(obj, types: dict, kind: str) -> dict:
    """The header entry of a layer or loss; a ValueError for a class ``load`` cannot rebuild."""
    name = type(obj).__name__
    if types.get(name) is not type(obj):
        raise ValueError(f"cannot save the {kind} {obj!r}: a fastnn model file holds only "
                         f"fastnn's {kind}s ({', '.join(sorted(types))})")
    return {"type": name, "config": obj.config()}


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
    np.savez(path, __fastnn__=np.array(json.dumps(spec)), **arrays)


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
    """Read a model written by :meth:`Sequential.save`; a corrupt or foreign file is a ValueError."""
    return _read(path, str(path))


def _read(path, name: str) -> Sequential:
    try:
        with np.load(path, allow_pickle=False) as data:
            if "__fastnn__" not in data.files:
                raise ValueError("no fastnn header")
            spec = json.loads(str(data["__fastnn__"]))
            arrays = {key: data[key] for key in data.files if key != "__fastnn__"}
    except FileNotFoundError:
        raise
    except Exception as exc:  # zip, npy, JSON and pickle-refusal errors all mean the same
        raise ValueError(f"{name} is not a readable fastnn model file ({exc})") from exc
    try:
        if spec.get("format") != FORMAT:
            raise ValueError(f"unknown format {spec.get('format')!r}")
        layers = [_LAYER_TYPES[entry["type"]](**entry["config"]) for entry in spec["layers"]]
        model = Sequential(layers)
        expected = {f"layer{i}.{name}": value for i, layer in enumerate(layers)
                    for name, value in layer.state_arrays().items()}
        if set(expected) != set(arrays):
            raise ValueError(f"arrays {sorted(arrays)} do not match the layers {sorted(expected)}")
        for key, value in expected.items():
            arr = arrays[key]
            if arr.shape != value.shape or arr.dtype != value.dtype:
                raise ValueError(f"{key} has shape {arr.shape} {arr.dtype}, expected "
                                 f"{value.shape} {value.dtype}")
            value[...] = arr
        if spec.get("loss"):
            model.loss_ = _LOSS_TYPES[spec["loss"]["type"]](**spec["loss"]["config"])
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{name} is not a valid fastnn model file ({exc!r})") from exc
    return model
