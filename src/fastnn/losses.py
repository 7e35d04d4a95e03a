"""Losses: ``forward(outputs, targets) -> float`` (the mean over the batch) and
``backward() -> dLoss/doutputs``.  Each is one fused kernel of :mod:`fastnn.ops` that
returns the loss and its gradient together.

A loss also knows everything else a model needs about it (as scikit-learn's losses and
links do), so the model asks and never tests the loss's type: which targets it takes
(:meth:`Loss.check_targets`), how raw outputs become probabilities and predictions
(:meth:`Loss.probabilities`, :meth:`Loss.predictions`, :meth:`Loss.accuracy`) and how
the compiled epoch runs it (:meth:`Loss.compiled_args`).
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from . import _dispatch, ops
from ._checks import finite_array
from ._kernels._portable import check_real

__all__ = ["Loss", "SoftmaxCrossEntropy", "MSE", "BCEWithLogits", "PoissonNLL", "LOSS_CLASSES",
           "get_loss"]


class Loss:
    """Base class; a subclass sets ``kernel``, the name of its fused kernel in fastnn.ops
    (``kernel(outputs, targets, **kwargs) -> (loss, grad)``).

    The defaults below suit a loss on real-valued targets of the outputs' shape whose
    outputs are scores: probabilities by softmax, predictions by argmax, no accuracy.
    """

    kernel = ""

    def __init__(self):
        self._grad: Optional[np.ndarray] = None

    def forward(self, outputs: np.ndarray, targets: np.ndarray,
                sample_weight: Optional[np.ndarray] = None) -> float:
        """The mean loss over the rows; with ``sample_weight`` (one finite weight per row,
        negative ones allowed) the weighted mean ``sum(w * row_loss) / sum(w)``, and the
        gradient of each row scaled by ``w * n / sum(w)`` (all 0 when the weights sum to
        0)."""
        kernel = getattr(ops, self.kernel)
        if sample_weight is None:
            loss, self._grad = kernel(outputs, targets, **self._kwargs())
            return loss
        n = len(outputs)
        per_item, grad = kernel(outputs, targets, reduction="none", **self._kwargs())
        per_row = per_item.reshape(n, -1).mean(axis=1)
        items = per_item.size // n  # losses per row: 1 (row losses) or the outputs
        wsum = float(np.sum(sample_weight, dtype=np.float64))
        factor = sample_weight * (n / wsum) if wsum != 0 else np.zeros(n)
        self._grad = grad * (factor / (n * items)).astype(grad.dtype)[:, None]
        return float(np.dot(factor, per_row)) / n

    __call__ = forward

    def backward(self) -> np.ndarray:
        if self._grad is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        return self._grad

    def _kwargs(self) -> dict:
        return {}

    def config(self) -> dict:
        """The constructor arguments that rebuild this loss (used by ``save``)."""
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({args})"

    # ------------------------------------------------------------ what models ask
    def check_targets(self, y: np.ndarray, n_outputs: int, dtype: np.dtype,
                      name: str = "y") -> np.ndarray:
        """``y`` (an ndarray of ``n`` rows) checked against outputs of shape
        ``(n, n_outputs)`` and returned as the kernel takes it: ``(n, n_outputs)`` finite
        numbers of ``dtype``, C-contiguous (a 1-D ``y`` is one column)."""
        n = len(y)
        if y.ndim == 1 and n_outputs == 1:
            y = y.reshape(n, 1)
        if y.shape != (n, n_outputs):
            raise ValueError(f"{name} must have shape ({n}, {n_outputs}) for "
                             f"{type(self).__name__}; received shape {y.shape}")
        return finite_array(y, dtype, name)

    def probabilities(self, outputs: np.ndarray) -> np.ndarray:
        """Probabilities from raw outputs, written over ``outputs``: softmax of each row."""
        return ops.softmax(outputs, out=outputs)

    def predictions(self, outputs: np.ndarray) -> np.ndarray:
        """What ``predict`` returns for raw outputs: the index of each row's largest output."""
        return outputs.argmax(axis=1)

    def accuracy(self, outputs: np.ndarray, targets: np.ndarray) -> Optional[float]:
        """Fraction of correct predictions against checked targets; None when the loss
        does not classify."""
        return None

    def compiled_args(self) -> Optional[Tuple[int, float]]:
        """``(loss code, label smoothing)`` with which the compiled epoch runs this loss,
        or None when it cannot (no compiled code for ``kernel``, or a subclass with its
        own ``forward``/``backward``, which only the Python loop runs)."""
        code = _dispatch.kernels.LOSS_CODES.get(self.kernel)
        own = type(self).forward is not Loss.forward or type(self).backward is not Loss.backward
        return None if code is None or own else (code, 0.0)


