"""scikit-learn estimators trained by fastnn: ``MLPClassifier`` and ``MLPRegressor``.

Drop-in replacements for :mod:`sklearn.neural_network`'s estimators of the same names:
the same constructor parameters, fitted attributes and stopping rule.  Solvers ``"sgd"``
and ``"adam"`` run every epoch in :meth:`fastnn.Sequential.fit` (compiled code);
``"lbfgs"`` hands SciPy's L-BFGS-B the full-batch objective computed by the compiled
forward and backward (:func:`fastnn._training.full_batch_gradient`).

How the scikit-learn objective maps onto fastnn:

* Loss values. ``loss_curve_`` and ``best_loss_`` report scikit-learn's numbers: the
  log-loss (cross-entropy, summed over outputs for binary/multi-label targets), half
  the mean squared error or, for ``loss="poisson"`` (fastnn's ``PoissonNLL`` on a log
  link, plus the targets' own terms), the half Poisson deviance; plus
  ``alpha / 2 * sum(W**2) / batch_size`` per minibatch, ``W`` as the minibatch starts
  (the compiled epoch sums them).  With sample weights the targets' own terms are
  averaged, and the L2 term divided by the weights' sum, per minibatch as scikit-learn
  does (over the minibatches of each epoch's order).
* Gradients. scikit-learn's gradient of one minibatch is ``(output - target) / batch_size``
  summed over outputs.  fastnn's losses average over every output element and
  ``MSE`` doubles, so their gradient is ``c`` times scikit-learn's, with ``c = 1``
  (softmax), ``1 / n_outputs`` (logistic and Poisson) or ``2 / n_outputs`` (squared
  error).  The
  optimizer undoes ``c``: SGD's learning rate is divided by it (scikit-learn's SGD
  update, to rounding) and Adam's ``epsilon`` multiplied by it.  Adam differs from
  scikit-learn only in where ``epsilon`` enters: fastnn adds it to the bias-corrected
  ``sqrt(v)`` (Kingma & Ba, PyTorch), scikit-learn to the uncorrected one.
* ``alpha``. scikit-learn adds ``alpha * W / batch_size`` to the gradient of every
  weight matrix (not the intercepts).  This is L2 weight decay: each weight matrix gets
  a parameter group with ``weight_decay = c * alpha / batch_size``, the intercepts 0.
  The last, smaller minibatch of an epoch uses the full ``batch_size`` here.
* ``dtype``. With ``dtype=None`` (the default) training follows the input as in
  scikit-learn: float32 ``X`` trains in float32, anything else (float64, integers) in
  float64.  ``solver="lbfgs"`` then ends, as scikit-learn's, with float64 weights
  whatever the input: SciPy's L-BFGS-B evaluates the objective in the dtype of the
  starting point (float32 weights: float32), and its result, float64, becomes the
  weights (a later ``warm_start`` goes on in float64).  ``dtype="float32"`` trains in float32 whatever the input (about twice the
  speed of float64, accuracy indistinguishable on these models), ``"float64"`` in
  float64.  The weights are stored in the training dtype; ``warm_start`` and
  ``partial_fit`` go on in the dtype of the fitted network.
  Predictions follow scikit-learn's convention: computed and returned in the wider of the
  network's dtype and the input's (float32 stays float32, anything else is float64), as
  its products of ``X`` with the weights promote.
* L-BFGS. The objective is scikit-learn's (mean loss plus ``alpha / 2 * sum(W**2) / n``)
  with scikit-learn's gradient.  For squared error with several outputs the two do not
  agree in scikit-learn: the value averages the half squared error over the outputs, the
  gradient is the one of their sum; fastnn hands L-BFGS-B the same pair, so it takes
  scikit-learn's steps and reports its ``loss_``.  As in scikit-learn, ``lbfgs`` sets no
  ``loss_curve_``, ``best_loss_``, ``validation_scores_`` or ``best_validation_score_``
  (``verbose`` prints the objective after each iteration).
* Learning-rate schedules (``learning_rate="invscaling"``/``"adaptive"``, SGD only) change
  the rate once per epoch like scikit-learn; fastnn's momentum buffer does not include
  the learning rate, so with a changing rate momentum differs slightly from scikit-learn.
* Sparse ``X``. SciPy CSR and CSC matrices and arrays are accepted by ``fit``,
  ``partial_fit``, ``predict``, ``predict_proba`` and ``score`` and never densified:
  CSC becomes CSR, and the first layer runs ``ops.sparse_linear`` (in training, the
  compiled epoch reads each minibatch's rows of the CSR matrix in place).

``dropout`` (beyond scikit-learn; default 0.0): a rate in [0, 1), or one per hidden
layer, of inverted dropout on each hidden layer's activations while ``sgd``/``adam`` train
(``fastnn.Dropout`` in the compiled epochs; never on the input or the output layer);
predictions, ``score`` and early stopping's validation score run without it.  A ``fit``
from scratch draws the layers' mask seeds from ``random_state``; ``partial_fit`` and
``warm_start`` go on with the same layers (their seeds and mask steps), also after pickling,
so their masks do not repeat from one call to the next.  ``lbfgs`` refuses a
rate > 0: a random objective breaks its line search.

``sample_weight`` (``fit``, ``partial_fit``) has scikit-learn >= 1.7's meaning: each
minibatch's (L-BFGS: the data's) loss is the weighted mean, the L2 term is divided by the
sum of the weights instead of the number of samples, and early stopping's validation split
keeps each sample's weight and scores with it.  Negative weights are accepted as in
scikit-learn, with the same formulas (a sample of weight -1 counts against the loss; a
minibatch whose weights have a negative sum also flips the sign of its L2 term).  One
difference: a minibatch of ``sgd``/``adam`` whose weights sum to exactly 0 (all zero, or
cancelling) contributes nothing to the epoch (no loss, no step), where scikit-learn's
weighted mean raises ``ZeroDivisionError`` in the middle of ``fit``; ``lbfgs`` raises
scikit-learn's ``ZeroDivisionError`` when all the weights sum to 0, before any step.
Negative weights can make the objective unbounded below (predictions pushed to certainty
against the negatively weighted samples).  Near there the two cannot agree: scikit-learn's
log-loss value clips the probabilities at machine epsilon (at most about 36 per sample),
fastnn's losses are computed from the logits without clipping, so ``lbfgs`` may go on
falling where scikit-learn's line search stops.
"""
from __future__ import annotations

