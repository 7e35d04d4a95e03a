"""Optimizers and learning-rate schedules.

An optimizer holds the :class:`~fastnn.layers.Parameter` list of a model (plain NumPy
arrays and their gradient arrays) and per-parameter state; ``step()`` updates every
array in place with one fused kernel call each, ``zero_grad()`` clears the gradients.
Hyperparameters are plain attributes (a schedule or the user may change ``lr`` between
steps); :meth:`Optimizer.check` validates them as they are, before every step and before
``fit`` trains.

Row-sparse gradients (:class:`~fastnn.layers.RowGradient`, e.g. of an ``Embedding``)
are applied lazily, as PyTorch's ``SparseAdam``: only the rows in the gradient change,
and only their optimizer state (momentum, Adam's moments) moves, with the same kernel
run on those rows; weight decay, too, reaches only those rows.  Adam's bias correction
uses the optimizer's global step count.
"""
from __future__ import annotations

import math
from typing import Iterable, List, Sequence, Tuple, Union

import numpy as np

from . import ops
from ._kernels._portable import check_real
from .layers import Parameter, RowGradient, check_positive_int

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "LRScheduler", "StepLR", "ExponentialLR",
           "CosineAnnealingLR"]

ParamsLike = Union[Iterable[Parameter], Iterable[Tuple[np.ndarray, np.ndarray]]]


def _as_parameters(params: ParamsLike) -> List[Parameter]:
    out = []
    for i, p in enumerate(params):
        if not isinstance(p, Parameter):
            try:
                value, grad = p
            except (TypeError, ValueError):
                raise TypeError("params must be Parameters (model.parameters()) or "
                                f"(value, grad) array pairs; received: {p!r}") from None
            p = Parameter(f"param{i}", value, grad)
        sparse = isinstance(p.grad, RowGradient)
        for what, arr in (("value", p.value), ("grad", p.grad.values if sparse else p.grad)):
            if not isinstance(arr, np.ndarray) or arr.dtype not in (np.float32, np.float64):
                raise TypeError(f"parameter {p.name!r}: {what} must be a float32/float64 ndarray")
        if sparse:
            grad_desc = f"rows of shape {p.grad.values.shape[1:]}"
            fits = p.value.ndim == 2 and p.grad.values.shape[1:] == p.value.shape[1:]
        else:
            grad_desc = f"{p.grad.shape}"
            fits = p.grad.shape == p.value.shape
        if not fits or p.value.dtype != p.grad.dtype:
            raise ValueError(f"parameter {p.name!r}: value {p.value.shape} {p.value.dtype} and "
                             f"grad {grad_desc} {p.grad.dtype} differ")
        out.append(p)
    return out


def _groups(params, weight_decay: float) -> Tuple[List[Parameter], List[float]]:
    """Flatten ``params`` (parameters, or PyTorch-style groups ``{"params": [...],
    "weight_decay": wd}``) into parameters and their weight decays."""
    flat, decays = [], []
    params = list(params)
    groups = params if params and all(isinstance(g, dict) for g in params) else [{"params": params}]
    for group in groups:
        unknown = set(group) - {"params", "weight_decay"}
        if unknown or "params" not in group:
            raise ValueError(f"a parameter group takes 'params' and 'weight_decay'; received "
                             f"keys {sorted(group)}")
        members = _as_parameters(group["params"])
        flat += members
        decays += [check_real(group.get("weight_decay", weight_decay), "weight_decay", 0.0)
                   ] * len(members)
    if not flat:
        raise ValueError("optimizer got an empty parameter list")
    return flat, decays


