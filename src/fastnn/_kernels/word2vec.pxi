# word2vec: the vocabulary counter over raw bytes and the skip-gram / CBOW trainer with
# negative sampling (csrc/fnn_w2v.h, w2v.c, w2v_vocab.c), for fastnn.word2vec.
#
# Uses: capi.pxd (fnn_w2v.h), validate.pxi (check_buffer).
# Provides: VocabCounter (counter and tokeniser), word2vec_train, word2vec_update, word2vec_draw_negatives,
#           W2V_MAX_SENTENCE.
from libc.stdint cimport int32_t, int64_t, uint32_t, uint64_t
from libc.string cimport memcpy

from fastnn._kernels.capi cimport (FNN_W2V_MAX_PIECES, FNN_W2V_MAX_SENTENCE, fnn_vocab,
                                   fnn_vocab_add, fnn_vocab_feed, fnn_vocab_free,
                                   fnn_vocab_key, fnn_vocab_new, fnn_vocab_size,
                                   fnn_vocab_tokenize, fnn_w2v_corpus,
                                   fnn_w2v_model, fnn_w2v_result, fnn_w2v_schedule,
                                   fnn_w2v_draw_negatives, fnn_w2v_train,
                                   fnn_w2v_update)

#: sentences longer than this many tokens are split (gensim's limit)
W2V_MAX_SENTENCE = FNN_W2V_MAX_SENTENCE


cdef class VocabCounter:
    """Whitespace-separated tokens of raw bytes: ``feed`` counts the tokens of blocks fed
    one after the other (ids in order of first appearance, whatever the number of
    threads counting a block) and returns how many bytes it consumed (a token running to
    the end of a block that is not ``final`` waits for the next block); ``add``
    registers keys; ``tokenize`` turns text into the ids of the known tokens.  The table
    only grows: ids never change."""
    cdef fnn_vocab *v

    def __cinit__(self):
        self.v = fnn_vocab_new()
        if self.v == NULL:
            raise MemoryError("VocabCounter: out of memory")

    def __dealloc__(self):
        fnn_vocab_free(self.v)

    def feed(self, const unsigned char[::1] block, bint final=False, int threads=1) -> int:
        cdef ptrdiff_t r, n = block.shape[0]
        cdef const char *p = NULL
        if threads < 1:
            raise ValueError(f"threads must be >= 1; received {threads}")
        if n > 0:
            p = <const char *>&block[0]
        with nogil:
            r = fnn_vocab_feed(self.v, p, n, final, threads)
        if r < 0:
            raise MemoryError("VocabCounter: out of memory")
        return r

    def add(self, keys) -> None:
        """Register each key of ``keys`` (bytes) with count 0 unless known: keys new to
        the table take the next ids in order."""
        cdef const unsigned char[::1] k
        cdef const char *p
        for key in keys:
            if not isinstance(key, bytes):
                raise TypeError(f"keys must be bytes; received {type(key).__name__}")
            if len(key) == 0:
                raise ValueError("keys must be non-empty")
            k = key
            if fnn_vocab_add(self.v, <const char *>&k[0], k.shape[0]) < 0:
                raise MemoryError("VocabCounter: out of memory")

    def vocabulary(self):
        """(tokens as bytes in order of first appearance, their counts as int64)."""
        cdef ptrdiff_t i, length, n = fnn_vocab_size(self.v)
        cdef int64_t count
        cdef const char *key
        cdef cnp.ndarray counts = np.empty(n, dtype=np.int64)
        cdef int64_t[::1] c = counts
        keys = []
        for i in range(n):
            key = fnn_vocab_key(self.v, i, &length, &count)
            keys.append(key[:length])
            c[i] = count
        return keys, counts

    @staticmethod
    def room(Py_ssize_t n) -> int:
        """The entries ``tokenize`` needs in ``tokens_out`` and ``sent_out`` for ``n`` bytes."""
        return n // 2 + FNN_W2V_MAX_PIECES + 1

    def tokenize(self, const unsigned char[::1] block, bint final, int threads,
                 tokens_out, sent_out):
        """The ids of the known tokens of the complete lines of ``block`` (all of it when
        ``final``; a block without a newline is cut after its last whitespace), unknown
        tokens dropped, on ``threads`` threads: ``tokens_out[:ntokens]`` (int32) and the
        sentence offsets ``sent_out[:nsent + 1]`` (int64; a newline or the
        W2V_MAX_SENTENCE-th id ends a sentence, empty ones are left out).  Each array
        needs ``room(len(block))`` entries.  Returns ``(consumed, ntokens, nsent)``."""
        cdef ptrdiff_t r, n = block.shape[0]
        cdef int64_t nt = 0, ns = 0
        cdef cnp.npy_intp need = VocabCounter.room(n)
        if threads < 1:
            raise ValueError(f"threads must be >= 1; received {threads}")
        tok = _int_vector(tokens_out, cnp.NPY_INT32, "tokens_out")
        sent = _int_vector(sent_out, cnp.NPY_INT64, "sent_out")
        if not cnp.PyArray_ISWRITEABLE(tok) or not cnp.PyArray_ISWRITEABLE(sent):
            raise ValueError("tokens_out and sent_out must be writeable")
        if tok.shape[0] < need or sent.shape[0] < need:
            raise ValueError(f"tokens_out and sent_out need {need} entries for {n} bytes; "
                             f"received {tok.shape[0]} and {sent.shape[0]}")
        cdef const char *p = NULL
        if n > 0:
            p = <const char *>&block[0]
        with nogil:
            r = fnn_vocab_tokenize(self.v, p, n, final, threads, <int32_t *>_data(tok),
                                   <int64_t *>_data(sent), &nt, &ns)
        return r, nt, ns


