# Softmax and the losses: row kernels over C-contiguous (n, c) blocks and pointwise
# losses (see kernels.pxi for the layout).
#
# Uses: capi.pxd (fnn_softmax_block_*, fnn_xent_block_*, fnn_loss_sum_*, fnn_mse_run_*,
#       fnn_bce_run_*, fnn_block_rows, FNN_LOSS_*), validate.pxi (checks, prepare_out,
#       c_array, is_flat, reduction_code, _data), parallel.pxi (_threads, _softmax_rows,
#       _xent_rows, _pointwise_loss_chunks, EW_*).
# Provides, for other .pxi files (serial, nogil, fused over float/double):
#   softmax_block(bint log, const floating *x, floating *y, Py_ssize_t nr, Py_ssize_t c)
#       softmax (or log_softmax) of nr <= fnn_block_rows(c) rows of c values; y may be x.
#   xent_block(const floating *x, const cnp.npy_intp *labels, const floating *q,
#              Py_ssize_t nr, Py_ssize_t c, floating smoothing, floating gscale,
#              floating *g, floating *loss)
#       cross-entropy of softmax over nr <= fnn_block_rows(c) rows against labels (or
#       probability rows q when labels is NULL): row losses to `loss`,
#       (softmax - target) * gscale to g (may be x).
#   double loss_sum(const floating *v, Py_ssize_t n)
#   double pointwise_loss(int kind, const floating *a, const floating *t, Py_ssize_t n,
#                         floating gscale, floating *g, floating *loss)
#       FNN_LOSS_MSE, FNN_LOSS_BCE or FNN_LOSS_POISSON over n values: returns the summed loss,
#       g = gradient * gscale.
#   sum_over_rows(const floating *a, Py_ssize_t n, Py_ssize_t m, floating *out)
#       out[j] = sum_i a[i, j] of a C-contiguous (n, m) matrix (bias gradient).
# and the ops: softmax, log_softmax, softmax_cross_entropy, mse, bce_with_logits, poisson_nll,
# column_sum.  Row and reduction loops are in csrc/fnn_loss.h (they need `omp simd
# reduction` to vectorise).
from cython cimport floating
from libc.string cimport memset

from fastnn._kernels.capi cimport (FNN_LOSS_BCE, FNN_LOSS_MSE, FNN_LOSS_POISSON,
                                   fnn_poisson_run_f32, fnn_poisson_run_f64, fnn_bce_run_f32,
                                   fnn_bce_run_f64, fnn_block_rows, fnn_loss_sum_f32,
                                   fnn_loss_sum_f64, fnn_mse_run_f32, fnn_mse_run_f64,
                                   fnn_softmax_block_f32, fnn_softmax_block_f64,
                                   fnn_xent_block_f32, fnn_xent_block_f64)


cdef inline void softmax_block(bint log, const floating *x, floating *y, Py_ssize_t nr,
                               Py_ssize_t c) noexcept nogil:
    """y = softmax(x) (or log_softmax) over nr <= fnn_block_rows(c) rows of c values;
    y may be x."""
    if floating is float:
        fnn_softmax_block_f32(log, x, y, nr, c)
    else:
        fnn_softmax_block_f64(log, x, y, nr, c)


cdef inline void xent_block(const floating *x, const cnp.npy_intp *labels, const floating *q,
                            Py_ssize_t nr, Py_ssize_t c, floating smoothing, floating gscale,
                            floating *g, floating *loss) noexcept nogil:
    """Cross-entropy of nr <= fnn_block_rows(c) rows of c >= 1 logits: row losses to `loss`,
    (softmax - target) * gscale to g (may be x).  Targets: labels when not NULL, else q."""
    if floating is float:
        fnn_xent_block_f32(x, labels, q, nr, c, smoothing, gscale, g, loss)
    else:
        fnn_xent_block_f64(x, labels, q, nr, c, smoothing, gscale, g, loss)


cdef inline double loss_sum(const floating *v, Py_ssize_t n) noexcept nogil:
    """Sum of n values in double, vectorised (a fixed order of its own)."""
    if floating is float:
        return fnn_loss_sum_f32(v, n)
    else:
        return fnn_loss_sum_f64(v, n)


