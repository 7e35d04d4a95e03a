"""What ``Sequential.fit`` calls around its epochs: the per-epoch logs it returns
(:class:`History`), hooks after each epoch (:class:`Callback`, :class:`EarlyStopping`;
learning-rate schedules are callbacks too) and the text progress bar."""
from __future__ import annotations

import math
import sys
from typing import TYPE_CHECKING, List, Optional, Sequence

import numpy as np

from ._kernels._portable import check_real

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from .model import Sequential

__all__ = ["History", "Callback", "EarlyStopping", "ProgressBar"]


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

    def plot(self, ax: Optional["Axes"] = None, metrics: Optional[Sequence[str]] = None) -> "Axes":
        """Draw the per-epoch curves (loss, validation loss, validation accuracy when
        present; ``metrics`` picks others) and return the matplotlib axes; needs
        matplotlib (``pip install "fastnn[plot]"``), see :func:`fastnn.plotting.plot_history`."""
        from .plotting import plot_history

        return plot_history(self.history, epochs=[e + 1 for e in self.epoch], metrics=metrics,
                            ax=ax)

    def __repr__(self) -> str:
        return f"History(epochs={len(self.epoch)}, keys={sorted(self.history)})"


class Callback:
    """Hook called by ``fit`` after every epoch; set ``model.stop_training`` to stop."""

    def on_epoch_end(self, epoch: int, logs: dict, model: "Sequential") -> None:
        pass

    def check_logs(self, keys: List[str]) -> None:
        """Called by ``fit`` before it trains with the names it will log each epoch
        (``loss``, ``time``, ``val_loss``, ...): raise to refuse the run."""


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs;
    with ``restore_best_weights`` put back the weights of the best epoch."""

    def __init__(self, monitor: str = "val_loss", patience: int = 5, min_delta: float = 0.0,
                 mode: str = "auto", restore_best_weights: bool = False):
        if not isinstance(monitor, str):
            raise TypeError(f"monitor must be a str; received: {monitor!r}")
        if mode == "auto":
            mode = "max" if "acc" in monitor else "min"
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min', 'max' or 'auto'; received: {mode!r}")
        if isinstance(patience, bool) or not isinstance(patience, (int, np.integer)) or patience < 0:
            raise ValueError(f"patience must be an integer >= 0; received: {patience!r}")
        self.monitor, self.patience = monitor, int(patience)
        self.min_delta = abs(check_real(min_delta, "min_delta"))
        self.sign = 1.0 if mode == "min" else -1.0
        self.restore_best_weights = restore_best_weights
        self.best = math.inf
        self.wait = 0
        self.best_weights: Optional[List[np.ndarray]] = None
        self.stopped_epoch: Optional[int] = None

    def check_logs(self, keys: List[str]) -> None:
        if self.monitor not in keys:
            raise ValueError(f"EarlyStopping monitors {self.monitor!r} but fit logs only "
                             f"{sorted(keys)}" + (" (pass validation_data)"
                                                  if self.monitor.startswith("val_") else ""))

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


class ProgressBar:
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
