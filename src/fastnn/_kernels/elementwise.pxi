# Activations, softmax, losses and optimizer steps (see kernels.pxi for the layout).
#
# Raw-pointer kernels for other .pxi files (contiguous buffers, serial, nogil, fused
# over float/double via `floating`; `n` counts elements unless said otherwise):
#
#   act_forward(int act, floating slope, const floating *x, floating *y, Py_ssize_t n)
#       y = act(x) for an FNN_ACT_* code (slope: leaky ReLU); y may be x.
#   act_backward(int act, floating slope, const floating *g, const floating *y,
#                floating *gx, Py_ssize_t n)
#       gx = g * act'(.) from the forward output y; gx may be g.
#   double _xent_rows(const floating *x, const cnp.npy_intp *labels, const floating *q,
#                     Py_ssize_t n, Py_ssize_t c, floating smoothing, floating gscale,
#                     floating *g, floating *row_loss, int nt)
#       cross-entropy of softmax over the rows of a C-contiguous (n, c) matrix against
#       labels (or probability rows q when labels is NULL): returns the sum of the row
#       losses, writes (softmax - target) * gscale to g (may be x).
#   double pointwise_loss(int kind, const floating *a, const floating *t, Py_ssize_t n,
#                         floating gscale, floating *g, floating *loss)
#       FNN_LOSS_MSE or FNN_LOSS_BCE over n values: returns the summed loss,
#       g = gradient * gscale.
#   sum_over_rows(const floating *a, Py_ssize_t n, Py_ssize_t m, floating *out)
#       out[j] = sum_i a[i, j] of a C-contiguous (n, m) matrix (bias gradient).
#   sgd_update(floating *param, const floating *grad, floating *velocity, Py_ssize_t n,
#              floating lr, floating momentum, floating weight_decay, bint nesterov)
#       velocity is only touched when momentum != 0.
#   adam_update(floating *param, const floating *grad, floating *m, floating *v,
#               Py_ssize_t n, long long step, double lr, double beta1, double beta2,
#               double eps, double weight_decay, bint decoupled)
#
# Row and reduction loops live in csrc/fnn_loss.h (they need `omp simd reduction` to
# vectorise), the activation loops in csrc/fnn_math.h.
#
# Threads: each `def` splits its work into chunks of EW_CHUNK elements (or blocks of
# rows whose size depends on the row length only) that are computed identically
# whatever the thread count, and sums partial losses serially in a fixed order, so
# results are bitwise identical for every thread count.  Work below a per-kernel size
# runs on the calling thread, without entering an OpenMP region.
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport sqrt, sqrtf, pow
from libc.string cimport memset

cdef extern from "fnn_math.h" nogil:
    void fnn_act_f32(int act, float slope, const float *x, float *y, Py_ssize_t n)
    void fnn_act_f64(int act, double slope, const double *x, double *y, Py_ssize_t n)
    void fnn_act_backward_f32(int act, float slope, const float *g, const float *y,
                              float *gx, Py_ssize_t n)
    void fnn_act_backward_f64(int act, double slope, const double *g, const double *y,
                              double *gx, Py_ssize_t n)

cdef extern from "fnn_loss.h" nogil:
    enum:
        FNN_BLOCK_ROWS
    Py_ssize_t fnn_block_rows(Py_ssize_t c)
    void fnn_softmax_block_f32(int take_log, const float *x, float *y, Py_ssize_t nr,
                               Py_ssize_t c)
    void fnn_softmax_block_f64(int take_log, const double *x, double *y, Py_ssize_t nr,
                               Py_ssize_t c)
    double fnn_loss_sum_f32(const float *v, Py_ssize_t n)
    double fnn_loss_sum_f64(const double *v, Py_ssize_t n)
    void fnn_xent_block_f32(const float *x, const cnp.npy_intp *y, const float *q,
                            Py_ssize_t nr, Py_ssize_t c, float smooth, float gscale,
                            float *g, float *loss)
    void fnn_xent_block_f64(const double *x, const cnp.npy_intp *y, const double *q,
                            Py_ssize_t nr, Py_ssize_t c, double smooth, double gscale,
                            double *g, double *loss)
    double fnn_mse_run_f32(const float *p, const float *t, Py_ssize_t n, float gscale,
                           float *g, float *loss)
    double fnn_mse_run_f64(const double *p, const double *t, Py_ssize_t n, double gscale,
                           double *g, double *loss)
    double fnn_bce_run_f32(const float *x, const float *t, Py_ssize_t n, float gscale,
                           float *g, float *loss)
    double fnn_bce_run_f64(const double *x, const double *t, Py_ssize_t n, double gscale,
                           double *g, double *loss)