cdef inline double pointwise_loss(int kind, const floating *a, const floating *t, Py_ssize_t n,
                                  floating gscale, floating *g, floating *loss) noexcept nogil:
    """MSE, BCE-with-logits or Poisson (`kind`) over n values: the sum of the losses (in
    double); g = gradient * gscale; per-element losses to `loss` unless it is NULL."""
    if kind == FNN_LOSS_MSE:
        if floating is float:
            return fnn_mse_run_f32(a, t, n, gscale, g, loss)
        else:
            return fnn_mse_run_f64(a, t, n, gscale, g, loss)
    if kind == FNN_LOSS_POISSON:
        if floating is float:
            return fnn_poisson_run_f32(a, t, n, gscale, g, loss)
        else:
            return fnn_poisson_run_f64(a, t, n, gscale, g, loss)
    if floating is float:
        return fnn_bce_run_f32(a, t, n, gscale, g, loss)
    else:
        return fnn_bce_run_f64(a, t, n, gscale, g, loss)


cdef inline void sum_over_rows(const floating *a, Py_ssize_t n, Py_ssize_t m,
                            floating *out) noexcept nogil:
    cdef Py_ssize_t i, j
    memset(out, 0, m * sizeof(floating))
    for i in range(n):
        for j in range(m):
            out[j] += a[i * m + j]


cdef object _softmax(object x, object out, bint log):
    cdef int t = check_float_array(x, "x")
    cdef cnp.ndarray xa = <cnp.ndarray>x
    check_ndim(xa, 2, "x")
    cdef cnp.ndarray oa = prepare_out(out, xa, "out")
    if out is not None:
        check_no_overlap(oa, xa, "out", "x", True)
    cdef cnp.ndarray ya = oa
    if not (is_flat(xa, False) and is_flat(oa, False)):
        xa = c_array(xa)
        ya = oa if is_flat(oa, False) else new_array(2, cnp.PyArray_DIMS(xa), t)
    cdef Py_ssize_t n = cnp.PyArray_DIMS(xa)[0], c = cnp.PyArray_DIMS(xa)[1]
    cdef int nt = _threads(n * c if n > fnn_block_rows(c) else 0, EW_PAR_MATH)
    with nogil:
        if t == cnp.NPY_FLOAT32:
            _softmax_rows(log, <float *>_data(xa), <float *>_data(ya), n, c, nt)
        else:
            _softmax_rows(log, <double *>_data(xa), <double *>_data(ya), n, c, nt)
    if ya is not oa:
        cnp.PyArray_CopyInto(oa, ya)
    return oa


def softmax(x, out=None):
    """Numerically stable softmax over the last axis of a 2-D array; ``out`` may be ``x``."""
    return _softmax(x, out, False)


def log_softmax(x, out=None):
    """``x - logsumexp(x)`` over the last axis of a 2-D array; ``out`` may be ``x``."""
    return _softmax(x, out, True)


cdef cnp.ndarray _check_labels(cnp.ndarray targets, Py_ssize_t n, Py_ssize_t c):
    """Integer class indices of shape (n,) as a new aligned C-contiguous intp array: the
    kernel indexes rows by them with the GIL released, so it reads only its own copy
    (another thread may write the caller's array meanwhile)."""
    if not cnp.PyArray_ISINTEGER(targets):
        raise TypeError("targets of shape (n,) must hold integer class indices; "
                        f"received dtype {targets.dtype}")
    check_shape(targets, 1, n, 0, "targets")
    cdef cnp.ndarray lab = <cnp.ndarray>targets.astype(np.intp, order="C")  # always a copy
    # Unsigned labels above the intp range wrap to negative values: also caught here.
    check_indices(lab, 0, n, c, targets, "targets", "class indices")
    return lab


