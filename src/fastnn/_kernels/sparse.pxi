# Sparse rows times a dense weight: the first layer of a network on bag-of-words or
# TF-IDF features, with X in CSR form (see kernels.pxi for the layout).
#
# Uses: capi.pxd (FNN_ACT_IDENTITY), validate.pxi (checks, c_array, _data),
#       activations.pxi (act_forward), parallel.pxi (_threads, EW_PAR_CHEAP),
#       gemm.pxi (_GEMM_ACTIVATIONS, _GEMM_LEAKY_SLOPE).
# Provides, for train.pxi (nogil, fused over float/double; the index type, int32 or
# int64, is dispatched inside):
#   CSROperand, csr_operand(x, name, n_cols)
#       a CSR matrix checked once (every index pointer and column index in range);
#   csr_linear(x, rows, n_rows, w, n_out, bias, act, slope, out, nt)
#       out = act(x[rows] @ w + bias), rows of x by index (NULL: 0..n_rows-1);
#   csr_weight_grad(x, rows, n_rows, dz, n_out, dw, nt)
#       dw += x[rows].T @ dz, touching only the rows of dw that the nonzeros select,
#       in column blocks of GRAD_COLS (the same blocks whatever the thread count);
#   csr_clear_rows(x, rows, n_rows, dw, n_out)
#       zero the rows of dw that the nonzeros of x[rows] select;
# and the ops sparse_linear, sparse_linear_backward.
#
# Every output row of the forward pass is computed by one thread, its nonzeros in
# storage order; the weight gradient is split over column blocks, each accumulating the
# rows in order: results are bitwise identical for every thread count.  Duplicate
# entries add up and explicit zeros contribute zero, as in scipy.sparse.
from cython cimport floating
from cython.parallel cimport prange
from libc.stdint cimport int32_t, int64_t, uint64_t
from libc.string cimport memcpy, memset

from fastnn._kernels.capi cimport FNN_ACT_IDENTITY

ctypedef fused csr_index:
    int32_t
    int64_t

cdef enum:
    CSR_ROW_BLOCK = 32     # output rows per parallel work item of the forward pass
    GRAD_COLS = 64         # weight-gradient columns per work item


cdef class CSROperand:
    """A checked CSR matrix: ``indptr`` and ``indices`` of one integer type (int32 or
    int64), ``data`` float32/float64, all C-contiguous, every index in range."""

    cdef readonly Py_ssize_t n_rows, n_cols
    cdef readonly cnp.ndarray indptr, indices, data
    cdef int typenum
    cdef bint wide          # int64 indices (else int32)
    cdef const void *pdata
    cdef const void *pindices
    cdef const void *pindptr


cdef cnp.ndarray _csr_index_array(object a, object dtype, str name):
    arr = np.asarray(a)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integers; received dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D; received shape {arr.shape}")
    # always a copy: the kernels index by it with the GIL released (and a TrainPlan for a
    # whole fit), so another thread or a callback must not be able to change it after the
    # check
    return <cnp.ndarray>np.array(arr, dtype=dtype, order="C")


cdef Py_ssize_t _csr_bad_pointer(const csr_index *indptr, Py_ssize_t n,
                                 Py_ssize_t nnz_max) noexcept nogil:
    """First i where indptr is not 0 <= indptr[0] <= ... <= indptr[n] <= nnz_max, or -1."""
    cdef Py_ssize_t i
    if indptr[0] < 0:
        return 0
    for i in range(n):
        if indptr[i + 1] < indptr[i]:
            return i + 1
    return n if indptr[n] > nnz_max else -1


cdef Py_ssize_t _csr_bad_index(const csr_index *indices, Py_ssize_t k0, Py_ssize_t k1,
                               Py_ssize_t hi) noexcept nogil:
    """First k in k0..k1-1 with indices[k] outside [0, hi), or -1."""
    cdef Py_ssize_t k
    for k in range(k0, k1):
        if <uint64_t>indices[k] >= <uint64_t>hi:  # also catches negative entries
            return k
    return -1