class Optimizer:
    """Base class: ``step()`` applies :meth:`_kernel` to every parameter.

    ``params`` is ``model.parameters()``, a list of ``(value, grad)`` array pairs, or a
    list of groups ``{"params": [...], "weight_decay": wd}`` (e.g. no decay on biases);
    ``weight_decays[i]`` is the decay of ``params[i]``.
    """

    def __init__(self, params: ParamsLike, lr: float, weight_decay: float = 0.0):
        self.lr = check_real(lr, "lr", 0.0)
        self.weight_decay = check_real(weight_decay, "weight_decay", 0.0)
        self.params, self.weight_decays = _groups(params, self.weight_decay)

    def check(self) -> None:
        """Validate the hyperparameters as they are now (TypeError/ValueError naming the
        attribute): ``step`` and ``fit`` call it before they change any weight."""
        self.lr = check_real(self.lr, "lr", 0.0)
        if len(self.weight_decays) != len(self.params):
            raise ValueError(f"weight_decays must have one entry per parameter "
                             f"({len(self.params)}); received {len(self.weight_decays)}")
        self.weight_decays = [check_real(d, f"weight_decays[{i}]", 0.0)
                              for i, d in enumerate(self.weight_decays)]

    def zero_grad(self) -> None:
        for p in self.params:
            if isinstance(p.grad, RowGradient):
                p.grad.clear()
            else:
                p.grad.fill(0)

    def step(self) -> None:
        """Update every parameter: the whole array, or for a row-sparse gradient only its
        rows (gathered with their state, updated by the same kernel, written back)."""
        self.check()
        for i, p in enumerate(self.params):
            state = self._state(i)
            if not isinstance(p.grad, RowGradient):
                self._kernel(i, p.value, p.grad, state)
                continue
            rows = p.grad.rows
            if not len(rows):
                continue
            value, state_rows = p.value[rows], [s[rows] for s in state]
            self._kernel(i, value, p.grad.values, state_rows)
            p.value[rows] = value
            for s, s_rows in zip(state, state_rows):
                s[rows] = s_rows

    def _state(self, index: int) -> List[np.ndarray]:
        """The state arrays of parameter ``index`` (each shaped like it)."""
        return []

    def _kernel(self, index: int, value: np.ndarray, grad: np.ndarray,
                state: List[np.ndarray]) -> None:
        """Update ``value`` in place from ``grad`` and ``state`` (the arrays of
        ``_state(index)``, or their rows), with the settings of parameter ``index``."""
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({args})"

    def config(self) -> dict:
        return {"lr": self.lr}


class SGD(Optimizer):
    """Stochastic gradient descent, ``param -= lr * g``, optionally with (Nesterov)
    momentum ``v = momentum * v + g`` and L2 weight decay ``g = grad + weight_decay * param``."""

    def __init__(self, params: ParamsLike, lr: float, momentum: float = 0.0,
                 nesterov: bool = False, weight_decay: float = 0.0):
        super().__init__(params, lr, weight_decay)
        self.momentum, self.nesterov = check_real(momentum, "momentum", 0.0), bool(nesterov)
        self.velocity = ([np.zeros_like(p.value) for p in self.params] if self.momentum
                         else None)
        self.check()

    def check(self) -> None:
        super().check()
        self.momentum = check_real(self.momentum, "momentum", 0.0)
        if self.nesterov and self.momentum == 0.0:
            raise ValueError("nesterov requires momentum > 0; received momentum=0.0")
        if self.momentum and self.velocity is None:
            raise ValueError(f"momentum must stay 0 for an SGD built with momentum=0 (it keeps "
                             f"no velocity); received momentum={self.momentum}")

    def _state(self, index: int) -> List[np.ndarray]:
        return [] if self.velocity is None else [self.velocity[index]]

    def _kernel(self, index: int, value: np.ndarray, grad: np.ndarray,
                state: List[np.ndarray]) -> None:
        ops.sgd_step(value, grad, lr=self.lr, momentum=self.momentum,
                     velocity=state[0] if state else None,
                     nesterov=self.nesterov, weight_decay=self.weight_decays[index])

    def config(self) -> dict:
        return {"lr": self.lr, "momentum": self.momentum, "nesterov": self.nesterov,
                "weight_decay": self.weight_decay}


