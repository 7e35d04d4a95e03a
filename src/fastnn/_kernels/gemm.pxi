# Matrix products (see kernels.pxi for the layout): gemm, matmul and linear on top of
# fnn_sgemm / fnn_dgemm (csrc/gemm.c), and the GEMM's blocking as data.
#
# Uses: capi.pxd (fnn_sgemm, fnn_dgemm, fnn_*gemm_blocking, FNN_ACT_IDENTITY),
#       config.pxi (ACTIVATION_CODES), validate.pxi (checks).
# Provides: the ops gemm, matmul, linear; GEMM_BLOCKING; gather_linear (the GEMM on rows
# of X read in place, as TrainPlan runs it: for tests) and, for other .pxi files,
# gemm_gather (fnn_sgemm_gather or fnn_dgemm_gather by the fused type).  The checks work on the NumPy
# C API: a 4x4 matmul costs well under a microsecond in total.
from cython cimport floating
from libc.stddef cimport ptrdiff_t
from libc.stdint cimport int64_t

from fastnn._kernels.capi cimport (FNN_ACT_IDENTITY, fnn_dgemm, fnn_dgemm_blocking,
                                   fnn_dgemm_gather, fnn_gemm_blocking, fnn_gemm_tile,
                                   fnn_sgemm, fnn_sgemm_blocking, fnn_sgemm_gather)


cdef dict _gemm_tile(fnn_gemm_tile t):
    return {"rows": t.rows, "min_cols": t.min_cols, "max_cols": t.max_cols}


cdef dict _gemm_blocking(const fnn_gemm_blocking *b):
    return {"MR": b.mr, "NR": b.nr, "KC": b.kc, "MC": b.mc, "NC": b.nc,
            "narrow": [_gemm_tile(b.narrow[i]) for i in range(b.n_narrow)],
            "pairs": _gemm_tile(b.pairs) if b.pairs.rows else None,
            "cols": _gemm_tile(b.cols) if b.cols.rows else None,
            "skinny": {"max_rows": b.skinny_m, "col_block": b.skinny_nb},
            "gemv": {"max_cols": b.gemv_n} if b.gemv_n else None}


#: The GEMM blocking of this compiled path, by dtype name: the numbers the driver runs on
#: (csrc/gemm.h, fnn_gemm_blocking), for tests and tools to derive edge shapes from.
#:   "MR", "NR"  rows and columns of C in the general register tile;
#:   "KC"        most depth of a packed block (k runs in equal blocks of at most KC);
#:   "MC", "NC"  rows of a packed A block, columns of a packed B block;
#:   "narrow"    tiles serving a whole C (a thread's share) of "min_cols".."max_cols"
#:               columns with "rows" rows a call; [] when the path has none;
#:   "pairs"     the tile ("rows", "min_cols".."max_cols") of a packed partial last
#:               column panel (C wider than 2 NR), or None;
#:   "cols"      the tile ("rows", "min_cols".."max_cols") serving a whole C (a thread's
#:               share) of that many columns with its rows as vectors, or None;
#:   "skinny"    products of at most "max_rows" rows run unpacked, "col_block" columns
#:               at a time;
#:   "gemv"      products of at most "max_cols" columns (A with a unit stride; the most
#:               when A is given transposed) or rows (B with unit row stride) run as
#:               matrix times vectors, or None.
GEMM_BLOCKING = {"float32": _gemm_blocking(fnn_sgemm_blocking()),
                 "float64": _gemm_blocking(fnn_dgemm_blocking())}

# linear(activation=...) -> FNN_ACT_* code
_GEMM_ACTIVATIONS = {None: FNN_ACT_IDENTITY, **ACTIVATION_CODES}
cdef double _GEMM_LEAKY_SLOPE = 0.01
cdef enum:
    # Products with fewer multiply-adds run without releasing the GIL (cheaper).
    _GEMM_NOGIL_MIN_FMA = 4096


cdef inline bint _gemm_strides_ok(cnp.ndarray arr):
    """True when every stride that matters is a multiple of the itemsize and the data is aligned."""
    cdef cnp.npy_intp *dims = cnp.PyArray_DIMS(arr)
    cdef cnp.npy_intp *strides = cnp.PyArray_STRIDES(arr)
    cdef cnp.npy_intp size = cnp.PyArray_ITEMSIZE(arr)
    cdef int d
    for d in range(cnp.PyArray_NDIM(arr)):
        if dims[d] > 1 and strides[d] % size != 0:
            return False
    return cnp.PyArray_ISALIGNED(arr)


