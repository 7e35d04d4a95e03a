"""Saving and loading models: the ``.npz`` format has its home here.

A file is an ``.npz`` archive without pickle: ``__fastnn__`` holds a JSON header
``{"format": "fastnn.Sequential/1", "layers": [{"type": ..., "config": {...}}, ...],
"loss": {"type": ..., "config": {...}} or null}`` and ``layer<i>.<parameter>`` holds
each parameter array of layer ``i`` (``layer0.weight``, ``layer0.bias``, ...).
Layers and losses are rebuilt from their class name and ``config()``.
"""
from __future__ import annotations

import json

import numpy as np

from .layers import LAYER_CLASSES
from .losses import LOSS_CLASSES
from .model import Sequential

__all__ = ["FORMAT", "save", "load"]

FORMAT = "fastnn.Sequential/1"

_LAYER_TYPES = {cls.__name__: cls for cls in LAYER_CLASSES}
_LOSS_TYPES = {cls.__name__: cls for cls in LOSS_CLASSES}


def save(model: Sequential, path) -> None:
    """Write ``model``'s architecture, loss and weights to ``path`` (see the module docstring)."""
    spec = {"format": FORMAT, "layers": [], "loss": None}
    arrays = {}
    for i, layer in enumerate(model.layers):
        spec["layers"].append({"type": type(layer).__name__, "config": layer.config()})
        for p in layer.parameters():
            arrays[f"layer{i}.{p.name}"] = p.value
    if model.loss_ is not None:
        spec["loss"] = {"type": type(model.loss_).__name__, "config": model.loss_.config()}
    np.savez(path, __fastnn__=np.array(json.dumps(spec)), **arrays)


def load(path) -> Sequential:
    """Read a model written by :meth:`Sequential.save`; a corrupt or foreign file is a ValueError."""
    try:
        with np.load(path, allow_pickle=False) as data:
            if "__fastnn__" not in data.files:
                raise ValueError("no fastnn header")
            spec = json.loads(str(data["__fastnn__"]))
            arrays = {key: data[key] for key in data.files if key != "__fastnn__"}
    except FileNotFoundError:
        raise
    except Exception as exc:  # zip, npy, JSON and pickle-refusal errors all mean the same
        raise ValueError(f"{path!s} is not a readable fastnn model file ({exc})") from exc
    try:
        if spec.get("format") != FORMAT:
            raise ValueError(f"unknown format {spec.get('format')!r}")
        layers = [_LAYER_TYPES[entry["type"]](**entry["config"]) for entry in spec["layers"]]
        model = Sequential(layers)
        expected = {f"layer{i}.{p.name}": p for i, layer in enumerate(layers)
                    for p in layer.parameters()}
        if set(expected) != set(arrays):
            raise ValueError(f"arrays {sorted(arrays)} do not match the layers {sorted(expected)}")
        for key, p in expected.items():
            arr = arrays[key]
            if arr.shape != p.value.shape or arr.dtype != p.value.dtype:
                raise ValueError(f"{key} has shape {arr.shape} {arr.dtype}, expected "
                                 f"{p.value.shape} {p.value.dtype}")
            p.value[...] = arr
        if spec.get("loss"):
            model.loss_ = _LOSS_TYPES[spec["loss"]["type"]](**spec["loss"]["config"])
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{path!s} is not a valid fastnn model file ({exc!r})") from exc
    return model
