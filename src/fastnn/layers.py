"""Layers: a dense layer ``y = f(x @ W + b)`` split into its linear part and its activation.

Each layer keeps what its backward pass needs from the forward pass (the input of a
``Dense``, the output of an activation) and writes its gradients into NumPy arrays
(``grad_weight``, ``grad_bias``); ``backward`` overwrites them, it does not accumulate.
Every computation is one call into :mod:`fastnn.ops`.
"""
from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from . import ops
from ._kernels._portable import check_real
from ._sparse import is_csr

__all__ = ["Parameter", "RowGradient", "Layer", "Dense", "Embedding", "Activation", "ReLU", "LeakyReLU", "Tanh",
           "Sigmoid", "Identity", "Dropout", "ACTIVATION_LAYERS", "LAYER_CLASSES",
           "fusable_activation", "fused_steps"]

_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


@dataclass
class RowGradient:
    """The gradient of a table of which only some rows have a nonzero gradient: row
    ``rows[k]`` has gradient ``values[k]``, every other row zero (``rows`` sorted, distinct).
    Optimizers update only those rows (see :mod:`fastnn.optim`)."""

    rows: np.ndarray
    values: np.ndarray

    @classmethod
    def empty(cls, width: int, dtype) -> "RowGradient":
        return cls(np.empty(0, np.intp), np.empty((0, width), dtype))

    def clear(self) -> None:
        self.rows, self.values = self.rows[:0], self.values[:0]

    @property
    def dtype(self) -> np.dtype:
        return self.values.dtype


@dataclass(frozen=True)
class Parameter:
    """A trainable array and where its gradient is written: an array of the same shape
    and dtype, or a :class:`RowGradient` for a table whose gradient touches few rows."""

    name: str
    value: np.ndarray
    grad: "np.ndarray | RowGradient"


class Layer:
    """Base class: ``forward(x, training)``, ``backward(grad) -> grad_input``, ``parameters()``."""

    def forward(self, x: np.ndarray, training: bool = True) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward_params(self, grad: np.ndarray) -> None:
        """Backward for the first layer of a network: fill the parameter gradients; the
        gradient of the input is not needed (a layer that can skip it overrides this)."""
        self.backward(grad)

    def parameters(self) -> List[Parameter]:
        return []

    def config(self) -> dict:
        """The constructor arguments that rebuild this layer (used by ``save``)."""
        return {}

    def state_arrays(self) -> Dict[str, np.ndarray]:
        """The arrays ``save`` writes and ``load`` fills, by name: the parameters' values."""
        return {p.name: p.value for p in self.parameters()}

    def training_state(self) -> dict:
        """What else training has changed and ``save`` keeps beside the configuration and the
        arrays, as JSON values (a ``Dropout``'s mask key and step); empty by default."""
        return {}

    def load_training_state(self, state: dict) -> None:
        """Restore :meth:`training_state` (``load`` calls it); a ValueError for anything
        this layer does not keep."""
        if state:
            raise ValueError(f"{type(self).__name__} keeps no training state; received {state!r}")

    @classmethod
    def state_shapes(cls, **config) -> Dict[str, Tuple[int, ...]]:
        """The shape of each array of :meth:`state_arrays` of a layer built from ``config``,
        without building it (``load`` checks a file's arrays against them before it
        allocates anything)."""
        return {}

    def __call__(self, x: np.ndarray, training: bool = True) -> np.ndarray:
        return self.forward(x, training)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({args})"

    def _saved(self, value: Optional[np.ndarray], what: str) -> np.ndarray:
        if value is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward ({what} missing)")
        return value


