"""Pure-NumPy reference implementation of every kernel in :mod:`fastnn.ops`.

This module is the oracle of the test suite and the baseline of the benchmarks: each
function is written the way the lecture writes it, in plain NumPy, with the same
signature and semantics as its compiled twin.  Computation happens in the dtype of
the inputs (float32 stays float32).  Argument checking is deliberately light here;
the compiled layer is the one that guards against bad input.
"""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple, Union

import numpy as np

__all__ = [
    "gemm", "matmul", "linear", "sparse_linear", "sparse_linear_backward",
    "relu", "leaky_relu", "tanh", "sigmoid", "identity",
    "relu_backward", "leaky_relu_backward", "tanh_backward", "sigmoid_backward",
    "identity_backward", "dropout_mask", "dropout", "dropout_backward",
    "softmax", "log_softmax", "softmax_cross_entropy", "mse", "bce_with_logits",
    "column_sum", "sgd_step", "adam_step", "embedding_bag", "embedding_bag_backward",
    "mlp_train_epoch", "word2vec_update", "word2vec_train", "ACTIVATIONS",
]

Loss = Union[float, np.ndarray]


def _store(result: np.ndarray, out: Optional[np.ndarray]) -> np.ndarray:
    if out is None:
        return result
    out[...] = result
    return out


# --------------------------------------------------------------------------- GEMM
def gemm(a: np.ndarray, b: np.ndarray, *, trans_a: bool = False, trans_b: bool = False,
         alpha: float = 1.0, beta: float = 0.0, out: Optional[np.ndarray] = None) -> np.ndarray:
    """``alpha * op(a) @ op(b) + beta * out``; with ``beta == 0`` ``out`` is not read."""
    opa = a.T if trans_a else a
    opb = b.T if trans_b else b
    dtype = np.result_type(a, b)
    result = dtype.type(alpha) * (opa @ opb)
    if beta != 0.0:
        if out is None:
            raise ValueError("beta != 0 needs out=")
        result = result + dtype.type(beta) * out
    return _store(result, out)


def matmul(a: np.ndarray, b: np.ndarray, out: Optional[np.ndarray] = None) -> np.ndarray:
    """``a @ b`` for 2-D operands."""
    return _store(a @ b, out)


def linear(x: np.ndarray, weight: np.ndarray, bias: Optional[np.ndarray] = None,
           activation: Optional[str] = None, out: Optional[np.ndarray] = None) -> np.ndarray:
    """``act(x @ weight + bias)`` with ``weight`` of shape ``(in, out)``."""
    z = x @ weight
    if bias is not None:
        z = z + bias
    return _store(ACTIVATIONS[activation or "identity"](z), out)