cdef inline ptrdiff_t _gemm_stride(cnp.ndarray arr, int d):
    """Stride of axis d in elements (0 for an axis of length <= 1, whose stride is unused)."""
    if cnp.PyArray_DIMS(arr)[d] <= 1:
        return 0
    return cnp.PyArray_STRIDES(arr)[d] // cnp.PyArray_ITEMSIZE(arr)


cdef cnp.ndarray _gemm_operand(object obj, str name, int ndim):
    """obj checked as an ndim-D float32/float64 array; copied when its strides are unusable."""
    check_float_array(obj, name)
    cdef cnp.ndarray arr = <cnp.ndarray>obj
    check_ndim(arr, ndim, name)
    if not _gemm_strides_ok(arr):
        arr = <cnp.ndarray>cnp.PyArray_NewCopy(arr, cnp.NPY_CORDER)
    return arr


cdef str _gemm_op(str name, bint trans):
    return name + ".T" if trans else name


cdef inline void _gemm_call(int typenum, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, double alpha,
                            const void *a, ptrdiff_t rsa, ptrdiff_t csa,
                            const void *b, ptrdiff_t rsb, ptrdiff_t csb, double beta,
                            void *c, ptrdiff_t rsc, ptrdiff_t csc, const void *bias,
                            int act) noexcept nogil:
    """fnn_sgemm or fnn_dgemm by dtype."""
    if typenum == cnp.NPY_FLOAT:
        fnn_sgemm(m, n, k, <float>alpha, <const float *>a, rsa, csa, <const float *>b, rsb, csb,
                  <float>beta, <float *>c, rsc, csc, <const float *>bias, act,
                  <float>_GEMM_LEAKY_SLOPE)
    else:
        fnn_dgemm(m, n, k, alpha, <const double *>a, rsa, csa, <const double *>b, rsb, csb,
                  beta, <double *>c, rsc, csc, <const double *>bias, act, _GEMM_LEAKY_SLOPE)


cdef object _gemm(object a_obj, object b_obj, bint trans_a, bint trans_b, double alpha,
                  double beta, object out, object bias_obj, int act, str an, str bn):
    """Check everything with the GIL held, then out = act(alpha op(a) @ op(b) + beta out + bias)."""
    cdef cnp.ndarray a = _gemm_operand(a_obj, an, 2)
    cdef cnp.ndarray b = _gemm_operand(b_obj, bn, 2)
    check_same_dtype(a, b, an, bn)
    cdef int typenum = cnp.PyArray_TYPE(a)
    cdef int ra = 1 if trans_a else 0
    cdef int rb = 1 if trans_b else 0
    cdef cnp.npy_intp m = cnp.PyArray_DIMS(a)[ra], k = cnp.PyArray_DIMS(a)[1 - ra]
    cdef cnp.npy_intp n = cnp.PyArray_DIMS(b)[1 - rb]
    if cnp.PyArray_DIMS(b)[rb] != k:
        raise ValueError(f"{_gemm_op(bn, trans_b)} must have {k} rows, the columns of "
                         f"{_gemm_op(an, trans_a)} (shape {(m, k)}); received shape "
                         f"{(cnp.PyArray_DIMS(b)[rb], n)}")

    cdef cnp.ndarray bias = None
    if bias_obj is not None:
        bias = _gemm_operand(bias_obj, "bias", 1)
        check_same_dtype(a, bias, an, "bias")
        check_shape(bias, 1, n, 0, "bias")

    cdef cnp.ndarray c
    cdef cnp.npy_intp dims[2]
    if out is None:
        if beta != 0.0:
            raise ValueError(f"out (the C operand) is required when beta != 0 (beta={beta}); "
                             "received None")
        dims[0] = m
        dims[1] = n
        c = <cnp.ndarray>cnp.PyArray_EMPTY(2, dims, typenum, 0)
    else:
        check_float_array(out, "out")
        c = <cnp.ndarray>out
        check_same_dtype(a, c, an, "out")
        check_shape(c, 2, m, n, "out")
        check_writeable(c, "out")
        if not _gemm_strides_ok(c):
            raise ValueError(f"out must be aligned with strides that are multiples of its "
                             f"itemsize; received strides {(<object>c).strides}")
        if ((m > 1 and n > 0 and cnp.PyArray_STRIDES(c)[0] == 0)
                or (n > 1 and m > 0 and cnp.PyArray_STRIDES(c)[1] == 0)):
            raise ValueError(f"out must not have zero strides; received strides {(<object>c).strides}")
        check_no_overlap(c, a, "out", an, False)
        check_no_overlap(c, b, "out", bn, False)
        if bias is not None:
            check_no_overlap(c, bias, "out", "bias", False)

    cdef void *pa = cnp.PyArray_DATA(a)
    cdef void *pb = cnp.PyArray_DATA(b)
    cdef void *pc = cnp.PyArray_DATA(c)
    cdef void *pbias = NULL if bias is None else cnp.PyArray_DATA(bias)
    cdef ptrdiff_t rsa = _gemm_stride(a, ra), csa = _gemm_stride(a, 1 - ra)
    cdef ptrdiff_t rsb = _gemm_stride(b, rb), csb = _gemm_stride(b, 1 - rb)
    cdef ptrdiff_t rsc = _gemm_stride(c, 0), csc = _gemm_stride(c, 1)
    if bias is not None and n > 1 and _gemm_stride(bias, 0) != 1:  # the C API takes a contiguous bias
        bias = <cnp.ndarray>cnp.PyArray_NewCopy(bias, cnp.NPY_CORDER)
        pbias = cnp.PyArray_DATA(bias)
    if m * n * k < _GEMM_NOGIL_MIN_FMA:
        _gemm_call(typenum, m, n, k, alpha, pa, rsa, csa, pb, rsb, csb, beta, pc, rsc, csc, pbias, act)
    else:
        with nogil:
            _gemm_call(typenum, m, n, k, alpha, pa, rsa, csa, pb, rsb, csb, beta, pc, rsc, csc,
                       pbias, act)
    return c