def check_positive_int(name: str, value) -> int:
    """``value`` as an int >= 1: TypeError for a non-integer, ValueError below 1."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a positive integer; received: {name}={value!r}")
    if value < 1:
        raise ValueError(f"{name} must be a positive integer; received: {name}={value!r}")
    return int(value)


def check_seed(seed):
    """A seed for ``np.random.default_rng``: None, an integer >= 0 (returned as a Python
    int, so that ``save`` can write it) or a ``Generator``/``SeedSequence``/``BitGenerator``
    (kept; such a layer cannot be saved)."""
    if seed is None or isinstance(seed, (np.random.Generator, np.random.SeedSequence,
                                         np.random.BitGenerator)):
        return seed
    if isinstance(seed, bool) or not hasattr(seed, "__index__"):
        raise TypeError(f"seed must be None, an integer >= 0 or a numpy Generator; "
                        f"received: seed={seed!r}")
    if operator.index(seed) < 0:
        raise ValueError(f"seed must be an integer >= 0; received: seed={seed!r}")
    return operator.index(seed)


class Dense(Layer):
    """Fully connected layer ``z = x @ weight + bias`` with ``weight`` of shape ``(in, out)``.

    ``init`` is ``"he"`` (normal, std ``sqrt(2 / in)``, for ReLU) or ``"glorot"``
    (uniform in ``±sqrt(6 / (in + out))``, for tanh/sigmoid); biases start at 0.
    Backward: ``grad_weight = x.T @ grad``, ``grad_bias = grad.sum(0)``,
    ``grad_input = grad @ weight.T``.  ``x`` may be a CSR matrix (``ops.sparse_linear``:
    the product and ``grad_weight`` run over its nonzeros only).
    """

    def __init__(self, in_features: int, out_features: int, *, bias: bool = True,
                 init: str = "he", dtype=np.float32, seed: Optional[int] = None):
        self.in_features = check_positive_int("in_features", in_features)
        self.out_features = check_positive_int("out_features", out_features)
        self.dtype = _check_dtype(dtype)
        if init not in ("he", "glorot"):
            raise ValueError(f"init must be 'he' or 'glorot'; received: init={init!r}")
        self.init, self.seed, self.use_bias = init, check_seed(seed), bool(bias)
        shape = (self.in_features, self.out_features)
        self._weight = np.empty(shape, self.dtype)
        self.grad_weight = np.zeros(shape, self.dtype)
        self._bias = np.zeros(self.out_features, self.dtype) if self.use_bias else None
        self.grad_bias = np.zeros(self.out_features, self.dtype) if self.use_bias else None
        self._input: Optional[np.ndarray] = None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw new weights from the ``init`` distribution (seeded by ``seed``) and zero the bias."""
        rng = np.random.default_rng(self.seed)
        fan_in, fan_out = self.in_features, self.out_features
        if self.init == "he":
            w = rng.standard_normal(self._weight.shape) * np.sqrt(2.0 / fan_in)
        else:
            limit = np.sqrt(6.0 / (fan_in + fan_out))
            w = rng.uniform(-limit, limit, self._weight.shape)
        self._weight[...] = w
        if self._bias is not None:
            self._bias[...] = 0

    @property
    def weight(self) -> np.ndarray:
        return self._weight

    @weight.setter
    def weight(self, value) -> None:
        self._assign(self._weight, value, "weight")

    @property
    def bias(self) -> Optional[np.ndarray]:
        return self._bias

    @bias.setter
    def bias(self, value) -> None:
        if self._bias is None:
            raise ValueError("this Dense layer was built with bias=False")
        self._assign(self._bias, value, "bias")

    @staticmethod
    def _assign(target: np.ndarray, value, name: str) -> None:
        value = np.asarray(value)
        if value.shape != target.shape:
            raise ValueError(f"{name} must have shape {target.shape}; received: {value.shape}")
        target[...] = value  # in place: optimizers keep their reference

    def _linear(self, x, activation: Optional[str] = None) -> np.ndarray:
        """``act(x @ weight + bias)`` for a dense ``x`` or a CSR matrix."""
        if is_csr(x):
            return ops.sparse_linear(x, self._weight, self._bias, activation)
        return ops.linear(x, self._weight, self._bias, activation=activation)

    def forward(self, x: np.ndarray, training: bool = True) -> np.ndarray:
        self._input = x if training else None
        return self._linear(x)

    def forward_activated(self, x: np.ndarray, activation: "Activation",
                          training: bool = True) -> np.ndarray:
        """``activation(x @ weight + bias)`` in one fused ``ops.linear`` call (for an
        activation where :func:`fusable_activation` holds); both layers keep what their
        backward passes need, as their own ``forward`` calls would."""
        out = self._linear(x, activation.kernel)
        self._input = x if training else None
        activation.keep_output(out, training)
        return out

    def backward_params(self, grad: np.ndarray) -> None:
        """Fill ``grad_weight`` and ``grad_bias`` only (skips ``grad @ weight.T``)."""
        x = self._saved(self._input, "input")
        if is_csr(x):
            ops.sparse_linear_backward(x, grad, out=self.grad_weight)
        else:
            ops.gemm(x, grad, trans_a=True, out=self.grad_weight)
        if self.grad_bias is not None:
            ops.column_sum(grad, out=self.grad_bias)

    def backward(self, grad: np.ndarray) -> np.ndarray:
        self.backward_params(grad)
        return ops.gemm(grad, self._weight, trans_b=True)

    def parameters(self) -> List[Parameter]:
        params = [Parameter("weight", self._weight, self.grad_weight)]
        if self._bias is not None:
            params.append(Parameter("bias", self._bias, self.grad_bias))
        return params

    def config(self) -> dict:
        return {"in_features": self.in_features, "out_features": self.out_features,
                "bias": self.use_bias, "init": self.init, "dtype": self.dtype.name,
                "seed": self.seed}

    @classmethod
    def state_shapes(cls, in_features, out_features, bias=True,
                         **_) -> Dict[str, Tuple[int, ...]]:
        n_in = check_positive_int("in_features", in_features)
        n_out = check_positive_int("out_features", out_features)
        return {"weight": (n_in, n_out), **({"bias": (n_out,)} if bias else {})}