# ------------------------------------------------------------ sparse (CSR) input
def _csr_rows(x) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The nonzeros of the CSR matrix ``x`` as (row, column, value) arrays, without SciPy."""
    indptr = np.asarray(x.indptr, dtype=np.int64)
    k0, k1 = indptr[0], indptr[-1]
    rows = np.repeat(np.arange(x.shape[0]), np.diff(indptr))
    return rows, np.asarray(x.indices[k0:k1], dtype=np.int64), np.asarray(x.data[k0:k1])


def sparse_linear(x, weight: np.ndarray, bias: Optional[np.ndarray] = None,
                  activation: Optional[str] = None, out: Optional[np.ndarray] = None) -> np.ndarray:
    """``act(x @ weight + bias)`` for a CSR matrix ``x`` (``shape``, ``indptr``,
    ``indices``, ``data``): row ``i`` of ``x @ weight`` is the sum over the nonzeros
    ``x[i, j]`` of ``x[i, j] * weight[j]`` (duplicate entries add up)."""
    rows, cols, vals = _csr_rows(x)
    z = np.zeros((x.shape[0], weight.shape[1]), weight.dtype)
    np.add.at(z, rows, vals[:, None] * weight[cols])
    if bias is not None:
        z = z + bias
    return _store(ACTIVATIONS[activation or "identity"](z), out)


def sparse_linear_backward(x, grad_output: np.ndarray,
                           out: Optional[np.ndarray] = None) -> np.ndarray:
    """``x.T @ grad_output`` for a CSR matrix ``x``: the weight gradient of
    :func:`sparse_linear` (row ``j`` sums ``x[i, j] * grad_output[i]`` over the nonzeros)."""
    rows, cols, vals = _csr_rows(x)
    dw = np.zeros((x.shape[1], grad_output.shape[1]), grad_output.dtype)
    np.add.at(dw, cols, vals[:, None] * grad_output[rows])
    return _store(dw, out)


# --------------------------------------------------------------------- activations
def relu(x: np.ndarray, out: Optional[np.ndarray] = None) -> np.ndarray:
    """``max(x, 0)``; NaN propagates."""
    return np.maximum(x, x.dtype.type(0), out=out)


def leaky_relu(x: np.ndarray, negative_slope: float = 0.01,
               out: Optional[np.ndarray] = None) -> np.ndarray:
    """``x`` where ``x >= 0``, else ``negative_slope * x``."""
    return _store(np.where(x < 0, x.dtype.type(negative_slope) * x, x), out)


def tanh(x: np.ndarray, out: Optional[np.ndarray] = None) -> np.ndarray:
    """Hyperbolic tangent."""
    return np.tanh(x, out=out)


def sigmoid(x: np.ndarray, out: Optional[np.ndarray] = None) -> np.ndarray:
    """Logistic function ``1 / (1 + exp(-x))``, written to avoid overflow."""
    e = np.exp(-np.abs(x))
    return _store(np.where(x >= 0, 1 / (1 + e), e / (1 + e)), out)


def identity(x: np.ndarray, out: Optional[np.ndarray] = None) -> np.ndarray:
    """A copy of ``x``."""
    return _store(np.array(x, copy=True), out)


def relu_backward(grad_output: np.ndarray, output: np.ndarray,
                  out: Optional[np.ndarray] = None) -> np.ndarray:
    """``grad_output * (output > 0)``."""
    return _store(np.where(output > 0, grad_output, grad_output.dtype.type(0)), out)


def leaky_relu_backward(grad_output: np.ndarray, output: np.ndarray,
                        negative_slope: float = 0.01,
                        out: Optional[np.ndarray] = None) -> np.ndarray:
    """``grad_output`` where ``output > 0``, else ``negative_slope * grad_output``."""
    slope = grad_output.dtype.type(negative_slope)
    return _store(np.where(output > 0, grad_output, slope * grad_output), out)


def tanh_backward(grad_output: np.ndarray, output: np.ndarray,
                  out: Optional[np.ndarray] = None) -> np.ndarray:
    """``grad_output * (1 - output**2)``."""
    return _store(grad_output * (1 - output * output), out)


def sigmoid_backward(grad_output: np.ndarray, output: np.ndarray,
                     out: Optional[np.ndarray] = None) -> np.ndarray:
    """``grad_output * output * (1 - output)``."""
    return _store(grad_output * (output * (1 - output)), out)


def identity_backward(grad_output: np.ndarray, output: np.ndarray,
                      out: Optional[np.ndarray] = None) -> np.ndarray:
    """A copy of ``grad_output``."""
    return _store(np.array(grad_output, copy=True), out)


ACTIVATIONS = {"identity": identity, "relu": relu, "leaky_relu": leaky_relu,
               "tanh": tanh, "sigmoid": sigmoid}


# ------------------------------------------------------------------------ dropout
_U64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15  # SplitMix64's increment: 2**64 / golden ratio, odd


def _mix64(z):
    """SplitMix64's output function on uint64 (Python ints or a uint64 array): a
    bijection that spreads every input bit over every output bit."""
    if isinstance(z, np.ndarray):
        z = z ^ (z >> np.uint64(30))
        z = z * np.uint64(0xBF58476D1CE4E5B9)
        z = z ^ (z >> np.uint64(27))
        z = z * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _U64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _U64
    return z ^ (z >> 31)


def dropout_mask(shape, p: float, *, seed: int, step: int = 0) -> np.ndarray:
    """The keep mask of :func:`dropout`: a counter-based hash of ``(seed, step, i)`` per
    element, ``i`` its index in C order (row ``r``, column ``j`` of a 2-D array:
    ``r * cols + j``).  In uint64 arithmetic (wrapping), with SplitMix64's ``mix64``::

        key  = mix64(mix64(seed + G) + G * (step + 1))      G = 0x9E3779B97F4A7C15
        bits = mix64(key + G * (i + 1))
        keep = (bits >> 11) >= floor(p * 2**53)

    so an element is kept with probability ``1 - p`` (to ``2**-53``), independently of
    the others, and the mask depends on neither the thread count nor the memory layout.
    A network gives each dropout layer its own ``seed`` and each minibatch its ``step``."""
    key = _mix64((_mix64((seed + _GOLDEN) & _U64) + _GOLDEN * (step + 1)) & _U64)
    n = int(np.prod(shape, dtype=np.int64))
    index = np.arange(1, n + 1, dtype=np.uint64)
    bits = _mix64(np.uint64(key) + np.uint64(_GOLDEN) * index)
    threshold = np.uint64(int(p * 2.0 ** 53))
    return ((bits >> np.uint64(11)) >= threshold).reshape(shape)


def dropout(x: np.ndarray, p: float, *, seed: int, step: int = 0,
            out: Optional[np.ndarray] = None) -> np.ndarray:
    """Inverted dropout: ``x * (1 / (1 - p))`` where :func:`dropout_mask` keeps, else 0
    (the scale rounded once to ``x``'s dtype)."""
    scale = x.dtype.type(1.0 / (1.0 - p))
    keep = dropout_mask(x.shape, p, seed=seed, step=step)
    return _store(np.where(keep, x * scale, x.dtype.type(0)), out)


def dropout_backward(grad_output: np.ndarray, p: float, *, seed: int, step: int = 0,
                     out: Optional[np.ndarray] = None) -> np.ndarray:
    """The gradient of :func:`dropout` with the same ``(p, seed, step)``: the same mask and
    scale applied to ``grad_output``."""
    return dropout(grad_output, p, seed=seed, step=step, out=out)


# ------------------------------------------------------------ softmax and losses
def softmax(x: np.ndarray, out: Optional[np.ndarray] = None) -> np.ndarray:
    """Row-wise softmax of a 2-D array: ``exp(x - max) / sum(exp(x - max))``."""
    e = np.exp(x - x.max(axis=1, keepdims=True)) if x.size else np.exp(x)
    return _store(e / e.sum(axis=1, keepdims=True), out)


def log_softmax(x: np.ndarray, out: Optional[np.ndarray] = None) -> np.ndarray:
    """Row-wise ``x - logsumexp(x)`` of a 2-D array."""
    if x.size == 0:
        return _store(x.copy(), out)
    shifted = x - x.max(axis=1, keepdims=True)
    return _store(shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True)), out)