cdef int _check_model(fnn_w2v_model *m, object syn0, object syn1, object cum_table,
                      object sample_int, bint sg, bint cbow_mean, int window,
                      int negative) except -1:
    """Fill `m` from checked arguments."""
    if not cnp.PyArray_Check(syn0) or cnp.PyArray_NDIM(<cnp.ndarray>syn0) != 2:
        raise ValueError(f"syn0 must be a 2-D numpy.ndarray; received {type(syn0).__name__}"
                         + (f" of shape {np.shape(syn0)}" if cnp.PyArray_Check(syn0) else ""))
    cdef cnp.npy_intp *dims = cnp.PyArray_DIMS(<cnp.ndarray>syn0)
    if dims[0] < 1 or dims[1] < 1:
        raise ValueError(f"syn0 must have at least one row and one column; received shape "
                         f"{np.shape(syn0)}")
    check_buffer(syn0, cnp.NPY_FLOAT32, 2, dims, True, "syn0")
    check_buffer(syn1, cnp.NPY_FLOAT32, 2, dims, True, "syn1")
    check_buffer(cum_table, cnp.NPY_UINT32, 1, dims, False, "cum_table")
    check_buffer(sample_int, cnp.NPY_UINT32, 1, dims, False, "sample_int")
    if window < 1:
        raise ValueError(f"window must be >= 1; received {window}")
    if negative < 1:
        raise ValueError(f"negative must be >= 1; received {negative}")
    m.syn0 = <float *>_data(<cnp.ndarray>syn0)
    m.syn1 = <float *>_data(<cnp.ndarray>syn1)
    m.vocab, m.dim = dims[0], dims[1]
    m.cum_table = <const uint32_t *>_data(<cnp.ndarray>cum_table)
    m.sample_int = <const uint32_t *>_data(<cnp.ndarray>sample_int)
    if m.cum_table[m.vocab - 1] == 0:
        raise ValueError("cum_table must end with a positive total; received 0")
    m.sg, m.cbow_mean, m.window, m.negative = sg, cbow_mean, window, negative
    m.private_rows = m.context_rows = 0
    m.copies = m.context_copies = NULL
    m.copies_synced = 0
    return 0


cdef int _check_ids(object a, str name, Py_ssize_t vocab, Py_ssize_t start,
                    Py_ssize_t stop) except -1:
    """Entries start..stop-1 of the C-contiguous int32 array `a` are in [0, vocab)."""
    cdef const int32_t[::1] v = a
    cdef Py_ssize_t i, bad = -1
    with nogil:
        for i in range(start, stop):
            if <size_t>v[i] >= <size_t>vocab:
                bad = i
                break
    if bad >= 0:
        raise ValueError(f"{name} must hold word indices in [0, {vocab}); received {v[bad]} "
                         f"at index {bad}")
    return 0


cdef int _check_offsets(object a, str name, Py_ssize_t start, Py_ssize_t stop, int64_t hi,
                        int64_t max_step) except -1:
    """Entries start..stop of the int64 array `a` rise by 0..max_step and lie in [0, hi]."""
    cdef const int64_t[::1] v = a
    cdef Py_ssize_t i, bad = -1
    if v[start] < 0 or v[stop] > hi:
        raise ValueError(f"{name} must lie in [0, {hi}]; received {v[start]}..{v[stop]}")
    with nogil:
        for i in range(start, stop):
            if v[i + 1] < v[i] or v[i + 1] - v[i] > max_step:
                bad = i
                break
    if bad >= 0:
        raise ValueError(f"{name} must rise by 0 to {max_step} per entry; received "
                         f"{v[bad]} then {v[bad + 1]} at index {bad}")
    return 0