cdef enum:
    EW_CHUNK = 8192          # elements per parallel work item (fixed: thread-independent)
    EW_PAR_CHEAP = 1 << 17   # parallel from this many elements: relu, copies, mse, sgd
    EW_PAR_MATH = 1 << 14    # ... exp/tanh/sqrt kernels, softmax and losses


# ------------------------------------------------------------------ raw kernels
cdef inline void act_forward(int act, floating slope, const floating *x, floating *y,
                             Py_ssize_t n) noexcept nogil:
    if floating is float:
        fnn_act_f32(act, slope, x, y, n)
    else:
        fnn_act_f64(act, slope, x, y, n)


cdef inline void act_backward(int act, floating slope, const floating *g, const floating *y,
                              floating *gx, Py_ssize_t n) noexcept nogil:
    if floating is float:
        fnn_act_backward_f32(act, slope, g, y, gx, n)
    else:
        fnn_act_backward_f64(act, slope, g, y, gx, n)


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
    """MSE or BCE-with-logits (`kind`) over n values: the sum of the losses (in double);
    g = gradient * gscale; per-element losses to `loss` unless it is NULL."""
    if kind == FNN_LOSS_MSE:
        if floating is float:
            return fnn_mse_run_f32(a, t, n, gscale, g, loss)
        else:
            return fnn_mse_run_f64(a, t, n, gscale, g, loss)
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


cdef inline void sgd_update(floating *param, const floating *grad, floating *velocity,
                            Py_ssize_t n, floating lr, floating momentum,
                            floating weight_decay, bint nesterov) noexcept nogil:
    """PyTorch SGD (dampening 0), computed in the dtype of the buffers."""
    cdef Py_ssize_t i
    cdef floating g, v
    for i in range(n):
        g = grad[i]
        if weight_decay != 0:
            g = g + weight_decay * param[i]
        if momentum != 0:
            v = momentum * velocity[i] + g
            velocity[i] = v
            g = g + momentum * v if nesterov else v
        param[i] = param[i] - lr * g


cdef inline floating _sqrt(floating x) noexcept nogil:
    if floating is float:
        return sqrtf(x)
    else:
        return sqrt(x)


cdef inline void adam_update(floating *param, const floating *grad, floating *m, floating *v,
                             Py_ssize_t n, long long step, double lr, double beta1,
                             double beta2, double eps, double weight_decay,
                             bint decoupled) noexcept nogil:
    """Adam (AdamW when `decoupled`) with bias correction for step >= 1."""
    cdef Py_ssize_t i
    cdef floating p, g, mi, vi
    cdef floating b1 = <floating>beta1, c1 = <floating>(1 - beta1)
    cdef floating b2 = <floating>beta2, c2 = <floating>(1 - beta2)
    # 1 / sqrt(1 - beta2**step): a multiply per element instead of a second division
    cdef floating inv_root2 = <floating>(1 / sqrt(1 - pow(beta2, <double>step)))
    cdef floating step_size = <floating>(lr / (1 - pow(beta1, <double>step)))
    cdef floating e = <floating>eps
    cdef floating decay = <floating>(1 - lr * weight_decay)
    cdef floating wd = 0 if decoupled else <floating>weight_decay
    for i in range(n):
        p = param[i] * decay if decoupled else param[i]
        g = grad[i] + wd * p if wd != 0 else grad[i]
        mi = b1 * m[i] + c1 * g
        vi = b2 * v[i] + c2 * (g * g)
        m[i] = mi
        v[i] = vi
        param[i] = p - step_size * (mi / (_sqrt(vi) * inv_root2 + e))


# ------------------------------------------- chunked / row-parallel drivers (nogil)
cdef inline int _threads(Py_ssize_t work, Py_ssize_t threshold) noexcept nogil:
    return fnn_get_num_threads() if work >= threshold else 1