cdef CSROperand csr_operand(object x, str name, Py_ssize_t n_cols):
    """``x`` (any object with scipy's CSR attributes shape, indptr, indices, data) checked
    for a product with a weight of ``n_cols`` rows (``n_cols < 0``: any)."""
    fmt = getattr(x, "format", "csr")
    if fmt != "csr":
        raise TypeError(f"{name} must be a CSR matrix; received format {fmt!r} "
                        f"(convert it with {name}.tocsr())")
    try:
        shape, indptr, indices, data = x.shape, x.indptr, x.indices, x.data
    except AttributeError:
        raise TypeError(f"{name} must be a CSR matrix (shape, indptr, indices and data, like "
                        f"scipy.sparse.csr_array); received {type(x).__name__}") from None
    if (not isinstance(shape, tuple) or len(shape) != 2
            or not all(isinstance(s, (int, np.integer)) and s >= 0 for s in shape)):
        raise ValueError(f"{name}.shape must be two non-negative integers; received {shape!r}")
    cdef CSROperand op = CSROperand.__new__(CSROperand)
    op.n_rows, op.n_cols = shape
    if n_cols >= 0 and op.n_cols != n_cols:
        raise ValueError(f"{name} must have {n_cols} columns, the rows of weight; received "
                         f"shape {shape}")
    wide = np.asarray(indptr).dtype != np.int32 or np.asarray(indices).dtype != np.int32
    dtype = np.int64 if wide else np.int32
    op.indptr = _csr_index_array(indptr, dtype, f"{name}.indptr")
    op.indices = _csr_index_array(indices, dtype, f"{name}.indices")
    op.wide = wide
    op.typenum = check_float_array(data, f"{name}.data")
    check_ndim(<cnp.ndarray>data, 1, f"{name}.data")
    op.data = c_array(<cnp.ndarray>data)
    check_shape(op.indptr, 1, op.n_rows + 1, 0, f"{name}.indptr")
    cdef Py_ssize_t nnz_max = min(op.indices.shape[0], op.data.shape[0]), bad, k0, k1
    with nogil:
        if op.wide:
            bad = _csr_bad_pointer(<const int64_t *>_data(op.indptr), op.n_rows, nnz_max)
        else:
            bad = _csr_bad_pointer(<const int32_t *>_data(op.indptr), op.n_rows, nnz_max)
    if bad >= 0:
        raise ValueError(f"{name}.indptr must start at >= 0, never decrease and end at most "
                         f"at the length of indices and data ({nnz_max}); received "
                         f"{op.indptr[bad]} at index {bad}")
    k0, k1 = op.indptr[0], op.indptr[op.n_rows]
    with nogil:
        if op.wide:
            bad = _csr_bad_index(<const int64_t *>_data(op.indices), k0, k1, op.n_cols)
        else:
            bad = _csr_bad_index(<const int32_t *>_data(op.indices), k0, k1, op.n_cols)
    op.pdata, op.pindices, op.pindptr = _data(op.data), _data(op.indices), _data(op.indptr)
    if bad >= 0:
        raise ValueError(f"{name}.indices must hold column indices in [0, {op.n_cols}); "
                         f"received {op.indices[bad]} at index {bad}, outside that range")
    return op


cdef inline void _csr_row(const floating *data, const csr_index *indices, Py_ssize_t k0,
                          Py_ssize_t k1, const floating *w, Py_ssize_t n_out,
                          const floating *bias, int act, floating slope,
                          floating *out) noexcept nogil:
    """out (n_out) = act(bias + sum over k0..k1-1 of data[k] * w[indices[k]])."""
    cdef Py_ssize_t k, j
    cdef floating v
    cdef const floating *wr
    if bias != NULL:
        memcpy(out, bias, n_out * sizeof(floating))
    else:
        memset(out, 0, n_out * sizeof(floating))
    for k in range(k0, k1):
        v = data[k]
        wr = w + <Py_ssize_t>indices[k] * n_out
        for j in range(n_out):
            out[j] += v * wr[j]
    if act != FNN_ACT_IDENTITY:
        act_forward(act, slope, out, out, n_out)