import inspect
import numbers
import warnings

import numpy as np

try:
    from sklearn.base import (BaseEstimator, ClassifierMixin, RegressorMixin, is_classifier,
                              is_regressor)
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import accuracy_score, r2_score
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import LabelBinarizer
    from sklearn.utils import check_random_state
    from sklearn import neural_network
    from sklearn.utils._param_validation import StrOptions
    from sklearn.utils.metaestimators import available_if
    from sklearn.utils.multiclass import type_of_target, unique_labels
    from sklearn.utils.class_weight import compute_class_weight
    from sklearn.utils.validation import (_check_sample_weight, check_is_fitted, column_or_1d,
                                          validate_data)
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("fastnn.sklearn needs scikit-learn >= 1.6: pip install 'fastnn[sklearn]'"
                      ) from exc
from scipy.optimize import minimize
from scipy.special import xlogy
from threadpoolctl import threadpool_limits

from . import ops
from ._sparse import is_csr
from .layers import Dense, Dropout, Identity, ReLU, Sigmoid, Tanh
from .losses import MSE, BCEWithLogits, PoissonNLL, SoftmaxCrossEntropy
from ._training import full_batch_gradient
from .callbacks import Callback
from .model import Sequential, epoch_order
from .optim import SGD, Adam

__all__ = ["MLPClassifier", "MLPRegressor"]

_ACTIVATIONS = {"relu": ReLU, "tanh": Tanh, "logistic": Sigmoid, "identity": Identity}
_LOSSES = {"softmax": SoftmaxCrossEntropy, "logistic": BCEWithLogits, "identity": MSE,
           "exp": PoissonNLL}
_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
#: target types a classifier accepts (scikit-learn's check_classification_targets)
_CLASSIFICATION_TARGETS = ("binary", "multiclass", "multiclass-multioutput",
                           "multilabel-indicator", "multilabel-sequences")
#: the parameters beyond scikit-learn's, checked by ``_check_params``; the others are
#: checked by scikit-learn's validation against its own MLP's constraints (its
#: InvalidParameterError and message, word for word)
_FASTNN_PARAMETERS = {"dtype": "no_validation", "dropout": "no_validation"}
#: smallest learning rate the "adaptive" schedule divides by 5 before it stops
_MIN_ADAPTIVE_LR = 1e-6


def _stochastic_solver(est) -> bool:
    """``partial_fit`` exists for the minibatch solvers only, as in scikit-learn."""
    if est.solver == "lbfgs":
        raise AttributeError("partial_fit is only available for stochastic optimizers. "
                             "lbfgs is not stochastic.")
    return True


def _signature_with(init, leading=(), trailing=()):
    """``init``'s signature with parameters ``(name, default)`` added first (positional,
    after ``self``) and last (keyword-only): scikit-learn reads an estimator's parameter
    names from its ``__init__`` signature."""
    kind = inspect.Parameter
    params = list(inspect.signature(init).parameters.values())
    return inspect.signature(init).replace(parameters=[
        params[0], *[kind(name, kind.POSITIONAL_OR_KEYWORD, default=d) for name, d in leading],
        *params[1:], *[kind(name, kind.KEYWORD_ONLY, default=d) for name, d in trailing]])