def _reduce(per_item: np.ndarray, grad: np.ndarray, count: int,
            reduction: str) -> Tuple[Loss, np.ndarray]:
    if reduction == "none":
        return per_item, grad
    if reduction == "sum":
        return float(per_item.sum()), grad
    if reduction == "mean":
        if count == 0:
            return float("nan"), grad
        return float(per_item.sum()) / count, grad / grad.dtype.type(count)
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none'; received: {reduction!r}")


def softmax_cross_entropy(logits: np.ndarray, targets: np.ndarray, *, reduction: str = "mean",
                          label_smoothing: float = 0.0,
                          out: Optional[np.ndarray] = None) -> Tuple[Loss, np.ndarray]:
    """Cross-entropy of ``softmax(logits)`` against class indices or probabilities.

    With ``q`` the (smoothed) target distribution, the loss per row is
    ``-sum(q * log_softmax(logits))`` and its gradient is ``softmax(logits) - q``
    (the lecture's ``a2 - y``), divided by ``n`` for ``reduction="mean"``.
    """
    n, c = logits.shape
    dt = logits.dtype.type
    if targets.ndim == 1:
        q = np.zeros_like(logits)
        q[np.arange(n), targets] = 1
    else:
        q = targets.astype(logits.dtype, copy=False)
    if label_smoothing:
        q = dt(1 - label_smoothing) * q + dt(label_smoothing / c)
    logp = log_softmax(logits)
    per_row = -(q * logp).sum(axis=1)
    loss, grad = _reduce(per_row, np.exp(logp) - q, n, reduction)
    return loss, _store(grad, out)


