# The C kernel layer (csrc/*.h) and the few outside C names the kernels call, as Cython
# sees them: every `cdef extern` of the compiled modules, one block per header.  The
# .pxi files cimport from here what they use; nothing else declares C.
cimport numpy as cnp
from libc.stddef cimport ptrdiff_t


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


cdef extern from "fnn_math.h" nogil:
    void fnn_act_f32(int act, float slope, const float *x, float *y, Py_ssize_t n)
    void fnn_act_f64(int act, double slope, const double *x, double *y, Py_ssize_t n)
    void fnn_act_backward_f32(int act, float slope, const float *g, const float *y,
                              float *gx, Py_ssize_t n)
    void fnn_act_backward_f64(int act, double slope, const double *g, const double *y,
                              double *gx, Py_ssize_t n)


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