cdef cnp.ndarray _int_vector(object a, int typenum, str name):
    """`a` checked to be a 1-D C-contiguous array of dtype `typenum` (any length)."""
    if not cnp.PyArray_Check(a) or cnp.PyArray_NDIM(<cnp.ndarray>a) != 1:
        raise ValueError(f"{name} must be a 1-D numpy.ndarray; received "
                         f"{type(a).__name__}" + (f" of shape {np.shape(a)}"
                                                  if cnp.PyArray_Check(a) else ""))
    check_buffer(a, typenum, 1, cnp.PyArray_DIMS(<cnp.ndarray>a), False, name)
    return <cnp.ndarray>a


cdef float *_thread_rows(object buf, str name, int threads, int per_thread, Py_ssize_t dim,
                         ptrdiff_t *rows) except? NULL:
    """The data of ``buf``, checked to be a writeable C-contiguous float32 array of shape
    (threads, rows, dim), or (threads, per_thread, rows, dim) when ``per_thread``; its
    rows to ``rows``.  None: NULL and 0 rows."""
    cdef int ndim = 4 if per_thread else 3
    cdef cnp.npy_intp dims[4]
    rows[0] = 0
    if buf is None:
        return NULL
    dims[0], dims[1], dims[ndim - 1] = threads, per_thread, dim
    dims[ndim - 2] = (cnp.PyArray_DIMS(<cnp.ndarray>buf)[ndim - 2] if cnp.PyArray_Check(buf)
                      and cnp.PyArray_NDIM(<cnp.ndarray>buf) == ndim else 0)
    check_buffer(buf, cnp.NPY_FLOAT32, ndim, dims, True, name)
    rows[0] = dims[ndim - 2]
    return <float *>_data(<cnp.ndarray>buf)


def word2vec_train(syn0, syn1, cum_table, sample_int, tokens, sent_start, chunk_start,
                   Py_ssize_t c0, Py_ssize_t c1, *, bint sg, bint cbow_mean, int window,
                   int negative, double alpha, double min_alpha, int64_t words_before,
                   int64_t total_words, uint64_t seed, bint compute_loss, int threads,
                   copies=None, bint synced=False, context_copies=None):
    """Train chunks ``c0 .. c1-1`` of the corpus on ``threads`` threads (see fnn_w2v.h).

    ``syn0``, ``syn1``: (vocab, dim) float32, updated in place; ``cum_table``,
    ``sample_int``: (vocab,) uint32; ``tokens`` int32 word indices; ``sent_start`` and
    ``chunk_start`` int64 offsets.  The learning rate falls linearly from ``alpha`` (at
    word 0) to ``min_alpha`` (at ``total_words``), ``words_before`` words being done.
    ``copies``: None, or a float32 (threads, rows, dim) buffer: with ``threads > 1`` each
    thread trains rows ``0 .. rows-1`` of ``syn1`` (the most frequent words) in a private
    copy there, merged after each round of a few chunks a thread (fnn_w2v.h); one thread
    ignores it.  ``synced``: ``copies`` holds those rows already, as the last call on it
    left them (with the same ``syn1`` and threads), so they are not copied in again.
    ``context_copies``: None, or a float32 (threads, 2, rows, dim) buffer: with
    ``threads > 1`` each thread also trains rows ``0 .. rows-1`` of ``syn0`` in a private
    copy there (``[t, 0]``, its base ``[t, 1]``), its changes added to ``syn0`` every
    chunk it trains (skip-gram) or every 4 (CBOW) and at the end of the call; one
    thread ignores it.
    Returns ``(loss, words, effective_words)``; loss is 0 unless ``compute_loss``.
    """
    cdef fnn_w2v_model m
    cdef fnn_w2v_corpus corpus
    cdef fnn_w2v_schedule sched
    cdef fnn_w2v_result res
    cdef int rc
    _check_model(&m, syn0, syn1, cum_table, sample_int, sg, cbow_mean, window, negative)
    m.compute_loss = compute_loss
    tok = _int_vector(tokens, cnp.NPY_INT32, "tokens")
    sents = _int_vector(sent_start, cnp.NPY_INT64, "sent_start")
    chunks = _int_vector(chunk_start, cnp.NPY_INT64, "chunk_start")
    cdef Py_ssize_t nchunks = chunks.shape[0] - 1
    if not 0 <= c0 <= c1 <= nchunks:
        raise ValueError(f"c0, c1 must satisfy 0 <= c0 <= c1 <= {nchunks}; received "
                         f"c0={c0}, c1={c1}")
    if threads < 1:
        raise ValueError(f"threads must be >= 1; received {threads}")
    m.copies = _thread_rows(copies, "copies", threads, 0, m.dim, &m.private_rows)
    m.copies_synced = synced
    m.context_copies = _thread_rows(context_copies, "context_copies", threads, 2, m.dim,
                                    &m.context_rows)
    if not (alpha >= min_alpha >= 0):
        raise ValueError(f"alpha and min_alpha must satisfy alpha >= min_alpha >= 0; "
                         f"received alpha={alpha}, min_alpha={min_alpha}")
    if words_before < 0 or total_words < 0:
        raise ValueError(f"words_before and total_words must be >= 0; received "
                         f"{words_before}, {total_words}")
    if c0 == c1:
        return 0.0, 0, 0
    cdef const int64_t[::1] cs = chunks
    _check_offsets(chunks, "chunk_start", c0, c1, sents.shape[0] - 1, sents.shape[0])
    _check_offsets(sents, "sent_start", cs[c0], cs[c1], tok.shape[0], FNN_W2V_MAX_SENTENCE)
    cdef const int64_t[::1] ss = sents
    _check_ids(tok, "tokens", m.vocab, ss[cs[c0]], ss[cs[c1]])
    corpus.tokens = <const int32_t *>_data(tok)
    corpus.sent_start = <const int64_t *>_data(sents)
    corpus.chunk_start = <const int64_t *>_data(chunks)
    sched.alpha, sched.min_alpha = alpha, min_alpha
    sched.words_before, sched.total_words, sched.seed = words_before, total_words, seed
    with nogil:
        rc = fnn_w2v_train(&m, &corpus, c0, c1, &sched, threads, &res)
    if rc != 0:
        raise MemoryError("word2vec_train: out of memory for the per-thread buffers")
    return res.loss, res.words, res.effective


