# Whole training epochs in compiled code, for Sequential.fit (see fastnn/_training.py).
#
# A TrainPlan holds, for one fit call, raw pointers to the model's arrays (parameters,
# gradients, optimizer state, all owned by Python objects the plan keeps alive) and
# minibatch buffers allocated once.  run_sgd/run_adam then train `count` minibatches
# with the GIL released:
#   gather rows of y by `order`
#   forward   A[l+1] = act(in[l] @ W[l] + b[l])       (GEMM with fused epilogue)
#             with dropout after layer l: D[l] = dropout(A[l+1]); in[l+1] = D[l], else A[l+1]
#   loss      G[L-1] = dLoss/dlogits                  (fused row kernels, mean over the batch)
#   backward  (dropout after layer l: G[l] = dropout_backward(G[l]), the same mask)
#             dz = G[l] * act'(A[l+1]) and db = sum_rows(dz) (one pass); dW = in[l].T @ dz;
#             G[l-1] = dz @ W.T
#   update    one fused SGD or Adam kernel per parameter, in chunks, after each of which
#             one of the next minibatch's rows of a dense X starts to arrive (prefetch;
#             perf puts ~3% of the 60,000 x 784 fit on these prefetches, 9,800 lines from
#             memory a step against an update of ~25 us.  Measured no faster: the lines
#             spread 8-32 after chunks of 64-1024 elements; lent to the step's GEMMs,
#             2-8 before each micro-kernel call; the gathered GEMMs fetching their next
#             A block as they compute; dW's row blocks in reverse order, to start on the
#             rows the forward read last)
#   (with `sq_norms`: sq_norms[i] += decay_scale * sum(params[i]**2) for each parameter
#   with weight decay, the weights each minibatch's L2 term sees, read chunk by chunk
#   just before the update of the chunk, or all at once before a row-by-row update)
# loss_gradient runs the same forward, loss and backward once over all of X, read in
# place, and stops before the update: the full-batch objective of L-BFGS.
# A dense X is not copied: the first layer's GEMMs (forward and dW = X[batch].T @ dz)
# gather its rows straight into their packed A blocks (gemm_gather, gemm.pxi); only a
# product the GEMM would not pack (a skinny or narrow one, a one-row minibatch) reads
# the rows gathered into A[0], the same values and so the same result.
# A one-row minibatch (plain SGD, as in the lecture) never forms dW = x.T @ dz: each row
# of W is updated from the product x[r] * dz computed into a small buffer, with the same
# update kernel and the same arithmetic, which halves the memory traffic of the step.
# The gradient arrays of those weights then keep their previous contents.
# Each step is the kernel call, with the same arguments, that the Python layer makes in
# the manual loop, so fit and the manual loop give the same numbers.
# Dropout (dropout.pxi) hashes its masks from (the layer's seed, its step, the element's
# index in the minibatch): `dropout_steps` holds each layer's step, read at the start of
# a run and advanced once per minibatch, as fastnn.Dropout advances its own per forward.
# X may be a CSR matrix (sparse.pxi): no rows are gathered then; the first layer reads
# the minibatch's rows of X in place (csr_linear) and its weight gradient is accumulated
# over their nonzeros (csr_weight_grad), after zeroing only the gradient rows that the
# previous minibatch wrote: the gradient array holds exactly X[batch].T @ dz, as
# sparse_linear_backward writes it, at the cost of the nonzeros, not of the whole array.
# The plan trusts no memory whose contents decide where it reads or writes: it copies the
# class labels (a callback may change the caller's `y` during fit), a CSR X's indices
# and index pointers (sparse.pxi) and, on every call, `order` (another thread may write
# it while the loop runs), and checks its copies.  Any number of layers and parameters:
# the per-layer and per-parameter tables are arrays sized at construction.
#
# Uses: capi.pxd (fnn_sgemm, fnn_dgemm, __builtin_prefetch, FNN_ACT_IDENTITY,
#       FNN_LOSS_*), config.pxi (ACTIVATION_CODES, LOSS_CODES), validate.pxi (checks),
#       activations.pxi (act_backward), gemm.pxi (gemm_gather), losses.pxi (pointwise_loss), optim.pxi
#       (sgd_update, adam_scalars, adam_update, check_sgd, check_adam), parallel.pxi (_xent_rows,
#       _threads), sparse.pxi (CSROperand, csr_operand, csr_linear, csr_weight_grad,
#       csr_clear_rows), dropout.pxi (dropout_chunks, check_dropout_seed).
# Provides: TrainPlan (run_sgd, run_adam, loss_gradient).
from cython cimport floating
from libc.stdint cimport int64_t, uint64_t
from libc.string cimport memcpy, memset

from fastnn._kernels.capi cimport (FNN_ACT_IDENTITY, FNN_LOSS_SOFTMAX_XENT, __builtin_prefetch,
                                   fnn_dgemm, fnn_dropout_key, fnn_dropout_threshold, fnn_sgemm)


cdef struct Hyper:
    double lr, momentum, beta1, beta2, eps
    bint nesterov, decoupled, adam
    long long step            # Adam's step count for this minibatch, from 1
    AdamScalars scalars       # Adam's scalars of that step (adam_scalars)
    const double *decay       # weight decay per parameter
    double *sq_norms          # NULL, or per parameter: sum of decay_scale * |param|^2


