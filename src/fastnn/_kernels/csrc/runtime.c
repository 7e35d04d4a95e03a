/* Runtime configuration: CPU feature detection and the thread count. */
#include "fnn.h"

#if FNN_OPENMP
#include <omp.h>
#endif

static int fnn_threads = 1;

int fnn_cpu_has_avx2_fma(void)
{
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

void fnn_set_num_threads(int n) { fnn_threads = n < 1 ? 1 : n; }

int fnn_get_num_threads(void) { return fnn_threads; }

int fnn_openmp_enabled(void) { return FNN_OPENMP; }

const char *fnn_isa_name(void) { return FNN_ISA_NAME; }

const char *fnn_build_flags(void) { return FNN_BUILD_FLAGS; }