def mse(pred: np.ndarray, target: np.ndarray, *, reduction: str = "mean",
        out: Optional[np.ndarray] = None) -> Tuple[Loss, np.ndarray]:
    """Squared error ``(pred - target)**2`` and its gradient ``2 * (pred - target)``."""
    diff = pred - target
    loss, grad = _reduce(diff * diff, 2 * diff, diff.size, reduction)
    return loss, _store(grad, out)


def bce_with_logits(logits: np.ndarray, target: np.ndarray, *, reduction: str = "mean",
                    out: Optional[np.ndarray] = None) -> Tuple[Loss, np.ndarray]:
    """Binary cross-entropy of ``sigmoid(logits)`` against ``target`` in [0, 1].

    Per element ``max(x, 0) - x * t + log(1 + exp(-|x|))``; gradient ``sigmoid(x) - t``.
    """
    x, t = logits, target.astype(logits.dtype, copy=False)
    per_item = np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x)))
    loss, grad = _reduce(per_item, sigmoid(x) - t, x.size, reduction)
    return loss, _store(grad, out)


def poisson_nll(log_rate: np.ndarray, target: np.ndarray, *, reduction: str = "mean",
                out: Optional[np.ndarray] = None) -> Tuple[Loss, np.ndarray]:
    """Poisson negative log-likelihood with the log link: per element
    ``exp(x) - t * x`` (``log(t!)`` dropped), gradient ``exp(x) - t``."""
    x, t = log_rate, target.astype(log_rate.dtype, copy=False)
    rate = np.exp(x)
    loss, grad = _reduce(rate - x * t, rate - t, x.size, reduction)
    return loss, _store(grad, out)


def column_sum(x: np.ndarray, out: Optional[np.ndarray] = None) -> np.ndarray:
    """Sum over the rows of a 2-D array (the bias gradient ``dz.sum(0)``)."""
    return np.sum(x, axis=0, out=out)


# --------------------------------------------------------------------- optimizers
def sgd_step(param: np.ndarray, grad: np.ndarray, *, lr: float, momentum: float = 0.0,
             velocity: Optional[np.ndarray] = None, nesterov: bool = False,
             weight_decay: float = 0.0) -> np.ndarray:
    """One SGD step in place (PyTorch's formulation, dampening 0).

    ``g = grad + weight_decay * param``; with momentum ``v = momentum * v + g`` and
    ``g = v`` (or ``g + momentum * v`` with Nesterov); then ``param -= lr * g``.
    """
    dt = param.dtype.type
    g = grad + dt(weight_decay) * param if weight_decay else grad
    if momentum:
        velocity *= dt(momentum)
        velocity += g
        g = g + dt(momentum) * velocity if nesterov else velocity
    param -= dt(lr) * g
    return param


def adam_step(param: np.ndarray, grad: np.ndarray, m: np.ndarray, v: np.ndarray, *,
              step: int, lr: float, beta1: float = 0.9, beta2: float = 0.999,
              eps: float = 1e-8, weight_decay: float = 0.0,
              decoupled: bool = False) -> np.ndarray:
    """One Adam step in place (AdamW when ``decoupled``); ``step`` counts from 1.

    ``m = b1*m + (1-b1)*g``, ``v = b2*v + (1-b2)*g**2``,
    ``param -= lr / (1 - b1**step) * m / (sqrt(v / (1 - b2**step)) + eps)``.
    """
    dt = param.dtype.type
    if decoupled:
        param *= dt(1 - lr * weight_decay)
        g = grad
    else:
        g = grad + dt(weight_decay) * param if weight_decay else grad
    m *= dt(beta1)
    m += dt(1 - beta1) * g
    v *= dt(beta2)
    v += dt(1 - beta2) * (g * g)
    bias1 = 1 - beta1 ** step
    bias2 = 1 - beta2 ** step
    denom = np.sqrt(v) / dt(np.sqrt(bias2)) + dt(eps)
    param -= dt(lr / bias1) * (m / denom)
    return param


