"""``Sequential``: a network as a series of layers, trained by ``fit`` or by hand.

The manual loop reads like the lecture::

    out = model.forward(xb)              # a1 = relu(x W1 + b1), z2 = a1 W2 + b2
    loss = criterion.forward(out, yb)    # softmax + cross-entropy
    model.backward(criterion.backward()) # dz2 = a2 - y, dW2 = a1.T dz2, ...
    optimizer.step()                     # W -= lr * dW

``fit`` runs the same steps; for a network of ``Dense`` layers and elementwise
activations trained with a built-in loss and SGD/Adam/AdamW it runs whole epochs in
compiled code (see ``fastnn._training``), with the same numbers as the manual loop.
The loss decides what targets are valid and what ``predict`` returns
(:mod:`fastnn.losses`); callbacks live in :mod:`fastnn.callbacks`, the file format of
``save`` in :mod:`fastnn.serialization`.
"""
from __future__ import annotations

import time
from typing import Iterable, List, Optional, Sequence, Tuple

import numpy as np

from ._checks import all_finite
from ._sparse import as_csr, is_sparse
from ._training import make_epoch_runner
from .callbacks import History, ProgressBar
from .layers import Dense, Embedding, Layer, Parameter, fused_steps
from .losses import Loss, SoftmaxCrossEntropy, get_loss
from .optim import Optimizer

__all__ = ["Sequential"]


def epoch_order(rng: np.random.Generator, n: int, shuffle: bool) -> np.ndarray:
    """The order of the ``n`` rows in one epoch of ``fit``: a permutation drawn from
    ``rng`` (``np.random.default_rng(seed)``, once per ``fit``) or, without shuffling,
    ``0 .. n - 1``; minibatch ``b`` is ``order[b * batch_size:(b + 1) * batch_size]``."""
    return rng.permutation(n) if shuffle else np.arange(n)


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


