# Embedding bags: each document (a row of token ids) becomes the sum or the mean of its
# tokens' rows of a table (see kernels.pxi for the layout).
#
# Uses: validate.pxi (checks, new_array, _data), parallel.pxi (_threads, EW_PAR_CHEAP).
# Provides the ops embedding_bag (forward; threads over blocks of documents, each
# document computed the same way whatever the thread count) and embedding_bag_backward
# (the row-sparse gradient of the table: the distinct ids used and one summed gradient
# row each, accumulated serially in document order).
from cython cimport floating
from cython.parallel cimport prange
from libc.string cimport memset

cdef enum:
    BAG_BLOCK = 64           # documents per parallel work item


cdef inline Py_ssize_t _bag_count(const cnp.npy_intp *ids, Py_ssize_t length,
                                  cnp.npy_intp pad) noexcept nogil:
    """Tokens of one document other than padding."""
    cdef Py_ssize_t j, count = 0
    for j in range(length):
        if ids[j] != pad:
            count += 1
    return count


cdef inline void _bag_row(const floating *weight, const cnp.npy_intp *ids, Py_ssize_t length,
                          Py_ssize_t dim, cnp.npy_intp pad, bint mean,
                          floating *out) noexcept nogil:
    """out = sum (or mean) of weight[ids[j]] over the ids that are not padding."""
    cdef Py_ssize_t j, k, count = 0
    cdef const floating *row
    memset(out, 0, dim * sizeof(floating))
    for j in range(length):
        if ids[j] == pad:
            continue
        row = weight + ids[j] * dim
        for k in range(dim):
            out[k] += row[k]
        count += 1
    if mean and count > 1:
        for k in range(dim):
            out[k] = out[k] / count


cdef inline void _bag_block(Py_ssize_t b, const floating *weight, const cnp.npy_intp *ids,
                            Py_ssize_t n, Py_ssize_t length, Py_ssize_t dim,
                            cnp.npy_intp pad, bint mean, floating *out) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(b * BAG_BLOCK, min(n, (b + 1) * BAG_BLOCK)):
        _bag_row(weight, ids + i * length, length, dim, pad, mean, out + i * dim)


cdef void _bag_rows(const floating *weight, const cnp.npy_intp *ids, Py_ssize_t n,
                    Py_ssize_t length, Py_ssize_t dim, cnp.npy_intp pad, bint mean,
                    floating *out, int nt) noexcept nogil:
    cdef Py_ssize_t b, nb = (n + BAG_BLOCK - 1) // BAG_BLOCK
    if nt > 1:
        for b in prange(nb, schedule='static', num_threads=nt):
            _bag_block(b, weight, ids, n, length, dim, pad, mean, out)
    else:
        for b in range(nb):
            _bag_block(b, weight, ids, n, length, dim, pad, mean, out)


cdef void _bag_grad(const floating *grad, const cnp.npy_intp *ids, const cnp.npy_intp *slot,
                    Py_ssize_t n, Py_ssize_t length, Py_ssize_t dim, cnp.npy_intp pad,
                    bint mean, floating *rows_out) noexcept nogil:
    """rows_out[slot of id] += grad[i] (/ count of document i for the mean), for every
    non-padding id of every document i, in document order."""
    cdef Py_ssize_t i, j, k, count
    cdef const floating *g
    cdef floating *dst
    for i in range(n):
        count = _bag_count(ids + i * length, length, pad)
        g = grad + i * dim
        for j in range(i * length, (i + 1) * length):
            if ids[j] == pad:
                continue
            dst = rows_out + slot[j] * dim
            if mean and count > 1:
                for k in range(dim):
                    dst[k] += g[k] / count
            else:
                for k in range(dim):
                    dst[k] += g[k]


cdef bint _bag_mode(object mode) except -1:
    """True for "mean", False for "sum"."""
    if not isinstance(mode, str):
        raise TypeError(f"mode must be 'mean' or 'sum'; received {mode!r} ({type(mode).__name__})")
    if mode == "mean":
        return True
    if mode == "sum":
        return False
    raise ValueError(f"mode must be 'mean' or 'sum'; received {mode!r}")


cdef cnp.ndarray _bag_ids(object ids, Py_ssize_t num_embeddings, cnp.npy_intp pad):
    """`ids` as a new C-contiguous intp (n, length) array (the kernels index rows by it
    with the GIL released: never the caller's memory) whose entries are `pad` or in
    [0, num_embeddings)."""
    if not cnp.PyArray_Check(ids) or (<cnp.ndarray>ids).dtype.kind not in "iu":
        raise TypeError(f"ids must be a numpy.ndarray of integers; received "
                        f"{getattr(ids, 'dtype', type(ids).__name__)}")
    check_ndim(<cnp.ndarray>ids, 2, "ids")
    if ((<cnp.ndarray>ids).dtype.kind == "u" and (<cnp.ndarray>ids).size
            and ids.max() > np.iinfo(np.intp).max):  # would wrap to a negative id (padding)
        raise ValueError(f"ids must hold token ids in [0, {num_embeddings}); received "
                         f"{ids.max()}")
    cdef cnp.ndarray a = <cnp.ndarray>np.array(ids, dtype=np.intp, order="C")  # a copy
    bad = np.flatnonzero(((a < 0) | (a >= num_embeddings)).ravel() & (a != pad).ravel())
    if len(bad):
        raise ValueError(f"ids must hold token ids in [0, {num_embeddings}) or padding_idx "
                         f"({pad}); received {a.ravel()[bad[0]]} at flat index {bad[0]}")
    return a


