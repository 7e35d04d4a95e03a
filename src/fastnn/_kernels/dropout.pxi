# Dropout: inverted dropout and its backward pass (see kernels.pxi for the layout).
#
# Uses: capi.pxd (fnn_dropout_*: the mask convention is in csrc/fnn_dropout.h),
#       validate.pxi (checks, prepare_out, c_array, empty_c_like, is_flat, _data),
#       parallel.pxi (_threads, EW_CHUNK, EW_PAR_CHEAP).
# Provides, for train.pxi:
#   dropout_chunks(const floating *x, floating *y, Py_ssize_t n, uint64_t key,
#                  uint64_t threshold, floating scale, int nt)
#       y = x * scale where kept, else 0, over n elements (y may be x), in chunks of
#       EW_CHUNK on nt threads: the mask depends on the element index only.
# and the ops dropout, dropout_backward.
from cython cimport floating
from cython.parallel cimport prange
from libc.stdint cimport uint64_t

from fastnn._kernels.capi cimport (fnn_dropout_f32, fnn_dropout_f64, fnn_dropout_key,
                                   fnn_dropout_threshold)


cdef inline void _dropout_block(const floating *x, floating *y, Py_ssize_t first, Py_ssize_t n,
                                uint64_t key, uint64_t threshold, floating scale) noexcept nogil:
    if floating is float:
        fnn_dropout_f32(x, y, first, n, key, threshold, scale)
    else:
        fnn_dropout_f64(x, y, first, n, key, threshold, scale)


cdef void dropout_chunks(const floating *x, floating *y, Py_ssize_t n, uint64_t key,
                         uint64_t threshold, floating scale, int nt) noexcept nogil:
    cdef Py_ssize_t k, nck = (n + EW_CHUNK - 1) // EW_CHUNK
    if nt > 1:
        for k in prange(nck, schedule='static', num_threads=nt):
            _dropout_block(x, y, k * EW_CHUNK, min(<Py_ssize_t>EW_CHUNK, n - k * EW_CHUNK),
                           key, threshold, scale)
    else:
        _dropout_block(x, y, 0, n, key, threshold, scale)


cdef uint64_t check_dropout_seed(object seed, str name) except? 0:
    """`seed` (an integer in [0, 2**64), not a bool) as a uint64_t."""
    if isinstance(seed, bool) or not hasattr(seed, "__index__"):
        raise TypeError(f"{name} must be an integer in [0, 2**64); received {seed!r} "
                        f"({type(seed).__name__})")
    value = seed.__index__()
    if not 0 <= value < 2 ** 64:
        raise ValueError(f"{name} must be an integer in [0, 2**64); received {seed!r}")
    return <uint64_t>value


cdef object _dropout(object x, object p, object seed, object step, object out, str x_name):
    """The kernel of dropout and dropout_backward: `x` times the mask's scale, into `out`
    (which may be `x` itself; any other overlap is an error)."""
    cdef int t = check_float_array(x, x_name)
    cdef double rate = check_real(p, "p", 0.0, 1.0, False, True)
    cdef uint64_t s = check_dropout_seed(seed, "seed")
    cdef Py_ssize_t k = check_int(step, "step")
    if k < 0:
        raise ValueError(f"step must be an integer >= 0; received {step!r}")
    cdef cnp.ndarray xa = <cnp.ndarray>x
    cdef cnp.ndarray oa
    if out is None:
        oa = empty_c_like(xa)
    else:
        oa = prepare_out(out, xa, "out")
        check_no_overlap(oa, xa, "out", x_name, True)
    cdef cnp.ndarray src = c_array(xa)   # the mask follows the C order of the elements
    cdef cnp.ndarray dst = oa if is_flat(oa, False) else empty_c_like(xa)
    cdef Py_ssize_t n = cnp.PyArray_SIZE(xa)
    cdef uint64_t key = fnn_dropout_key(s, <uint64_t>k)
    cdef uint64_t threshold = fnn_dropout_threshold(rate)
    cdef double scale = 1.0 / (1.0 - rate)
    cdef int nt = _threads(n, EW_PAR_CHEAP)
    with nogil:
        if t == cnp.NPY_FLOAT32:
            dropout_chunks(<const float *>_data(src), <float *>_data(dst), n, key, threshold,
                           <float>scale, nt)
        else:
            dropout_chunks(<const double *>_data(src), <double *>_data(dst), n, key, threshold,
                           scale, nt)
    if dst is not oa:
        cnp.PyArray_CopyInto(oa, dst)
    return oa


def dropout(x, p, *, seed, step=0, out=None):
    """Inverted dropout: ``x * (1 / (1 - p))`` where the mask keeps an element, else 0.

    The mask is a hash of ``(seed, step, i)`` for the element of C-order index ``i``
    (``fastnn.reference.dropout_mask``; each element kept with probability ``1 - p``):
    the same for every thread count and memory layout.  ``p`` in [0, 1), ``seed`` an
    integer in [0, 2**64), ``step`` an integer >= 0 (a network: one seed per dropout
    layer, one step per minibatch).  ``out`` may be ``x`` (in place).
    """
    return _dropout(x, p, seed, step, out, "x")


def dropout_backward(grad_output, p, *, seed, step=0, out=None):
    """The gradient of :func:`dropout` with the same ``p``, ``seed`` and ``step``:
    ``grad_output`` times the same mask and scale (nothing is stored between the two
    calls: the mask is hashed again).  ``out`` may be ``grad_output``."""
    return _dropout(grad_output, p, seed, step, out, "grad_output")