class Activation(Layer):
    """An elementwise activation ``a = f(z)``; backward uses only the saved output ``a``."""

    #: name of the kernel in fastnn.ops (and of the activation in ``ops.linear``)
    kernel = "identity"

    def __init__(self):
        self._output: Optional[np.ndarray] = None

    def forward(self, x: np.ndarray, training: bool = True) -> np.ndarray:
        out = getattr(ops, self.kernel)(x, **self._kwargs())
        self.keep_output(out, training)
        return out

    def keep_output(self, out: np.ndarray, training: bool) -> None:
        """Remember the forward output ``out`` for backward (only in training)."""
        self._output = out if training else None

    def backward(self, grad: np.ndarray) -> np.ndarray:
        output = self._saved(self._output, "output")
        return getattr(ops, self.kernel + "_backward")(grad, output, **self._kwargs())

    def _kwargs(self) -> dict:
        return {}


class ReLU(Activation):
    """``max(z, 0)``; derivative ``1`` where the output is positive, else ``0``."""

    kernel = "relu"


class LeakyReLU(Activation):
    """``z`` for ``z >= 0``, else ``negative_slope * z``."""

    kernel = "leaky_relu"

    def __init__(self, negative_slope: float = 0.01):
        super().__init__()
        self.negative_slope = check_real(negative_slope, "negative_slope")

    def _kwargs(self) -> dict:
        return {"negative_slope": self.negative_slope}

    def config(self) -> dict:
        return {"negative_slope": self.negative_slope}


class Tanh(Activation):
    """``tanh(z)``; derivative ``1 - a**2``."""

    kernel = "tanh"


class Sigmoid(Activation):
    """``1 / (1 + exp(-z))``; derivative ``a * (1 - a)``."""

    kernel = "sigmoid"


class Identity(Activation):
    """The linear activation ``a = z``."""

    kernel = "identity"


class Dropout(Layer):
    """Inverted dropout: in training, zero each input with probability ``p`` and scale the
    rest by ``1 / (1 - p)``; at inference, the identity.

    The masks are ``ops.dropout``'s, a counter-based hash of ``(key, step, element
    index)`` (see ``fastnn.reference.dropout_mask``): ``key`` is ``seed`` (an integer;
    drawn at random for ``seed=None``, from the generator for a ``Generator``), ``step``
    counts the training forwards so far, one per minibatch.  ``Sequential.fit`` runs the
    same masks in its compiled epoch, so fit and the manual loop give the same numbers.
    """

    def __init__(self, p: float = 0.5, *, seed: Optional[int] = None):
        self.p = check_real(p, "p", 0.0, 1.0, False, True)
        self.seed = check_seed(seed)
        if isinstance(self.seed, int):
            self.key = self.seed % 2 ** 64
        else:
            rng = self.seed if isinstance(self.seed, np.random.Generator) else \
                np.random.default_rng(self.seed)
            self.key = int(rng.integers(0, 2 ** 64, dtype=np.uint64))
        #: the step of the next training forward's mask
        self.step = 0
        self._mask_step: Optional[int] = None

    def forward(self, x: np.ndarray, training: bool = True) -> np.ndarray:
        if not training or self.p == 0.0:
            self._mask_step = None
            return x
        self._mask_step, self.step = self.step, self.step + 1
        return ops.dropout(x, self.p, seed=self.key, step=self._mask_step)

    def backward(self, grad: np.ndarray) -> np.ndarray:
        if self._mask_step is None:
            return grad
        return ops.dropout_backward(grad, self.p, seed=self.key, step=self._mask_step)

    def config(self) -> dict:
        return {"p": self.p, "seed": self.seed}

    def training_state(self) -> dict:
        """The mask key (drawn at random for ``seed=None``) and the step of the next mask:
        a saved and loaded layer draws the masks this one would draw next."""
        return {"key": self.key, "step": self.step}

    def load_training_state(self, state: dict) -> None:
        if set(state) - {"key", "step"}:
            raise ValueError(f"Dropout keeps its key and step; received {state!r}")
        key, step = state.get("key", self.key), state.get("step", self.step)
        for name, value, high in (("key", key, 2 ** 64), ("step", step, 2 ** 63)):
            if type(value) is not int or not 0 <= value < high:
                raise ValueError(f"Dropout's {name} must be an integer in [0, {high}); "
                                 f"received: {name}={value!r}")
        self.key, self.step = key, step


