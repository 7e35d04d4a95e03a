# The C kernel layer (csrc/*.h) and the few outside C names the kernels call, as Cython
# sees them: every `cdef extern` of the compiled modules, one block per header.  The
# .pxi files cimport from here what they use; nothing else declares C.
cimport numpy as cnp
from libc.stddef cimport ptrdiff_t
from libc.stdint cimport int32_t, int64_t, uint32_t, uint64_t


cdef extern from "fnn.h" nogil:
    # runtime.c, peak.c
    int fnn_cpu_has_avx2_fma()
    int fnn_cpu_has_avx512()
    void fnn_cpu_id(char *vendor, int *family, int *model)
    int fnn_max_threads()
    void fnn_set_num_threads(int n)
    int fnn_get_num_threads()
    int fnn_release_threads()
    int fnn_openmp_enabled()
    const char *fnn_isa_name()
    const char *fnn_build_flags()
    double fnn_peak_gflops(int is_double, double seconds)
    # the one table of codes (exported as ACTIVATION_CODES / LOSS_CODES by config.pxi)
    enum:
        FNN_ACT_IDENTITY
        FNN_ACT_RELU
        FNN_ACT_LEAKY_RELU
        FNN_ACT_TANH
        FNN_ACT_SIGMOID
    enum:
        FNN_LOSS_SOFTMAX_XENT
        FNN_LOSS_MSE
        FNN_LOSS_BCE
        FNN_LOSS_POISSON


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
    int fnn_sgemm_gather(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha,
                         const float *a, ptrdiff_t rsa, ptrdiff_t csa,
                         const int64_t *idx, int idx_cols,
                         const float *b, ptrdiff_t rsb, ptrdiff_t csb,
                         float *c, ptrdiff_t rsc, const float *bias, int act, float slope)
    int fnn_dgemm_gather(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, double alpha,
                         const double *a, ptrdiff_t rsa, ptrdiff_t csa,
                         const int64_t *idx, int idx_cols,
                         const double *b, ptrdiff_t rsb, ptrdiff_t csb,
                         double *c, ptrdiff_t rsc, const double *bias, int act, double slope)
    enum:
        FNN_GEMM_MAX_NARROW
    ctypedef struct fnn_gemm_tile:
        int rows, min_cols, max_cols
    ctypedef struct fnn_gemm_blocking:
        int mr, nr, kc, mc, nc
        int n_narrow
        fnn_gemm_tile narrow[FNN_GEMM_MAX_NARROW]
        fnn_gemm_tile pairs
        fnn_gemm_tile cols
        int skinny_m, skinny_nb
        int gemv_n
    const fnn_gemm_blocking *fnn_sgemm_blocking()
    const fnn_gemm_blocking *fnn_dgemm_blocking()


cdef extern from "fnn_math.h" nogil:
    void fnn_act_f32(int act, float slope, const float *x, float *y, Py_ssize_t n)
    void fnn_act_f64(int act, double slope, const double *x, double *y, Py_ssize_t n)
    void fnn_act_backward_f32(int act, float slope, const float *g, const float *y,
                              float *gx, Py_ssize_t n)
    void fnn_act_backward_f64(int act, double slope, const double *g, const double *y,
                              double *gx, Py_ssize_t n)


cdef extern from "fnn_dropout.h" nogil:
    uint64_t fnn_dropout_key(uint64_t seed, uint64_t step)
    uint64_t fnn_dropout_threshold(double p)
    void fnn_dropout_f32(const float *x, float *y, ptrdiff_t first, ptrdiff_t n, uint64_t key,
                         uint64_t threshold, float scale)
    void fnn_dropout_f64(const double *x, double *y, ptrdiff_t first, ptrdiff_t n, uint64_t key,
                         uint64_t threshold, double scale)


