# Argument checks shared by the kernels: run with the GIL held, before any loop.
#
# Uses: capi.pxd (PyArray_NewLikeArray).
# Provides the one vocabulary of argument errors: every check raises TypeError (wrong
# kind of object or dtype) or ValueError (wrong shape, value or memory layout) with
# the message "<name> must ...; received ...", naming the argument and quoting what it
# received; check_real and check_int do the same for scalar arguments.  Also array helpers: prepare_out, new_array, empty_c_like, c_array,
# is_flat, flat_together, same_view, reduction_code, _data.
# Helpers on arrays work on the NumPy C API (no Python attribute lookups) so that a
# call on a small array costs tens of nanoseconds.
import numpy as np
from libc.math cimport INFINITY, isfinite

from fastnn._kernels.capi cimport PyArray_NewLikeArray


cdef str _range_text(double lo, double hi, bint lo_open, bint hi_open):
    if lo == -INFINITY and hi == INFINITY:
        return "a finite real number"
    if hi == INFINITY:
        return f"a finite real number {'>' if lo_open else '>='} {lo:g}"
    if lo == -INFINITY:
        return f"a finite real number {'<' if hi_open else '<='} {hi:g}"
    return f"a real number in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"


cpdef double check_real(object value, str name, double lo=-INFINITY, double hi=INFINITY,
                        bint lo_open=False, bint hi_open=False) except? -1.0:
    """`value` (a real number: float, int, NumPy scalar; never a string) as a double that
    is finite and within lo..hi (each bound closed unless `*_open`); else TypeError or
    ValueError naming `name`.  The model layer checks its scalars with it too."""
    cdef double x
    try:
        x = value
    except TypeError:
        raise TypeError(f"{name} must be a real number; received {value!r} "
                        f"({type(value).__name__})") from None
    if not (isfinite(x) and (x > lo if lo_open else x >= lo)
            and (x < hi if hi_open else x <= hi)):
        raise ValueError(f"{name} must be {_range_text(lo, hi, lo_open, hi_open)}; "
                         f"received {value!r}")
    return x


cdef inline str _shape_str(cnp.ndarray a):
    return str(tuple([a.shape[i] for i in range(cnp.PyArray_NDIM(a))]))


cdef int check_float_array(object a, str name) except -1:
    """Return the type number of `a`, a native-endian float32/float64 ndarray."""
    if not cnp.PyArray_Check(a):
        raise TypeError(f"{name} must be a numpy.ndarray of float32 or float64; "
                        f"received {type(a).__name__}")
    cdef cnp.ndarray arr = <cnp.ndarray>a
    cdef int t = cnp.PyArray_TYPE(arr)
    if (t != cnp.NPY_FLOAT32 and t != cnp.NPY_FLOAT64) or not cnp.PyArray_ISNOTSWAPPED(arr):
        raise TypeError(f"{name} must have dtype float32 or float64 (native byte order); "
                        f"received dtype {_dtype_str(arr)}")
    return t


cdef str _dtype_str(cnp.ndarray a):
    """`a`'s dtype by name, spelled with its byte order ('>f8') when that is not native."""
    return a.dtype.str if cnp.PyArray_ISBYTESWAPPED(a) else str(a.dtype)


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


cdef str _dims_str(int ndim, const cnp.npy_intp *dims):
    """"length 5" for one dimension, else "shape (2, 3)"."""
    if ndim == 1:
        return f"length {dims[0]}"
    return f"shape {tuple([dims[i] for i in range(ndim)])}"


cdef int check_shape(cnp.ndarray a, int ndim, cnp.npy_intp d0, cnp.npy_intp d1,
                     str name) except -1:
    """`a` has shape (d0,) (ndim 1) or (d0, d1) (ndim 2)."""
    cdef cnp.npy_intp *dims = cnp.PyArray_DIMS(a)
    if (cnp.PyArray_NDIM(a) != ndim or dims[0] != d0 or (ndim == 2 and dims[1] != d1)):
        raise ValueError(f"{name} must have shape {tuple([d0] if ndim == 1 else [d0, d1])}; "
                         f"received shape {_shape_str(a)}")
    return 0