cdef inline void _csr_row_block(Py_ssize_t b, const floating *data, const csr_index *indices,
                                const csr_index *indptr, const int64_t *rows, Py_ssize_t n_rows,
                                const floating *w, Py_ssize_t n_out, const floating *bias,
                                int act, floating slope, floating *out) noexcept nogil:
    """Output rows b * CSR_ROW_BLOCK ... of the forward pass."""
    cdef Py_ssize_t r, src
    for r in range(b * CSR_ROW_BLOCK, min((b + 1) * CSR_ROW_BLOCK, n_rows)):
        src = rows[r] if rows != NULL else r
        _csr_row(data, indices, indptr[src], indptr[src + 1], w, n_out, bias, act, slope,
                 out + r * n_out)


cdef void _csr_rows(const floating *data, const csr_index *indices, const csr_index *indptr,
                    const int64_t *rows, Py_ssize_t n_rows, const floating *w, Py_ssize_t n_out,
                    const floating *bias, int act, floating slope, floating *out,
                    int nt) noexcept nogil:
    cdef Py_ssize_t b, nb = (n_rows + CSR_ROW_BLOCK - 1) // CSR_ROW_BLOCK
    if nt > 1 and nb > 1:
        for b in prange(nb, schedule='static', num_threads=nt):
            _csr_row_block(b, data, indices, indptr, rows, n_rows, w, n_out, bias, act, slope,
                           out)
    else:
        for b in range(nb):
            _csr_row_block(b, data, indices, indptr, rows, n_rows, w, n_out, bias, act, slope,
                           out)


cdef void csr_linear(CSROperand x, const int64_t *rows, Py_ssize_t n_rows, const floating *w,
                     Py_ssize_t n_out, const floating *bias, int act, floating slope,
                     floating *out, int nt) noexcept nogil:
    """out (n_rows x n_out) = act(x[rows] @ w + bias); rows NULL: rows 0..n_rows-1."""
    if x.wide:
        _csr_rows(<const floating *>x.pdata, <const int64_t *>x.pindices,
                  <const int64_t *>x.pindptr, rows, n_rows, w, n_out, bias, act, slope, out, nt)
    else:
        _csr_rows(<const floating *>x.pdata, <const int32_t *>x.pindices,
                  <const int32_t *>x.pindptr, rows, n_rows, w, n_out, bias, act, slope, out, nt)


cdef inline void _csr_grad_cols(const floating *data, const csr_index *indices,
                                const csr_index *indptr, const int64_t *rows, Py_ssize_t n_rows,
                                const floating *dz, Py_ssize_t n_out, Py_ssize_t j0,
                                Py_ssize_t j1, floating *dw) noexcept nogil:
    """Columns j0..j1-1 of dW += x[rows].T @ dz, rows in order, nonzeros in storage order."""
    cdef Py_ssize_t r, src, k, j
    cdef floating v
    cdef const floating *g
    cdef floating *row
    for r in range(n_rows):
        src = rows[r] if rows != NULL else r
        g = dz + r * n_out
        for k in range(indptr[src], indptr[src + 1]):
            v = data[k]
            row = dw + <Py_ssize_t>indices[k] * n_out
            for j in range(j0, j1):
                row[j] += v * g[j]