def embedding_bag(weight, ids, *, mode="mean", padding_idx=-1, out=None):
    """Bags of embeddings: ``out[i]`` is the sum (``mode="sum"``) or the mean
    (``mode="mean"``) of ``weight[ids[i, j]]`` over the ``j`` with ``ids[i, j] !=
    padding_idx``; a document of padding only gives a row of zeros.

    ``weight`` (num_embeddings, dim) float32/float64 (C-contiguous, else copied); ``ids`` (n, length)
    integers; returns ``out`` (n, dim) of ``weight``'s dtype.
    """
    cdef bint mean = _bag_mode(mode)
    cdef Py_ssize_t pad = check_int(padding_idx, "padding_idx")
    cdef int t = check_float_array(weight, "weight")
    cdef cnp.ndarray w = <cnp.ndarray>weight
    check_ndim(w, 2, "weight")
    cdef cnp.ndarray table = c_array(w)  # w itself when aligned and C-contiguous (usual)
    cdef cnp.ndarray a = _bag_ids(ids, w.shape[0], pad)
    cdef Py_ssize_t n = a.shape[0], length = a.shape[1], dim = w.shape[1]
    cdef cnp.npy_intp dims[2]
    dims[0] = n
    dims[1] = dim
    cdef cnp.ndarray o
    if out is None:
        o = new_array(2, dims, t)
    else:
        check_buffer(out, t, 2, dims, True, "out")
        o = <cnp.ndarray>out
        check_no_overlap(o, w, "out", "weight", False)
    cdef int nt = _threads(n * length * dim, EW_PAR_CHEAP)
    with nogil:
        if t == cnp.NPY_FLOAT32:
            _bag_rows(<const float *>_data(table), <const cnp.npy_intp *>_data(a), n, length, dim,
                      pad, mean, <float *>_data(o), nt)
        else:
            _bag_rows(<const double *>_data(table), <const cnp.npy_intp *>_data(a), n, length, dim,
                      pad, mean, <double *>_data(o), nt)
    return o


def embedding_bag_backward(grad_output, ids, num_embeddings, *, mode="mean", padding_idx=-1):
    """The gradient of ``embedding_bag`` with respect to ``weight``, row-sparse: returns
    ``(rows, grad_rows)``, ``rows`` the sorted distinct ids used (intp) and
    ``grad_rows[k]`` the gradient of row ``rows[k]``: the sum over its occurrences in
    document ``i`` of ``grad_output[i]`` (divided by the document's token count for the
    mean).  Rows not in ``rows`` have zero gradient.
    """
    cdef bint mean = _bag_mode(mode)
    cdef Py_ssize_t count = check_int(num_embeddings, "num_embeddings")
    cdef Py_ssize_t pad = check_int(padding_idx, "padding_idx")
    if count < 0:
        raise ValueError(f"num_embeddings must be >= 0; received {num_embeddings}")
    cdef int t = check_float_array(grad_output, "grad_output")
    cdef cnp.ndarray g = <cnp.ndarray>grad_output
    cdef cnp.ndarray a = _bag_ids(ids, count, pad)
    check_ndim(g, 2, "grad_output")
    if g.shape[0] != a.shape[0]:
        raise ValueError(f"grad_output must have one row per document of ids ({a.shape[0]}); "
                         f"received shape {_shape_str(g)}")
    g = c_array(g)
    used = a[a != pad]
    cdef cnp.ndarray rows = <cnp.ndarray>np.unique(used).astype(np.intp, copy=False)
    cdef cnp.ndarray slot = <cnp.ndarray>np.ascontiguousarray(
        np.where(a != pad, np.searchsorted(rows, a), 0), dtype=np.intp)
    cdef Py_ssize_t n = a.shape[0], length = a.shape[1], dim = g.shape[1]
    cdef cnp.npy_intp dims[2]
    dims[0] = rows.shape[0]
    dims[1] = dim
    cdef cnp.ndarray grad_rows = <cnp.ndarray>cnp.PyArray_ZEROS(2, dims, t, 0)
    with nogil:
        if t == cnp.NPY_FLOAT32:
            _bag_grad(<const float *>_data(g), <const cnp.npy_intp *>_data(a),
                      <const cnp.npy_intp *>_data(slot), n, length, dim, pad, mean,
                      <float *>_data(grad_rows))
        else:
            _bag_grad(<const double *>_data(g), <const cnp.npy_intp *>_data(a),
                      <const cnp.npy_intp *>_data(slot), n, length, dim, pad, mean,
                      <double *>_data(grad_rows))
    return rows, grad_rows
