# Activations: forward and backward, elementwise (see kernels.pxi for the layout).
#
# Uses: capi.pxd (fnn_act_*, FNN_ACT_*), validate.pxi (checks, prepare_out, c_array,
#       flat_together, _data), parallel.pxi (_threads, _elementwise_chunks, EW_PAR_*).
# Provides, for other .pxi files (contiguous buffers, serial, nogil, fused over
# float/double; `n` counts elements):
#   act_forward(int act, floating slope, const floating *x, floating *y, Py_ssize_t n)
#       y = act(x) for an FNN_ACT_* code (slope: leaky ReLU); y may be x.
#   act_backward(int act, floating slope, const floating *g, const floating *y,
#                floating *gx, Py_ssize_t n)
#       gx = g * act'(.) from the forward output y; gx may be g.
# and the ops: relu, leaky_relu, tanh, sigmoid, identity and their _backward.
# The loops themselves are in csrc/fnn_math.h.
from cython cimport floating

from fastnn._kernels.capi cimport (FNN_ACT_IDENTITY, FNN_ACT_LEAKY_RELU, FNN_ACT_RELU,
                                   FNN_ACT_SIGMOID, FNN_ACT_TANH, fnn_act_backward_f32,
                                   fnn_act_backward_f64, fnn_act_f32, fnn_act_f64)


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


cdef object _elementwise(object a, object b, object out, int act, double slope, bint backward):
    """act(a) or (`backward`) a * act'(from output b), written to `out`.

    `out` may be `a` or `b` itself (in place); any other overlap is an error.
    Non-contiguous operands are computed on contiguous copies.
    """
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
    return _elementwise(x, None, out, FNN_ACT_RELU, 0.0, False)


def leaky_relu(x, negative_slope=0.01, out=None):
    """``x`` where ``x >= 0``, else ``negative_slope * x`` (finite); ``out`` may be ``x``."""
    return _elementwise(x, None, out, FNN_ACT_LEAKY_RELU,
                        check_real(negative_slope, "negative_slope"), False)


def tanh(x, out=None):
    """Hyperbolic tangent elementwise (about 2 ulp); ``out`` may be ``x``."""
    return _elementwise(x, None, out, FNN_ACT_TANH, 0.0, False)


def sigmoid(x, out=None):
    """Logistic function elementwise, overflow-free; ``out`` may be ``x``."""
    return _elementwise(x, None, out, FNN_ACT_SIGMOID, 0.0, False)


def identity(x, out=None):
    """A copy of ``x`` (into ``out`` when given)."""
    return _elementwise(x, None, out, FNN_ACT_IDENTITY, 0.0, False)


def relu_backward(grad_output, output, out=None):
    """``grad_output * (output > 0)``; ``out`` may be either input."""
    return _elementwise(grad_output, output, out, FNN_ACT_RELU, 0.0, True)


def leaky_relu_backward(grad_output, output, negative_slope=0.01, out=None):
    """``grad_output`` where ``output > 0``, else ``negative_slope * grad_output``."""
    return _elementwise(grad_output, output, out, FNN_ACT_LEAKY_RELU,
                        check_real(negative_slope, "negative_slope"), True)


def tanh_backward(grad_output, output, out=None):
    """``grad_output * (1 - output**2)``; ``out`` may be either input."""
    return _elementwise(grad_output, output, out, FNN_ACT_TANH, 0.0, True)


def sigmoid_backward(grad_output, output, out=None):
    """``grad_output * output * (1 - output)``; ``out`` may be either input."""
    return _elementwise(grad_output, output, out, FNN_ACT_SIGMOID, 0.0, True)


def identity_backward(grad_output, output, out=None):
    """A copy of ``grad_output`` (``output`` is only checked)."""
    return _elementwise(grad_output, output, out, FNN_ACT_IDENTITY, 0.0, True)