cdef void _csr_grad(const floating *data, const csr_index *indices, const csr_index *indptr,
                    const int64_t *rows, Py_ssize_t n_rows, const floating *dz, Py_ssize_t n_out,
                    floating *dw, int nt) noexcept nogil:
    cdef Py_ssize_t b, nb = (n_out + GRAD_COLS - 1) // GRAD_COLS
    if nt > 1 and nb > 1:
        for b in prange(nb, schedule='static', num_threads=nt):
            _csr_grad_cols(data, indices, indptr, rows, n_rows, dz, n_out, b * GRAD_COLS,
                           min((b + 1) * GRAD_COLS, n_out), dw)
    else:
        for b in range(nb):
            _csr_grad_cols(data, indices, indptr, rows, n_rows, dz, n_out, b * GRAD_COLS,
                           min((b + 1) * GRAD_COLS, n_out), dw)


cdef void csr_weight_grad(CSROperand x, const int64_t *rows, Py_ssize_t n_rows,
                          const floating *dz, Py_ssize_t n_out, floating *dw,
                          int nt) noexcept nogil:
    """dw (x.n_cols x n_out) += x[rows].T @ dz (rows NULL: rows 0..n_rows-1), in column
    blocks of GRAD_COLS; only the rows of dw that the nonzeros index are read or written."""
    if x.wide:
        _csr_grad(<const floating *>x.pdata, <const int64_t *>x.pindices,
                  <const int64_t *>x.pindptr, rows, n_rows, dz, n_out, dw, nt)
    else:
        _csr_grad(<const floating *>x.pdata, <const int32_t *>x.pindices,
                  <const int32_t *>x.pindptr, rows, n_rows, dz, n_out, dw, nt)


cdef void _csr_clear(const csr_index *indices, const csr_index *indptr, const int64_t *rows,
                     Py_ssize_t n_rows, floating *dw, Py_ssize_t n_out) noexcept nogil:
    cdef Py_ssize_t r, k
    for r in range(n_rows):
        for k in range(indptr[rows[r]], indptr[rows[r] + 1]):
            memset(dw + <Py_ssize_t>indices[k] * n_out, 0, n_out * sizeof(floating))


cdef void csr_clear_rows(CSROperand x, const int64_t *rows, Py_ssize_t n_rows, floating *dw,
                         Py_ssize_t n_out) noexcept nogil:
    """Zero the rows of dw (x.n_cols x n_out) that the nonzeros of x[rows] select."""
    if x.wide:
        _csr_clear(<const int64_t *>x.pindices, <const int64_t *>x.pindptr, rows, n_rows, dw,
                   n_out)
    else:
        _csr_clear(<const int32_t *>x.pindices, <const int32_t *>x.pindptr, rows, n_rows, dw,
                   n_out)


cdef cnp.ndarray _csr_dense_operand(object a, CSROperand x, str name):
    """`a` checked as a 2-D array of x.data's dtype, returned aligned and C-contiguous."""
    check_float_array(a, name)
    check_same_dtype(x.data, <cnp.ndarray>a, "x.data", name)
    check_ndim(<cnp.ndarray>a, 2, name)
    return c_array(<cnp.ndarray>a)


cdef cnp.ndarray _csr_out(object out, int typenum, cnp.npy_intp d0, cnp.npy_intp d1,
                          list inputs):
    """`out` checked as a writeable C-contiguous (d0, d1) array sharing no memory with
    `inputs` ((name, array) pairs), or a new array."""
    cdef cnp.npy_intp dims[2]
    dims[0], dims[1] = d0, d1
    if out is None:
        return new_array(2, dims, typenum)
    check_buffer(out, typenum, 2, dims, True, "out")
    for name, a in inputs:
        check_no_overlap(<cnp.ndarray>out, <cnp.ndarray>a, "out", name, False)
    return <cnp.ndarray>out


cdef inline Py_ssize_t _csr_nnz(CSROperand x):
    return x.indptr[x.n_rows] - x.indptr[0]


