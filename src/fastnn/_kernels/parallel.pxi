# The thread-chunk drivers: each kernel's work split into pieces computed identically
# whatever the thread count, run on the calling thread or with prange (nogil).
#
# Uses: capi.pxd (fnn_get_num_threads, fnn_block_rows, FNN_BLOCK_ROWS), the raw kernels
#       of activations.pxi, losses.pxi and optim.pxi.
# Provides: EW_CHUNK, EW_PAR_CHEAP, EW_PAR_MATH, _threads(work, threshold), and per
#       kernel a driver: _elementwise_chunks, _pointwise_loss_chunks, _softmax_rows,
#       _xent_rows, _sgd_chunks, _adam_chunks.
#   double _xent_rows(const floating *x, const cnp.npy_intp *labels, const floating *q,
#                     Py_ssize_t n, Py_ssize_t c, floating smoothing, floating gscale,
#                     floating *g, floating *row_loss, int nt)
#       xent_block over all n rows: returns the sum of the row losses (train.pxi uses it).
#
# Pieces are chunks of EW_CHUNK elements or blocks of rows whose size depends on the row
# length only; partial losses are summed serially in a fixed order, so results are
# bitwise identical for every thread count.  Work below a per-kernel size runs on the
# calling thread, without entering an OpenMP region.
from cython cimport floating
from cython.parallel cimport prange

from fastnn._kernels.capi cimport FNN_BLOCK_ROWS, fnn_block_rows, fnn_get_num_threads

cdef enum:
    EW_CHUNK = 8192          # elements per parallel work item (fixed: thread-independent)
    EW_PAR_CHEAP = 1 << 17   # parallel from this many elements: relu, copies, mse, sgd
    EW_PAR_MATH = 1 << 14    # ... exp/tanh/sqrt kernels, softmax and losses


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
                             floating *v, Py_ssize_t n, const AdamScalars *s,
                             double weight_decay, bint decoupled) noexcept nogil:
    cdef Py_ssize_t start = k * EW_CHUNK
    adam_update(param + start, grad + start, m + start, v + start,
                min(<Py_ssize_t>EW_CHUNK, n - start), s, weight_decay, decoupled)


cdef void _adam_chunks(floating *param, const floating *grad, floating *m, floating *v,
                       Py_ssize_t n, long long step, double lr, double beta1, double beta2,
                       double eps, double weight_decay, bint decoupled, int nt) noexcept nogil:
    cdef Py_ssize_t k, nck = (n + EW_CHUNK - 1) // EW_CHUNK
    cdef AdamScalars s
    adam_scalars(&s, step, lr, beta1, beta2, eps)
    if nt > 1:
        for k in prange(nck, schedule='static', num_threads=nt):
            _adam_chunk(k, param, grad, m, v, n, &s, weight_decay, decoupled)
    else:
        for k in range(nck):
            _adam_chunk(k, param, grad, m, v, n, &s, weight_decay, decoupled)