class Adam(Optimizer):
    """Adam: ``m = b1 m + (1-b1) g``, ``v = b2 v + (1-b2) g^2``,
    ``param -= lr * m_hat / (sqrt(v_hat) + eps)`` with bias-corrected ``m_hat``, ``v_hat``.
    ``weight_decay`` adds ``weight_decay * param`` to the gradient (L2)."""

    decoupled = False

    def __init__(self, params: ParamsLike, lr: float = 1e-3,
                 betas: Sequence[float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(params, lr, weight_decay)
        self.betas, self.eps = betas, eps
        self.m = [np.zeros_like(p.value) for p in self.params]
        self.v = [np.zeros_like(p.value) for p in self.params]
        self.t = 0
        self.check()

    def check(self) -> None:
        super().check()
        try:
            beta1, beta2 = self.betas
        except (TypeError, ValueError):
            raise TypeError(f"betas must be a pair (beta1, beta2); received {self.betas!r}") from None
        self.betas = (check_real(beta1, "betas[0]", 0.0, 1.0, False, True),
                      check_real(beta2, "betas[1]", 0.0, 1.0, False, True))
        self.eps = check_real(self.eps, "eps", 0.0)
        if isinstance(self.t, bool) or not isinstance(self.t, (int, np.integer)) or self.t < 0:
            raise ValueError(f"t (the steps taken) must be an integer >= 0; received {self.t!r}")

    def step(self) -> None:
        self.check()
        self.t += 1
        super().step()

    def _state(self, index: int) -> List[np.ndarray]:
        return [self.m[index], self.v[index]]

    def _kernel(self, index: int, value: np.ndarray, grad: np.ndarray,
                state: List[np.ndarray]) -> None:
        ops.adam_step(value, grad, state[0], state[1], step=self.t, lr=self.lr,
                      beta1=self.betas[0], beta2=self.betas[1], eps=self.eps,
                      weight_decay=self.weight_decays[index], decoupled=self.decoupled)

    def config(self) -> dict:
        return {"lr": self.lr, "betas": self.betas, "eps": self.eps,
                "weight_decay": self.weight_decay}


class AdamW(Adam):
    """Adam with decoupled weight decay: ``param *= 1 - lr * weight_decay`` before the step."""

    decoupled = True

    def __init__(self, params: ParamsLike, lr: float = 1e-3,
                 betas: Sequence[float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.01):
        super().__init__(params, lr, betas, eps, weight_decay)


class LRScheduler:
    """Sets ``optimizer.lr`` from the epoch count; call ``step()`` once per epoch (``fit``
    does when the scheduler is passed in ``callbacks``)."""

    def __init__(self, optimizer: Optimizer):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"optimizer must be an Optimizer; received {optimizer!r}")
        optimizer.check()
        self.optimizer = optimizer
        self.base_lr = optimizer.lr
        self.epoch = 0

    def lr_at(self, epoch: int) -> float:
        raise NotImplementedError

    def step(self) -> None:
        self.epoch += 1
        self.optimizer.lr = self.lr_at(self.epoch)

    def on_epoch_end(self, epoch: int, logs: dict, model) -> None:
        self.step()


class StepLR(LRScheduler):
    """``lr = base_lr * gamma ** (epoch // step_size)``."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1):
        super().__init__(optimizer)
        self.step_size = check_positive_int("step_size", step_size)
        self.gamma = check_real(gamma, "gamma", 0.0, lo_open=True)

    def lr_at(self, epoch: int) -> float:
        return self.base_lr * self.gamma ** (epoch // self.step_size)


class ExponentialLR(LRScheduler):
    """``lr = base_lr * gamma ** epoch``."""

    def __init__(self, optimizer: Optimizer, gamma: float):
        super().__init__(optimizer)
        self.gamma = check_real(gamma, "gamma", 0.0, lo_open=True)

    def lr_at(self, epoch: int) -> float:
        return self.base_lr * self.gamma ** epoch


class CosineAnnealingLR(LRScheduler):
    """``lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2``."""

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0):
        super().__init__(optimizer)
        self.T_max = check_positive_int("T_max", T_max)
        self.eta_min = check_real(eta_min, "eta_min", 0.0)

    def lr_at(self, epoch: int) -> float:
        cos = math.cos(math.pi * min(epoch, self.T_max) / self.T_max)
        return self.eta_min + (self.base_lr - self.eta_min) * (1 + cos) / 2
