# Optimizer steps: SGD and Adam/AdamW, in place (see kernels.pxi for the layout).
#
# Uses: validate.pxi (checks, c_array, flat_together, _data), parallel.pxi (_threads,
#       _sgd_chunks, _adam_chunks, EW_PAR_*).
# Provides, for other .pxi files (contiguous buffers, serial, nogil, fused over
# float/double; `n` counts elements), with the struct AdamScalars:
#   sgd_update(floating *param, const floating *grad, floating *velocity, Py_ssize_t n,
#              floating lr, floating momentum, floating weight_decay, bint nesterov)
#       velocity is only touched when momentum != 0.
#   adam_scalars(AdamScalars *s, long long step, double lr, double beta1, double beta2,
#                double eps): the per-step scalars of adam_update, computed once per step
#                (two pow calls), not once per chunk of elements;
#   adam_update(floating *param, const floating *grad, floating *m, floating *v,
#               Py_ssize_t n, const AdamScalars *s, double weight_decay, bint decoupled)
#   check_sgd(lr, momentum, nesterov, weight_decay), check_adam(lr, beta1, beta2, eps,
#       weight_decay): the hyperparameter checks of sgd_step/adam_step (TrainPlan's too).
# and the ops: sgd_step, adam_step.
from cython cimport floating
from libc.math cimport pow, sqrt, sqrtf


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


cdef struct AdamScalars:
    # Adam's scalars for one step, in double: adam_update rounds each to the buffers' dtype
    double lr, b1, c1, b2, c2, inv_root2, step_size, eps


cdef inline void adam_scalars(AdamScalars *s, long long step, double lr, double beta1,
                              double beta2, double eps) noexcept nogil:
    """The scalars of Adam's step `step` (>= 1) into s."""
    s.lr, s.b1, s.c1, s.b2, s.c2, s.eps = lr, beta1, 1 - beta1, beta2, 1 - beta2, eps
    # 1 / sqrt(1 - beta2**step): a multiply per element instead of a second division
    s.inv_root2 = 1 / sqrt(1 - pow(beta2, <double>step))
    s.step_size = lr / (1 - pow(beta1, <double>step))


cdef inline void adam_update(floating *param, const floating *grad, floating *m, floating *v,
                             Py_ssize_t n, const AdamScalars *s, double weight_decay,
                             bint decoupled) noexcept nogil:
    """Adam (AdamW when `decoupled`) with bias correction, the step's scalars in `s`."""
    cdef Py_ssize_t i
    cdef floating p, g, mi, vi
    cdef floating b1 = <floating>s.b1, c1 = <floating>s.c1
    cdef floating b2 = <floating>s.b2, c2 = <floating>s.c2
    cdef floating inv_root2 = <floating>s.inv_root2
    cdef floating step_size = <floating>s.step_size
    cdef floating e = <floating>s.eps
    cdef floating decay = <floating>(1 - s.lr * weight_decay)
    cdef floating wd = 0 if decoupled else <floating>weight_decay
    for i in range(n):
        p = param[i] * decay if decoupled else param[i]
        g = grad[i] + wd * p if wd != 0 else grad[i]
        mi = b1 * m[i] + c1 * g
        vi = b2 * v[i] + c2 * (g * g)
        m[i] = mi
        v[i] = vi
        param[i] = p - step_size * (mi / (_sqrt(vi) * inv_root2 + e))


cdef int check_sgd(double lr, double momentum, bint nesterov, double weight_decay) except -1:
    """SGD's hyperparameters: finite, lr, momentum and weight_decay >= 0, Nesterov only
    with momentum."""
    check_real(lr, "lr", 0.0)
    check_real(momentum, "momentum", 0.0)
    check_real(weight_decay, "weight_decay", 0.0)
    if nesterov and momentum == 0.0:
        raise ValueError(f"nesterov requires momentum > 0; received momentum={momentum}")
    return 0


cdef int check_adam(double lr, double beta1, double beta2, double eps,
                    double weight_decay) except -1:
    """Adam's hyperparameters: finite, betas in [0, 1), lr, eps and weight_decay >= 0."""
    check_real(lr, "lr", 0.0)
    check_real(beta1, "beta1", 0.0, 1.0, False, True)
    check_real(beta2, "beta2", 0.0, 1.0, False, True)
    check_real(eps, "eps", 0.0)
    check_real(weight_decay, "weight_decay", 0.0)
    return 0


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