class _BaseMLP(BaseEstimator):
    """What both estimators share: parameters, network, optimizer, epoch loop, stopping rule.

    Subclasses define ``_targets`` (validated ``y`` -> training targets and output
    activation), ``_validation_score`` and the public ``predict`` methods.
    """

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 dtype=None, dropout=0.0):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.dtype = dtype
        self.dropout = dropout

    # ------------------------------------------------------------------ parameters
    def _check_params(self):
        """Validate the constructor parameters (scikit-learn checks them in ``fit``): its
        constraints with its errors, then what they leave to ``fit`` and fastnn's own."""
        self._validate_params()
        self._hidden_sizes()
        self._dtype(np.dtype(np.float64))
        if any(self._dropout_rates()) and self.solver == "lbfgs":
            raise ValueError(f"dropout is not supported by solver='lbfgs' (received: "
                             f"dropout={self.dropout!r}): dropout makes the objective random, "
                             "which breaks L-BFGS's line search; use solver='adam' or 'sgd'")

    def _hidden_sizes(self):
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if isinstance(sizes, numbers.Integral) else list(sizes)
        if not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in sizes):
            raise ValueError("hidden_layer_sizes must be a positive integer or a sequence of "
                             f"them; received: {self.hidden_layer_sizes!r}")
        if any(s <= 0 for s in sizes):  # (scikit-learn's message)
            raise ValueError(f"hidden_layer_sizes must be > 0, got {sizes}.")
        return [int(s) for s in sizes]

    def _dropout_rates(self):
        """One dropout rate per hidden layer: ``dropout`` (a rate, or a sequence of one rate
        per hidden layer), each in [0, 1)."""
        n_hidden = len(self._hidden_sizes())
        rates = self.dropout
        if isinstance(rates, numbers.Real) and not isinstance(rates, bool):
            rates = [rates] * n_hidden
        elif isinstance(rates, (str, bytes)) or not hasattr(rates, "__len__"):
            raise ValueError("dropout must be a real number in [0, 1) or a sequence of one "
                             f"per hidden layer; received: dropout={self.dropout!r}")
        rates = list(rates)
        if len(rates) != n_hidden:
            raise ValueError(f"dropout must have one rate per hidden layer ({n_hidden}); "
                             f"received {len(rates)}: dropout={self.dropout!r}")
        if not all(isinstance(r, numbers.Real) and not isinstance(r, bool) and 0.0 <= r < 1.0
                   for r in rates):  # (NaN fails the comparison)
            raise ValueError("dropout must hold real numbers in [0, 1); received: "
                             f"dropout={self.dropout!r}")
        return [float(r) for r in rates]

    def _training_network(self, rng):
        """The network ``fit`` trains: the fitted one, or with ``dropout`` the same layers
        with a ``Dropout`` after each hidden activation whose rate is > 0.  A new ``Dropout``
        draws its mask seed from ``rng``; ``partial_fit`` and ``warm_start`` go on with the
        hidden layer's previous one (its key and step, the new rate), so that their masks go
        on as in one uninterrupted run instead of repeating the first call's."""
        rates = self._dropout_rates()
        if not any(rates):
            self._dropouts = [None] * len(rates)
            return self._model
        seeds = rng.randint(np.iinfo(np.int32).max, size=len(rates))
        previous = getattr(self, "_dropouts", None) or [None] * len(rates)
        self._dropouts = []
        for rate, seed, drop in zip(rates, seeds, previous):
            if rate > 0 and drop is None:
                drop = Dropout(rate, seed=int(seed))
            elif rate > 0:
                drop.p = rate
            self._dropouts.append(drop if rate > 0 else None)
        layers = list(self._model.layers)
        for i in range(len(rates) - 1, -1, -1):  # hidden layer i's activation: layers[2i + 1]
            if self._dropouts[i] is not None:
                layers.insert(2 * i + 2, self._dropouts[i])
        return Sequential(layers)

    def _dtype(self, input_dtype):
        """The training dtype: ``dtype``, or with ``dtype=None`` the input's (float32 stays
        float32, anything else is float64, as in scikit-learn)."""
        if self.dtype is None:
            return np.dtype(np.float32 if input_dtype == np.float32 else np.float64)
        try:
            dtype = np.dtype(self.dtype)
        except TypeError:
            dtype = None
        if dtype in _DTYPES:
            return dtype
        raise ValueError("dtype must be None, 'float32' or 'float64'; received: "
                         f"dtype={self.dtype!r}")

    # ------------------------------------------------------------------ the network
    def _initialize(self, n_features, n_outputs, out_activation, rng, dtype):
        """Build the network with scikit-learn's initialization (Glorot uniform, bound
        ``sqrt(6 / (fan_in + fan_out))``, ``sqrt(2 / ...)`` for logistic, on weights and
        intercepts alike) and reset every fitted attribute."""
        sizes = [n_features, *self._hidden_sizes(), n_outputs]
        factor = 2.0 if self.activation == "logistic" else 6.0
        layers = []
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            dense = Dense(fan_in, fan_out, dtype=dtype, seed=0)
            bound = np.sqrt(factor / (fan_in + fan_out))
            dense.weight = rng.uniform(-bound, bound, (fan_in, fan_out))
            dense.bias = rng.uniform(-bound, bound, fan_out)
            layers.append(dense)
            if i < len(sizes) - 2:
                layers.append(_ACTIVATIONS[self.activation]())
        self._model = Sequential(layers)
        self._loss = _LOSSES[out_activation]()
        self._optimizer = None
        self._dropouts = None  # one Dropout (or None) per hidden layer once trained
        self.coefs_ = [d.weight for d in self._dense()]
        self.intercepts_ = [d.bias for d in self._dense()]
        self.n_layers_ = len(sizes)
        self.n_outputs_ = n_outputs
        self.out_activation_ = out_activation
        self._activation = self.activation
        self.t_ = 0
        for name in ("loss_curve_", "best_loss_", "validation_scores_",
                     "best_validation_score_"):
            self.__dict__.pop(name, None)
        if self.solver != "lbfgs":
            self._start_stopping_rule()

    def _start_stopping_rule(self):
        """The stochastic solvers' bookkeeping, as scikit-learn sets it (``lbfgs`` has
        none: no ``loss_curve_``, ``best_loss_``, ``validation_scores_`` or
        ``best_validation_score_``)."""
        self.loss_curve_ = []
        self._no_improvement_count = 0
        if self.early_stopping:
            self.validation_scores_ = []
            self.best_validation_score_ = -np.inf
            self.best_loss_ = None
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None
            self.best_loss_ = np.inf

    def _check_same_network(self):
        """warm_start and partial_fit continue the fitted network: its shape, activation
        and dtype must still be the parameters'."""
        fitted = {"hidden_layer_sizes": [c.shape[1] for c in self.coefs_[:-1]],
                  "activation": self._activation, "dtype": self._model.dtype}
        wanted = {"hidden_layer_sizes": self._hidden_sizes(), "activation": self.activation,
                  "dtype": self._dtype(self._model.dtype)}
        changed = [name for name in fitted if fitted[name] != wanted[name]]
        if changed:
            raise ValueError(f"{', '.join(changed)} changed since the model was fitted "
                             f"({', '.join(f'{k}={fitted[k]!r}' for k in changed)}); "
                             "warm_start and partial_fit continue the fitted network")

    def _dense(self):
        return self._model.layers[::2]

    def __setstate__(self, state):
        """After unpickling, the network (pickled through its ``.npz`` format) holds new
        arrays: point ``coefs_``/``intercepts_`` and the optimizer at them again, so that
        ``partial_fit`` and ``warm_start`` go on training the same weights."""
        super().__setstate__(state)
        if "_model" in state:
            self._sync_weights()
            if self._optimizer is not None:
                self._optimizer.params = self._model.parameters()

    def _sync_weights(self):
        """Make ``coefs_``/``intercepts_`` the arrays the network trains (copying values
        a user assigned to them)."""
        for i, dense in enumerate(self._dense()):
            if self.coefs_[i] is not dense.weight:
                dense.weight = self.coefs_[i]
            if self.intercepts_[i] is not dense.bias:
                dense.bias = self.intercepts_[i]
        self.coefs_ = [d.weight for d in self._dense()]
        self.intercepts_ = [d.bias for d in self._dense()]

    def _grad_scale(self):
        """fastnn's loss gradient divided by scikit-learn's (see the module docstring)."""
        return {"softmax": 1.0, "logistic": 1.0 / self.n_outputs_,
                "identity": 2.0 / self.n_outputs_, "exp": 1.0 / self.n_outputs_
                }[self.out_activation_]

    def _loss_scale(self):
        """scikit-learn's loss value divided by fastnn's (plus ``_loss_offset``)."""
        return {"softmax": 1.0, "logistic": float(self.n_outputs_),
                "identity": 0.5, "exp": float(self.n_outputs_)}[self.out_activation_]

    def _target_terms(self, Y):
        """Per sample, what scikit-learn's loss adds to fastnn's scaled one: the terms of
        the targets alone (Poisson's ``xlogy(y, y) - y``, summed over outputs), or None."""
        return None

    def _loss_offset(self, Y, sample_weight):
        """The (weighted) mean of :meth:`_target_terms` over ``Y`` (0 when the weights sum
        to 0: only weighted minibatches, each with its own offset, use it then)."""
        terms = self._target_terms(Y)
        if terms is None or (sample_weight is not None and sample_weight.sum() == 0):
            return 0.0
        return float(np.average(terms, weights=sample_weight))

    def _forward(self, X):
        """Network outputs before the output activation, computed in the dtype of ``X``."""
        act = _ACTIVATIONS[self._activation].kernel
        last = len(self.coefs_) - 1
        for i, (coef, intercept) in enumerate(zip(self.coefs_, self.intercepts_)):
            X = _linear_kernel(X)(X, np.ascontiguousarray(coef, dtype=X.dtype),
                                  np.ascontiguousarray(intercept, dtype=X.dtype),
                                  None if i == last else act)
        return X

    def _validate_X(self, X):
        """``X`` checked for prediction, in the dtype predictions come in: float32 stays
        float32, anything else becomes float64, then the wider of that and the weights'
        dtype (scikit-learn's products of ``X`` with the weights promote so)."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, accept_sparse="csr",
                          dtype=(np.float64, np.float32), order="C")
        dtype = np.result_type(X.dtype, *[c.dtype for c in self.coefs_])
        return X if X.dtype == dtype else X.astype(dtype)

    # ------------------------------------------------------------------ training
    def _fit(self, X, y, sample_weight=None, *, incremental, classes=None):
        self._check_params()
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        reset = not hasattr(self, "coefs_") or not (incremental or self.warm_start)
        if reset:
            dtype = (np.float64, np.float32) if self.dtype is None else self._dtype(None)
        else:  # go on in the dtype of the fitted network
            dtype = self._model.dtype
        X, y = validate_data(self, X, y, reset=reset, accept_sparse="csr", dtype=dtype,
                             order="C", multi_output=True, y_numeric=is_regressor(self))
        if not reset:
            self._check_same_network()
        Y, out_activation, y_val_source = self._targets(y, reset, incremental, classes,
                                                        X.dtype)
        n_outputs = len(self.classes_) if out_activation == "softmax" else Y.shape[1]
        rng = check_random_state(self.random_state)
        if reset:
            self._initialize(X.shape[1], n_outputs, out_activation, rng, X.dtype)
        elif n_outputs != self.n_outputs_:
            raise ValueError(f"y has {n_outputs} outputs but the model was fitted with "
                             f"{self.n_outputs_}")
        self._sync_weights()
        sample_weight = self._sample_weights(sample_weight, X, y, incremental)
        self._offset = self._loss_offset(Y, sample_weight)
        if self.solver == "lbfgs":
            self._fit_lbfgs(X, Y, sample_weight)
        else:
            self._fit_stochastic(X, Y, y_val_source, sample_weight, rng, incremental)
        if not all(np.isfinite(p).all() for p in self.coefs_ + self.intercepts_):
            raise ValueError("Solver produced non-finite parameter weights. The input data "
                             "may contain large values and need to be preprocessed.")
        return self

    def _sample_weights(self, sample_weight, X, y, incremental):
        """Checked ``sample_weight`` (None when not given), times the class weights of a
        classifier's ``class_weight``."""
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=X.dtype)
        return sample_weight

    def _fit_lbfgs(self, X, Y, sample_weight):
        """Full-batch training by SciPy's L-BFGS-B, as scikit-learn does: the parameters
        (weight matrices, then intercepts) packed into one float64 vector, the objective
        ``mean loss + alpha / 2 * sum(W**2) / n`` (with sample weights ``w``: the weighted
        mean, and ``sum(w)`` for ``n``) and its gradient computed by fastnn's compiled
        forward and backward over all of ``X``.  ``max_iter`` bounds the iterations,
        ``max_fun`` the evaluations, ``tol`` the projected gradient."""
        params = self.coefs_ + self.intercepts_
        grads = [p.grad for d in self._dense() for p in d.parameters()]
        grads = grads[0::2] + grads[1::2]  # Dense gives (weight, bias) pairs
        bounds = np.cumsum([0] + [p.size for p in params])
        evaluate = full_batch_gradient(self._model, self._loss, X, Y, sample_weight)
        n, scale, n_weights = X.shape[0], self._grad_scale(), len(self.coefs_)
        wsum = n if sample_weight is None else float(sample_weight.sum(dtype=np.float64))
        if wsum == 0:  # (NumPy's words, which scikit-learn's weighted mean raises)
            raise ZeroDivisionError("Weights sum to zero, can't be normalized")
        decay = self.alpha / wsum

        def unpack(theta):
            for p, start, stop in zip(params, bounds[:-1], bounds[1:]):
                p.ravel()[...] = theta[start:stop]

        def objective(theta):
            unpack(theta)
            value = (evaluate() * self._loss_scale() / n + self._offset
                     + 0.5 * decay * self._squared_norm())
            grad = np.empty(bounds[-1])
            for i, (g, start, stop) in enumerate(zip(grads, bounds[:-1], bounds[1:])):
                grad[start:stop] = g.ravel() / scale
                if i < n_weights:
                    grad[start:stop] += decay * params[i].ravel()
            return value, grad

        iterations = 0

        def iteration_end(intermediate_result):
            nonlocal iterations
            iterations += 1
            print(f"Iteration {iterations}, loss = {intermediate_result.fun:.8f}")

        theta = np.concatenate([p.ravel() for p in params]).astype(np.float64)
        # L-BFGS-B's own updates are small memory-bound vector operations: on one BLAS
        # thread (more only spin, badly so on a busy machine); the objective runs on
        # fastnn's threads
        with threadpool_limits(limits=1, user_api="blas"):
            result = minimize(objective, theta, method="L-BFGS-B", jac=True,
                              callback=iteration_end if self.verbose else None,
                              options={"maxfun": self.max_fun, "maxiter": self.max_iter,
                                       "gtol": self.tol})
        if self.dtype is None and self._model.dtype != np.float64:
            self._widen_network()
            params = self.coefs_ + self.intercepts_  # (what unpack writes)
        unpack(result.x)
        self.n_iter_ = min(int(result.nit), self.max_iter)
        self.loss_ = np.float64(result.fun)  # (a NumPy float, as scikit-learn's)
        if result.status != 0:
            warnings.warn(f"lbfgs failed to converge after {self.n_iter_} iteration(s) "
                          f"(status={result.status}):\n{result.message}\n\nIncrease the "
                          f"number of iterations (max_iter={self.max_iter}) or of loss "
                          f"evaluations (max_fun={self.max_fun}), or scale the data.",
                          ConvergenceWarning)

    def _widen_network(self):
        """The fitted network in float64, its weights converted (L-BFGS-B's result is then
        stored unrounded, as scikit-learn stores it)."""
        layers = []
        for layer in self._model.layers:
            if isinstance(layer, Dense):
                wide = Dense(layer.in_features, layer.out_features, dtype=np.float64, seed=0)
                wide.weight, wide.bias = layer.weight, layer.bias
                layer = wide
            layers.append(layer)
        self._model = Sequential(layers)
        self.coefs_ = [d.weight for d in self._dense()]
        self.intercepts_ = [d.bias for d in self._dense()]

    def _fit_stochastic(self, X, Y, y_val_source, sample_weight, rng, incremental):
        """Epochs of minibatch SGD or Adam in fastnn's compiled epochs, with scikit-learn's
        stopping rule, schedules and early stopping (its validation split takes the
        sample weights along and scores with them)."""
        validation = None
        if self.early_stopping:
            # stratified as scikit-learn does (so the split and its errors are its own)
            stratify = self._stratify(Y) if is_classifier(self) else None
            arrays = [X, Y, y_val_source] + ([] if sample_weight is None else [sample_weight])
            parts = train_test_split(*arrays, test_size=self.validation_fraction,
                                     random_state=rng, stratify=stratify)
            X, X_val, Y, _, _, y_val = parts[:6]
            sample_weight, w_val = parts[6:] if sample_weight is not None else (None, None)
            if X_val.shape[0] < 2:
                raise ValueError("The validation set is too small. Increase "
                                 "'validation_fraction' or the size of your dataset.")
            validation = (X_val, y_val, w_val)
            self._offset = self._loss_offset(Y, sample_weight)  # of the training part
            self._best_params = [p.copy() for p in self.coefs_ + self.intercepts_]
        n = X.shape[0]
        batch_size = min(200, n) if self.batch_size == "auto" else self.batch_size
        if batch_size > n:
            warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is "
                          "going to be clipped", UserWarning)  # (scikit-learn's words)
            batch_size = n
        if not hasattr(self, "loss_curve_"):  # warm_start after lbfgs (scikit-learn fails)
            self._start_stopping_rule()
        if self._optimizer is None or not incremental:
            self._optimizer = self._make_optimizer()
        self._set_weight_decay(batch_size)
        self.n_iter_ = 0  # epochs of this call, as in scikit-learn (t_ and loss_curve_ go on)
        self._set_learning_rate()
        seed = rng.randint(np.iinfo(np.int32).max)
        epoch_end = _EpochEnd(self, n, batch_size, validation, sample_weight,
                              self._target_terms(Y), seed, bool(self.shuffle))
        network = self._training_network(rng)
        network.fit(X, Y, loss=self._loss, optimizer=self._optimizer,
                    epochs=1 if incremental else self.max_iter, batch_size=batch_size,
                    shuffle=bool(self.shuffle), seed=seed, verbose=False,
                    callbacks=[epoch_end], sample_weight=sample_weight)
        if not incremental and not network.stop_training:
            warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached "
                          "and the optimization hasn't converged yet.", ConvergenceWarning)
        if self.early_stopping:
            for live, best in zip(self.coefs_ + self.intercepts_, self._best_params):
                live[...] = best

    def _end_epoch(self, loss, n, validation):
        """Book-keeping after each epoch; True when training should stop."""
        self.n_iter_ += 1
        self.t_ += n
        self.loss_ = loss
        self.loss_curve_.append(loss)
        if self.verbose:
            print(f"Iteration {self.n_iter_}, loss = {loss:.8f}")
        self._update_no_improvement(validation)
        if self.solver == "sgd" and self.learning_rate == "invscaling":
            self._lr = self.learning_rate_init / (self.t_ + 1) ** self.power_t
        stop = self._no_improvement_count > self.n_iter_no_change and self._stop_or_slow_down()
        self._set_learning_rate()
        return stop

    def _set_learning_rate(self):
        """Give the optimizer the current scikit-learn rate (SGD: divided by the gradient
        scale)."""
        self._optimizer.lr = self._lr / (self._grad_scale() if self.solver == "sgd" else 1.0)

    def _squared_norm(self):
        return sum(float(np.dot(w.ravel(), w.ravel())) for w in self.coefs_)

    def _make_optimizer(self):
        """A fresh SGD/Adam over the network, one parameter group per array."""
        groups = [{"params": [p]} for p in self._model.parameters()]
        self._lr = self.learning_rate_init
        if self.solver == "sgd":
            return SGD(groups, lr=self.learning_rate_init, momentum=self.momentum,
                       nesterov=bool(self.nesterovs_momentum) and self.momentum > 0)
        return Adam(groups, lr=self.learning_rate_init, betas=(self.beta_1, self.beta_2),
                    eps=self.epsilon * self._grad_scale())

    def _set_weight_decay(self, batch_size):
        """scikit-learn's ``alpha * W / batch_size`` on weight matrices, none on intercepts."""
        decay = self._grad_scale() * self.alpha / batch_size
        self._optimizer.weight_decays = [decay if p.name == "weight" else 0.0
                                         for p in self._optimizer.params]

    def _update_no_improvement(self, validation):
        """Count epochs without an improvement of ``tol`` (training loss, or validation
        score with early stopping) and remember the best value and weights."""
        if validation is not None:
            score = self._validation_score(*validation)
            self.validation_scores_.append(score)
            if self.verbose:
                print(f"Validation score: {score:f}")
            improved = score >= self.best_validation_score_ + self.tol
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                self._best_params = [p.copy() for p in self.coefs_ + self.intercepts_]
        else:
            loss = self.loss_curve_[-1]
            improved = loss <= self.best_loss_ - self.tol
            self.best_loss_ = min(self.best_loss_, loss)
        self._no_improvement_count = 0 if improved else self._no_improvement_count + 1

    def _stop_or_slow_down(self):
        """After ``n_iter_no_change`` epochs without progress: stop, or with the adaptive
        schedule divide the learning rate by 5 (stop once it is below 1e-6)."""
        what = "Validation score" if self.early_stopping else "Training loss"
        adaptive = self.solver == "sgd" and self.learning_rate == "adaptive"
        if adaptive and self._lr > _MIN_ADAPTIVE_LR:
            self._lr /= 5.0
            self._no_improvement_count = 0
            if self.verbose:
                print(f"{what} did not improve more than tol={self.tol} for "
                      f"{self.n_iter_no_change} consecutive epochs. Setting learning rate "
                      f"to {self._lr:f}")
            return False
        if self.verbose:
            print(f"{what} did not improve more than tol={self.tol} for "
                  f"{self.n_iter_no_change} consecutive epochs. Stopping.")
        return True

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def fit(self, X, y, sample_weight=None):
        """Train from scratch (or from the current weights with ``warm_start``) for at most
        ``max_iter`` epochs (L-BFGS: iterations); ``sample_weight`` weighs each sample's
        loss (scikit-learn >= 1.7's meaning)."""
        return self._fit(X, y, sample_weight, incremental=False)