def softmax_cross_entropy(logits, targets, *, reduction="mean", label_smoothing=0.0,
                          out=None):
    """Fused softmax + cross-entropy over the rows of 2-D ``logits``: ``(loss, grad)``.

    ``targets``: integer class indices of shape (n,) (any integer dtype) or
    probabilities of the logits' shape and dtype.  ``label_smoothing`` in [0, 1]
    mixes the target with the uniform distribution.  ``reduction``: "mean" (loss a
    float, nan for n == 0; grad divided by n), "sum" (float) or "none" (array (n,)).
    ``grad = (softmax(logits) - q) / scale`` goes to ``out``, which may be ``logits``
    itself but must not overlap ``targets``.
    """
    cdef int red = reduction_code(reduction)
    cdef double smoothing = check_real(label_smoothing, "label_smoothing", 0.0, 1.0)
    cdef int t = check_float_array(logits, "logits")
    cdef cnp.ndarray xa = <cnp.ndarray>logits
    check_ndim(xa, 2, "logits")
    cdef cnp.npy_intp n = cnp.PyArray_DIMS(xa)[0], c = cnp.PyArray_DIMS(xa)[1]
    if c == 0:
        raise ValueError(f"logits must have at least one class (column); received shape "
                         f"{_shape_str(xa)}")
    if not cnp.PyArray_Check(targets):
        raise TypeError(f"targets must be a numpy.ndarray; received {type(targets).__name__}")
    cdef cnp.ndarray ta = <cnp.ndarray>targets
    cdef cnp.ndarray lab = None
    if cnp.PyArray_NDIM(ta) == 1:
        lab = _check_labels(ta, n, c)
    elif cnp.PyArray_NDIM(ta) == 2:
        check_float_array(ta, "targets")
        check_same_dtype(xa, ta, "logits", "targets")
        check_same_shape(xa, ta, "logits", "targets")
    else:
        raise ValueError("targets must be class indices of shape (n,) or probabilities of "
                         f"shape (n, C); received shape {_shape_str(ta)}")
    cdef cnp.ndarray ga = prepare_out(out, xa, "out")
    if out is not None:
        check_no_overlap(ga, xa, "out", "logits", True)
        check_no_overlap(ga, ta, "out", "targets", False)
    cdef cnp.ndarray gw = ga
    if not (is_flat(xa, False) and is_flat(ga, False)):
        xa = c_array(xa)
        gw = ga if is_flat(ga, False) else new_array(2, cnp.PyArray_DIMS(xa), t)
    if lab is None:
        ta = c_array(ta)
    cdef int nt = _threads(n * c if n > fnn_block_rows(c) else 0, EW_PAR_MATH)
    cdef cnp.ndarray row_loss = None
    if red == 0 or nt > 1:
        row_loss = new_array(1, &n, t)
    cdef double gscale = 1.0 / n if red == 2 and n > 0 else 1.0
    cdef double total
    cdef const cnp.npy_intp *lp = <const cnp.npy_intp *>_data(lab) if lab is not None else NULL
    cdef void *rl = _data(row_loss) if row_loss is not None else NULL
    cdef void *qp = _data(ta) if lab is None else NULL
    with nogil:
        if t == cnp.NPY_FLOAT32:
            total = _xent_rows(<float *>_data(xa), lp, <float *>qp, n, c,
                               <float>smoothing, <float>gscale, <float *>_data(gw),
                               <float *>rl, nt)
        else:
            total = _xent_rows(<double *>_data(xa), lp, <double *>qp, n, c,
                               smoothing, gscale, <double *>_data(gw),
                               <double *>rl, nt)
    if gw is not ga:
        cnp.PyArray_CopyInto(ga, gw)
    return _reduced(red, total, n, row_loss), ga


cdef object _reduced(int red, double total, Py_ssize_t count, cnp.ndarray per_item):
    if red == 0:
        return per_item
    if red == 1:
        return total
    return total / count if count > 0 else float("nan")


