# Argument checks shared by the kernels: run with the GIL held, before any loop.
#
# Each check raises TypeError (wrong kind of object or dtype) or ValueError (wrong
# shape, value or memory layout) naming the argument and quoting what it received.
# Helpers on arrays work on the NumPy C API (no Python attribute lookups) so that a
# call on a small array costs tens of nanoseconds.
import numpy as np

cdef extern from "numpy/arrayobject.h":
    # `descr=NULL` keeps the prototype's dtype; `subok=0` gives a base-class ndarray.
    object PyArray_NewLikeArray(cnp.ndarray prototype, cnp.NPY_ORDER order, void *descr,
                                int subok)


cdef inline str _shape_str(cnp.ndarray a):
    return str(tuple([a.shape[i] for i in range(cnp.PyArray_NDIM(a))]))


cdef int check_float_array(object a, str name) except -1:
    """Return the type number of `a`, a native-endian float32/float64 ndarray."""
    if not cnp.PyArray_Check(a):
        raise TypeError(f"{name} must be a numpy.ndarray of float32 or float64; "
                        f"received {type(a).__name__}")
    cdef cnp.ndarray arr = <cnp.ndarray>a
    cdef int t = cnp.PyArray_TYPE(arr)
    cdef object received
    if (t != cnp.NPY_FLOAT32 and t != cnp.NPY_FLOAT64) or not cnp.PyArray_ISNOTSWAPPED(arr):
        received = arr.dtype
        if cnp.PyArray_ISBYTESWAPPED(arr):
            received = received.str
        raise TypeError(f"{name} must have dtype float32 or float64 (native byte order); "
                        f"received dtype {received}")
    return t


cdef int check_same_dtype(cnp.ndarray a, cnp.ndarray b, str a_name, str b_name) except -1:
    if cnp.PyArray_TYPE(a) != cnp.PyArray_TYPE(b):
        raise TypeError(f"{b_name} must have the same dtype as {a_name} ({a.dtype}); "
                        f"received dtype {b.dtype}")
    return 0


cdef int check_ndim(cnp.ndarray a, int ndim, str name) except -1:
    if cnp.PyArray_NDIM(a) != ndim:
        raise ValueError(f"{name} must be {ndim}-D; received a {cnp.PyArray_NDIM(a)}-D array "
                         f"of shape {_shape_str(a)}")
    return 0


cdef int check_same_shape(cnp.ndarray a, cnp.ndarray b, str a_name, str b_name) except -1:
    if not cnp.PyArray_SAMESHAPE(a, b):
        raise ValueError(f"{b_name} must have the shape of {a_name} {_shape_str(a)}; "
                         f"received shape {_shape_str(b)}")
    return 0


cdef int check_writeable(cnp.ndarray a, str name) except -1:
    if not cnp.PyArray_ISWRITEABLE(a):
        raise ValueError(f"{name} must be a writeable array; received a read-only array")
    return 0


cdef int check_float_like(object a, cnp.ndarray like, str name, str like_name) except -1:
    """`a` is a float array with the dtype and shape of `like`."""
    check_float_array(a, name)
    check_same_dtype(like, <cnp.ndarray>a, like_name, name)
    check_same_shape(like, <cnp.ndarray>a, like_name, name)
    return 0


cdef inline bint _extent(cnp.ndarray a, char **lo, char **hi) noexcept:
    """Bytes [lo, hi) spanned by `a`; False when it holds no element."""
    cdef int k
    cdef char *b = cnp.PyArray_BYTES(a)
    cdef char *e = b
    cdef cnp.npy_intp *dims = cnp.PyArray_DIMS(a)
    cdef cnp.npy_intp *st = cnp.PyArray_STRIDES(a)
    for k in range(cnp.PyArray_NDIM(a)):
        if dims[k] == 0:
            return False
        if st[k] < 0:
            b += (dims[k] - 1) * st[k]
        else:
            e += (dims[k] - 1) * st[k]
    lo[0] = b
    hi[0] = e + cnp.PyArray_ITEMSIZE(a)
    return True


