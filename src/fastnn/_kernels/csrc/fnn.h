/* fastnn C kernel layer: shared declarations.
 *
 * Every C source here is compiled twice (see setup.py): once with the platform's
 * baseline flags and once with -mavx2 -mfma.  Code that needs intrinsics tests
 * FNN_HAVE_AVX2 and falls back to portable C otherwise.
 */
#ifndef FNN_H
#define FNN_H

#include <stddef.h>
#include <stdint.h>

#if defined(__AVX2__) && defined(__FMA__)
#define FNN_HAVE_AVX2 1
#define FNN_ISA_NAME "avx2"
#else
#define FNN_HAVE_AVX2 0
#define FNN_ISA_NAME "portable"
#endif

/* The one table of codes that cross the Python / Cython / C boundary.  Cython exports
 * them to Python as ACTIVATION_CODES and LOSS_CODES (config.pxi), keyed by the name of
 * the kernel in fastnn.ops; every Python module reads them from there.  A new entry
 * here needs its line in that dictionary, and tests/test_registry.py then tests it. */

/* Activations: the elementwise kernels, the GEMM epilogue and the compiled epoch. */
enum {
    FNN_ACT_IDENTITY = 0,
    FNN_ACT_RELU = 1,
    FNN_ACT_LEAKY_RELU = 2,
    FNN_ACT_TANH = 3,
    FNN_ACT_SIGMOID = 4
};

/* Losses: the pointwise loss kernels and the compiled epoch. */
enum {
    FNN_LOSS_SOFTMAX_XENT = 0,
    FNN_LOSS_MSE = 1,
    FNN_LOSS_BCE = 2
};

/* runtime.c */
int fnn_cpu_has_avx2_fma(void);
void fnn_set_num_threads(int n);
int fnn_get_num_threads(void);
int fnn_openmp_enabled(void);
const char *fnn_isa_name(void);
const char *fnn_build_flags(void);

/* peak.c */
double fnn_peak_gflops(int is_double, double seconds);

#endif