cdef extern from "fnn_loss.h" nogil:
    enum:
        FNN_BLOCK_ROWS
    Py_ssize_t fnn_block_rows(Py_ssize_t c)
    void fnn_softmax_block_f32(int take_log, const float *x, float *y, Py_ssize_t nr,
                               Py_ssize_t c)
    void fnn_softmax_block_f64(int take_log, const double *x, double *y, Py_ssize_t nr,
                               Py_ssize_t c)
    double fnn_loss_sum_f32(const float *v, Py_ssize_t n)
    double fnn_loss_sum_f64(const double *v, Py_ssize_t n)
    void fnn_xent_block_f32(const float *x, const cnp.npy_intp *y, const float *q,
                            Py_ssize_t nr, Py_ssize_t c, float smooth, float gscale,
                            float *g, float *loss)
    void fnn_xent_block_f64(const double *x, const cnp.npy_intp *y, const double *q,
                            Py_ssize_t nr, Py_ssize_t c, double smooth, double gscale,
                            double *g, double *loss)
    double fnn_mse_run_f32(const float *p, const float *t, Py_ssize_t n, float gscale,
                           float *g, float *loss)
    double fnn_mse_run_f64(const double *p, const double *t, Py_ssize_t n, double gscale,
                           double *g, double *loss)
    double fnn_bce_run_f32(const float *x, const float *t, Py_ssize_t n, float gscale,
                           float *g, float *loss)
    double fnn_bce_run_f64(const double *x, const double *t, Py_ssize_t n, double gscale,
                           double *g, double *loss)
    double fnn_poisson_run_f32(const float *x, const float *t, Py_ssize_t n, float gscale,
                               float *g, float *loss)
    double fnn_poisson_run_f64(const double *x, const double *t, Py_ssize_t n, double gscale,
                               double *g, double *loss)


cdef extern from "numpy/arrayobject.h":
    # `descr=NULL` keeps the prototype's dtype; `subok=0` gives a base-class ndarray.
    object PyArray_NewLikeArray(cnp.ndarray prototype, cnp.NPY_ORDER order, void *descr,
                                int subok)


cdef extern from *:
    # GCC / Clang builtin: start fetching the cache line at addr.
    void __builtin_prefetch(const void *addr, int rw, int locality) nogil


cdef extern from "fnn_w2v.h" nogil:
    enum:
        FNN_W2V_MAX_SENTENCE
    ctypedef struct fnn_w2v_model:
        float *syn0
        float *syn1
        ptrdiff_t vocab, dim
        const uint32_t *cum_table
        const uint32_t *sample_int
        int sg, cbow_mean, window, negative, compute_loss
        ptrdiff_t private_rows
        float *copies
        int copies_synced
        ptrdiff_t context_rows
        float *context_copies
    ctypedef struct fnn_w2v_corpus:
        const int32_t *tokens
        const int64_t *sent_start
        const int64_t *chunk_start
    ctypedef struct fnn_w2v_schedule:
        double alpha, min_alpha
        int64_t words_before, total_words
        uint64_t seed
    ctypedef struct fnn_w2v_result:
        double loss
        int64_t words, effective
    int fnn_w2v_train(const fnn_w2v_model *m, const fnn_w2v_corpus *corpus, int64_t c0,
                      int64_t c1, const fnn_w2v_schedule *sched, int threads,
                      fnn_w2v_result *result)
    double fnn_w2v_update(const fnn_w2v_model *m, const int32_t *ctx, int n_ctx,
                          const int32_t *outs, int n_out, float alpha)
    int fnn_w2v_draw_negatives(const fnn_w2v_model *m, uint64_t seed, int64_t n, int32_t *out)
    ctypedef struct fnn_vocab:
        pass
    enum:
        FNN_W2V_MAX_PIECES
    fnn_vocab *fnn_vocab_new()
    void fnn_vocab_free(fnn_vocab *v)
    ptrdiff_t fnn_vocab_feed(fnn_vocab *v, const char *buf, ptrdiff_t n, int final,
                             int threads)
    int32_t fnn_vocab_add(fnn_vocab *v, const char *key, ptrdiff_t n)
    ptrdiff_t fnn_vocab_size(const fnn_vocab *v)
    const char *fnn_vocab_key(const fnn_vocab *v, ptrdiff_t id, ptrdiff_t *len, int64_t *count)
    ptrdiff_t fnn_vocab_tokenize(const fnn_vocab *v, const char *buf, ptrdiff_t n, int final,
                                 int threads, int32_t *tokens, int64_t *sent,
                                 int64_t *ntokens, int64_t *nsent)