class Embedding(Layer):
    """Bags of embeddings: token ids in, one row per document out (the fastText-style
    input layer of a text classifier).

    Input: a 2-D integer array ``ids`` (documents, length), one document a row, padded
    with ``padding_idx`` (:meth:`pad` builds it from lists of ids).  Output row ``i``:
    the mean (``mode="mean"``) or the sum (``mode="sum"``) of ``weight[ids[i, j]]`` over
    the non-padding ids; zeros for an empty document.  Backward fills ``grad_weight``, a
    :class:`RowGradient` holding only the rows the batch used; there is no input gradient.
    ``weight`` starts as standard normal draws (seeded by ``seed``), as in PyTorch.
    ``freeze=True`` (or setting ``freeze`` later) keeps the table fixed: it then has no
    parameters, and its backward does nothing.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, *, mode: str = "mean",
                 padding_idx: int = -1, freeze: bool = False, dtype=np.float32,
                 seed: Optional[int] = None):
        self.num_embeddings = check_positive_int("num_embeddings", num_embeddings)
        self.embedding_dim = check_positive_int("embedding_dim", embedding_dim)
        if mode not in ("mean", "sum"):
            raise ValueError(f"mode must be 'mean' or 'sum'; received: mode={mode!r}")
        if isinstance(padding_idx, bool) or not isinstance(padding_idx, (int, np.integer)):
            raise TypeError(f"padding_idx must be an integer; received: padding_idx={padding_idx!r}")
        self.dtype = _check_dtype(dtype)
        self.mode, self.padding_idx, self.seed = mode, int(padding_idx), check_seed(seed)
        self.freeze = bool(freeze)
        self.weight = np.empty((self.num_embeddings, self.embedding_dim), self.dtype)
        self.grad_weight = RowGradient.empty(self.embedding_dim, self.dtype)
        self._ids: Optional[np.ndarray] = None
        #: after ``from_keyed_vectors``: True for the ids that got a vector
        self.known: Optional[np.ndarray] = None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw new weights, standard normal, seeded by ``seed``."""
        self.weight[...] = np.random.default_rng(self.seed).standard_normal(self.weight.shape)

    @property
    def out_features(self) -> int:
        """The width of the output rows (``embedding_dim``)."""
        return self.embedding_dim

    @classmethod
    def from_keyed_vectors(cls, kv, vocabulary: Sequence[str], *, freeze: bool = False,
                           mode: str = "mean", padding_idx: int = -1,
                           seed: Optional[int] = None) -> "Embedding":
        """An embedding for ``vocabulary`` (token ``i`` has id ``i``) that starts from the
        vectors of ``kv`` (a :class:`~fastnn.KeyedVectors`): each token ``kv`` knows gets
        its vector, the others normal draws with the standard deviation of ``kv``'s
        vectors (seeded by ``seed``).  ``known`` tells which ids got a vector."""
        vocabulary = list(vocabulary)
        if not vocabulary:
            raise ValueError("vocabulary is empty")
        layer = cls(len(vocabulary), kv.vector_size, mode=mode, padding_idx=padding_idx,
                    freeze=freeze, dtype=kv.vectors.dtype, seed=seed)
        index = np.array([kv.key_to_index.get(token, -1) if isinstance(token, str) else -1
                          for token in vocabulary], dtype=np.intp)
        layer.known = index >= 0
        scale = float(kv.vectors.std()) if len(kv.vectors) else 1.0
        layer.weight *= layer.weight.dtype.type(scale)
        layer.weight[layer.known] = kv.vectors[index[layer.known]]
        return layer

    @staticmethod
    def pad(documents: Sequence[Sequence[int]], length: Optional[int] = None,
            padding_idx: int = -1) -> np.ndarray:
        """Lists of token ids as the 2-D input of ``forward``: one row per document,
        ``length`` columns (the longest document by default; longer ones are cut),
        filled up with ``padding_idx``."""
        documents = [np.asarray(doc, dtype=np.int64).ravel() for doc in documents]
        width = max((len(doc) for doc in documents), default=0) if length is None else int(length)
        ids = np.full((len(documents), width), padding_idx, dtype=np.int64)
        for row, doc in zip(ids, documents):
            row[:min(width, len(doc))] = doc[:width]
        return ids

    def check_ids(self, ids, name: str = "X") -> np.ndarray:
        """``ids`` checked to be a 2-D integer array of ids in range or ``padding_idx``."""
        if not isinstance(ids, np.ndarray):
            raise TypeError(f"{name} must be a numpy.ndarray of token ids; received: "
                            f"{type(ids).__name__}")
        if ids.dtype.kind not in "iu":
            raise TypeError(f"{name} must hold integer token ids; received dtype {ids.dtype}")
        if ids.ndim != 2:
            raise ValueError(f"{name} must be 2-D (documents, length); received shape {ids.shape}")
        bad = (ids != self.padding_idx) & ((ids < 0) | (ids >= self.num_embeddings))
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(f"{name} must hold ids in [0, {self.num_embeddings}) or "
                             f"padding_idx={self.padding_idx}; received {ids[where]} at {where}")
        return ids

    def forward(self, x: np.ndarray, training: bool = True) -> np.ndarray:
        self._ids = x if training and not self.freeze else None
        return ops.embedding_bag(self.weight, x, mode=self.mode, padding_idx=self.padding_idx)

    def backward_params(self, grad: np.ndarray) -> None:
        """Fill ``grad_weight`` with the gradient of the rows the last batch used."""
        if self.freeze:
            return
        ids = self._saved(self._ids, "ids")
        rows, values = ops.embedding_bag_backward(grad, ids, self.num_embeddings,
                                                  mode=self.mode, padding_idx=self.padding_idx)
        self.grad_weight.rows, self.grad_weight.values = rows, values

    def backward(self, grad: np.ndarray) -> None:
        """``backward_params``; token ids have no gradient, so this returns None."""
        self.backward_params(grad)
        return None

    def parameters(self) -> List[Parameter]:
        return [] if self.freeze else [Parameter("weight", self.weight, self.grad_weight)]

    def state_arrays(self) -> Dict[str, np.ndarray]:
        return {"weight": self.weight}

    @classmethod
    def state_shapes(cls, num_embeddings, embedding_dim, **_) -> Dict[str, Tuple[int, ...]]:
        return {"weight": (check_positive_int("num_embeddings", num_embeddings),
                           check_positive_int("embedding_dim", embedding_dim))}

    def config(self) -> dict:
        return {"num_embeddings": self.num_embeddings, "embedding_dim": self.embedding_dim,
                "mode": self.mode, "padding_idx": self.padding_idx, "freeze": self.freeze,
                "dtype": self.dtype.name, "seed": self.seed}