class Sequential(Layer):
    """Layers applied in order: ``forward`` calls each layer, ``backward`` walks them back.

    A ``Dense`` followed by an activation runs as one fused ``ops.linear`` call.  A
    network that starts with an ``Embedding`` takes 2-D arrays of token ids (its
    ``in_features`` is None); ``fit`` then runs the Python epoch.
    """

    def __init__(self, layers: Sequence[Layer]):
        layers = list(layers)
        if not layers:
            raise ValueError("Sequential needs at least one layer")
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"Sequential takes Layer instances; received: {layer!r}")
            first = next(j for j, other in enumerate(layers) if other is layer)
            if first != i:
                # a layer keeps one input/output for backward and overwrites its gradients
                raise ValueError(f"layers[{first}] and layers[{i}] are the same {layer!r}: "
                                 "each position needs its own layer object (a shared layer "
                                 "would get wrong gradients)")
        dense = [layer for layer in layers if isinstance(layer, Dense)]
        if not dense:
            raise ValueError("Sequential needs at least one Dense layer")
        if any(isinstance(layer, Embedding) for layer in layers[1:]):
            raise ValueError("an Embedding takes token ids: it can only be the first layer")
        embedding = layers[0] if isinstance(layers[0], Embedding) else None
        chain = ([embedding] if embedding else []) + dense  # the layers with a width
        for prev, nxt in zip(chain, chain[1:]):
            if prev.out_features != nxt.in_features:
                raise ValueError(f"layer sizes do not chain: {prev!r} -> {nxt!r}")
            if prev.dtype != nxt.dtype:
                raise ValueError(f"all Dense and Embedding layers must share a dtype: "
                                 f"{prev.dtype} and {nxt.dtype}")
        self.layers: List[Layer] = layers
        self.dtype = dense[0].dtype
        self.embedding = embedding
        self.in_features = None if embedding else dense[0].in_features
        self.out_features = dense[-1].out_features
        self.loss_: Optional[Loss] = None
        self.stop_training = False

    # ------------------------------------------------------------------ the math
    def forward(self, x: np.ndarray, training: bool = True) -> np.ndarray:
        for layer, act in fused_steps(self.layers):
            if act is None:
                x = layer.forward(x, training)
            else:
                x = layer.forward_activated(x, act, training)
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
        """``X`` as the network's dtype, C-contiguous; a SciPy CSR/CSC matrix as CSR."""
        if self.embedding is not None:
            X = self.embedding.check_ids(X, name)
            if X.shape[0] == 0:
                raise ValueError(f"{name} is empty: shape {X.shape}")
            return X
        if is_sparse(X):
            return self._check_sparse_x(X, name)
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
        if not all_finite(X):
            raise ValueError(f"{name} contains NaN or infinity")
        return X

    def _check_sparse_x(self, X, name: str):
        if not isinstance(self.layers[0], Dense):
            raise TypeError(f"sparse {name} needs a Dense first layer; received "
                            f"{self.layers[0]!r}")
        if X.shape[0] == 0:
            raise ValueError(f"{name} is empty: shape {X.shape}")
        if X.shape[1] != self.in_features:
            raise ValueError(f"{name} has {X.shape[1]} features but the model expects "
                             f"{self.in_features}; received shape {X.shape}")
        return as_csr(X, self.dtype, name)

    def _check_y(self, y, n: int, loss: Loss, name: str = "y") -> np.ndarray:
        """``y`` for ``n`` samples, then whatever ``loss`` requires of its targets."""
        if not isinstance(y, np.ndarray):
            raise TypeError(f"{name} must be a numpy.ndarray; received: {type(y).__name__}")
        if y.shape[:1] != (n,):
            raise ValueError(f"{name} has {y.shape[0] if y.ndim else 0} rows but X has {n}; "
                             f"received shape {y.shape}")
        return loss.check_targets(y, self.out_features, self.dtype, name)

    def _check_sample_weight(self, sample_weight, n: int) -> Optional[np.ndarray]:
        """``None``, or a copy of ``n`` finite weights in the model's dtype."""
        if sample_weight is None:
            return None
        w = np.asarray(sample_weight)
        if w.shape != (n,) or w.dtype.kind not in "biuf":
            raise ValueError(f"sample_weight must hold one number per sample ({n},); "
                             f"received shape {w.shape}, dtype {w.dtype}")
        w = np.array(w, dtype=self.dtype, order="C")
        if not all_finite(w):
            raise ValueError("sample_weight must be finite")
        return w

    def _check_optimizer(self, optimizer: Optimizer) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"optimizer must be an Optimizer (SGD, Adam, AdamW); received: {optimizer!r}")
        mine = {id(p.value) for p in self.parameters()}
        if any(id(p.value) not in mine for p in optimizer.params):
            raise ValueError("optimizer holds arrays that are not this model's parameters; "
                             "build it with model.parameters()")
        optimizer.check()

    # -------------------------------------------------------------------- training
    def fit(self, X: np.ndarray, y: np.ndarray, *, loss, optimizer: Optimizer, epochs: int = 1,
            batch_size: int = 32, shuffle: bool = True,
            validation_data: Optional[Tuple[np.ndarray, np.ndarray]] = None,
            seed: Optional[int] = None, verbose: bool = True,
            callbacks: Optional[Iterable] = None,
            sample_weight: Optional[np.ndarray] = None) -> History:
        """Train for ``epochs`` passes over ``(X, y)`` in minibatches of ``batch_size``.

        ``batch_size=1`` is plain SGD, ``batch_size=len(X)`` full-batch gradient descent.
        ``sample_weight`` (one finite weight per row) makes each minibatch's loss the
        weighted mean ``sum(w * loss) / sum(w)`` and scales the optimizer's weight decay
        by ``rows / sum(w)`` (an L2 term ``decay / sum(w)`` per minibatch, as
        scikit-learn's ``alpha``).  Negative weights are scikit-learn's too: the same
        formulas (a minibatch with a negative sum gets a negative weight decay); a
        minibatch whose weights sum to 0 contributes no loss, gradient or decay.  Every argument is checked before any weight changes.
        With (coupled) weight decay, each epoch's logs also hold ``l2``: the mean over the
        epoch's samples of ``sum(W**2) / 2 / s_b`` (``W`` the parameters with weight decay as
        the sample's minibatch ``b`` starts, ``s_b`` its sum of sample weights, else its
        rows): ``alpha * l2`` is the L2 term of scikit-learn's loss.
        """
        loss = get_loss(loss)
        X = self._check_x(X)
        targets = self._check_y(y, X.shape[0], loss)
        # train on the targets as they are now, whatever a callback does to the caller's y
        y = targets.copy() if np.may_share_memory(targets, y) else targets
        sample_weight = self._check_sample_weight(sample_weight, X.shape[0])
        val = None
        if validation_data is not None:
            try:
                Xv, yv = validation_data
            except (TypeError, ValueError):
                raise TypeError("validation_data must be a pair (X_val, y_val)") from None
            Xv = self._check_x(Xv, "X_val")
            val = (Xv, self._check_y(yv, Xv.shape[0], loss, "y_val"))
        self._check_optimizer(optimizer)
        if not _is_int(epochs) or epochs < 0:
            raise ValueError(f"epochs must be a non-negative integer; received: {epochs!r}")
        if not _is_int(batch_size) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer; received: {batch_size!r}")
        callbacks = list(callbacks or [])
        for cb in callbacks:
            if not hasattr(cb, "on_epoch_end"):
                raise TypeError(f"callbacks must have on_epoch_end; received: {cb!r}")
        logged = ["loss", "time"]
        # the parameters' squared norms, per parameter, for the L2 term (see above)
        sq_norms = (np.zeros(len(optimizer.params)) if any(optimizer.weight_decays)
                    and not getattr(optimizer, "decoupled", False) else None)
        if sq_norms is not None:
            logged.append("l2")
        if val is not None:
            logged.append("val_loss")
            if loss.accuracy(np.zeros((1, self.out_features), self.dtype), val[1][:1]) is not None:
                logged.append("val_accuracy")
        for cb in callbacks:
            if hasattr(cb, "check_logs"):
                cb.check_logs(logged)

        n = X.shape[0]
        batch_size = min(int(batch_size), n)
        n_batches = -(-n // batch_size)
        runner = make_epoch_runner(self, loss, optimizer, X, y, batch_size, sample_weight)
        rng = np.random.default_rng(seed)
        progress = ProgressBar(epochs, n_batches, bool(verbose))
        history = History()
        self.loss_ = loss
        self.stop_training = False
        for epoch in range(epochs):
            order = epoch_order(rng, n, shuffle)
            t0 = time.perf_counter()
            if sq_norms is not None:
                sq_norms[:] = 0.0
            total = runner(order, (lambda done, e=epoch: progress.update(e, done))
                           if progress.live else None, sq_norms)
            logs = {"loss": total / n, "time": time.perf_counter() - t0}
            if sq_norms is not None:
                logs["l2"] = 0.5 * float(sq_norms.sum()) / n
            if val is not None:
                logs.update(self._scores(val[0], val[1], loss, prefix="val_"))
            history.append(epoch, logs)
            progress.end_epoch(epoch, logs)
            for cb in callbacks:
                cb.on_epoch_end(epoch, logs, self)
            if self.stop_training:
                break
        return history

    def train_batch(self, xb: np.ndarray, yb: np.ndarray, loss: Loss, optimizer: Optimizer,
                    sample_weight: Optional[np.ndarray] = None) -> float:
        """One step of the manual loop: forward, loss (weighted by ``sample_weight``),
        backward, optimizer step."""
        outputs = self.forward(xb)
        # (a loss of the user's own may take no sample_weight)
        value = (loss.forward(outputs, yb) if sample_weight is None
                 else loss.forward(outputs, yb, sample_weight))
        grad = loss.backward()
        for layer in reversed(self.layers[1:]):
            grad = layer.backward(grad)
        self.layers[0].backward_params(grad)  # the input gradient is not needed
        optimizer.step()
        return value

    # ------------------------------------------------------------------ inference
    def _outputs(self, X: np.ndarray, batch_size: int = 4096) -> np.ndarray:
        X = self._check_x(X)
        parts = [self.forward(X[i:i + batch_size], training=False)
                 for i in range(0, X.shape[0], batch_size)]
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    def _trained_loss(self) -> Loss:
        """The loss of the last ``fit`` (or of the loaded file); softmax cross-entropy
        for a model trained by hand."""
        return self.loss_ if self.loss_ is not None else SoftmaxCrossEntropy()

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Probabilities as the trained loss defines them (``Loss.probabilities``): softmax
        of the outputs, sigmoid of each output after BCEWithLogits."""
        return self._trained_loss().probabilities(self._outputs(X))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predictions as the trained loss defines them (``Loss.predictions``): class labels
        (argmax of the outputs; ``outputs > 0`` after BCEWithLogits), or the raw outputs
        for a model trained with MSE."""
        return self._trained_loss().predictions(self._outputs(X))

    def evaluate(self, X: np.ndarray, y: np.ndarray, loss=None) -> dict:
        """``{"loss": ..., "accuracy": ...}`` on ``(X, y)`` (accuracy for classification)."""
        loss = get_loss(loss if loss is not None else self._trained_loss())
        X = self._check_x(X)
        return self._scores(X, self._check_y(y, X.shape[0], loss), loss)

    def _scores(self, X: np.ndarray, y: np.ndarray, loss: Loss, prefix: str = "") -> dict:
        out = self._outputs(X)
        scores = {prefix + "loss": float(type(loss)(**loss.config()).forward(out, y))}
        accuracy = loss.accuracy(out, y)
        if accuracy is not None:
            scores[prefix + "accuracy"] = accuracy
        return scores

    def save(self, path) -> None:
        """Write the architecture (JSON) and the weights to an ``.npz`` file, without pickle
        (the format: :mod:`fastnn.serialization`)."""
        from .serialization import save

        save(self, path)

    def __reduce__(self):
        """Pickle through the bytes of :meth:`save`: no pickle inside, and what travels to
        another process is what a file keeps (architecture, loss, weights)."""
        from .serialization import dumps, loads

        return loads, (dumps(self),)
