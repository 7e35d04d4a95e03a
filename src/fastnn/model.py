"""``Sequential``: a network as a series of layers, trained by ``fit`` or by hand.

The manual loop reads like the lecture::

    out = model.forward(xb)              # a1 = relu(x W1 + b1), z2 = a1 W2 + b2
    loss = criterion.forward(out, yb)    # softmax + cross-entropy
    model.backward(criterion.backward()) # dz2 = a2 - y, dW2 = a1.T dz2, ...
    optimizer.step()                     # W -= lr * dW

``fit`` runs the same steps; for a network of ``Dense`` layers and elementwise
activations trained with a built-in loss and SGD/Adam/AdamW it runs whole epochs in
compiled code (see ``fastnn._training``), with the same numbers as the manual loop.
"""
from __future__ import annotations

import json
import math
import sys
import time
from typing import Iterable, List, Optional, Sequence, Tuple

import numpy as np

from . import ops
from ._training import make_epoch_runner
from .layers import (ACTIVATION_LAYERS, Activation, Dense, Dropout, Layer, Parameter,
                     fusable_activation)
from .losses import MSE, BCEWithLogits, Loss, SoftmaxCrossEntropy, get_loss
from .optim import Optimizer

__all__ = ["Sequential", "History", "Callback", "EarlyStopping", "load"]

FORMAT = "fastnn.Sequential/1"


class History:
    """Per-epoch logs of ``fit``: ``loss`` and, with validation data, ``val_loss`` and
    (for classification) ``val_accuracy``; ``history`` is the dict of all of them."""

    def __init__(self):
        self.history: dict = {}
        self.epoch: List[int] = []

    def append(self, epoch: int, logs: dict) -> None:
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)

    @property
    def loss(self) -> List[float]:
        return self.history.get("loss", [])

    @property
    def val_loss(self) -> List[float]:
        return self.history.get("val_loss", [])

    @property
    def val_accuracy(self) -> List[float]:
        return self.history.get("val_accuracy", [])

    @property
    def time(self) -> List[float]:
        """Seconds of training per epoch (without validation)."""
        return self.history.get("time", [])

    def __repr__(self) -> str:
        return f"History(epochs={len(self.epoch)}, keys={sorted(self.history)})"


