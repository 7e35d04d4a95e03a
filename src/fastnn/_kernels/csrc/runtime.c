/* Runtime configuration: CPU feature detection, the thread count and its bound, and
 * the OpenMP thread pool around fork(). */
#include "fnn.h"

#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#endif
#if FNN_OPENMP
#include <omp.h>
#endif

/* omp_pause_resource_all (OpenMP 5.0) is in libgomp since GCC 9, although GCC still
 * reports _OPENMP 201511, and in LLVM's libomp since the clang that reports 201811. */
#if FNN_OPENMP && ((defined(__clang__) && _OPENMP >= 201811) || \
                   (!defined(__clang__) && defined(__GNUC__) && __GNUC__ >= 9))
#define FNN_OMP_PAUSE 1
#else
#define FNN_OMP_PAUSE 0
#endif

enum {
    FNN_THREADS_PER_CPU = 4, /* the most threads per online CPU a setting may ask for */
    FNN_CPUS_MAX = 1 << 16   /* keeps FNN_THREADS_PER_CPU * cpus far from INT_MAX */
};

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

int fnn_max_threads(void)
{
    long cpus = 1;
#if defined(_SC_NPROCESSORS_ONLN)
    cpus = sysconf(_SC_NPROCESSORS_ONLN);
#elif FNN_OPENMP
    cpus = omp_get_num_procs();
#endif
    if (cpus < 1)
        cpus = 1;
    if (cpus > FNN_CPUS_MAX)
        cpus = FNN_CPUS_MAX;
    return FNN_THREADS_PER_CPU * (int)cpus;
}

/* Clamped here, whatever the caller checked: every parallel region passes this count
 * to num_threads(), and libgomp dies creating tens of thousands of threads.  Built
 * without OpenMP, the parallel loops run serially: the count is 1, whatever was asked. */
void fnn_set_num_threads(int n)
{
    const int most = fnn_max_threads();
    fnn_threads = !FNN_OPENMP || n < 1 ? 1 : n > most ? most : n;
}

int fnn_get_num_threads(void) { return fnn_threads; }

int fnn_release_threads(void)
{
#if FNN_OMP_PAUSE
    return omp_pause_resource_all(omp_pause_hard) == 0;
#else
    return !FNN_OPENMP;
#endif
}

FNN_EXPORT int fastnn_num_threads(void) { return fnn_threads; }

int fnn_openmp_enabled(void) { return FNN_OPENMP; }

const char *fnn_isa_name(void) { return FNN_ISA_NAME; }

const char *fnn_build_flags(void) { return FNN_BUILD_FLAGS; }
