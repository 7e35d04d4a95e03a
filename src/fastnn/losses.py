"""Losses: ``forward(outputs, targets) -> float`` (the mean over the batch) and
``backward() -> dLoss/doutputs``.  Each is one fused kernel of :mod:`fastnn.ops` that
returns the loss and its gradient together."""
from __future__ import annotations

from typing import Optional

import numpy as np

from . import ops

__all__ = ["Loss", "SoftmaxCrossEntropy", "MSE", "BCEWithLogits", "get_loss"]


class Loss:
    """Base class; subclasses set ``kernel`` (a name in fastnn.ops) and ``classification``."""

    kernel = ""
    classification = False

    def __init__(self):
        self._grad: Optional[np.ndarray] = None

    def forward(self, outputs: np.ndarray, targets: np.ndarray) -> float:
        loss, self._grad = getattr(ops, self.kernel)(outputs, targets, **self._kwargs())
        return loss

    __call__ = forward

    def backward(self) -> np.ndarray:
        if self._grad is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        return self._grad

    def _kwargs(self) -> dict:
        return {}

    def config(self) -> dict:
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({args})"


class SoftmaxCrossEntropy(Loss):
    """Cross-entropy of ``softmax(outputs)``: ``-mean(log p[y])``; gradient ``(p - onehot(y)) / n``.

    ``targets`` are class indices ``(n,)`` or probabilities ``(n, C)``.
    """

    kernel = "softmax_cross_entropy"
    classification = True

    def __init__(self, label_smoothing: float = 0.0):
        super().__init__()
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1]; received: {label_smoothing!r}")
        self.label_smoothing = float(label_smoothing)

    def _kwargs(self) -> dict:
        return {"label_smoothing": self.label_smoothing}

    def config(self) -> dict:
        return {"label_smoothing": self.label_smoothing}


class MSE(Loss):
    """Mean squared error ``mean((outputs - targets)**2)``; gradient ``2 (outputs - targets) / size``."""

    kernel = "mse"


class BCEWithLogits(Loss):
    """Binary cross-entropy of ``sigmoid(outputs)`` against targets in [0, 1]."""

    kernel = "bce_with_logits"
    classification = True


_BY_NAME = {"softmax_cross_entropy": SoftmaxCrossEntropy, "cross_entropy": SoftmaxCrossEntropy,
            "mse": MSE, "bce_with_logits": BCEWithLogits, "bce": BCEWithLogits}


def get_loss(loss) -> Loss:
    """A loss instance from an instance or a name (``"cross_entropy"``, ``"mse"``, ``"bce"``)."""
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, str) and loss in _BY_NAME:
        return _BY_NAME[loss]()
    raise ValueError(f"loss must be a Loss or one of {sorted(_BY_NAME)}; received: {loss!r}")