def gemm(a, b, *, bint trans_a=False, bint trans_b=False, alpha=1.0, beta=0.0, out=None):
    """``alpha * op(a) @ op(b) + beta * out`` with ``op(x) = x.T`` when ``trans_x``.

    2-D float32 or float64 operands of one dtype, any strides (transposes are views,
    never copies).  With ``beta == 0`` the old contents of ``out`` are never read;
    ``beta != 0`` needs ``out``.  ``alpha`` and ``beta`` are finite real numbers.
    Returns ``out`` when given, else a new array.
    """
    return _gemm(a, b, trans_a, trans_b, check_real(alpha, "alpha"), check_real(beta, "beta"),
                 out, None, FNN_ACT_IDENTITY, "a", "b")


def matmul(a, b, out=None):
    """``a @ b`` for 2-D float32 or float64 arrays of one dtype (any strides)."""
    return _gemm(a, b, False, False, 1.0, 0.0, out, None, FNN_ACT_IDENTITY, "a", "b")


def linear(x, weight, bias=None, activation=None, out=None):
    """Fused dense layer ``act(x @ weight + bias)``; ``weight`` has shape (in, out).

    ``activation``: None/"identity", "relu", "leaky_relu" (slope 0.01), "tanh" or
    "sigmoid".  Bias and activation are applied to each output tile as it leaves the
    micro-kernel, not in extra passes over the output.
    """
    cdef object code = _GEMM_ACTIVATIONS.get(activation) if isinstance(activation, (str, type(None))) else None
    if code is None:
        raise ValueError(f"activation must be one of None, "
                         f"{', '.join(map(repr, ACTIVATION_CODES))}; received {activation!r}")
    return _gemm(x, weight, False, False, 1.0, 0.0, out, bias, <int>code, "x", "weight")


cdef inline int gemm_gather(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const floating *a,
                            Py_ssize_t rsa, Py_ssize_t csa, const int64_t *idx, bint idx_cols,
                            const floating *b, Py_ssize_t rsb, Py_ssize_t csb, floating *c,
                            const floating *bias, int act, double slope) noexcept nogil:
    """c (m x n, C-contiguous) = act(A @ b + bias) with A's rows (``idx_cols``: columns)
    gathered from `a` through `idx` (csrc/gemm.h, fnn_sgemm_gather); 0, or -1 when the
    caller must gather A itself (c then unspecified)."""
    if floating is float:
        return fnn_sgemm_gather(m, n, k, 1.0, a, rsa, csa, idx, idx_cols, b, rsb, csb, c, n,
                                bias, act, <float>slope)
    else:
        return fnn_dgemm_gather(m, n, k, 1.0, a, rsa, csa, idx, idx_cols, b, rsb, csb, c, n,
                                bias, act, slope)