# ------------------------------------------------------------ bags of embeddings
def embedding_bag(weight: np.ndarray, ids: np.ndarray, *, mode: str = "mean",
                  padding_idx: int = -1, out: Optional[np.ndarray] = None) -> np.ndarray:
    """``out[i]`` = sum (``"sum"``) or mean (``"mean"``) of ``weight[ids[i, j]]`` over the
    ``j`` with ``ids[i, j] != padding_idx``; zeros for a document of padding only."""
    keep = ids != padding_idx
    rows = weight[np.where(keep, ids, 0)] * keep[:, :, None].astype(weight.dtype)
    total = rows.sum(axis=1)
    if mode == "mean":
        total /= np.maximum(keep.sum(axis=1), 1)[:, None].astype(weight.dtype)
    return _store(total, out)


def embedding_bag_backward(grad_output: np.ndarray, ids: np.ndarray, num_embeddings: int, *,
                           mode: str = "mean", padding_idx: int = -1
                           ) -> Tuple[np.ndarray, np.ndarray]:
    """``(rows, grad_rows)``: the sorted distinct ids used and, for each, the sum of
    ``grad_output[i]`` (divided by document ``i``'s token count for the mean) over its
    occurrences: the rows of the dense gradient that are not zero."""
    keep = ids != padding_idx
    per_doc = grad_output
    if mode == "mean":
        per_doc = grad_output / np.maximum(keep.sum(axis=1), 1)[:, None].astype(grad_output.dtype)
    dense = np.zeros((num_embeddings, grad_output.shape[1]), grad_output.dtype)
    docs = np.nonzero(keep)[0]
    np.add.at(dense, ids[keep], per_doc[docs])
    rows = np.unique(ids[keep]).astype(np.intp)
    return rows, dense[rows]


# ------------------------------------------------------------- a whole training loop
def mlp_loss_gradient(weights: List[np.ndarray], biases: List[np.ndarray], X: np.ndarray,
                      y: np.ndarray, *, activation: str = "relu",
                      loss: str = "softmax_cross_entropy", dropout_rates: Sequence[float] = (),
                      seeds: Sequence[int] = (), step: int = 0
                      ) -> Tuple[float, List[np.ndarray], List[np.ndarray]]:
    """Mean loss of a multilayer perceptron over ``(X, y)`` and its gradients, as the
    lecture writes them.

    Hidden layers ``a = act(a_prev @ W + b)``, output ``z = a @ W + b``, ``loss`` (a loss
    of this module: ``softmax_cross_entropy``, ``mse``, ``bce_with_logits``) of ``z``
    against ``y``; backward ``dz = dLoss/dz``, ``dW = a_prev.T @ dz``, ``db = dz.sum(0)``,
    ``da_prev = dz @ W.T``.  ``dropout_rates`` (one per hidden layer, or empty) applies
    :func:`dropout` to hidden layer ``l``'s output with ``seeds[l]`` and ``step``, and
    :func:`dropout_backward` to its gradient.  Returns ``(loss, [dW...], [db...])``.
    """
    act, act_backward = ACTIVATIONS[activation], _BACKWARDS[activation]
    rates = list(dropout_rates) or [0.0] * (len(weights) - 1)
    inputs, outputs = [X], []
    for layer, (W, b) in enumerate(zip(weights[:-1], biases[:-1])):
        outputs.append(act(inputs[-1] @ W + b))
        inputs.append(dropout(outputs[-1], rates[layer], seed=seeds[layer], step=step)
                      if rates[layer] else outputs[-1])
    value, dz = _LOSSES[loss](inputs[-1] @ weights[-1] + biases[-1], y)
    dWs, dbs = [], []
    for layer in range(len(weights) - 1, -1, -1):
        dWs.insert(0, inputs[layer].T @ dz)
        dbs.insert(0, dz.sum(axis=0))
        if layer:
            grad = dz @ weights[layer].T
            if rates[layer - 1]:
                grad = dropout_backward(grad, rates[layer - 1], seed=seeds[layer - 1], step=step)
            dz = act_backward(grad, outputs[layer - 1])
    return value, dWs, dbs