class Callback:
    """Hook called by ``fit`` after every epoch; set ``model.stop_training`` to stop."""

    def on_epoch_end(self, epoch: int, logs: dict, model: "Sequential") -> None:
        pass


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs;
    with ``restore_best_weights`` put back the weights of the best epoch."""

    def __init__(self, monitor: str = "val_loss", patience: int = 5, min_delta: float = 0.0,
                 mode: str = "auto", restore_best_weights: bool = False):
        if mode == "auto":
            mode = "max" if "acc" in monitor else "min"
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min', 'max' or 'auto'; received: {mode!r}")
        self.monitor, self.patience, self.min_delta = monitor, int(patience), abs(float(min_delta))
        self.sign = 1.0 if mode == "min" else -1.0
        self.restore_best_weights = restore_best_weights
        self.best = math.inf
        self.wait = 0
        self.best_weights: Optional[List[np.ndarray]] = None
        self.stopped_epoch: Optional[int] = None

    def on_epoch_end(self, epoch: int, logs: dict, model: "Sequential") -> None:
        if self.monitor not in logs:
            raise ValueError(f"EarlyStopping monitors {self.monitor!r} but fit logs only "
                             f"{sorted(logs)}")
        value = self.sign * logs[self.monitor]
        if value < self.best - self.min_delta:
            self.best, self.wait = value, 0
            if self.restore_best_weights:
                self.best_weights = [p.value.copy() for p in model.parameters()]
            return
        self.wait += 1
        if self.wait >= self.patience:
            model.stop_training = True
            self.stopped_epoch = epoch
            if self.best_weights is not None:
                for p, best in zip(model.parameters(), self.best_weights):
                    p.value[...] = best


class _Progress:
    """A text progress bar per epoch (Keras style), without extra dependencies."""

    WIDTH = 30

    def __init__(self, epochs: int, n_batches: int, enabled: bool, stream=None):
        self.epochs, self.n_batches, self.enabled = epochs, n_batches, enabled
        self.stream = stream or sys.stdout
        self.live = enabled and getattr(self.stream, "isatty", lambda: False)()

    def update(self, epoch: int, done: int) -> None:
        if self.live:
            self.stream.write("\r" + self._line(epoch, done))
            self.stream.flush()

    def end_epoch(self, epoch: int, logs: dict) -> None:
        if not self.enabled:
            return
        parts = [self._line(epoch, self.n_batches), _fmt_seconds(logs["time"])]
        parts += [f"{k}: {v:.4f}" for k, v in logs.items() if k != "time"]
        self.stream.write(("\r" if self.live else "") + " - ".join(parts) + "\n")
        self.stream.flush()

    def _line(self, epoch: int, done: int) -> str:
        filled = self.WIDTH * done // max(self.n_batches, 1)
        bar = "=" * filled + (">" if filled < self.WIDTH else "") + "." * (self.WIDTH - filled - 1)
        width = len(str(self.epochs))
        return (f"Epoch {epoch + 1:>{width}}/{self.epochs} [{bar[:self.WIDTH]}] "
                f"{done}/{self.n_batches}")


def _fmt_seconds(seconds: float) -> str:
    return f"{seconds:.2f}s" if seconds >= 1 else f"{seconds * 1e3:.1f}ms"


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


class Sequential(Layer):
    """Layers applied in order: ``forward`` calls each layer, ``backward`` walks them back.

    A ``Dense`` followed by an activation runs as one fused ``ops.linear`` call.
    """

    def __init__(self, layers: Sequence[Layer]):
        layers = list(layers)
        if not layers:
            raise ValueError("Sequential needs at least one layer")
        for layer in layers:
            if not isinstance(layer, Layer):
                raise TypeError(f"Sequential takes Layer instances; received: {layer!r}")
        dense = [layer for layer in layers if isinstance(layer, Dense)]
        if not dense:
            raise ValueError("Sequential needs at least one Dense layer")
        for prev, nxt in zip(dense, dense[1:]):
            if prev.out_features != nxt.in_features:
                raise ValueError(f"layer sizes do not chain: {prev!r} -> {nxt!r}")
            if prev.dtype != nxt.dtype:
                raise ValueError(f"all Dense layers must share a dtype: {prev.dtype} and {nxt.dtype}")
        self.layers: List[Layer] = layers
        self.dtype = dense[0].dtype
        self.in_features = dense[0].in_features
        self.out_features = dense[-1].out_features
        self.loss_: Optional[Loss] = None
        self.stop_training = False

    # ------------------------------------------------------------------ the math
    def _steps(self) -> List[Tuple[Layer, Optional[Activation]]]:
        """Group each Dense with the activation that follows it (fused in forward)."""
        steps, i = [], 0
        while i < len(self.layers):
            layer = self.layers[i]
            nxt = self.layers[i + 1] if i + 1 < len(self.layers) else None
            if isinstance(layer, Dense) and fusable_activation(nxt):
                steps.append((layer, nxt))
                i += 2
            else:
                steps.append((layer, None))
                i += 1
        return steps

    def forward(self, x: np.ndarray, training: bool = True) -> np.ndarray:
        for layer, act in self._steps():
            if act is None:
                x = layer.forward(x, training)
                continue
            out = ops.linear(x, layer.weight, layer.bias, activation=act.kernel)
            layer._input = x if training else None
            act._output = out if training else None
            x = out
        return x

    def backward(self, grad: np.ndarray) -> np.ndarray:
        """Backpropagate ``dLoss/doutput``; fills every ``grad_*`` and returns ``dLoss/dinput``."""
        for layer in reversed(self.layers):
            grad = layer.backward(grad)
        return grad

    def parameters(self) -> List[Parameter]:
        return [p for layer in self.layers for p in layer.parameters()]

    def __repr__(self) -> str:
        inner = ",\n".join(f"    {layer!r}" for layer in self.layers)
        return f"Sequential([\n{inner}\n])"

    # ---------------------------------------------------------------- checking
    def _check_x(self, X, name: str = "X") -> np.ndarray:
        if not isinstance(X, np.ndarray):
            raise TypeError(f"{name} must be a numpy.ndarray; received: {type(X).__name__}")
        if X.dtype.kind not in "biuf":
            raise TypeError(f"{name} must hold numbers; received dtype {X.dtype}")
        if X.ndim != 2:
            raise ValueError(f"{name} must be 2-D (samples, features); received shape {X.shape}")
        if X.shape[0] == 0:
            raise ValueError(f"{name} is empty: shape {X.shape}")
        if X.shape[1] != self.in_features:
            raise ValueError(f"{name} has {X.shape[1]} features but the model expects "
                             f"{self.in_features}; received shape {X.shape}")
        X = np.ascontiguousarray(X, dtype=self.dtype)
        if not np.isfinite(X).all():
            raise ValueError(f"{name} contains NaN or infinity")
        return X

    def _check_y(self, y, n: int, loss: Loss, name: str = "y") -> np.ndarray:
        if not isinstance(y, np.ndarray):
            raise TypeError(f"{name} must be a numpy.ndarray; received: {type(y).__name__}")
        if y.shape[:1] != (n,):
            raise ValueError(f"{name} has {y.shape[0] if y.ndim else 0} rows but X has {n}; "
                             f"received shape {y.shape}")
        c = self.out_features
        if isinstance(loss, SoftmaxCrossEntropy) and y.ndim == 1:
            if y.dtype.kind not in "iu":
                raise TypeError(f"{name} must hold integer class labels; received dtype {y.dtype}")
            if y.min() < 0 or y.max() >= c:
                raise ValueError(f"{name} has labels outside [0, {c}): min {y.min()}, max {y.max()}")
            return np.ascontiguousarray(y, dtype=np.int64)
        if y.ndim == 1 and c == 1:
            y = y.reshape(n, 1)
        if y.shape != (n, c):
            raise ValueError(f"{name} must have shape ({n}, {c}) for {type(loss).__name__}; "
                             f"received shape {y.shape}")
        if y.dtype.kind not in "biuf":
            raise TypeError(f"{name} must hold numbers; received dtype {y.dtype}")
        y = np.ascontiguousarray(y, dtype=self.dtype)
        if not np.isfinite(y).all():
            raise ValueError(f"{name} contains NaN or infinity")
        if isinstance(loss, BCEWithLogits) and ((y < 0).any() or (y > 1).any()):
            raise ValueError(f"{name} must lie in [0, 1] for BCEWithLogits")
        return y

    def _check_optimizer(self, optimizer: Optimizer) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"optimizer must be an Optimizer (SGD, Adam, AdamW); received: {optimizer!r}")
        mine = {id(p.value) for p in self.parameters()}
        if any(id(p.value) not in mine for p in optimizer.params):
            raise ValueError("optimizer holds arrays that are not this model's parameters; "
                             "build it with model.parameters()")

    # -------------------------------------------------------------------- training
    def fit(self, X: np.ndarray, y: np.ndarray, *, loss, optimizer: Optimizer, epochs: int = 1,
            batch_size: int = 32, shuffle: bool = True,
            validation_data: Optional[Tuple[np.ndarray, np.ndarray]] = None,
            seed: Optional[int] = None, verbose: bool = True,
            callbacks: Optional[Iterable] = None) -> History:
        """Train for ``epochs`` passes over ``(X, y)`` in minibatches of ``batch_size``.

        ``batch_size=1`` is plain SGD, ``batch_size=len(X)`` full-batch gradient descent.
        Every argument is checked before any weight changes.
        """
        loss = get_loss(loss)
        X = self._check_x(X)
        y = self._check_y(y, len(X), loss)
        val = None
        if validation_data is not None:
            try:
                Xv, yv = validation_data
            except (TypeError, ValueError):
                raise TypeError("validation_data must be a pair (X_val, y_val)") from None
            Xv = self._check_x(Xv, "X_val")
            val = (Xv, self._check_y(yv, len(Xv), loss, "y_val"))
        self._check_optimizer(optimizer)
        if not _is_int(epochs) or epochs < 0:
            raise ValueError(f"epochs must be a non-negative integer; received: {epochs!r}")
        if not _is_int(batch_size) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer; received: {batch_size!r}")
        callbacks = list(callbacks or [])
        for cb in callbacks:
            if not hasattr(cb, "on_epoch_end"):
                raise TypeError(f"callbacks must have on_epoch_end; received: {cb!r}")

        n = len(X)
        batch_size = min(int(batch_size), n)
        n_batches = -(-n // batch_size)
        runner = make_epoch_runner(self, loss, optimizer, X, y, batch_size)
        rng = np.random.default_rng(seed)
        progress = _Progress(epochs, n_batches, bool(verbose))
        history = History()
        self.loss_ = loss
        self.stop_training = False
        for epoch in range(epochs):
            order = rng.permutation(n) if shuffle else np.arange(n)
            t0 = time.perf_counter()
            total = runner(order, (lambda done, e=epoch: progress.update(e, done))
                           if progress.live else None)
            logs = {"loss": total / n, "time": time.perf_counter() - t0}
            if val is not None:
                logs.update(self._scores(val[0], val[1], loss, prefix="val_"))
            history.append(epoch, logs)
            progress.end_epoch(epoch, logs)
            for cb in callbacks:
                cb.on_epoch_end(epoch, logs, self)
            if self.stop_training:
                break
        return history

    def train_batch(self, xb: np.ndarray, yb: np.ndarray, loss: Loss, optimizer: Optimizer) -> float:
        """One step of the manual loop: forward, loss, backward, optimizer step."""
        value = loss.forward(self.forward(xb), yb)
        grad = loss.backward()
        for layer in reversed(self.layers[1:]):
            grad = layer.backward(grad)
        first = self.layers[0]
        if isinstance(first, Dense):  # the input gradient of the first layer is not needed
            first.backward_params(grad)
        else:
            first.backward(grad)
        optimizer.step()
        return value

    # ------------------------------------------------------------------ inference
    def _outputs(self, X: np.ndarray, batch_size: int = 4096) -> np.ndarray:
        X = self._check_x(X)
        parts = [self.forward(X[i:i + batch_size], training=False)
                 for i in range(0, len(X), batch_size)]
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities: softmax of the outputs (sigmoid after BCEWithLogits)."""
        out = self._outputs(X)
        if isinstance(self.loss_, BCEWithLogits):
            return ops.sigmoid(out, out=out)
        return ops.softmax(out, out=out)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Class labels (argmax of the outputs; ``outputs > 0`` after BCEWithLogits), or the
        raw outputs for a model trained with MSE."""
        out = self._outputs(X)
        if isinstance(self.loss_, MSE):
            return out
        if isinstance(self.loss_, BCEWithLogits):
            return (out > 0).astype(np.int64)
        return out.argmax(axis=1)

    def evaluate(self, X: np.ndarray, y: np.ndarray, loss=None) -> dict:
        """``{"loss": ..., "accuracy": ...}`` on ``(X, y)`` (accuracy for classification)."""
        loss = get_loss(loss if loss is not None else (self.loss_ or SoftmaxCrossEntropy()))
        X = self._check_x(X)
        return self._scores(X, self._check_y(y, len(X), loss), loss)

    def _scores(self, X: np.ndarray, y: np.ndarray, loss: Loss, prefix: str = "") -> dict:
        out = self._outputs(X)
        scores = {prefix + "loss": float(type(loss)(**loss.config()).forward(out, y))}
        if isinstance(loss, SoftmaxCrossEntropy):
            labels = y if y.ndim == 1 else y.argmax(axis=1)
            scores[prefix + "accuracy"] = float((out.argmax(axis=1) == labels).mean())
        elif isinstance(loss, BCEWithLogits):
            scores[prefix + "accuracy"] = float(((out > 0) == (y > 0.5)).mean())
        return scores

    # ---------------------------------------------------------------- save / load
    def save(self, path) -> None:
        """Write the architecture (JSON) and the weights to an ``.npz`` file, without pickle."""
        spec = {"format": FORMAT, "layers": [], "loss": None}
        arrays = {}
        for i, layer in enumerate(self.layers):
            spec["layers"].append({"type": type(layer).__name__, "config": layer.config()})
            for p in layer.parameters():
                arrays[f"layer{i}.{p.name}"] = p.value
        if self.loss_ is not None:
            spec["loss"] = {"type": type(self.loss_).__name__, "config": self.loss_.config()}
        np.savez(path, __fastnn__=np.array(json.dumps(spec)), **arrays)


_LAYER_TYPES = {cls.__name__: cls for cls in (Dense, Dropout, *ACTIVATION_LAYERS.values())}
_LOSS_TYPES = {cls.__name__: cls for cls in (SoftmaxCrossEntropy, MSE, BCEWithLogits)}


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
