# gemm kernels (see kernels.pxi for the layout): gemm, matmul and linear on top of
# fnn_sgemm / fnn_dgemm (csrc/gemm.c).  The argument checks use the NumPy C API
# directly: a 4x4 matmul costs well under a microsecond in total.
from libc.stddef cimport ptrdiff_t

cdef extern from "gemm.h" nogil:
    void fnn_sgemm(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha,
                   const float *a, ptrdiff_t rsa, ptrdiff_t csa,
                   const float *b, ptrdiff_t rsb, ptrdiff_t csb,
                   float beta, float *c, ptrdiff_t rsc, ptrdiff_t csc,
                   const float *bias, int act, float slope)
    void fnn_dgemm(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, double alpha,
                   const double *a, ptrdiff_t rsa, ptrdiff_t csa,
                   const double *b, ptrdiff_t rsb, ptrdiff_t csb,
                   double beta, double *c, ptrdiff_t rsc, ptrdiff_t csc,
                   const double *bias, int act, double slope)
    enum:
        FNN_GEMM_MAX_NARROW
    ctypedef struct fnn_gemm_tile:
        int rows, min_cols, max_cols
    ctypedef struct fnn_gemm_blocking:
        int mr, nr, kc, mc, nc
        int n_narrow
        fnn_gemm_tile narrow[FNN_GEMM_MAX_NARROW]
        fnn_gemm_tile pairs
        int skinny_m, skinny_nb
    const fnn_gemm_blocking *fnn_sgemm_blocking()
    const fnn_gemm_blocking *fnn_dgemm_blocking()

cdef dict _gemm_tile(fnn_gemm_tile t):
    return {"rows": t.rows, "min_cols": t.min_cols, "max_cols": t.max_cols}


cdef dict _gemm_blocking(const fnn_gemm_blocking *b):
    return {"MR": b.mr, "NR": b.nr, "KC": b.kc, "MC": b.mc, "NC": b.nc,
            "narrow": [_gemm_tile(b.narrow[i]) for i in range(b.n_narrow)],
            "pairs": _gemm_tile(b.pairs) if b.pairs.rows else None,
            "skinny": {"max_rows": b.skinny_m, "col_block": b.skinny_nb}}


#: The GEMM blocking of this compiled path, by dtype name: the numbers the driver runs on
#: (csrc/gemm.h, fnn_gemm_blocking), for tests and tools to derive edge shapes from.
#:   "MR", "NR"  rows and columns of C in the general register tile;
#:   "KC"        most depth of a packed block (k runs in equal blocks of at most KC);
#:   "MC", "NC"  rows of a packed A block, columns of a packed B block;
#:   "narrow"    tiles serving a whole C (a thread's share) of "min_cols".."max_cols"
#:               columns with "rows" rows a call; [] when the path has none;
#:   "pairs"     the tile ("rows", "min_cols".."max_cols") of a packed partial last
#:               column panel (C wider than 2 NR), or None;
#:   "skinny"    products of at most "max_rows" rows run unpacked, "col_block" columns
#:               at a time.
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
    if not cnp.PyArray_Check(obj):
        raise TypeError(f"{name} must be a numpy.ndarray; received: {type(obj).__name__}")
    cdef cnp.ndarray arr = <cnp.ndarray>obj
    cdef int typenum = cnp.PyArray_TYPE(arr)
    if typenum != cnp.NPY_FLOAT and typenum != cnp.NPY_DOUBLE:
        raise TypeError(f"{name} must have dtype float32 or float64; received: {arr.dtype}")
    if cnp.PyArray_NDIM(arr) != ndim:
        raise ValueError(f"{name} must be {ndim}-D; received shape {(<object>arr).shape}")
    if not _gemm_strides_ok(arr):
        arr = <cnp.ndarray>cnp.PyArray_NewCopy(arr, cnp.NPY_CORDER)
    return arr


cdef inline void _gemm_extent(cnp.ndarray arr, char **lo, char **hi):
    """The byte range [lo, hi) spanned by arr (lo == hi when it is empty)."""
    cdef char *base = <char *>cnp.PyArray_DATA(arr)
    cdef cnp.npy_intp *dims = cnp.PyArray_DIMS(arr)
    cdef cnp.npy_intp *strides = cnp.PyArray_STRIDES(arr)
    cdef cnp.npy_intp low = 0, high = cnp.PyArray_ITEMSIZE(arr)
    cdef int d
    for d in range(cnp.PyArray_NDIM(arr)):
        if dims[d] == 0:
            lo[0] = hi[0] = base
            return
        if strides[d] < 0:
            low += (dims[d] - 1) * strides[d]
        else:
            high += (dims[d] - 1) * strides[d]
    lo[0] = base + low
    hi[0] = base + high