def mlp_train_epoch(weights: List[np.ndarray], biases: List[np.ndarray], X: np.ndarray,
                    y: np.ndarray, order: np.ndarray, *, lr: float, batch_size: int,
                    activation: str = "relu", dropout_rates: Sequence[float] = (),
                    seeds: Sequence[int] = (), step: int = 0) -> float:
    """One epoch of minibatch SGD on a multilayer perceptron, as the lecture writes it:
    :func:`mlp_loss_gradient` of each minibatch (softmax cross-entropy against integer
    labels ``y``; with ``dropout_rates``, minibatch ``k`` of the epoch uses ``step + k``), then
    ``W -= lr * dW``, ``b -= lr * db``.  Updates the arrays in place and returns the mean
    training loss of the epoch.
    """
    total = 0.0
    for k, start in enumerate(range(0, len(order), batch_size)):
        idx = order[start:start + batch_size]
        loss, dWs, dbs = mlp_loss_gradient(weights, biases, X[idx], y[idx],
                                           activation=activation, dropout_rates=dropout_rates,
                                           seeds=seeds, step=step + k)
        total += loss * len(idx)
        for param, grad in zip(weights + biases, dWs + dbs):
            sgd_step(param, grad, lr=lr)
    return total / len(order)


_LOSSES = {"softmax_cross_entropy": softmax_cross_entropy, "mse": mse,
           "bce_with_logits": bce_with_logits, "poisson_nll": poisson_nll}
_BACKWARDS = {"identity": identity_backward, "relu": relu_backward,
              "leaky_relu": leaky_relu_backward, "tanh": tanh_backward,
              "sigmoid": sigmoid_backward}


# ------------------------------------------------------------- word2vec
def word2vec_update(syn0: np.ndarray, syn1: np.ndarray, ctx: np.ndarray, outs: np.ndarray, *,
                    sg: bool, cbow_mean: bool, alpha: float) -> float:
    """One negative-sampling update of word2vec, as the compiled trainer makes it for a
    centre word ``outs[0]`` (label 1), its negatives ``outs[1:]`` (label 0) and its
    context words ``ctx``.  Returns the loss ``-log sigmoid(score of the centre) -
    sum log sigmoid(-score of a negative)`` (summed over the pairs for skip-gram).

    Skip-gram: the pairs ``(c, outs)`` for each context word ``c`` in turn, each reading
    the vectors as the previous pair left them: ``f = O syn0[c]``,
    ``g = alpha (labels - sigmoid(f))``, then ``syn1[outs] += g syn0[c]^T`` and
    ``syn0[c] += g O``, both from the rows before the pair (the trainer draws negatives
    of their own for each pair).
    CBOW: ``h`` is the mean (sum unless ``cbow_mean``) of the context rows,
    ``g = alpha (labels - sigmoid(O h))``, ``syn1[outs] += g h^T`` and every context row
    gets ``e = g O`` (divided by the context size for a sum, as gensim does), all from the
    rows before the update; repeated words get the sum of their updates.
    """
    dt = syn0.dtype.type
    labels = np.zeros(len(outs), dtype=syn0.dtype)
    labels[0] = 1
    if sg:
        return sum(_word2vec_pair(syn0, syn1, c, outs, labels, dt(alpha)) for c in ctx)
    C, O = syn0[ctx], syn1[outs]
    h = C.sum(axis=0)
    if cbow_mean:
        h /= dt(len(ctx))
    F = O @ h
    g = dt(alpha) * (labels - sigmoid(F))
    e = g @ O
    if not cbow_mean:
        e /= dt(len(ctx))
    np.add.at(syn1, outs, np.outer(g, h))
    np.add.at(syn0, ctx, np.broadcast_to(e, C.shape))
    return _word2vec_loss(F, labels)