cdef inline bint same_view(cnp.ndarray a, cnp.ndarray b) noexcept:
    """`a` and `b` are views of the very same elements in the same order."""
    cdef int k
    if (cnp.PyArray_BYTES(a) != cnp.PyArray_BYTES(b) or cnp.PyArray_NDIM(a) != cnp.PyArray_NDIM(b)
            or cnp.PyArray_ITEMSIZE(a) != cnp.PyArray_ITEMSIZE(b)):
        return False
    for k in range(cnp.PyArray_NDIM(a)):
        if cnp.PyArray_DIMS(a)[k] != cnp.PyArray_DIMS(b)[k]:
            return False
        if cnp.PyArray_DIMS(a)[k] > 1 and cnp.PyArray_STRIDES(a)[k] != cnp.PyArray_STRIDES(b)[k]:
            return False
    return True


cdef int check_no_overlap(cnp.ndarray out, cnp.ndarray a, str out_name, str a_name,
                          bint allow_same) except -1:
    """`out` shares no memory with `a` (or, when `allow_same`, is exactly `a`'s view).

    Conservative: two interleaved views whose byte ranges intersect count as overlapping.
    """
    cdef char *lo1
    cdef char *hi1
    cdef char *lo2
    cdef char *hi2
    if not _extent(out, &lo1, &hi1) or not _extent(a, &lo2, &hi2):
        return 0
    if lo1 < hi2 and lo2 < hi1:
        if allow_same and same_view(out, a):
            return 0
        raise ValueError(f"{out_name} must not overlap {a_name}"
                         + (f" (it may only be {a_name} itself)" if allow_same else "")
                         + "; received an array sharing its memory")
    return 0


cdef cnp.ndarray prepare_out(object out, cnp.ndarray like, str name):
    """`out` checked to be a writeable array of `like`'s dtype and shape, or a new one."""
    if out is None:
        return <cnp.ndarray>PyArray_NewLikeArray(like, cnp.NPY_KEEPORDER, NULL, 0)
    check_float_like(out, like, name, "the result")
    check_writeable(<cnp.ndarray>out, name)
    return <cnp.ndarray>out


cdef cnp.ndarray new_array(int ndim, cnp.npy_intp *dims, int typenum):
    return <cnp.ndarray>cnp.PyArray_EMPTY(ndim, dims, typenum, 0)


cdef cnp.ndarray empty_c_like(cnp.ndarray a):
    """A new C-contiguous array of `a`'s shape and dtype."""
    return <cnp.ndarray>PyArray_NewLikeArray(a, cnp.NPY_CORDER, NULL, 0)


cdef inline bint is_flat(cnp.ndarray a, bint fortran) noexcept:
    """`a` is aligned and C- (or, with `fortran`, F-) contiguous."""
    if not cnp.PyArray_ISALIGNED(a):
        return False
    return cnp.PyArray_IS_F_CONTIGUOUS(a) if fortran else cnp.PyArray_IS_C_CONTIGUOUS(a)


cdef inline bint flat_together(cnp.ndarray a, cnp.ndarray b, cnp.ndarray c) noexcept:
    """`a`, `b`, `c` (`c` may be `a`) walk the same elements in the same memory order."""
    return ((is_flat(a, False) and is_flat(b, False) and is_flat(c, False))
            or (is_flat(a, True) and is_flat(b, True) and is_flat(c, True)))


cdef cnp.ndarray c_array(cnp.ndarray a):
    """`a` itself when aligned and C-contiguous, else an aligned C-contiguous copy."""
    if is_flat(a, False):
        return a
    return <cnp.ndarray>np.array(a, order="C")


cdef int reduction_code(str reduction) except -1:
    """0 for "none", 1 for "sum", 2 for "mean"."""
    if reduction == "mean":
        return 2
    if reduction == "sum":
        return 1
    if reduction == "none":
        return 0
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none'; received {reduction!r}")