cdef inline void _train_gemm(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                       const floating *a, Py_ssize_t rsa, Py_ssize_t csa,
                       const floating *b, Py_ssize_t rsb, Py_ssize_t csb,
                       floating *c, const floating *bias, int act, double slope) noexcept nogil:
    """c (m x n, C-contiguous) = act(a @ b + bias)."""
    if floating is float:
        fnn_sgemm(m, n, k, 1.0, a, rsa, csa, b, rsb, csb, 0.0, c, n, 1, bias, act, <float>slope)
    else:
        fnn_dgemm(m, n, k, 1.0, a, rsa, csa, b, rsb, csb, 0.0, c, n, 1, bias, act, slope)


cdef class TrainPlan:
    """Buffers and pointers to train one network in compiled code (built by fastnn._training).

    ``params``/``grads``/``state1``/``state2`` are aligned lists in optimizer order;
    layer ``l`` uses ``params[w_index[l]]`` as its weight ``(in, out)`` and
    ``params[b_index[l]]`` as its bias (``-1``: none).  ``state1`` is SGD's velocity or
    Adam's ``m`` (``None`` entries or list when unused), ``state2`` Adam's ``v``.
    ``dropout``/``dropout_seeds`` (None, or one entry per layer): inverted dropout of
    rate ``dropout[l]`` (in [0, 1); 0 for the last layer) on layer ``l``'s output with
    masks keyed by ``dropout_seeds[l]`` and ``dropout_steps[l]`` (see ``ops.dropout``).
    """

    cdef list keep
    cdef bint ready              # __init__ completed: the tables and pointers are consistent
    cdef int n_layers, n_params, loss_kind, class_labels, is_double
    cdef Py_ssize_t n, batch
    cdef double smoothing
    # per layer l (A and width: L + 1 entries, for the input and each layer's output)
    cdef Py_ssize_t *width
    cdef int *act
    cdef double *slope
    cdef int *w_index
    cdef int *b_index
    cdef char **A
    cdef char **G
    cdef double *drop_p          # dropout rate on layer l's output (0: none)
    cdef uint64_t *drop_seed
    cdef char **D                # layer l's output after dropout (NULL: no dropout)
    cdef int64_t *DSTEP
    cdef readonly object dropout_steps  # int64 per layer: the step of its next mask
    cdef bint has_dropout
    # per parameter i
    cdef int *layer_of          # layer whose weight params[i] is, or -1
    cdef char **P
    cdef char **GP
    cdef char **S1
    cdef char **S2
    cdef Py_ssize_t *size
    cdef char *X
    cdef bint x_gathered         # A[0] holds this minibatch's rows of the dense X
    cdef CSROperand sparse       # X as CSR (None: X is a dense array)
    cdef bint is_sparse
    cdef int64_t *PREV           # rows of the previous minibatch (sparse X)
    cdef Py_ssize_t n_prev
    cdef char *Y                 # the plan's own copy of the class labels, or the targets
    cdef char *YB
    cdef char *TMP               # one row of a weight gradient (rank-1 updates)
    # sample weights (NULL: none): SW per row of X, WB gathered per minibatch, LB the
    # minibatch's per-row (xent) or per-element losses; decay_scale = rows / sum(WB)
    # (0 when the minibatch's weights sum to 0: it then contributes nothing)
    cdef char *SW
    cdef char *WB
    cdef char *LB
    cdef double decay_scale

    def __init__(self, X, y, Py_ssize_t batch, list params, list grads, state1, state2,
                 list w_index, list b_index, list acts, list slopes, int loss_kind,
                 double smoothing, sample_weight=None, dropout=None, dropout_seeds=None):
        cdef int L = len(w_index), l, i
        self.ready = False
        self.decay_scale = 1.0
        if L < 1 or len(params) < 1:
            raise ValueError(f"TrainPlan takes at least 1 layer and 1 parameter; "
                             f"received {L} and {len(params)}")
        # (list lengths must be checked: bounds checking is off in compiled code)
        lengths = [len(b_index), len(acts), len(slopes), len(grads)] + [
            len(s) for s in (state1, state2) if s is not None]
        if lengths != [L] * 3 + [len(params)] * (len(lengths) - 3):
            raise ValueError(f"b_index, acts and slopes must have one entry per layer ({L}), "
                             f"grads, state1 and state2 one per parameter ({len(params)}); "
                             f"received lengths {lengths}")
        cdef int typenum
        self.is_sparse = not cnp.PyArray_Check(X)
        if self.is_sparse:
            self.sparse = csr_operand(X, "X", -1)
            typenum = self.sparse.typenum
        else:
            typenum = check_float_array(X, "X")
            check_ndim(<cnp.ndarray>X, 2, "X")
            check_c_contiguous(<cnp.ndarray>X, "X")
        if X.shape[0] < 1:
            raise ValueError(f"X must have at least one row; received shape {X.shape}")
        if batch < 1:
            raise ValueError(f"batch must be >= 1; received {batch}")
        if loss_kind not in LOSS_CODES.values():
            raise ValueError(f"loss_kind must be one of the LOSS_CODES {sorted(LOSS_CODES.values())}; "
                             f"received {loss_kind}")
        if not 0.0 <= smoothing <= 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1]; received {smoothing}")
        self.keep = [X, self.sparse]
        self.n_layers, self.n_params, self.loss_kind = L, len(params), loss_kind
        self._tables(L, self.n_params)
        self.is_double = typenum == cnp.NPY_FLOAT64
        self.n, self.batch, self.smoothing = X.shape[0], min(batch, X.shape[0]), smoothing
        self.width[0] = X.shape[1]
        for i in range(self.n_params):
            self.layer_of[i] = -1
            if not cnp.PyArray_Check(params[i]):
                raise TypeError(f"params[{i}] must be a numpy.ndarray; "
                                f"received {type(params[i]).__name__}")
            self.P[i] = self._buffer(params[i], typenum, <cnp.ndarray>params[i], f"params[{i}]")
            self.GP[i] = self._buffer(grads[i], typenum, <cnp.ndarray>params[i], f"grads[{i}]")
            self.size[i] = cnp.PyArray_SIZE(<cnp.ndarray>params[i])
            self.S1[i] = self._state(state1, i, typenum, <cnp.ndarray>params[i], "state1")
            self.S2[i] = self._state(state2, i, typenum, <cnp.ndarray>params[i], "state2")
        for l in range(L):
            if not 0 <= w_index[l] < self.n_params or not -1 <= b_index[l] < self.n_params:
                raise ValueError(f"w_index[{l}] and b_index[{l}] must index params "
                                 f"(b_index -1: no bias); received {w_index[l]} and {b_index[l]}")
            w = params[w_index[l]]
            if w.ndim != 2 or w.shape[0] != self.width[l]:
                raise ValueError(f"params[{w_index[l]}] (the weight of layer {l}) must have shape "
                                 f"({self.width[l]}, out); received shape {w.shape}")
            self.width[l + 1] = w.shape[1]
            if b_index[l] >= 0:
                check_shape(params[b_index[l]], 1, w.shape[1], 0,
                            f"params[{b_index[l]}] (the bias of layer {l})")
            if acts[l] not in ACTIVATION_CODES.values():
                raise ValueError(f"acts[{l}] must be one of the ACTIVATION_CODES "
                                 f"{sorted(ACTIVATION_CODES.values())}; received {acts[l]}")
            self.w_index[l], self.b_index[l] = w_index[l], b_index[l]
            self.layer_of[w_index[l]] = l
            self.act[l], self.slope[l] = acts[l], slopes[l]
        cdef cnp.npy_intp dims[2]
        dims[0], dims[1] = self.n, self.width[L]
        dtype = np.float64 if self.is_double else np.float32
        if loss_kind == FNN_LOSS_SOFTMAX_XENT and cnp.PyArray_Check(y) and y.ndim == 1:
            check_buffer(y, cnp.NPY_INT64, 1, dims, False, "y (class labels)")
            y = (<cnp.ndarray>y).copy()  # the labels index rows: read only the plan's own
            check_indices(<cnp.ndarray>y, 0, self.n, self.width[L], y, "y", "class labels")
            self.class_labels = 1
            yb = np.empty(self.batch, np.int64)
        else:
            check_buffer(y, typenum, 2, dims, False, "y (targets)")
            self.class_labels = 0
            yb = np.empty((self.batch, self.width[L]), dtype)
        self.X = NULL if self.is_sparse else cnp.PyArray_BYTES(X)
        self.Y, self.YB = cnp.PyArray_BYTES(y), cnp.PyArray_BYTES(yb)
        self.keep += [y, yb]
        tmp = np.empty(max([self.width[l] for l in range(L + 1)]), dtype)
        self.keep.append(tmp)
        self.TMP = cnp.PyArray_BYTES(tmp)
        if self.is_sparse:
            # the first weight gradient starts at 0; run() then keeps it X[batch].T @ dz
            grads[w_index[0]][...] = 0
            prev = np.empty(self.batch, np.int64)
            self.keep.append(prev)
            self.PREV, self.n_prev = <int64_t *>cnp.PyArray_DATA(<cnp.ndarray>prev), 0
        for l in range(L + 1):
            if l == 0 and self.is_sparse:
                self.A[0] = NULL  # the rows of X are read in place
            else:
                buf = np.empty((self.batch, self.width[l]), dtype)
                self.keep.append(buf)
                self.A[l] = cnp.PyArray_BYTES(buf)
            if l < L:
                buf = np.empty((self.batch, self.width[l + 1]), dtype)
                self.keep.append(buf)
                self.G[l] = cnp.PyArray_BYTES(buf)
        self._sample_weights(sample_weight, dtype)
        self._dropout(dropout, dropout_seeds, dtype)
        self.ready = True

    cdef int _dropout(self, rates, seeds, dtype) except -1:
        """Check the dropout rate and seed of each layer's output (both None: no
        dropout) and allocate the buffers of the dropped outputs."""
        cdef int l, L = self.n_layers
        steps = np.zeros(L, np.int64)
        self.keep.append(steps)
        self.dropout_steps = steps
        self.DSTEP = <int64_t *>cnp.PyArray_DATA(<cnp.ndarray>steps)
        self.has_dropout = False
        if rates is None and seeds is None:
            return 0
        if rates is None or seeds is None or len(rates) != L or len(seeds) != L:
            raise ValueError(f"dropout and dropout_seeds must both have one entry per layer "
                             f"({L}); received {rates!r} and {seeds!r}")
        for l in range(L):
            self.drop_p[l] = check_real(rates[l], f"dropout[{l}]", 0.0, 1.0, False, True)
            self.drop_seed[l] = check_dropout_seed(seeds[l], f"dropout_seeds[{l}]")
            if self.drop_p[l] == 0.0:
                continue
            if l == L - 1:
                raise ValueError(f"dropout[{l}] (the output layer's) must be 0: the loss reads "
                                 f"that output; received {rates[l]!r}")
            buf = np.empty((self.batch, self.width[l + 1]), dtype)
            self.keep.append(buf)
            self.D[l] = cnp.PyArray_BYTES(buf)
            self.has_dropout = True
        return 0

    cdef int _sample_weights(self, sample_weight, dtype) except -1:
        """Check the per-row weights (finite, of X's dtype; negative ones count against
        the loss, as in scikit-learn) and allocate the minibatch buffers that use them."""
        self.SW = self.WB = self.LB = NULL
        if sample_weight is None:
            return 0
        cdef cnp.npy_intp n = self.n
        check_buffer(sample_weight, np.dtype(dtype).num, 1, &n, False, "sample_weight")
        if not np.isfinite(sample_weight).all():
            raise ValueError("sample_weight must be finite")
        wb = np.empty(self.batch, dtype)
        lb = np.empty(self.batch * self.width[self.n_layers], dtype)
        self.keep += [sample_weight, wb, lb]
        self.SW, self.WB, self.LB = (cnp.PyArray_BYTES(sample_weight), cnp.PyArray_BYTES(wb),
                                     cnp.PyArray_BYTES(lb))
        return 0

    cdef int _tables(self, int L, int n_params) except -1:
        """Allocate the per-layer and per-parameter tables, zeroed, owned by `keep`."""
        self.width = <Py_ssize_t *>self._zeros(L + 1, sizeof(Py_ssize_t))
        self.act = <int *>self._zeros(L, sizeof(int))
        self.slope = <double *>self._zeros(L, sizeof(double))
        self.w_index = <int *>self._zeros(L, sizeof(int))
        self.b_index = <int *>self._zeros(L, sizeof(int))
        self.A = <char **>self._zeros(L + 1, sizeof(char *))
        self.G = <char **>self._zeros(L, sizeof(char *))
        self.drop_p = <double *>self._zeros(L, sizeof(double))
        self.drop_seed = <uint64_t *>self._zeros(L, sizeof(uint64_t))
        self.D = <char **>self._zeros(L, sizeof(char *))
        self.layer_of = <int *>self._zeros(n_params, sizeof(int))
        self.P = <char **>self._zeros(n_params, sizeof(char *))
        self.GP = <char **>self._zeros(n_params, sizeof(char *))
        self.S1 = <char **>self._zeros(n_params, sizeof(char *))
        self.S2 = <char **>self._zeros(n_params, sizeof(char *))
        self.size = <Py_ssize_t *>self._zeros(n_params, sizeof(Py_ssize_t))
        return 0

    cdef void *_zeros(self, Py_ssize_t count, size_t itemsize) except NULL:
        """`count` zeroed items of `itemsize` bytes (8-byte aligned), kept alive by the plan."""
        table = np.zeros((count * <Py_ssize_t>itemsize + 7) // 8, np.uint64)  # positive: cdivision
        self.keep.append(table)
        return cnp.PyArray_DATA(<cnp.ndarray>table)

    cdef char *_buffer(self, a, int typenum, cnp.ndarray param, str name) except NULL:
        """`a`, checked to be a writeable C-contiguous array like `param`, kept alive."""
        check_buffer(a, typenum, cnp.PyArray_NDIM(param), cnp.PyArray_DIMS(param), True, name)
        self.keep.append(a)
        return cnp.PyArray_BYTES(<cnp.ndarray>a)

    cdef char *_state(self, states, int i, int typenum, cnp.ndarray param,
                      str name) except? NULL:
        if states is None or states[i] is None:
            return NULL
        return self._buffer(states[i], typenum, param, f"{name}[{i}]")

    cdef int _check_ready(self) except -1:
        if not self.ready:
            raise ValueError("TrainPlan is not initialized: its __init__ did not complete")
        return 0

    cdef cnp.ndarray _order(self, order, Py_ssize_t first, Py_ssize_t count):
        """A copy of `order` (the loop indexes X by it with the GIL released), its rows
        that minibatches first..first+count use checked."""
        cdef cnp.npy_intp n = self.n
        check_buffer(order, cnp.NPY_INT64, 1, &n, False, "order")
        own = (<cnp.ndarray>order).copy()
        cdef Py_ssize_t n_batches = (self.n + self.batch - 1) // self.batch
        if first < 0 or count < 0 or first + count > n_batches:
            raise ValueError(f"first and count must select minibatches within the epoch's "
                             f"{n_batches} (both >= 0); received first={first}, count={count}")
        check_indices(<cnp.ndarray>own, first * self.batch,
                      min((first + count) * self.batch, self.n), self.n, order, "order",
                      "row indices of X")
        return own

    def run_sgd(self, order, Py_ssize_t first, Py_ssize_t count, double lr, double momentum,
                bint nesterov, decay, sq_norms=None) -> float:
        """Train minibatches ``first .. first + count`` with SGD; returns the sum of the
        per-sample losses.  ``sq_norms`` (None, or float64 with one entry per parameter):
        each minibatch adds ``rows / sum(sample weights)`` (1 without them) times
        ``sum(params[i]**2)``, before its update, to ``sq_norms[i]`` of each parameter
        with ``decay[i] > 0``."""
        self._check_ready()
        check_sgd(lr, momentum, nesterov, 0.0)
        cdef Hyper h
        h.lr, h.momentum, h.nesterov, h.adam = lr, momentum, nesterov, False
        h.beta1 = h.beta2 = h.eps = 0.0
        h.decoupled, h.step = False, 0
        if momentum != 0.0:
            for i in range(self.n_params):
                if self.S1[i] == NULL:
                    raise ValueError(f"state1[{i}] (the velocity of params[{i}]) is required "
                                     f"when momentum != 0 (momentum={momentum}); received None")
        return self._run(order, first, count, &h, decay, sq_norms)

    def run_adam(self, order, Py_ssize_t first, Py_ssize_t count, long long step, double lr,
                 double beta1, double beta2, double eps, decay, bint decoupled,
                 sq_norms=None) -> float:
        """Train minibatches with Adam; ``step`` is the count of steps already taken
        (``sq_norms``: as :meth:`run_sgd`)."""
        self._check_ready()
        check_adam(lr, beta1, beta2, eps, 0.0)
        if step < 0:
            raise ValueError(f"step must be >= 0 (the steps already taken); received {step}")
        cdef Hyper h
        h.lr, h.beta1, h.beta2, h.eps, h.adam, h.decoupled = lr, beta1, beta2, eps, True, decoupled
        h.momentum, h.nesterov, h.step = 0.0, False, step
        for i in range(self.n_params):
            if self.S1[i] == NULL or self.S2[i] == NULL:
                raise ValueError(f"state1[{i}] and state2[{i}] (Adam's m and v of params[{i}]) "
                                 "are required; received None")
        return self._run(order, first, count, &h, decay, sq_norms)

    def loss_gradient(self) -> float:
        """Full-batch loss and gradient at the current parameters, without an update (for
        quasi-Newton solvers): forward and backward over every row of X, read in place,
        gradients into ``grads``; returns the sum of the per-sample losses.  The plan
        must have been built with ``batch >= len(X)`` and without dropout (the objective
        must not change between evaluations)."""
        self._check_ready()
        if self.has_dropout:
            raise ValueError("loss_gradient needs a plan without dropout: a full-batch "
                             "objective must be deterministic")
        if self.batch != self.n:
            raise ValueError(f"loss_gradient needs a plan whose batch covers X ({self.n} rows); "
                             f"received batch {self.batch}")
        cdef char *a0 = self.A[0]
        cdef char *yb = self.YB
        cdef char *wb = self.WB
        cdef double total
        # only read by the forward and backward passes
        self.A[0], self.YB, self.WB = self.X, self.Y, self.SW
        with nogil:
            if self.is_double:
                total = _forward_backward(<double *>NULL, self, NULL, self.n, True)
            else:
                total = _forward_backward(<float *>NULL, self, NULL, self.n, True)
        self.A[0], self.YB, self.WB = a0, yb, wb
        return total

    cdef double _run(self, order, Py_ssize_t first, Py_ssize_t count, Hyper *h,
                     decay, sq_norms) except? -1.0:
        cdef cnp.ndarray own_order = self._order(order, first, count)
        cdef const int64_t *rows = <const int64_t *>cnp.PyArray_DATA(own_order)
        cdef cnp.ndarray dec = np.ascontiguousarray(decay, dtype=np.float64)
        check_shape(dec, 1, self.n_params, 0, "decay")
        if not (np.isfinite(dec).all() and (dec >= 0).all()):
            raise ValueError(f"decay must hold finite weight decays >= 0; received {dec}")
        h.decay = <const double *>cnp.PyArray_DATA(dec)
        cdef cnp.npy_intp n_params = self.n_params
        h.sq_norms = NULL
        if sq_norms is not None:
            check_buffer(sq_norms, cnp.NPY_FLOAT64, 1, &n_params, True, "sq_norms")
            h.sq_norms = <double *>cnp.PyArray_DATA(<cnp.ndarray>sq_norms)
        cdef double total
        with nogil:
            if self.is_double:
                total = _train_batches(<double *>NULL, self, rows, first, count, h)
            else:
                total = _train_batches(<float *>NULL, self, rows, first, count, h)
        return total


cdef double _train_batches(floating *tag, TrainPlan p, const int64_t *order,
                           Py_ssize_t first, Py_ssize_t count, Hyper *h) noexcept nogil:
    """The minibatch loop; `tag` only selects the dtype."""
    cdef Py_ssize_t bi, r, j, start, rows, d = p.width[0], c = p.width[p.n_layers]
    cdef Py_ssize_t pf, pf_stop, chunk, n_elements = 0
    cdef int l, i
    cdef double total = 0.0
    cdef const floating *X = <const floating *>p.X
    cdef floating *g
    cdef floating *tmp = <floating *>p.TMP
    cdef const floating *x
    for i in range(p.n_params):
        n_elements += p.size[i]
    for bi in range(first, first + count):
        start = bi * p.batch
        rows = p.batch if start + p.batch <= p.n else p.n - start
        if not p.is_sparse:
            p.x_gathered = False
            if bi == first:  # later minibatches' rows are fetched during the previous update
                _prefetch_rows(X, order, start, start + rows, d)
        if p.class_labels:
            for r in range(rows):
                (<int64_t *>p.YB)[r] = (<const int64_t *>p.Y)[order[start + r]]
        else:
            for r in range(rows):
                memcpy(<floating *>p.YB + r * c, <const floating *>p.Y + order[start + r] * c,
                       c * sizeof(floating))
        if p.SW != NULL:
            for r in range(rows):
                (<floating *>p.WB)[r] = (<const floating *>p.SW)[order[start + r]]
        total += _forward_backward(tag, p, order + start, rows, rows > 1)
        for l in range(p.n_layers):
            if p.D[l] != NULL:
                p.DSTEP[l] += 1
        if h.adam:
            h.step += 1
            adam_scalars(&h.scalars, h.step, h.lr, h.beta1, h.beta2, h.eps)
        # the next minibatch's rows of a dense X (scattered in X) start to arrive while the
        # update computes: one row after each `chunk` updated elements
        pf = start + rows
        pf_stop = pf if p.is_sparse or bi + 1 == first + count else min(pf + p.batch, p.n)
        chunk = max(n_elements // max(pf_stop - pf, 1), 64)
        for i in range(p.n_params):
            l = p.layer_of[i]
            if rows > 1 or l < 0 or (l == 0 and p.is_sparse):
                _update_fetching(p, h, i, X, order, &pf, pf_stop, chunk)
                continue
            x = <const floating *>_input(p, l)
            g = <floating *>p.G[l]
            if not h.adam and h.momentum == 0.0 and h.decay[i] == 0.0:
                _rank1_sgd(<floating *>p.P[i], x, g, p.width[l], p.width[l + 1], <floating>h.lr)
                continue
            _track_norm(p, h, i, <const floating *>p.P[i], p.size[i])
            for r in range(p.width[l]):  # row r of dW is x[r] * dz
                for j in range(p.width[l + 1]):
                    tmp[j] = x[r] * g[j]
                _update(p, h, i, tmp, r * p.width[l + 1], p.width[l + 1])
        _prefetch_rows(X, order, pf, pf_stop, d)  # the rows the update did not reach
    return total


cdef inline double _sum_squares(const floating *x, Py_ssize_t n) noexcept nogil:
    """sum(x**2): 16 interleaved partial sums in the dtype of x (independent chains the
    compiler keeps in vector registers) over blocks of 1024 elements, each block's added
    in double (so float32 rounding grows with the block, not with n)."""
    cdef floating acc[16]
    cdef Py_ssize_t i, j, start, stop, body
    cdef double total = 0.0
    for start in range(0, n, 1024):
        stop = min(start + 1024, n)
        body = stop - (stop - start) % 16
        for j in range(16):
            acc[j] = 0
        for i in range(start, body, 16):
            for j in range(16):
                acc[j] += x[i + j] * x[i + j]
        for i in range(body, stop):
            total += <double>x[i] * <double>x[i]
        for j in range(16):
            total += acc[j]
    return total


cdef inline void _update_fetching(TrainPlan p, Hyper *h, int i, const floating *X,
                                  const int64_t *order, Py_ssize_t *pf, Py_ssize_t pf_stop,
                                  Py_ssize_t chunk) noexcept nogil:
    """_update of all of parameter i from its gradient, `chunk` elements at a time (the
    update is elementwise: the same values), starting to fetch row order[pf] of the dense
    X after each chunk while pf < pf_stop (pf advances)."""
    cdef Py_ssize_t o = 0, n = p.size[i]
    cdef const floating *grad = <const floating *>p.GP[i]
    if pf[0] >= pf_stop:
        _track_norm(p, h, i, <const floating *>p.P[i], n)
        _update(p, h, i, grad, 0, n)
        return
    while o < n:  # (each chunk's squares read just before its update, while in cache)
        _track_norm(p, h, i, <const floating *>p.P[i] + o, min(chunk, n - o))
        _update(p, h, i, grad + o, o, min(chunk, n - o))
        o += chunk
        if pf[0] < pf_stop:
            _prefetch_rows(X, order, pf[0], pf[0] + 1, p.width[0])
            pf[0] += 1


cdef inline void _prefetch_rows(const floating *X, const int64_t *order, Py_ssize_t start,
                                Py_ssize_t stop, Py_ssize_t d) noexcept nogil:
    """Start fetching rows order[start:stop] of the dense X (the next minibatch's,
    scattered in X) while this one computes."""
    cdef Py_ssize_t r, j
    for r in range(start, stop):
        j = 0
        while j < d:
            __builtin_prefetch(X + order[r] * d + j, 0, 1)
            j += 64 // sizeof(floating)


cdef inline void _x_gathered(floating *xb, TrainPlan p, const int64_t *x_rows,
                             Py_ssize_t rows) noexcept nogil:
    """Copy the minibatch's rows x_rows of the dense X into xb (A[0]), once per minibatch
    (x_rows NULL: A[0] already holds the rows)."""
    cdef Py_ssize_t r, d = p.width[0]
    if x_rows != NULL and not p.x_gathered:
        for r in range(rows):
            memcpy(xb + r * d, <const floating *>p.X + x_rows[r] * d, d * sizeof(floating))
        p.x_gathered = True


cdef inline void _sparse_weight_grad(TrainPlan p, const int64_t *rows, Py_ssize_t n_rows,
                                     const floating *dz) noexcept nogil:
    """The first layer's weight gradient X[rows].T @ dz for a CSR X (rows NULL: rows
    0..n_rows-1): the gradient rows the previous call wrote are zeroed (all others are 0
    already), then accumulated."""
    cdef floating *dw = <floating *>p.GP[p.w_index[0]]
    cdef Py_ssize_t n_out = p.width[1]
    csr_clear_rows(p.sparse, p.PREV, p.n_prev, dw, n_out)
    csr_weight_grad(p.sparse, rows, n_rows, dz, n_out, dw,
                    _threads(n_rows * n_out, EW_PAR_CHEAP))
    cdef Py_ssize_t r
    for r in range(n_rows):
        p.PREV[r] = rows[r] if rows != NULL else r
    p.n_prev = n_rows


cdef inline char *_input(TrainPlan p, int l) noexcept nogil:
    """The input of layer l: the previous layer's output after dropout, else A[l]."""
    return p.D[l - 1] if l > 0 and p.D[l - 1] != NULL else p.A[l]


cdef inline void _dropout_rows(TrainPlan p, int l, Py_ssize_t rows, const floating *x,
                               floating *y) noexcept nogil:
    """y = dropout of layer l's output (or of its gradient) x, rows x width: the mask of
    ops.dropout(x, dropout[l], seed=dropout_seeds[l], step=dropout_steps[l])."""
    cdef Py_ssize_t n = rows * p.width[l + 1]
    dropout_chunks(x, y, n, fnn_dropout_key(p.drop_seed[l], <uint64_t>p.DSTEP[l]),
                   fnn_dropout_threshold(p.drop_p[l]), <floating>(1.0 / (1.0 - p.drop_p[l])),
                   _threads(n, EW_PAR_CHEAP))


cdef double _forward_backward(floating *tag, TrainPlan p, const int64_t *x_rows,
                              Py_ssize_t rows, bint weight_grads) noexcept nogil:
    """Forward, loss and backward of the `rows` rows in A[0] against YB: returns the sum of
    the per-sample losses; gradients of the biases into GP and, when `weight_grads`, of
    the weights (otherwise each layer's dz stays in G[l] for a rank-1 update).  A sparse X
    is read in place instead of A[0], rows x_rows of it (NULL: rows 0..rows-1), and the
    first layer's weight gradient is always computed.  Dropout: see the file header."""
    cdef int l, L = p.n_layers
    cdef const floating *bias
    cdef floating *g
    cdef double total
    cdef Py_ssize_t d = p.width[0]
    # rows of a dense X read in place by the first layer's GEMMs (see the top of the file)
    cdef bint in_place = x_rows != NULL and not p.is_sparse and weight_grads
    for l in range(L):
        bias = <const floating *>p.P[p.b_index[l]] if p.b_index[l] >= 0 else NULL
        if l == 0 and p.is_sparse:
            csr_linear(p.sparse, x_rows, rows, <const floating *>p.P[p.w_index[0]], p.width[1],
                       bias, p.act[0], <floating>p.slope[0], <floating *>p.A[1],
                       _threads(rows * p.width[1], EW_PAR_CHEAP))
        elif l == 0 and in_place and gemm_gather(
                rows, p.width[1], d, <const floating *>p.X, d, 1, x_rows, False,
                <const floating *>p.P[p.w_index[0]], p.width[1], 1, <floating *>p.A[1], bias,
                p.act[0], p.slope[0]) == 0:
            pass  # A[1] = act(X[x_rows] @ W + b)
        else:
            if l == 0:
                _x_gathered(<floating *>p.A[0], p, x_rows, rows)
            _train_gemm(rows, p.width[l + 1], p.width[l],
                  <const floating *>_input(p, l), p.width[l], 1,
                  <const floating *>p.P[p.w_index[l]], p.width[l + 1], 1,
                  <floating *>p.A[l + 1], bias, p.act[l], p.slope[l])
        if p.D[l] != NULL:
            _dropout_rows(p, l, rows, <const floating *>p.A[l + 1], <floating *>p.D[l])
    total = _loss_and_grad(tag, p, rows)
    for l in range(L - 1, -1, -1):
        g = <floating *>p.G[l]
        if p.D[l] != NULL:
            _dropout_rows(p, l, rows, g, g)
        _dz_and_bias_grad(g, <const floating *>p.A[l + 1], rows, p.width[l + 1], p.act[l],
                          <floating>p.slope[l], <floating *>p.GP[p.b_index[l]]
                          if p.b_index[l] >= 0 else NULL)
        if l == 0 and p.is_sparse:
            _sparse_weight_grad(p, x_rows, rows, g)
        elif l == 0 and in_place and not p.x_gathered and gemm_gather(
                d, p.width[1], rows, <const floating *>p.X, 1, d, x_rows, True, g, p.width[1], 1,
                <floating *>p.GP[p.w_index[0]], NULL, FNN_ACT_IDENTITY, 0.0) == 0:
            pass  # dW = X[x_rows].T @ dz
        elif weight_grads:  # dW = A[l].T @ dz, with A[l].T as a transposed view (row stride 1)
            if l == 0:
                _x_gathered(<floating *>p.A[0], p, x_rows, rows)
            _train_gemm(p.width[l], p.width[l + 1], rows,
                        <const floating *>_input(p, l), 1, p.width[l],
                        g, p.width[l + 1], 1,
                        <floating *>p.GP[p.w_index[l]], NULL, FNN_ACT_IDENTITY, 0.0)
        if l > 0:
            # G[l-1] = dz @ W.T, with W.T as a transposed view
            _train_gemm(rows, p.width[l], p.width[l + 1],
                  g, p.width[l + 1], 1,
                  <const floating *>p.P[p.w_index[l]], 1, p.width[l + 1],
                  <floating *>p.G[l - 1], NULL, FNN_ACT_IDENTITY, 0.0)
    return total


cdef inline void _dz_and_bias_grad(floating *g, const floating *y, Py_ssize_t rows,
                                   Py_ssize_t cols, int act, floating slope,
                                   floating *db) noexcept nogil:
    """g = g * act'(y) and db = sum of the rows of g (unless NULL), in one pass over the
    (rows, cols) block: act_backward and sum_over_rows row by row, same arithmetic."""
    cdef Py_ssize_t r, j
    cdef floating *row
    if db != NULL:
        memset(db, 0, cols * sizeof(floating))
    for r in range(rows):
        row = g + r * cols
        if act != FNN_ACT_IDENTITY:
            act_backward(act, slope, row, y + r * cols, row, cols)
        if db != NULL:
            for j in range(cols):
                db[j] += row[j]


cdef inline void _rank1_sgd(floating *w, const floating *x, const floating *dz, Py_ssize_t rows,
                            Py_ssize_t cols, floating lr) noexcept nogil:
    """Plain SGD on W (rows x cols) with dW = outer(x, dz): the arithmetic of sgd_update
    with momentum and weight decay 0, ``w - lr * g``, with ``g = x[r] * dz[j]``."""
    cdef Py_ssize_t r, j
    cdef floating xr
    cdef floating *row
    for r in range(rows):
        xr = x[r]
        row = w + r * cols
        for j in range(cols):
            row[j] = row[j] - lr * (xr * dz[j])


cdef inline void _track_norm(TrainPlan p, Hyper *h, int i, const floating *x,
                             Py_ssize_t n) noexcept nogil:
    """Add the squares of the n elements x of parameter i, times decay_scale, to
    h.sq_norms[i] when that is asked for and parameter i has weight decay."""
    if h.sq_norms != NULL and h.decay[i] > 0.0:
        h.sq_norms[i] += p.decay_scale * _sum_squares(x, n)


cdef inline void _update(TrainPlan p, Hyper *h, int i, const floating *grad, Py_ssize_t offset,
                         Py_ssize_t n) noexcept nogil:
    """Update elements offset..offset+n of parameter i from `grad` (n values)."""
    cdef floating *s1 = <floating *>p.S1[i] + offset if p.S1[i] != NULL else NULL
    cdef double decay = h.decay[i] * p.decay_scale
    if h.adam:
        adam_update(<floating *>p.P[i] + offset, grad, s1, <floating *>p.S2[i] + offset, n,
                    &h.scalars, decay, h.decoupled)
    else:
        sgd_update(<floating *>p.P[i] + offset, grad, s1, n, <floating>h.lr,
                   <floating>h.momentum, <floating>decay, h.nesterov)


cdef inline double _loss_and_grad(floating *tag, TrainPlan p, Py_ssize_t rows) noexcept nogil:
    """Mean loss of the batch in A[L] against YB, times `rows`; dLoss/dA[L] into G[L-1].
    With sample weights, the weighted mean ``sum(w[r] * loss[r]) / sum(w)`` (times `rows`)
    and each gradient row scaled by ``w[r] * rows / sum(w)``; the weight decay of the
    update by ``rows / sum(w)`` (scikit-learn's ``alpha * W / sum(w)``; a negative sum
    flips their signs, as there).  A minibatch whose weights sum to 0 contributes no
    loss, gradient or weight decay."""
    cdef int L = p.n_layers
    cdef Py_ssize_t r, j, c = p.width[L]
    cdef const floating *out = <const floating *>p.A[L]
    cdef floating *grad = <floating *>p.G[L - 1]
    cdef floating *lb = <floating *>p.LB
    cdef const floating *w = <const floating *>p.WB
    cdef floating gscale, f
    cdef double total, wsum = 0.0, row_loss
    if p.loss_kind == FNN_LOSS_SOFTMAX_XENT:
        total = _xent_rows(out, <const cnp.npy_intp *>p.YB if p.class_labels else NULL,
                           NULL if p.class_labels else <const floating *>p.YB, rows, c,
                           <floating>p.smoothing, <floating>(1.0 / rows), grad, lb, 1)
    else:
        gscale = <floating>(1.0 / (rows * c))
        total = pointwise_loss(p.loss_kind, out, <const floating *>p.YB, rows * c, gscale,
                               grad, lb) / c
    if p.SW == NULL:
        return total
    for r in range(rows):
        wsum += w[r]
    p.decay_scale = rows / wsum if wsum != 0.0 else 0.0
    total = 0.0
    for r in range(rows):
        f = <floating>(w[r] * p.decay_scale)
        if p.loss_kind == FNN_LOSS_SOFTMAX_XENT:
            row_loss = lb[r]
        else:
            row_loss = 0.0
            for j in range(c):
                row_loss += lb[r * c + j]
            row_loss /= c
        total += f * row_loss
        for j in range(c):
            grad[r * c + j] *= f
    return total