cdef inline void _elementwise_chunk(Py_ssize_t k, bint backward, int act, floating slope,
                                    const floating *a, const floating *b, floating *y,
                                    Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t start = k * EW_CHUNK, m = min(<Py_ssize_t>EW_CHUNK, n - start)
    if backward:
        act_backward(act, slope, a + start, b + start, y + start, m)
    else:
        act_forward(act, slope, a + start, y + start, m)


cdef void _elementwise_chunks(bint backward, int act, floating slope, const floating *a,
                              const floating *b, floating *y, Py_ssize_t n,
                              int nt) noexcept nogil:
    cdef Py_ssize_t k, nck = (n + EW_CHUNK - 1) // EW_CHUNK
    if nt > 1:
        for k in prange(nck, schedule='static', num_threads=nt):
            _elementwise_chunk(k, backward, act, slope, a, b, y, n)
    else:
        for k in range(nck):
            _elementwise_chunk(k, backward, act, slope, a, b, y, n)


cdef inline double _pointwise_loss_chunk(Py_ssize_t k, int kind, const floating *a,
                                         const floating *t, Py_ssize_t n, floating gscale,
                                         floating *g, floating *loss) noexcept nogil:
    cdef Py_ssize_t start = k * EW_CHUNK
    return pointwise_loss(kind, a + start, t + start, min(<Py_ssize_t>EW_CHUNK, n - start),
                          gscale, g + start, loss + start if loss != NULL else NULL)


cdef double _pointwise_loss_chunks(int kind, const floating *a, const floating *t,
                                   Py_ssize_t n, floating gscale, floating *g, floating *loss,
                                   double *parts, int nt) noexcept nogil:
    """Sum of the losses: chunk sums added in chunk order (thread-independent)."""
    cdef Py_ssize_t k, nck = (n + EW_CHUNK - 1) // EW_CHUNK
    cdef double s = 0
    if nt > 1:
        for k in prange(nck, schedule='static', num_threads=nt):
            parts[k] = _pointwise_loss_chunk(k, kind, a, t, n, gscale, g, loss)
        for k in range(nck):
            s += parts[k]
    else:
        for k in range(nck):
            s += _pointwise_loss_chunk(k, kind, a, t, n, gscale, g, loss)
    return s


cdef inline void _softmax_blk(Py_ssize_t b, Py_ssize_t rb, bint log, const floating *x,
                              floating *y, Py_ssize_t n, Py_ssize_t c) noexcept nogil:
    cdef Py_ssize_t start = b * rb
    softmax_block(log, x + start * c, y + start * c, min(rb, n - start), c)


cdef void _softmax_rows(bint log, const floating *x, floating *y, Py_ssize_t n, Py_ssize_t c,
                        int nt) noexcept nogil:
    cdef Py_ssize_t b, rb = fnn_block_rows(c), nb = (n + rb - 1) // rb
    if nt > 1:
        for b in prange(nb, schedule='static', num_threads=nt):
            _softmax_blk(b, rb, log, x, y, n, c)
    else:
        for b in range(nb):
            _softmax_blk(b, rb, log, x, y, n, c)


cdef inline void _xent_blk(Py_ssize_t b, Py_ssize_t rb, const floating *x,
                           const cnp.npy_intp *labels, const floating *q, Py_ssize_t n,
                           Py_ssize_t c, floating smoothing, floating gscale, floating *g,
                           floating *loss) noexcept nogil:
    cdef Py_ssize_t start = b * rb
    xent_block(x + start * c, labels + start if labels != NULL else NULL,
               q + start * c if q != NULL else NULL, min(rb, n - start), c, smoothing, gscale,
               g + start * c, loss)


cdef double _xent_rows(const floating *x, const cnp.npy_intp *labels, const floating *q,
                       Py_ssize_t n, Py_ssize_t c, floating smoothing, floating gscale,
                       floating *g, floating *row_loss, int nt) noexcept nogil:
    """Sum in double of the row losses (block sums, vectorised, added in block order), also
    written to row_loss unless it is NULL (allowed only when nt == 1).  Blocks of rows
    depend on c only."""
    cdef Py_ssize_t b, rb = fnn_block_rows(c), nb = (n + rb - 1) // rb
    cdef double s = 0
    cdef floating block_loss[FNN_BLOCK_ROWS]
    cdef floating *dst
    if nt > 1:
        for b in prange(nb, schedule='static', num_threads=nt):
            _xent_blk(b, rb, x, labels, q, n, c, smoothing, gscale, g, row_loss + b * rb)
        for b in range(nb):
            s += loss_sum(row_loss + b * rb, min(rb, n - b * rb))
        return s
    for b in range(nb):
        dst = row_loss + b * rb if row_loss != NULL else block_loss
        _xent_blk(b, rb, x, labels, q, n, c, smoothing, gscale, g, dst)
        s += loss_sum(dst, min(rb, n - b * rb))
    return s


cdef inline void _sgd_chunk(Py_ssize_t k, floating *param, const floating *grad,
                            floating *velocity, Py_ssize_t n, floating lr, floating momentum,
                            floating weight_decay, bint nesterov) noexcept nogil:
    cdef Py_ssize_t start = k * EW_CHUNK
    sgd_update(param + start, grad + start, velocity + start if velocity != NULL else NULL,
               min(<Py_ssize_t>EW_CHUNK, n - start), lr, momentum, weight_decay, nesterov)


cdef void _sgd_chunks(floating *param, const floating *grad, floating *velocity, Py_ssize_t n,
                      floating lr, floating momentum, floating weight_decay, bint nesterov,
                      int nt) noexcept nogil:
    cdef Py_ssize_t k, nck = (n + EW_CHUNK - 1) // EW_CHUNK
    if nt > 1:
        for k in prange(nck, schedule='static', num_threads=nt):
            _sgd_chunk(k, param, grad, velocity, n, lr, momentum, weight_decay, nesterov)
    else:
        for k in range(nck):
            _sgd_chunk(k, param, grad, velocity, n, lr, momentum, weight_decay, nesterov)


cdef inline void _adam_chunk(Py_ssize_t k, floating *param, const floating *grad, floating *m,
                             floating *v, Py_ssize_t n, long long step, double lr, double beta1,
                             double beta2, double eps, double weight_decay,
                             bint decoupled) noexcept nogil:
    cdef Py_ssize_t start = k * EW_CHUNK
    adam_update(param + start, grad + start, m + start, v + start,
                min(<Py_ssize_t>EW_CHUNK, n - start), step, lr, beta1, beta2, eps,
                weight_decay, decoupled)


cdef void _adam_chunks(floating *param, const floating *grad, floating *m, floating *v,
                       Py_ssize_t n, long long step, double lr, double beta1, double beta2,
                       double eps, double weight_decay, bint decoupled, int nt) noexcept nogil:
    cdef Py_ssize_t k, nck = (n + EW_CHUNK - 1) // EW_CHUNK
    if nt > 1:
        for k in prange(nck, schedule='static', num_threads=nt):
            _adam_chunk(k, param, grad, m, v, n, step, lr, beta1, beta2, eps, weight_decay,
                        decoupled)
    else:
        for k in range(nck):
            _adam_chunk(k, param, grad, m, v, n, step, lr, beta1, beta2, eps, weight_decay,
                        decoupled)


# ----------------------------------------------------------------- entry points
cdef inline void *_data(cnp.ndarray a) noexcept nogil:
    return cnp.PyArray_DATA(a)


cdef object _elementwise(object a, object b, object out, int act, double slope):
    """act(a) (b is None) or a * act'(from output b), written to `out`.

    `out` may be `a` or `b` itself (in place); any other overlap is an error.
    Non-contiguous operands are computed on contiguous copies.
    """
    cdef bint backward = b is not None
    cdef str a_name = "grad_output" if backward else "x"
    cdef int t = check_float_array(a, a_name)
    cdef cnp.ndarray aa = <cnp.ndarray>a
    cdef cnp.ndarray ba = aa
    if backward:
        check_float_like(b, aa, "output", a_name)
        ba = <cnp.ndarray>b
    cdef cnp.ndarray oa = prepare_out(out, aa, "out")
    if out is not None:
        check_no_overlap(oa, aa, "out", a_name, True)
        check_no_overlap(oa, ba, "out", "output", True)
    cdef cnp.ndarray ya = oa
    if not flat_together(aa, ba, oa):
        aa = c_array(aa)
        ba = c_array(ba) if backward else aa
        ya = oa if is_flat(oa, False) else empty_c_like(aa)
    cdef Py_ssize_t n = cnp.PyArray_SIZE(aa)
    cdef int nt = _threads(n, EW_PAR_MATH if act == FNN_ACT_TANH or act == FNN_ACT_SIGMOID
                           else EW_PAR_CHEAP)
    with nogil:
        if t == cnp.NPY_FLOAT32:
            _elementwise_chunks(backward, act, <float>slope, <float *>_data(aa),
                                <float *>_data(ba), <float *>_data(ya), n, nt)
        else:
            _elementwise_chunks(backward, act, slope, <double *>_data(aa),
                                <double *>_data(ba), <double *>_data(ya), n, nt)
    if ya is not oa:
        cnp.PyArray_CopyInto(oa, ya)
    return oa


def relu(x, out=None):
    """``max(x, 0)`` elementwise (NaN propagates); ``out`` may be ``x`` (in place)."""
    return _elementwise(x, None, out, FNN_ACT_RELU, 0.0)


def leaky_relu(x, double negative_slope=0.01, out=None):
    """``x`` where ``x >= 0``, else ``negative_slope * x``; ``out`` may be ``x``."""
    return _elementwise(x, None, out, FNN_ACT_LEAKY_RELU, negative_slope)


def tanh(x, out=None):
    """Hyperbolic tangent elementwise (about 2 ulp); ``out`` may be ``x``."""
    return _elementwise(x, None, out, FNN_ACT_TANH, 0.0)


def sigmoid(x, out=None):
    """Logistic function elementwise, overflow-free; ``out`` may be ``x``."""
    return _elementwise(x, None, out, FNN_ACT_SIGMOID, 0.0)


def identity(x, out=None):
    """A copy of ``x`` (into ``out`` when given)."""
    return _elementwise(x, None, out, FNN_ACT_IDENTITY, 0.0)


def relu_backward(grad_output, output, out=None):
    """``grad_output * (output > 0)``; ``out`` may be either input."""
    return _elementwise(grad_output, output, out, FNN_ACT_RELU, 0.0)


def leaky_relu_backward(grad_output, output, double negative_slope=0.01, out=None):
    """``grad_output`` where ``output > 0``, else ``negative_slope * grad_output``."""
    return _elementwise(grad_output, output, out, FNN_ACT_LEAKY_RELU, negative_slope)


def tanh_backward(grad_output, output, out=None):
    """``grad_output * (1 - output**2)``; ``out`` may be either input."""
    return _elementwise(grad_output, output, out, FNN_ACT_TANH, 0.0)


def sigmoid_backward(grad_output, output, out=None):
    """``grad_output * output * (1 - output)``; ``out`` may be either input."""
    return _elementwise(grad_output, output, out, FNN_ACT_SIGMOID, 0.0)


def identity_backward(grad_output, output, out=None):
    """A copy of ``grad_output`` (``output`` is only checked)."""
    return _elementwise(grad_output, output, out, FNN_ACT_IDENTITY, 0.0)


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
    """Integer class indices of shape (n,) as an aligned C-contiguous intp array."""
    if not cnp.PyArray_ISINTEGER(targets):
        raise TypeError("targets of shape (n,) must hold integer class indices; "
                        f"received dtype {targets.dtype}")
    if cnp.PyArray_DIMS(targets)[0] != n:
        raise ValueError(f"targets must have shape ({n},) to match logits; "
                         f"received shape {_shape_str(targets)}")
    cdef cnp.ndarray lab = targets
    if cnp.PyArray_TYPE(targets) != cnp.NPY_INTP or not is_flat(targets, False):
        lab = <cnp.ndarray>targets.astype(np.intp, order="C")
    cdef const cnp.npy_intp *p = <const cnp.npy_intp *>_data(lab)
    cdef Py_ssize_t i, bad = -1
    with nogil:
        for i in range(n):
            if p[i] < 0 or p[i] >= c:
                bad = i
                break
    # Unsigned labels above the intp range wrap to negative values: also caught here.
    if bad >= 0:
        raise ValueError(f"targets must be class indices in [0, {c}); received "
                         f"{targets[bad]} at index {bad}")
    return lab


def softmax_cross_entropy(logits, targets, *, str reduction="mean",
                          double label_smoothing=0.0, out=None):
    """Fused softmax + cross-entropy over the rows of 2-D ``logits``: ``(loss, grad)``.

    ``targets``: integer class indices of shape (n,) (any integer dtype) or
    probabilities of the logits' shape and dtype.  ``label_smoothing`` in [0, 1]
    mixes the target with the uniform distribution.  ``reduction``: "mean" (loss a
    float, nan for n == 0; grad divided by n), "sum" (float) or "none" (array (n,)).
    ``grad = (softmax(logits) - q) / scale`` goes to ``out``, which may be ``logits``
    itself but must not overlap ``targets``.
    """
    cdef int red = reduction_code(reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1]; received {label_smoothing!r}")
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
                               <float>label_smoothing, <float>gscale, <float *>_data(gw),
                               <float *>rl, nt)
        else:
            total = _xent_rows(<double *>_data(xa), lp, <double *>qp, n, c,
                               label_smoothing, gscale, <double *>_data(gw),
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


cdef object _pointwise_loss(int kind, object a, object target, str reduction, object out):
    cdef int red = reduction_code(reduction)
    cdef str a_name = "pred" if kind == FNN_LOSS_MSE else "logits"
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
    cdef int nt = _threads(n, EW_PAR_MATH if kind == FNN_LOSS_BCE else EW_PAR_CHEAP)
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


def mse(pred, target, *, str reduction="mean", out=None):
    """Squared error ``(pred - target)**2`` and its gradient ``2 * (pred - target)``.

    ``reduction``: "mean" over all elements (grad divided by the count), "sum" or
    "none" (loss array of pred's shape).  ``out`` (the gradient) may be either input.
    """
    return _pointwise_loss(FNN_LOSS_MSE, pred, target, reduction, out)


def bce_with_logits(logits, target, *, str reduction="mean", out=None):
    """Binary cross-entropy of ``sigmoid(logits)`` against ``target`` in [0, 1].

    Loss ``max(x, 0) - x * t + log1p(exp(-|x|))``, gradient ``sigmoid(x) - t``;
    reductions and ``out`` as for :func:`mse`.
    """
    return _pointwise_loss(FNN_LOSS_BCE, logits, target, reduction, out)


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
        if cnp.PyArray_NDIM(oa) != 1 or cnp.PyArray_DIMS(oa)[0] != m:
            raise ValueError(f"out must have shape ({m},); received shape {_shape_str(oa)}")
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


cdef cnp.ndarray _state(object a, cnp.ndarray param, str name, list others):
    """An optimizer state buffer: like `param`, writeable, sharing memory with none of `others`."""
    if a is None:
        raise ValueError(f"{name} is required; received None")
    check_float_like(a, param, name, "param")
    cdef cnp.ndarray s = <cnp.ndarray>a
    check_writeable(s, name)
    for other_name, other in others:
        check_no_overlap(s, <cnp.ndarray>other, name, other_name, False)
    return s


cdef cnp.ndarray _work(cnp.ndarray a, bint flat):
    """`a` when the buffers are flat together, else a C-contiguous copy."""
    return a if flat else <cnp.ndarray>np.array(a, order="C")


def sgd_step(param, grad, *, double lr, double momentum=0.0, velocity=None,
             bint nesterov=False, double weight_decay=0.0):
    """One in-place SGD step (PyTorch's, dampening 0); returns ``param``.

    ``velocity`` (like ``param``, writeable) is required when ``momentum > 0`` and is
    updated in place (ignored otherwise).  No two of ``param``, ``grad``, ``velocity``
    may share memory; non-contiguous buffers work (updated through contiguous copies).
    """
    if not lr >= 0.0:
        raise ValueError(f"Invalid learning rate: {lr}")
    if not momentum >= 0.0:
        raise ValueError(f"Invalid momentum value: {momentum}")
    if not weight_decay >= 0.0:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")
    if nesterov and momentum == 0.0:
        raise ValueError(f"Nesterov momentum requires momentum > 0; received momentum={momentum}")
    cdef int t = check_float_array(param, "param")
    cdef cnp.ndarray pa = <cnp.ndarray>param
    check_writeable(pa, "param")
    check_float_like(grad, pa, "grad", "param")
    cdef cnp.ndarray ga = <cnp.ndarray>grad
    check_no_overlap(pa, ga, "param", "grad", False)
    cdef cnp.ndarray va = pa
    if momentum > 0.0:
        if velocity is None:
            raise ValueError(f"velocity is required when momentum > 0 (momentum={momentum}); "
                             "received None")
        va = _state(velocity, pa, "velocity", [("param", pa), ("grad", ga)])
    cdef bint flat = flat_together(pa, ga, va)
    cdef cnp.ndarray pw = _work(pa, flat), gw = c_array(ga) if not flat else ga
    cdef cnp.ndarray vw = _work(va, flat) if momentum > 0.0 else pw
    cdef Py_ssize_t n = cnp.PyArray_SIZE(pa)
    cdef int nt = _threads(n, EW_PAR_CHEAP)
    with nogil:
        if t == cnp.NPY_FLOAT32:
            _sgd_chunks(<float *>_data(pw), <float *>_data(gw),
                        <float *>_data(vw) if momentum > 0.0 else NULL, n, <float>lr,
                        <float>momentum, <float>weight_decay, nesterov, nt)
        else:
            _sgd_chunks(<double *>_data(pw), <double *>_data(gw),
                        <double *>_data(vw) if momentum > 0.0 else NULL, n, lr, momentum,
                        weight_decay, nesterov, nt)
    if not flat:
        cnp.PyArray_CopyInto(pa, pw)
        if momentum > 0.0:
            cnp.PyArray_CopyInto(va, vw)
    return param


def adam_step(param, grad, m, v, *, step, double lr, double beta1=0.9, double beta2=0.999,
              double eps=1e-8, double weight_decay=0.0, bint decoupled=False):
    """One in-place Adam step (AdamW when ``decoupled``); ``step`` counts from 1.

    ``m`` and ``v`` (like ``param``, writeable) are updated in place; returns ``param``.
    No two of ``param``, ``grad``, ``m``, ``v`` may share memory.
    """
    if isinstance(step, bool) or not isinstance(step, (int, np.integer)):
        raise TypeError(f"step must be an integer >= 1; received {step!r}")
    if step < 1:
        raise ValueError(f"Invalid step: {step}")
    if not lr >= 0.0:
        raise ValueError(f"Invalid learning rate: {lr}")
    if not 0.0 <= beta1 < 1.0:
        raise ValueError(f"Invalid beta parameter at index 0: {beta1}")
    if not 0.0 <= beta2 < 1.0:
        raise ValueError(f"Invalid beta parameter at index 1: {beta2}")
    if not eps >= 0.0:
        raise ValueError(f"Invalid epsilon value: {eps}")
    if not weight_decay >= 0.0:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")
    cdef long long istep = min(step, 1 << 62)
    cdef int t = check_float_array(param, "param")
    cdef cnp.ndarray pa = <cnp.ndarray>param
    check_writeable(pa, "param")
    check_float_like(grad, pa, "grad", "param")
    cdef cnp.ndarray ga = <cnp.ndarray>grad
    check_no_overlap(pa, ga, "param", "grad", False)
    cdef cnp.ndarray ma = _state(m, pa, "m", [("param", pa), ("grad", ga)])
    cdef cnp.ndarray va = _state(v, pa, "v", [("param", pa), ("grad", ga), ("m", ma)])
    cdef bint flat = flat_together(pa, ga, ma) and flat_together(pa, va, va)
    cdef cnp.ndarray pw = _work(pa, flat), gw = ga if flat else c_array(ga)
    cdef cnp.ndarray mw = _work(ma, flat), vw = _work(va, flat)
    cdef Py_ssize_t n = cnp.PyArray_SIZE(pa)
    cdef int nt = _threads(n, EW_PAR_MATH)
    with nogil:
        if t == cnp.NPY_FLOAT32:
            _adam_chunks(<float *>_data(pw), <float *>_data(gw), <float *>_data(mw),
                         <float *>_data(vw), n, istep, lr, beta1, beta2, eps, weight_decay,
                         decoupled, nt)
        else:
            _adam_chunks(<double *>_data(pw), <double *>_data(gw), <double *>_data(mw),
                         <double *>_data(vw), n, istep, lr, beta1, beta2, eps, weight_decay,
                         decoupled, nt)
    if not flat:
        cnp.PyArray_CopyInto(pa, pw)
        cnp.PyArray_CopyInto(ma, mw)
        cnp.PyArray_CopyInto(va, vw)
    return param