def _linear_kernel(X):
    """The kernel of a dense layer on ``X``: ``ops.sparse_linear`` for a CSR matrix, else
    ``ops.linear`` (same arguments: x, weight, bias, activation)."""
    return ops.sparse_linear if is_csr(X) else ops.linear


class _EpochEnd(Callback):
    """Hands each epoch of ``Sequential.fit`` to the estimator, with the loss converted to
    scikit-learn's value, and stops the fit when the estimator says so.

    scikit-learn's loss of an epoch is the mean over its minibatches ``b`` (weighted by
    their rows ``r_b``) of each one's loss, plus ``alpha / 2 * |W|**2 / s_b`` (``W`` as
    ``b`` starts, ``s_b`` the rows, or the sum of the sample weights, of ``b``: ``alpha``
    times the ``l2`` that ``fit`` logs) and, for Poisson, the (weighted) mean of the
    targets' own terms over ``b``.  With sample weights those depend on which rows each
    minibatch holds: they are computed over the minibatches of the epoch's order, drawn
    as ``Sequential.fit`` draws it (:func:`~fastnn.model.epoch_order`, same seed)."""

    def __init__(self, estimator, n_samples, batch_size, validation, sample_weight,
                 target_terms, seed, shuffle):
        self.estimator, self.validation = estimator, validation
        self.n_samples, self.batch_size = n_samples, batch_size
        self.weights, self.terms = sample_weight, target_terms
        self.orders, self.shuffle = np.random.default_rng(seed), shuffle

    def _target_offset(self):
        """``sum_b r_b / n * (weighted) mean of the target terms over b`` for this epoch."""
        n = self.n_samples
        if self.weights is None or self.terms is None:
            return self.estimator._offset
        order = epoch_order(self.orders, n, self.shuffle)
        starts = np.arange(0, n, self.batch_size)
        rows = np.diff(np.append(starts, n)) / n
        w = self.weights[order].astype(np.float64)
        wsum = np.add.reduceat(w, starts)
        share = np.divide(rows, wsum, out=np.zeros(len(rows)), where=wsum != 0)
        return float(share @ np.add.reduceat(w * self.terms[order], starts))

    def on_epoch_end(self, epoch, logs, model):
        est = self.estimator
        penalty = est.alpha * logs.get("l2", 0.0)
        loss = logs["loss"] * est._loss_scale() + self._target_offset() + penalty
        # (a NumPy float, as scikit-learn's loss_ and loss_curve_)
        if est._end_epoch(np.float64(loss), self.n_samples, self.validation):
            model.stop_training = True


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multi-layer perceptron classifier, scikit-learn's ``MLPClassifier`` on fastnn.

    Multi-class targets train a softmax output with cross-entropy; binary and
    multi-label (indicator matrix) targets train logistic outputs with binary
    cross-entropy.  Parameters and attributes are scikit-learn's, plus ``dtype`` (None,
    the default: the input's, float32 or float64; or ``"float32"``/``"float64"``).
    """

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, class_weight=None,
                 **params):
        super().__init__(hidden_layer_sizes, activation, **params)
        self.class_weight = class_weight

    __init__.__signature__ = _signature_with(_BaseMLP.__init__,
                                             trailing=[("class_weight", None)])
    _parameter_constraints: dict = {**neural_network.MLPClassifier._parameter_constraints,
                                    **_FASTNN_PARAMETERS,
                                    "class_weight": [dict, StrOptions({"balanced"}), None]}

    def _sample_weights(self, sample_weight, X, y, incremental):
        """``sample_weight`` times the weight of each sample's class under
        ``class_weight`` (a dict ``{label: weight}``, labels missing from it weigh 1, or
        ``"balanced"``: ``n_samples / (n_classes * count(label))`` over this ``y``)."""
        sample_weight = super()._sample_weights(sample_weight, X, y, incremental)
        if self.class_weight is None:
            return sample_weight
        if self._label_binarizer is not None and self._label_binarizer.y_type_.startswith(
                "multilabel"):
            raise ValueError("class_weight is not supported for multi-label targets")
        if self.class_weight == "balanced" and incremental:
            raise ValueError("class_weight='balanced' is not supported by partial_fit: its "
                             "weights depend on the whole training set; pass "
                             "compute_class_weight('balanced', classes=classes, y=y) as a dict")
        y = column_or_1d(y)
        present = np.unique(y) if self.class_weight == "balanced" else self.classes_
        weights = compute_class_weight(self.class_weight, classes=present, y=y)
        per_sample = weights[np.searchsorted(present, y)].astype(X.dtype)
        return per_sample if sample_weight is None else sample_weight * per_sample

    @available_if(_stochastic_solver)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over ``(X, y)``; the first call needs ``classes`` (every label)."""
        if not hasattr(self, "coefs_") and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def _targets(self, y, reset, incremental, classes, dtype):
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        y_type = type_of_target(y, input_name="y")  # once: it costs ~0.1 ms per call
        if y_type not in _CLASSIFICATION_TARGETS:
            raise ValueError(f"Unknown label type: {y_type!r}. A classifier needs discrete "
                             "class labels; for continuous targets use MLPRegressor.")
        multilabel = y_type.startswith("multilabel")
        classes_from_y = reset and (not incremental or multilabel)
        if reset:
            self._fit_classes(y if classes_from_y else classes,
                              y_type if classes_from_y else None)
            if multilabel and incremental:  # scikit-learn's classes: the label columns
                self._check_known_labels(y, unique_labels(classes))
        elif incremental:
            if classes is not None and not np.array_equal(unique_labels(classes), self.classes_):
                raise ValueError(f"`classes={classes!r}` is not the same as on last call to "
                                 f"partial_fit, was: {self.classes_!r}")
        elif not np.array_equal(unique_labels(y), self.classes_):
            raise ValueError("warm_start can only be used where `y` has the same classes as "
                             f"in the previous call to fit. Previously got {self.classes_}, "
                             f"`y` has {unique_labels(y)}")
        if not multilabel and not classes_from_y and not np.isin(y, self.classes_).all():
            self._check_known_labels(y, self.classes_)
        if self._label_binarizer is None:  # multi-class: class indices, no one-hot
            return np.searchsorted(self.classes_, y), "softmax", y
        return self._label_binarizer.transform(y).astype(dtype), "logistic", y

    @staticmethod
    def _check_known_labels(y, known):
        """scikit-learn's error when ``y`` has labels beyond ``known`` (for a multi-label
        ``y``: column indices)."""
        present = unique_labels(y)
        if len(np.setdiff1d(present, known)):
            raise ValueError("`y` has classes not in `self.classes_`. `self.classes_` has "
                             f"{known}. 'y' has {present}.")

    def _fit_classes(self, labels, label_type=None):
        """``classes_`` from ``labels``; binary and multi-label targets also get the
        ``LabelBinarizer`` that encodes and decodes them (multi-class ones use indices)."""
        if (label_type or type_of_target(labels, input_name="classes")) == "multiclass":
            labels = np.asarray(labels)
            self.classes_ = np.unique(labels) if labels.dtype.kind in "biuf" else unique_labels(labels)
            self._label_binarizer = None
        else:
            self._label_binarizer = LabelBinarizer().fit(labels)
            self.classes_ = self._label_binarizer.classes_

    def _validation_score(self, X, y, sample_weight):
        proba = self._proba(X)
        if not np.isfinite(proba).all():
            return np.nan
        return accuracy_score(y, self._decode(proba), sample_weight=sample_weight)

    def _stratify(self, Y):
        """Labels to stratify early stopping's split by, as scikit-learn: the boolean
        column of a binary target (scikit-learn stratifies one-column targets only:
        neither multi-class nor multi-label ones)."""
        return Y.astype(bool) if self.n_outputs_ == 1 else None

    def _proba(self, X):
        """Output-layer activations for validated ``X``: (n, n_outputs_)."""
        return self._loss.probabilities(self._forward(X))

    def _decode(self, proba):
        if self._label_binarizer is None:
            return self.classes_.take(proba.argmax(axis=1))
        return self._label_binarizer.inverse_transform(proba)

    def predict(self, X):
        """Predicted class labels (an indicator matrix for multi-label targets)."""
        return self._decode(self._proba(self._validate_X(X)))

    def predict_proba(self, X):
        """Class probabilities, columns in the order of ``classes_`` (for binary targets
        ``[1 - p, p]``)."""
        proba = self._proba(self._validate_X(X))
        if self.n_outputs_ == 1:
            return np.hstack([1 - proba, proba])
        return proba

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`."""
        return np.log(self.predict_proba(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multi-layer perceptron regressor, scikit-learn's ``MLPRegressor`` on fastnn.

    Identity output trained with the squared error (``loss="squared_error"``), or with
    ``loss="poisson"`` an exponential output (log link) trained with the Poisson deviance;
    ``y`` may have several columns.
    Parameters and attributes are scikit-learn's, plus ``dtype`` (None, the default:
    the input's, float32 or float64; or ``"float32"``/``"float64"``).
    """

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu",
                 **params):
        super().__init__(hidden_layer_sizes, activation, **params)
        self.loss = loss

    __init__.__signature__ = _signature_with(_BaseMLP.__init__,
                                             leading=[("loss", "squared_error")])
    _parameter_constraints: dict = {**neural_network.MLPRegressor._parameter_constraints,
                                    **_FASTNN_PARAMETERS}

    @available_if(_stochastic_solver)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over ``(X, y)`` from the current weights."""
        return self._fit(X, y, sample_weight, incremental=True)

    def _targets(self, y, reset, incremental, classes, dtype):
        if y.ndim == 2 and y.shape[1] == 1:  # (scikit-learn's DataConversionWarning)
            y = column_or_1d(y, warn=True)
        Y = y.reshape(len(y), -1).astype(dtype)
        if self.loss == "poisson":
            if (Y < 0).any():
                raise ValueError("Some value(s) of y are negative which is not allowed for "
                                 "Poisson regression.")
            return Y, "exp", Y
        return Y, "identity", Y

    def _target_terms(self, Y):
        if self.out_activation_ != "exp":
            return None
        return (xlogy(Y, Y) - Y).sum(axis=1)

    def _values(self, X):
        """Predictions for validated ``X``: the output, or its exponential (the Poisson
        rate) for ``loss="poisson"``."""
        out = self._forward(X)
        return np.exp(out, out=out) if self.out_activation_ == "exp" else out

    def _validation_score(self, X, Y, sample_weight):
        pred = self._values(X)
        return r2_score(Y, pred, sample_weight=sample_weight) if np.isfinite(pred).all() else np.nan

    def predict(self, X):
        """Predicted targets: shape (n_samples,) for one output, else (n_samples, n_outputs)."""
        out = self._values(self._validate_X(X))
        return out.ravel() if self.n_outputs_ == 1 else out