def word2vec_update(syn0, syn1, ctx, outs, *, bint sg, bint cbow_mean, double alpha) -> float:
    """One update exactly as the trainer makes it, with its window and negatives given:
    the context words ``ctx`` predict ``outs[0]`` (label 1) and the negatives
    ``outs[1:]`` (label 0).  Updates ``syn0``/``syn1`` in place, returns the loss."""
    cdef fnn_w2v_model m
    cdef cnp.npy_intp vocab
    ctx_a = _int_vector(ctx, cnp.NPY_INT32, "ctx")
    outs_a = _int_vector(outs, cnp.NPY_INT32, "outs")
    if ctx_a.shape[0] < 1 or outs_a.shape[0] < 1:
        raise ValueError(f"ctx and outs must each hold at least one word; received lengths "
                         f"{ctx_a.shape[0]} and {outs_a.shape[0]}")
    if not cnp.PyArray_Check(syn0) or cnp.PyArray_NDIM(<cnp.ndarray>syn0) != 2:
        raise ValueError("syn0 must be a 2-D numpy.ndarray")
    vocab = cnp.PyArray_DIMS(<cnp.ndarray>syn0)[0]
    ones = np.ones(vocab, dtype=np.uint32)
    _check_model(&m, syn0, syn1, ones, ones, sg, cbow_mean, 1, 1)
    _check_ids(ctx_a, "ctx", m.vocab, 0, ctx_a.shape[0])
    _check_ids(outs_a, "outs", m.vocab, 0, outs_a.shape[0])
    cdef double loss
    with nogil:
        loss = fnn_w2v_update(&m, <const int32_t *>_data(ctx_a), <int>ctx_a.shape[0],
                              <const int32_t *>_data(outs_a), <int>outs_a.shape[0],
                              <float>alpha)
    if loss < 0:
        raise MemoryError("word2vec_update: out of memory")
    return loss


def word2vec_draw_negatives(cum_table, Py_ssize_t n, uint64_t seed):
    """``n`` words drawn from ``cum_table`` (cumulative weights, uint32) exactly as the
    trainer draws its negatives: word i with probability proportional to its increment."""
    cdef fnn_w2v_model m
    cdef cnp.ndarray table = _int_vector(cum_table, cnp.NPY_UINT32, "cum_table")
    if table.shape[0] < 1 or (<const uint32_t *>_data(table))[table.shape[0] - 1] == 0:
        raise ValueError("cum_table must be non-empty and end with a positive total")
    if n < 0:
        raise ValueError(f"n must be >= 0; received {n}")
    m.vocab = table.shape[0]
    m.cum_table = <const uint32_t *>_data(table)
    out = np.empty(n, dtype=np.int32)
    cdef int32_t[::1] o = out
    cdef int rc = 0
    if n > 0:
        with nogil:
            rc = fnn_w2v_draw_negatives(&m, seed, n, &o[0])
    if rc < 0:
        raise MemoryError("word2vec_draw_negatives: out of memory")
    return out