cdef inline bint _gemm_overlap(cnp.ndarray x, cnp.ndarray y):
    """np.may_share_memory(x, y): do the byte ranges of x and y intersect?"""
    cdef char *xlo
    cdef char *xhi
    cdef char *ylo
    cdef char *yhi
    _gemm_extent(x, &xlo, &xhi)
    _gemm_extent(y, &ylo, &yhi)
    return xlo < xhi and ylo < yhi and xlo < yhi and ylo < xhi


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
    cdef int typenum = cnp.PyArray_TYPE(a)
    if cnp.PyArray_TYPE(b) != typenum:
        raise TypeError(f"{an} and {bn} must have the same dtype; received {a.dtype} and {b.dtype}")
    cdef int ra = 1 if trans_a else 0
    cdef int rb = 1 if trans_b else 0
    cdef cnp.npy_intp m = cnp.PyArray_DIMS(a)[ra], k = cnp.PyArray_DIMS(a)[1 - ra]
    cdef cnp.npy_intp n = cnp.PyArray_DIMS(b)[1 - rb]
    if cnp.PyArray_DIMS(b)[rb] != k:
        raise ValueError(
            f"inner dimensions do not match: {an}{'.T' if trans_a else ''} has shape "
            f"({m}, {k}) ({an}.shape={(<object>a).shape}), {bn}{'.T' if trans_b else ''} has shape "
            f"({cnp.PyArray_DIMS(b)[rb]}, {n}) ({bn}.shape={(<object>b).shape})")

    cdef cnp.ndarray bias = None
    if bias_obj is not None:
        bias = _gemm_operand(bias_obj, "bias", 1)
        if cnp.PyArray_TYPE(bias) != typenum or cnp.PyArray_DIMS(bias)[0] != n:
            raise ValueError(f"bias must have shape ({n},) and dtype {a.dtype}; "
                             f"received shape {(<object>bias).shape} and dtype {bias.dtype}")

    cdef cnp.ndarray c
    cdef cnp.npy_intp dims[2]
    if out is None:
        if beta != 0.0:
            raise ValueError(f"beta={beta} needs out= (the C operand); received out=None")
        dims[0] = m
        dims[1] = n
        c = <cnp.ndarray>cnp.PyArray_EMPTY(2, dims, typenum, 0)
    else:
        if not cnp.PyArray_Check(out):
            raise TypeError(f"out must be a numpy.ndarray; received: {type(out).__name__}")
        c = <cnp.ndarray>out
        if (cnp.PyArray_TYPE(c) != typenum or cnp.PyArray_NDIM(c) != 2
                or cnp.PyArray_DIMS(c)[0] != m or cnp.PyArray_DIMS(c)[1] != n):
            raise ValueError(f"out must have shape ({m}, {n}) and dtype {a.dtype}; "
                             f"received shape {(<object>c).shape} and dtype {c.dtype}")
        if not cnp.PyArray_ISWRITEABLE(c):
            raise ValueError("out is read-only")
        if not _gemm_strides_ok(c):
            raise ValueError(f"out must be aligned with strides that are multiples of its "
                             f"itemsize; received strides {(<object>c).strides}")
        if ((m > 1 and n > 0 and cnp.PyArray_STRIDES(c)[0] == 0)
                or (n > 1 and m > 0 and cnp.PyArray_STRIDES(c)[1] == 0)):
            raise ValueError(f"out must not have zero strides; received strides {(<object>c).strides}")
        if _gemm_overlap(c, a) or _gemm_overlap(c, b) or (bias is not None and _gemm_overlap(c, bias)):
            raise ValueError("out overlaps an input; pass a separate output array")

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


def gemm(a, b, *, bint trans_a=False, bint trans_b=False, double alpha=1.0, double beta=0.0,
         out=None):
    """``alpha * op(a) @ op(b) + beta * out`` with ``op(x) = x.T`` when ``trans_x``.

    2-D float32 or float64 operands of one dtype, any strides (transposes are views,
    never copies).  With ``beta == 0`` the old contents of ``out`` are never read;
    ``beta != 0`` needs ``out``.  Returns ``out`` when given, else a new array.
    """
    return _gemm(a, b, trans_a, trans_b, alpha, beta, out, None, FNN_ACT_IDENTITY, "a", "b")


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
                         f"{', '.join(map(repr, ACTIVATION_CODES))}; received: {activation!r}")
    return _gemm(x, weight, False, False, 1.0, 0.0, out, bias, <int>code, "x", "weight")
