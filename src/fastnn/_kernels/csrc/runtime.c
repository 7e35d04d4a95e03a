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

#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
#define FNN_X86 1
#include <cpuid.h>
#include <string.h>

/* XCR0, the register state the OS saves on a context switch (valid when OSXSAVE is set). */
static uint64_t fnn_xcr0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

/* Leaf 1 ECX and leaf 7 EBX when the OS saves every bit of `state` in XCR0, else 0. */
static int fnn_cpu_features(uint64_t state, unsigned *ecx1, unsigned *ebx7)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE) || (fnn_xcr0() & state) != state)
        return 0;
    *ecx1 = c;
    if (!__get_cpuid_count(7, 0, &a, ebx7, &c, &d))
        return 0;
    return 1;
}
#else
#define FNN_X86 0
#endif

enum {
    FNN_XCR0_YMM = 0x6,   /* SSE and AVX (upper YMM) state */
    FNN_XCR0_ZMM = 0xE6   /* ... and opmask, upper ZMM0-15, ZMM16-31 */
};

int fnn_cpu_has_avx2_fma(void)
{
#if FNN_X86
    unsigned ecx1, ebx7;
    return fnn_cpu_features(FNN_XCR0_YMM, &ecx1, &ebx7) && (ecx1 & bit_FMA) && (ebx7 & bit_AVX2);
#else
    return 0;
#endif
}

int fnn_cpu_has_avx512(void)
{
#if FNN_X86
    unsigned ecx1, ebx7;
    const unsigned need = bit_AVX512F | bit_AVX512BW | bit_AVX512DQ | bit_AVX512VL;
    return fnn_cpu_has_avx2_fma() && fnn_cpu_features(FNN_XCR0_ZMM, &ecx1, &ebx7) &&
           (ebx7 & need) == need;
#else
    return 0;
#endif
}

void fnn_cpu_id(char vendor[13], int *family, int *model)
{
    vendor[0] = 0;
    *family = *model = 0;
#if FNN_X86
    unsigned a, b, c, d;
    if (!__get_cpuid(0, &a, &b, &c, &d))
        return;
    memcpy(vendor, &b, 4);
    memcpy(vendor + 4, &d, 4);
    memcpy(vendor + 8, &c, 4);
    vendor[12] = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return;
    const int base = (a >> 8) & 0xF, ext = (a >> 20) & 0xFF;
    *family = base == 0xF ? base + ext : base;
    *model = ((a >> 4) & 0xF) | (base == 0x6 || base == 0xF ? ((a >> 16) & 0xF) << 4 : 0);
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