def sgd_step(param, grad, *, lr, momentum=0.0, velocity=None, bint nesterov=False,
             weight_decay=0.0):
    """One in-place SGD step (PyTorch's, dampening 0); returns ``param``.

    ``velocity`` (like ``param``, writeable) is required when ``momentum > 0`` and is
    updated in place (ignored otherwise).  No two of ``param``, ``grad``, ``velocity``
    may share memory; non-contiguous buffers work (updated through contiguous copies).
    """
    cdef double rate = check_real(lr, "lr"), mom = check_real(momentum, "momentum")
    cdef double decay = check_real(weight_decay, "weight_decay")
    check_sgd(rate, mom, nesterov, decay)
    cdef int t = check_float_array(param, "param")
    cdef cnp.ndarray pa = <cnp.ndarray>param
    check_writeable(pa, "param")
    check_float_like(grad, pa, "grad", "param")
    cdef cnp.ndarray ga = <cnp.ndarray>grad
    check_no_overlap(pa, ga, "param", "grad", False)
    cdef cnp.ndarray va = pa
    if mom > 0.0:
        if velocity is None:
            raise ValueError(f"velocity is required when momentum > 0 (momentum={mom}); "
                             "received None")
        va = _state(velocity, pa, "velocity", [("param", pa), ("grad", ga)])
    cdef bint flat = flat_together(pa, ga, va)
    cdef cnp.ndarray pw = _work(pa, flat), gw = c_array(ga) if not flat else ga
    cdef cnp.ndarray vw = _work(va, flat) if mom > 0.0 else pw
    cdef Py_ssize_t n = cnp.PyArray_SIZE(pa)
    cdef int nt = _threads(n, EW_PAR_CHEAP)
    with nogil:
        if t == cnp.NPY_FLOAT32:
            _sgd_chunks(<float *>_data(pw), <float *>_data(gw),
                        <float *>_data(vw) if mom > 0.0 else NULL, n, <float>rate,
                        <float>mom, <float>decay, nesterov, nt)
        else:
            _sgd_chunks(<double *>_data(pw), <double *>_data(gw),
                        <double *>_data(vw) if mom > 0.0 else NULL, n, rate, mom, decay, nesterov, nt)
    if not flat:
        cnp.PyArray_CopyInto(pa, pw)
        if mom > 0.0:
            cnp.PyArray_CopyInto(va, vw)
    return param


def adam_step(param, grad, m, v, *, step, lr, beta1=0.9, beta2=0.999, eps=1e-8,
              weight_decay=0.0, bint decoupled=False):
    """One in-place Adam step (AdamW when ``decoupled``); ``step`` counts from 1.

    ``m`` and ``v`` (like ``param``, writeable) are updated in place; returns ``param``.
    No two of ``param``, ``grad``, ``m``, ``v`` may share memory.
    """
    if isinstance(step, bool) or not isinstance(step, (int, np.integer)):
        raise TypeError(f"step must be an integer >= 1; received {step!r}")
    if step < 1:
        raise ValueError(f"step must be an integer >= 1; received {step!r}")
    cdef double rate = check_real(lr, "lr"), b1 = check_real(beta1, "beta1")
    cdef double b2 = check_real(beta2, "beta2"), e = check_real(eps, "eps")
    cdef double decay = check_real(weight_decay, "weight_decay")
    check_adam(rate, b1, b2, e, decay)
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
                         <float *>_data(vw), n, istep, rate, b1, b2, e, decay,
                         decoupled, nt)
        else:
            _adam_chunks(<double *>_data(pw), <double *>_data(gw), <double *>_data(mw),
                         <double *>_data(vw), n, istep, rate, b1, b2, e, decay,
                         decoupled, nt)
    if not flat:
        cnp.PyArray_CopyInto(pa, pw)
        cnp.PyArray_CopyInto(ma, mw)
        cnp.PyArray_CopyInto(va, vw)
    return param