cdef object _pointwise_loss(int kind, object a, object target, object reduction, object out):
    cdef int red = reduction_code(reduction)
    cdef str a_name = {FNN_LOSS_MSE: "pred", FNN_LOSS_POISSON: "log_rate"}.get(kind, "logits")
    cdef int t = check_float_array(a, a_name)
    cdef cnp.ndarray aa = <cnp.ndarray>a
    check_float_like(target, aa, "target", a_name)
    cdef cnp.ndarray ta = <cnp.ndarray>target
    cdef cnp.ndarray ga = prepare_out(out, aa, "out")
    if out is not None:
        check_no_overlap(ga, aa, "out", a_name, True)
        check_no_overlap(ga, ta, "out", "target", True)
    cdef cnp.ndarray gw = ga
    if not flat_together(aa, ta, ga):
        aa = c_array(aa)
        ta = c_array(ta)
        gw = ga if is_flat(ga, False) else empty_c_like(aa)
    cdef Py_ssize_t n = cnp.PyArray_SIZE(aa)
    cdef cnp.ndarray per_item = None
    if red == 0:
        per_item = <cnp.ndarray>PyArray_NewLikeArray(aa, cnp.NPY_KEEPORDER, NULL, 0)
    cdef int nt = _threads(n, EW_PAR_CHEAP if kind == FNN_LOSS_MSE else EW_PAR_MATH)
    cdef cnp.npy_intp nparts = (n + EW_CHUNK - 1) // EW_CHUNK
    cdef cnp.ndarray parts_array
    cdef double *parts = NULL                # chunk sums: only a parallel run needs them
    if nt > 1:
        parts_array = new_array(1, &nparts, cnp.NPY_FLOAT64)
        parts = <double *>_data(parts_array)
    cdef double gscale = 1.0 / n if red == 2 and n > 0 else 1.0
    cdef void *lp = _data(per_item) if per_item is not None else NULL
    cdef double total
    with nogil:
        if t == cnp.NPY_FLOAT32:
            total = _pointwise_loss_chunks(kind, <float *>_data(aa), <float *>_data(ta), n,
                                           <float>gscale, <float *>_data(gw), <float *>lp,
                                           parts, nt)
        else:
            total = _pointwise_loss_chunks(kind, <double *>_data(aa), <double *>_data(ta), n,
                                           gscale, <double *>_data(gw), <double *>lp, parts, nt)
    if gw is not ga:
        cnp.PyArray_CopyInto(ga, gw)
    return _reduced(red, total, n, per_item), ga


def mse(pred, target, *, reduction="mean", out=None):
    """Squared error ``(pred - target)**2`` and its gradient ``2 * (pred - target)``.

    ``reduction``: "mean" over all elements (grad divided by the count), "sum" or
    "none" (loss array of pred's shape).  ``out`` (the gradient) may be either input.
    """
    return _pointwise_loss(FNN_LOSS_MSE, pred, target, reduction, out)


def bce_with_logits(logits, target, *, reduction="mean", out=None):
    """Binary cross-entropy of ``sigmoid(logits)`` against ``target`` in [0, 1].

    Loss ``max(x, 0) - x * t + log1p(exp(-|x|))``, gradient ``sigmoid(x) - t``;
    reductions and ``out`` as for :func:`mse`.
    """
    return _pointwise_loss(FNN_LOSS_BCE, logits, target, reduction, out)


def poisson_nll(log_rate, target, *, str reduction="mean", out=None):
    """Poisson negative log-likelihood with the log link, ``log_rate`` the log of the
    predicted rate: loss ``exp(x) - t * x`` (``log(t!)`` dropped), gradient ``exp(x) - t``;
    reductions and ``out`` as for :func:`mse`.
    """
    return _pointwise_loss(FNN_LOSS_POISSON, log_rate, target, reduction, out)


def column_sum(x, out=None):
    """Sum over the rows of a 2-D array (the bias gradient): shape (m,)."""
    cdef int t = check_float_array(x, "x")
    cdef cnp.ndarray xa = <cnp.ndarray>x
    check_ndim(xa, 2, "x")
    cdef cnp.npy_intp n = cnp.PyArray_DIMS(xa)[0], m = cnp.PyArray_DIMS(xa)[1]
    cdef cnp.ndarray oa
    if out is None:
        oa = new_array(1, &m, t)
    else:
        check_float_array(out, "out")
        oa = <cnp.ndarray>out
        check_same_dtype(xa, oa, "x", "out")
        check_shape(oa, 1, m, 0, "out")
        check_writeable(oa, "out")
        check_no_overlap(oa, xa, "out", "x", False)
    xa = c_array(xa)
    cdef cnp.ndarray ya = oa if is_flat(oa, False) else new_array(1, &m, t)
    with nogil:
        if t == cnp.NPY_FLOAT32:
            sum_over_rows(<float *>_data(xa), n, m, <float *>_data(ya))
        else:
            sum_over_rows(<double *>_data(xa), n, m, <double *>_data(ya))
    if ya is not oa:
        cnp.PyArray_CopyInto(oa, ya)
    return oa
