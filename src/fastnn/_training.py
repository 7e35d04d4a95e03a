"""Epoch runners for ``Sequential.fit``.

``make_epoch_runner`` returns ``run(order, progress, sq_norms) -> sum of per-sample
losses`` for one epoch over the rows of ``X`` in ``order``; ``sq_norms`` (None, or
float64, one entry per optimizer parameter) gets, for each minibatch and each parameter
with weight decay, ``sum(param**2)`` as the minibatch starts times ``rows / sum(w)`` of
its sample weights (1 without them): what an L2 term ``decay / 2 * |param|**2 / sum(w)``
per minibatch, scikit-learn's ``alpha``, adds up to.  A network whose steps
(:func:`~fastnn.layers.fused_steps`) are all ``Dense`` layers, each optionally with the
activation ``ops.linear`` fuses and each but the last optionally followed by a
``Dropout``, trained with a loss the compiled epoch runs
(:meth:`~fastnn.losses.Loss.compiled_args`) and SGD/Adam/AdamW, gets the compiled
runner: every minibatch runs in nogil code
(gather, forward with fused epilogues and dropout, loss, backward, update) on buffers
allocated once per ``fit``, with the dropout masks of the Python layer (same seed, same
steps); a CSR ``X`` is read in place, its minibatches' rows by index.
Anything else runs the manual loop of the lecture in Python.
Both run the same kernels in the same order, so they give the same numbers.

``full_batch_gradient`` returns the full-batch loss and gradient without an update (the
objective a quasi-Newton solver such as L-BFGS evaluates), from the same compiled
forward and backward.
"""
from __future__ import annotations

from typing import Callable, List, Optional, Tuple

import numpy as np

from . import _dispatch
from .layers import Dense, Dropout, RowGradient, fused_steps
from .losses import Loss
from .optim import SGD, Adam, AdamW, Optimizer

#: ``run(order, progress, sq_norms)``: ``progress(batches_done)`` is called during the epoch
#: unless None
Runner = Callable[[np.ndarray, Optional[Callable[[int], None]], Optional[np.ndarray]], float]

#: progress callbacks fire about this many times per epoch
PROGRESS_STEPS = 20

_ACT_CODES = _dispatch.kernels.ACTIVATION_CODES


class _SignedDecayStep:
    """``optimizer``'s step with weight decays ``decays`` that may be negative (a
    minibatch whose sample weights have a negative sum; the optimizers' kernels take
    decays >= 0): the step runs without decay after the L2 term is applied here as the
    kernels apply it, added to the gradient (``grad + decay * param``) or, decoupled
    (AdamW), the parameters scaled by ``1 - lr * decay``."""

    def __init__(self, optimizer: Optimizer, decays: List[float]):
        self.optimizer, self.decays = optimizer, decays

    def step(self) -> None:
        opt = self.optimizer
        for p, decay in zip(opt.params, self.decays):
            if decay == 0:
                continue
            if getattr(opt, "decoupled", False):
                p.value[...] *= p.value.dtype.type(1 - opt.lr * decay)
            elif isinstance(p.grad, RowGradient):
                p.grad.values[...] += p.value.dtype.type(decay) * p.value[p.grad.rows]
            else:
                p.grad[...] += p.value.dtype.type(decay) * p.value
        opt.step()