def gather_linear(x, rows, weight, bias=None, activation=None, *, bint transpose=False):
    """``act(x[rows] @ weight + bias)``, or ``x[rows].T @ weight`` with ``transpose``, the
    rows of the C-contiguous ``x`` read in place (``rows``: int64 row indices); returns
    ``(out, in_place)``.  ``in_place`` is False when the shapes are ones the GEMM does
    not pack (``out`` then comes from the gathered rows): the compiled epochs' first-layer
    products, exposed for tests."""
    typenum = check_float_array(x, "x")
    check_ndim(<cnp.ndarray>x, 2, "x")
    check_c_contiguous(<cnp.ndarray>x, "x")
    if not cnp.PyArray_ISALIGNED(<cnp.ndarray>x):
        raise ValueError("x must be an aligned array; received an unaligned one")
    w = _gemm_operand(weight, "weight", 2)
    check_same_dtype(<cnp.ndarray>x, w, "x", "weight")
    cdef cnp.npy_intp n_rows = len(rows) if cnp.PyArray_Check(rows) else -1
    check_buffer(rows, cnp.NPY_INT64, 1, &n_rows, False, "rows")
    own = (<cnp.ndarray>rows).copy()
    check_indices(own, 0, n_rows, x.shape[0], rows, "rows", "row indices of x")
    cdef Py_ssize_t d = x.shape[1]
    cdef Py_ssize_t m = d if transpose else n_rows, k = n_rows if transpose else d
    if w.shape[0] != k:
        raise ValueError(f"weight must have {k} rows, the columns of x[rows]{'.T' if transpose else ''} "
                         f"(shape {(m, k)}); received shape {(<object>w).shape}")
    code = _GEMM_ACTIVATIONS.get(activation) if isinstance(activation, (str, type(None))) else None
    if code is None:
        raise ValueError(f"activation must be one of None, "
                         f"{', '.join(map(repr, ACTIVATION_CODES))}; received {activation!r}")
    cdef cnp.ndarray b = None
    if bias is not None:
        b = np.ascontiguousarray(_gemm_operand(bias, "bias", 1))
        check_same_dtype(<cnp.ndarray>x, b, "x", "bias")
        check_shape(b, 1, (<object>w).shape[1], 0, "bias")
    cdef Py_ssize_t n = w.shape[1]
    out = np.empty((m, n), x.dtype)
    cdef int status = -1
    if m > 0 and n > 0:
        status = _gather_linear(<cnp.ndarray>x, own, w, b, <cnp.ndarray>out, transpose, code)
    if status != 0:
        xr = x[own]
        out = _gemm(xr, w, transpose, False, 1.0, 0.0, None, b, code, "x[rows]", "weight")
    return out, status == 0


cdef int _gather_linear(cnp.ndarray x, cnp.ndarray rows, cnp.ndarray w, cnp.ndarray bias,
                        cnp.ndarray out, bint transpose, int act):
    cdef Py_ssize_t d = x.shape[1], n_rows = rows.shape[0], n = w.shape[1]
    cdef Py_ssize_t m = d if transpose else n_rows, k = n_rows if transpose else d
    cdef Py_ssize_t rsa = 1 if transpose else d, csa = d if transpose else 1
    cdef Py_ssize_t rsw = _gemm_stride(w, 0), csw = _gemm_stride(w, 1)
    cdef const int64_t *idx = <const int64_t *>cnp.PyArray_DATA(rows)
    cdef int status
    with nogil:
        if cnp.PyArray_TYPE(x) == cnp.NPY_FLOAT64:
            status = gemm_gather(m, n, k, <const double *>cnp.PyArray_DATA(x), rsa, csa, idx,
                                 transpose, <const double *>cnp.PyArray_DATA(w), rsw, csw,
                                 <double *>cnp.PyArray_DATA(out),
                                 NULL if bias is None else <const double *>cnp.PyArray_DATA(bias),
                                 act, _GEMM_LEAKY_SLOPE)
        else:
            status = gemm_gather(m, n, k, <const float *>cnp.PyArray_DATA(x), rsa, csa, idx,
                                 transpose, <const float *>cnp.PyArray_DATA(w), rsw, csw,
                                 <float *>cnp.PyArray_DATA(out),
                                 NULL if bias is None else <const float *>cnp.PyArray_DATA(bias),
                                 act, _GEMM_LEAKY_SLOPE)
    return status