def _word2vec_pair(syn0: np.ndarray, syn1: np.ndarray, c: int, outs: np.ndarray,
                   labels: np.ndarray, alpha) -> float:
    """One skip-gram pair: syn0[c] predicts outs (see word2vec_update)."""
    row, O = syn0[c].copy(), syn1[outs]
    F = O @ row
    g = alpha * (labels - sigmoid(F))
    syn0[c] += g @ O
    np.add.at(syn1, outs, np.outer(g, row))
    return _word2vec_loss(F, labels)


def _word2vec_loss(F: np.ndarray, labels: np.ndarray) -> float:
    signed = np.where(labels == 1, F, -F).astype(np.float64)
    return float(np.logaddexp(0.0, -signed).sum())


_M64 = 2 ** 64 - 1


def _splitmix64(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


class _Xorshift64Star:
    """The trainer's random stream: xorshift64*, 32-bit draws from the high half."""

    def __init__(self, state: int):
        self.state = state

    def u32(self) -> int:
        x = self.state
        x ^= x >> 12
        x ^= (x << 25) & _M64
        x ^= x >> 27
        self.state = x
        return ((x * 0x2545F4914F6CDD1D) & _M64) >> 32

    def below(self, n: int) -> int:
        return (self.u32() * n) >> 32


def word2vec_train(syn0: np.ndarray, syn1: np.ndarray, cum_table: np.ndarray,
                   sample_int: np.ndarray, tokens: np.ndarray, sent_start: np.ndarray,
                   chunk_start: np.ndarray, c0: int, c1: int, *, sg: bool, cbow_mean: bool,
                   window: int, negative: int, alpha: float, min_alpha: float,
                   words_before: int, total_words: int, seed: int) -> Tuple[float, int, int]:
    """The compiled trainer on one thread, draw for draw: chunks ``c0 .. c1-1``, chunk
    ``c``'s random stream seeded from ``(seed, c)``; per sentence the learning rate
    (linear from ``alpha`` at word 0 to ``min_alpha`` at ``total_words``), the
    subsampling (word ``w`` kept when a 32-bit draw is at most ``sample_int[w]``), then
    per kept centre word a window half-width in ``1..window`` and ``negative`` draws
    from ``cum_table`` (those equal to the centre dropped): for skip-gram per
    (context, centre) pair, for CBOW once.  Returns ``(loss, words, effective_words)``."""
    loss, words, effective = 0.0, 0, 0
    total = float(total_words) if total_words > 0 else 1.0

    def draw_outs(centre: int, rng: _Xorshift64Star) -> np.ndarray:
        negs = [int(np.searchsorted(cum_table, rng.below(int(cum_table[-1])), side="right"))
                for _ in range(negative)]
        return np.array([centre] + [w for w in negs if w != centre], dtype=np.int64)

    for c in range(c0, c1):
        rng = _Xorshift64Star(_splitmix64((seed ^ _splitmix64(c)) & _M64) | 1)
        for t in range(chunk_start[c], chunk_start[c + 1]):
            sentence = tokens[sent_start[t]:sent_start[t + 1]]
            rate = max(alpha - (alpha - min_alpha) * (words_before + words) / total, min_alpha)
            rate = np.float32(rate)
            kept = [int(w) for w in sentence
                    if sample_int[w] == 2 ** 32 - 1 or sample_int[w] >= rng.u32()]
            effective += len(kept)
            words += len(sentence)
            for i, centre in enumerate(kept):
                half = window - rng.below(window)
                ctx = kept[max(i - half, 0):i] + kept[i + 1:i + half + 1]
                if not ctx:
                    continue
                if sg:
                    for a in ctx:
                        loss += word2vec_update(syn0, syn1, [a], draw_outs(centre, rng),
                                                sg=True, cbow_mean=cbow_mean, alpha=rate)
                else:
                    loss += word2vec_update(syn0, syn1, ctx, draw_outs(centre, rng), sg=False,
                                            cbow_mean=cbow_mean, alpha=rate)
    return loss, words, effective