cdef int check_c_contiguous(cnp.ndarray a, str name) except -1:
    if not cnp.PyArray_IS_C_CONTIGUOUS(a):
        raise ValueError(f"{name} must be C-contiguous; received strides {(<object>a).strides}")
    return 0


cdef int check_buffer(object a, int typenum, int ndim, const cnp.npy_intp *dims,
                      bint writeable, str name) except -1:
    """`a` is exactly the buffer a compiled plan keeps a pointer into: an aligned,
    C-contiguous (and, with `writeable`, writeable) array of dtype `typenum` and shape
    dims[:ndim].
    TypeError when `a` is no ndarray, ValueError for anything else."""
    if not cnp.PyArray_Check(a):
        raise TypeError(f"{name} must be a numpy.ndarray; received {type(a).__name__}")
    cdef cnp.ndarray arr = <cnp.ndarray>a
    cdef bint ok = (cnp.PyArray_TYPE(arr) == typenum and cnp.PyArray_ISNOTSWAPPED(arr)
                    and cnp.PyArray_IS_C_CONTIGUOUS(arr) and cnp.PyArray_ISALIGNED(arr)
                    and (cnp.PyArray_ISWRITEABLE(arr) or not writeable)
                    and cnp.PyArray_NDIM(arr) == ndim)
    cdef int i
    for i in range(ndim if ok else 0):
        ok = ok and cnp.PyArray_DIMS(arr)[i] == dims[i]
    if not ok:
        flaws = ([] if cnp.PyArray_IS_C_CONTIGUOUS(arr) else ["non-contiguous"]) + (
            [] if cnp.PyArray_ISALIGNED(arr) else ["unaligned"]) + (
            [] if cnp.PyArray_ISWRITEABLE(arr) else ["read-only"])
        raise ValueError(
            f"{name} must be {'a writeable, ' if writeable else 'an '}aligned, C-contiguous array of dtype "
            f"{np.dtype(cnp.PyArray_TypeObjectFromType(typenum)).name} and "
            f"{_dims_str(ndim, dims)}; received {'a ' + ', '.join(flaws) if flaws else 'an'} "
            f"array of dtype {_dtype_str(arr)} and "
            f"{_dims_str(cnp.PyArray_NDIM(arr), cnp.PyArray_DIMS(arr))}")
    return 0


cdef int check_indices(cnp.ndarray idx, Py_ssize_t start, Py_ssize_t stop, Py_ssize_t hi,
                       object original, str name, str what) except -1:
    """Entries start..stop-1 of `idx` (an aligned C-contiguous intp array) are in [0, hi);
    the error quotes the entry of `original`, the array as the caller received it."""
    cdef const cnp.npy_intp *p = <const cnp.npy_intp *>cnp.PyArray_DATA(idx)
    cdef Py_ssize_t i, bad = -1
    with nogil:
        for i in range(start, stop):
            if <size_t>p[i] >= <size_t>hi:  # also catches negative entries
                bad = i
                break
    if bad >= 0:
        raise ValueError(f"{name} must hold {what} in [0, {hi}); received {original[bad]} "
                         f"at index {bad}, outside that range")
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


cdef inline void *_data(cnp.ndarray a) noexcept nogil:
    return cnp.PyArray_DATA(a)


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


cdef Py_ssize_t check_int(object value, str name) except? -1:
    """`value` (an integer: int, NumPy integer; not a bool) as a Py_ssize_t; TypeError or
    ValueError (beyond the Py_ssize_t range) naming `name`."""
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise TypeError(f"{name} must be an integer; received {value!r} ({type(value).__name__})")
    try:
        return value.__index__()
    except OverflowError:
        raise ValueError(f"{name} must fit a signed 64-bit integer; received {value!r}") from None


cdef int reduction_code(object reduction) except -1:
    """0 for "none", 1 for "sum", 2 for "mean"."""
    if not isinstance(reduction, str):
        raise TypeError(f"reduction must be 'mean', 'sum' or 'none'; received {reduction!r} "
                        f"({type(reduction).__name__})")
    if reduction == "mean":
        return 2
    if reduction == "sum":
        return 1
    if reduction == "none":
        return 0
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none'; received {reduction!r}")