class SoftmaxCrossEntropy(Loss):
    """Cross-entropy of ``softmax(outputs)``: ``-mean(log p[y])``; gradient ``(p - onehot(y)) / n``.

    ``targets`` are class indices ``(n,)`` or probabilities ``(n, C)``.
    """

    kernel = "softmax_cross_entropy"

    def __init__(self, label_smoothing: float = 0.0):
        super().__init__()
        self.label_smoothing = check_real(label_smoothing, "label_smoothing", 0.0, 1.0)

    def _kwargs(self) -> dict:
        return {"label_smoothing": self.label_smoothing}

    def config(self) -> dict:
        return {"label_smoothing": self.label_smoothing}

    def check_targets(self, y: np.ndarray, n_outputs: int, dtype: np.dtype,
                      name: str = "y") -> np.ndarray:
        """Integer labels in ``[0, n_outputs)`` (returned as int64), or probabilities
        ``(n, n_outputs)``."""
        if y.ndim != 1:
            return super().check_targets(y, n_outputs, dtype, name)
        if y.dtype.kind not in "iu":
            raise TypeError(f"{name} must hold integer class labels; received dtype {y.dtype}")
        if y.min() < 0 or y.max() >= n_outputs:
            raise ValueError(f"{name} has labels outside [0, {n_outputs}): min {y.min()}, "
                             f"max {y.max()}")
        return np.ascontiguousarray(y, dtype=np.int64)

    def accuracy(self, outputs: np.ndarray, targets: np.ndarray) -> Optional[float]:
        labels = targets if targets.ndim == 1 else targets.argmax(axis=1)
        return float((outputs.argmax(axis=1) == labels).mean())

    def compiled_args(self) -> Optional[Tuple[int, float]]:
        args = super().compiled_args()
        return None if args is None else (args[0], self.label_smoothing)


class MSE(Loss):
    """Mean squared error ``mean((outputs - targets)**2)``; gradient ``2 (outputs - targets) / size``.

    Predictions are the outputs themselves.
    """

    kernel = "mse"

    def predictions(self, outputs: np.ndarray) -> np.ndarray:
        return outputs


class BCEWithLogits(Loss):
    """Binary cross-entropy of ``sigmoid(outputs)`` against targets in [0, 1].

    Each output is one yes/no decision: probability ``sigmoid(output)``, prediction
    ``output > 0``.
    """

    kernel = "bce_with_logits"

    def check_targets(self, y: np.ndarray, n_outputs: int, dtype: np.dtype,
                      name: str = "y") -> np.ndarray:
        y = super().check_targets(y, n_outputs, dtype, name)
        if (y < 0).any() or (y > 1).any():
            raise ValueError(f"{name} must lie in [0, 1] for BCEWithLogits")
        return y

    def probabilities(self, outputs: np.ndarray) -> np.ndarray:
        return ops.sigmoid(outputs, out=outputs)

    def predictions(self, outputs: np.ndarray) -> np.ndarray:
        return (outputs > 0).astype(np.int64)

    def accuracy(self, outputs: np.ndarray, targets: np.ndarray) -> Optional[float]:
        return float(((outputs > 0) == (targets > 0.5)).mean())


class PoissonNLL(Loss):
    """Poisson negative log-likelihood with the log link: outputs are ``log(rate)``, loss
    ``mean(exp(outputs) - targets * outputs)`` (``log(t!)`` dropped), gradient
    ``(exp(outputs) - targets) / size``.  Targets are counts (any values >= 0);
    predictions are the rates ``exp(outputs)``.
    """

    kernel = "poisson_nll"

    def check_targets(self, y: np.ndarray, n_outputs: int, dtype: np.dtype,
                      name: str = "y") -> np.ndarray:
        y = super().check_targets(y, n_outputs, dtype, name)
        if (y < 0).any():
            raise ValueError(f"{name} must be >= 0 for PoissonNLL")
        return y

    def probabilities(self, outputs: np.ndarray) -> np.ndarray:
        return np.exp(outputs, out=outputs)

    def predictions(self, outputs: np.ndarray) -> np.ndarray:
        return np.exp(outputs)


#: every built-in loss (save/load knows them by class name; the tests walk them)
LOSS_CLASSES = (SoftmaxCrossEntropy, MSE, BCEWithLogits, PoissonNLL)

_BY_NAME = {"softmax_cross_entropy": SoftmaxCrossEntropy, "cross_entropy": SoftmaxCrossEntropy,
            "mse": MSE, "bce_with_logits": BCEWithLogits, "bce": BCEWithLogits,
            "poisson_nll": PoissonNLL, "poisson": PoissonNLL}


def get_loss(loss) -> Loss:
    """A loss instance from an instance or a name (``"cross_entropy"``, ``"mse"``, ``"bce"``)."""
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, str) and loss in _BY_NAME:
        return _BY_NAME[loss]()
    raise ValueError(f"loss must be a Loss or one of {sorted(_BY_NAME)}; received: {loss!r}")