def sparse_linear(x, weight, bias=None, activation=None, out=None):
    """Fused dense layer on sparse rows: ``act(x @ weight + bias)`` with ``x`` a CSR matrix
    (``scipy.sparse.csr_array``/``csr_matrix`` or any object with their ``shape``,
    ``indptr``, ``indices`` and ``data``; int32 or int64 indices) and ``weight`` of shape
    (in, out) and the dtype of ``x.data``.  ``activation`` as in :func:`linear`.  Each
    output row adds up the rows of ``weight`` its nonzeros select, scaled (duplicates add
    up, as in SciPy); rows are computed in parallel."""
    cdef object code = _GEMM_ACTIVATIONS.get(activation) if isinstance(activation, (str, type(None))) else None
    if code is None:
        raise ValueError(f"activation must be one of None, "
                         f"{', '.join(map(repr, ACTIVATION_CODES))}; received {activation!r}")
    check_float_array(weight, "weight")
    check_ndim(<cnp.ndarray>weight, 2, "weight")
    cdef CSROperand X = csr_operand(x, "x", weight.shape[0])
    cdef cnp.ndarray w = _csr_dense_operand(weight, X, "weight")
    cdef Py_ssize_t n_out = w.shape[1]
    cdef cnp.ndarray b = None
    if bias is not None:
        check_float_array(bias, "bias")
        check_same_dtype(w, <cnp.ndarray>bias, "weight", "bias")
        check_shape(<cnp.ndarray>bias, 1, n_out, 0, "bias")
        b = c_array(<cnp.ndarray>bias)
    inputs = [("weight", w), ("x.data", X.data)] + ([("bias", b)] if b is not None else [])
    cdef cnp.ndarray o = _csr_out(out, X.typenum, X.n_rows, n_out, inputs)
    cdef int act = <int>code
    cdef int nt = _threads((_csr_nnz(X) + X.n_rows) * n_out, EW_PAR_CHEAP)
    cdef const void *pb = _data(b) if b is not None else NULL
    with nogil:
        if X.typenum == cnp.NPY_FLOAT32:
            csr_linear(X, NULL, X.n_rows, <const float *>_data(w), n_out, <const float *>pb,
                       act, <float>_GEMM_LEAKY_SLOPE, <float *>_data(o), nt)
        else:
            csr_linear(X, NULL, X.n_rows, <const double *>_data(w), n_out, <const double *>pb,
                       act, _GEMM_LEAKY_SLOPE, <double *>_data(o), nt)
    return o


def sparse_linear_backward(x, grad_output, out=None):
    """The weight gradient of :func:`sparse_linear`: ``x.T @ grad_output``, shape
    (x.shape[1], grad_output.shape[1]), accumulated over the nonzeros of the CSR matrix
    ``x``; rows that no nonzero selects are 0.  (The bias gradient is
    ``column_sum(grad_output)``.)"""
    check_float_array(grad_output, "grad_output")
    cdef CSROperand X = csr_operand(x, "x", -1)
    cdef cnp.ndarray g = _csr_dense_operand(grad_output, X, "grad_output")
    if g.shape[0] != X.n_rows:
        raise ValueError(f"grad_output must have {X.n_rows} rows, the rows of x (shape "
                         f"{(X.n_rows, X.n_cols)}); received shape {(<object>g).shape}")
    cdef Py_ssize_t n_out = g.shape[1]
    cdef cnp.ndarray o = _csr_out(out, X.typenum, X.n_cols, n_out,
                                  [("grad_output", g), ("x.data", X.data)])
    cdef int nt = _threads(_csr_nnz(X) * n_out, EW_PAR_CHEAP)
    with nogil:
        memset(_data(o), 0, X.n_cols * n_out * cnp.PyArray_ITEMSIZE(o))
        if X.typenum == cnp.NPY_FLOAT32:
            csr_weight_grad(X, NULL, X.n_rows, <const float *>_data(g), n_out,
                            <float *>_data(o), nt)
        else:
            csr_weight_grad(X, NULL, X.n_rows, <const double *>_data(g), n_out,
                            <double *>_data(o), nt)
    return o