def python_runner(model, loss: Loss, optimizer: Optimizer, X: np.ndarray, y: np.ndarray,
                  batch_size: int, sample_weight: Optional[np.ndarray] = None) -> Runner:
    """Minibatch loop in Python: gather, forward, loss, backward, step (with sample
    weights, the weight decay scaled by ``rows / sum(w)`` of each minibatch, negative
    when that sum is)."""

    def run(order: np.ndarray, progress: Optional[Callable[[int], None]],
            sq_norms: Optional[np.ndarray] = None) -> float:
        decays = list(optimizer.weight_decays)  # as a callback may have left them
        n_batches = -(-len(order) // batch_size)
        every = max(1, n_batches // PROGRESS_STEPS)
        total = 0.0
        try:
            for b in range(n_batches):
                idx = order[b * batch_size:(b + 1) * batch_size]
                w = None if sample_weight is None else sample_weight[idx]
                scale, stepper = 1.0, optimizer
                if w is not None:
                    wsum = float(np.sum(w, dtype=np.float64))
                    scale = len(idx) / wsum if wsum != 0 else 0.0
                    scaled = [d * scale for d in decays]
                    if scale < 0:
                        stepper = _SignedDecayStep(optimizer, scaled)
                        scaled = [0.0] * len(decays)
                    optimizer.weight_decays = scaled
                if sq_norms is not None:
                    for i, (p, d) in enumerate(zip(optimizer.params, decays)):
                        if d > 0:
                            sq_norms[i] += scale * float(np.vdot(p.value, p.value))
                total += model.train_batch(X[idx], y[idx], loss, stepper, w) * len(idx)
                if progress is not None and (b + 1) % every == 0:
                    progress(b + 1)
        finally:
            optimizer.weight_decays = decays
        return total

    return run


#: ``(dense, activation code, slope, the Dropout on its output or None)``
CompiledLayer = Tuple[Dense, int, float, Optional[Dropout]]


def compiled_layers(model) -> Optional[List[CompiledLayer]]:
    """One entry per ``Dense`` step of :func:`~fastnn.layers.fused_steps` when every step
    is a ``Dense`` (with its fused activation or none), each but the last optionally
    followed by one ``Dropout`` step."""
    plan: List[CompiledLayer] = []
    for layer, act in fused_steps(model.layers):
        if type(layer) is Dropout and plan and plan[-1][3] is None:
            plan[-1] = plan[-1][:3] + (layer,)
        elif type(layer) is not Dense:
            return None
        elif act is None:
            plan.append((layer, _ACT_CODES["identity"], 0.0, None))
        else:
            plan.append((layer, _ACT_CODES[act.kernel], getattr(act, "negative_slope", 0.0),
                         None))
    return None if plan[-1][3] is not None else plan


def _active_dropout(layers: List[CompiledLayer]) -> List[Tuple[int, Dropout]]:
    """``(layer index, Dropout)`` of the dropout layers with ``p > 0``."""
    return [(l, drop) for l, (*_, drop) in enumerate(layers) if drop is not None and drop.p > 0]


def _train_plan(layers: List[CompiledLayer], loss_args, X: np.ndarray,
                y: np.ndarray, batch_size: int, state1=None, state2=None, sample_weight=None):
    """The compiled plan over the parameters of ``layers`` (in layer order), with the
    rates and keys of their dropout layers."""
    params = [p for dense, *_ in layers for p in dense.parameters()]
    index = {id(p.value): i for i, p in enumerate(params)}
    drops = [drop for *_, drop in layers]
    return _dispatch.kernels.TrainPlan(
        X, y, batch_size,
        [p.value for p in params], [p.grad for p in params], state1, state2,
        [index[id(dense.weight)] for dense, *_ in layers],
        [index[id(dense.bias)] if dense.bias is not None else -1 for dense, *_ in layers],
        [code for _, code, _, _ in layers], [slope for _, _, slope, _ in layers],
        *loss_args, sample_weight,
        [drop.p if drop is not None else 0.0 for drop in drops],
        [drop.key if drop is not None else 0 for drop in drops])


def compiled_runner(model, loss: Loss, optimizer: Optimizer, X: np.ndarray, y: np.ndarray,
                    batch_size: int, sample_weight: Optional[np.ndarray] = None
                    ) -> Optional[Runner]:
    """The compiled epoch, or None when the model, loss or optimizer is not supported."""
    layers = compiled_layers(model)
    loss_args = loss.compiled_args()
    if layers is None or loss_args is None or type(optimizer) not in (SGD, Adam, AdamW):
        return None
    params = [p for dense, *_ in layers for p in dense.parameters()]
    if [id(p.value) for p in optimizer.params] != [id(p.value) for p in params]:
        return None  # the optimizer covers a subset or another order of the parameters
    adam = isinstance(optimizer, Adam)

    def new_plan():
        """The plan, with the dropout rates the layers have now."""
        return _train_plan(layers, loss_args, X, y, batch_size,
                           optimizer.m if adam else optimizer.velocity,
                           optimizer.v if adam else None, sample_weight)

    plan, drops = new_plan(), _active_dropout(layers)
    rates = [drop.p for *_, drop in layers if drop is not None]

    def run(order: np.ndarray, progress: Optional[Callable[[int], None]],
            sq_norms: Optional[np.ndarray] = None) -> float:
        nonlocal plan, drops, rates
        now = [drop.p for *_, drop in layers if drop is not None]
        if now != rates:  # a callback changed a rate (a dropout schedule): a plan takes them once
            plan, drops, rates = new_plan(), _active_dropout(layers), now
        n_batches = -(-len(order) // batch_size)
        # one compiled call per epoch, or a few when a live progress bar wants updates
        chunk = n_batches if progress is None else max(1, n_batches // PROGRESS_STEPS)
        total = 0.0
        optimizer.check()  # a callback may have changed the hyperparameters since the last epoch
        decays = np.array(optimizer.weight_decays, dtype=np.float64)
        for first in range(0, n_batches, chunk):
            count = min(chunk, n_batches - first)
            for l, drop in drops:  # a manual forward in a callback also advances the step
                plan.dropout_steps[l] = drop.step
            if adam:
                total += plan.run_adam(order, first, count, optimizer.t, optimizer.lr,
                                       optimizer.betas[0], optimizer.betas[1], optimizer.eps,
                                       decays, optimizer.decoupled, sq_norms)
                optimizer.t += count
            else:
                total += plan.run_sgd(order, first, count, optimizer.lr, optimizer.momentum,
                                      optimizer.nesterov, decays, sq_norms)
            for l, drop in drops:
                drop.step = int(plan.dropout_steps[l])
            if progress is not None:
                progress(first + count)
        return total

    return run


def make_epoch_runner(model, loss: Loss, optimizer: Optimizer, X: np.ndarray, y: np.ndarray,
                      batch_size: int, sample_weight: Optional[np.ndarray] = None) -> Runner:
    return (compiled_runner(model, loss, optimizer, X, y, batch_size, sample_weight)
            or python_runner(model, loss, optimizer, X, y, batch_size, sample_weight))


def full_batch_gradient(model, loss: Loss, X: np.ndarray, y: np.ndarray,
                        sample_weight: Optional[np.ndarray] = None) -> Callable[[], float]:
    """``evaluate() -> n * mean loss`` over all ``n`` rows of ``(X, y)`` (checked targets;
    the weighted mean with ``sample_weight``) at the model's current parameters, with
    every parameter's gradient of the mean written to its ``grad``: the objective of
    full-batch solvers such as L-BFGS.  Compiled (one nogil forward and backward, X read
    in place) when the epoch would be and no dropout is active; otherwise the Python
    forward (in training mode: each evaluation draws new dropout masks), loss and
    backward."""
    layers = compiled_layers(model)
    loss_args = loss.compiled_args()
    if layers is not None and loss_args is not None and not _active_dropout(layers):
        return _train_plan(layers, loss_args, X, y, X.shape[0],
                           sample_weight=sample_weight).loss_gradient

    def evaluate() -> float:
        value = loss.forward(model.forward(X), y, sample_weight)
        model.backward(loss.backward())
        return value * X.shape[0]

    return evaluate