def _check_dtype(dtype) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be float32 or float64; received: dtype={dtype!r}") from None
    if dt not in _DTYPES:
        raise TypeError(f"dtype must be float32 or float64; received: dtype={dt}")
    return dt


ACTIVATION_LAYERS = {cls.kernel: cls for cls in (ReLU, LeakyReLU, Tanh, Sigmoid, Identity)}

#: every built-in layer (save/load knows them by class name)
LAYER_CLASSES = (Dense, Embedding, Dropout, *ACTIVATION_LAYERS.values())

#: the negative slope ``ops.linear(..., activation="leaky_relu")`` applies
LINEAR_LEAKY_SLOPE = 0.01


def fusable_activation(layer: Optional[Layer]) -> bool:
    """True for an activation layer that ``ops.linear`` can apply in its epilogue."""
    if not isinstance(layer, Activation):
        return False
    return layer.kernel != "leaky_relu" or layer.negative_slope == LINEAR_LEAKY_SLOPE


def fused_steps(layers: Sequence[Layer]) -> List[Tuple[Layer, Optional[Activation]]]:
    """The layers as steps: each ``Dense`` paired with the activation that follows it when
    ``ops.linear`` can fuse it (run by :meth:`Dense.forward_activated`), every other layer
    alone (paired with None).  ``Sequential`` runs these steps; the compiled epoch runs
    them when every step is a ``Dense``."""
    steps: List[Tuple[Layer, Optional[Activation]]] = []
    i = 0
    while i < len(layers):
        layer = layers[i]
        nxt = layers[i + 1] if i + 1 < len(layers) else None
        if isinstance(layer, Dense) and fusable_activation(nxt):
            steps.append((layer, nxt))
            i += 2
        else:
            steps.append((layer, None))
            i += 1
    return steps
