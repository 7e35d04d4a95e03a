/* Runtime configuration: CPU feature detection, the thread count and its bound, the
 * OpenMP thread pool around fork(), and the operating system's services the kernels
 * need (a monotonic clock, thread-exit callbacks), each for POSIX and for Windows. */
#include <stdlib.h>
#include <string.h>

#include "fnn.h"

#if defined(_WIN32)
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#else
#include <pthread.h>
#include <time.h>
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

/* ------------------------------------------------------------------ the CPU */

#if defined(__x86_64__) || defined(__i386__) || defined(_M_X64) || defined(_M_IX86)
#define FNN_X86 1
/* CPUID and XGETBV: <intrin.h> with the MSVC front ends (clang-cl), <cpuid.h> and the
 * instruction itself with GCC and Clang elsewhere (MinGW too, whose _xgetbv would need
 * -mxsave). */
#if defined(_MSC_VER)
#include <intrin.h>

static unsigned fnn_cpuid_max(void)
{
    int r[4];
    __cpuid(r, 0);
    return (unsigned)r[0];
}

static void fnn_cpuid_raw(unsigned leaf, unsigned sub, unsigned r[4])
{
    int x[4];
    __cpuidex(x, (int)leaf, (int)sub);
    for (int i = 0; i < 4; i++)
        r[i] = (unsigned)x[i];
}

static uint64_t fnn_xcr0(void) { return _xgetbv(0); }
#else
#include <cpuid.h>

static unsigned fnn_cpuid_max(void) { return __get_cpuid_max(0, NULL); }

static void fnn_cpuid_raw(unsigned leaf, unsigned sub, unsigned r[4])
{
    __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
}

static uint64_t fnn_xcr0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}
#endif

/* CPUID leaf `leaf`, subleaf `sub` into r = {eax, ebx, ecx, edx}; 0 when the CPU has
 * no such leaf. */
static int fnn_cpuid(unsigned leaf, unsigned sub, unsigned r[4])
{
    if (leaf > fnn_cpuid_max())
        return 0;
    fnn_cpuid_raw(leaf, sub, r);
    return 1;
}

#define FNN_CPUID1_ECX_FMA (1u << 12)
#define FNN_CPUID1_ECX_OSXSAVE (1u << 27)
#define FNN_CPUID7_EBX_AVX2 (1u << 5)
#define FNN_CPUID7_EBX_AVX512F (1u << 16)
#define FNN_CPUID7_EBX_AVX512DQ (1u << 17)
#define FNN_CPUID7_EBX_AVX512BW (1u << 30)
#define FNN_CPUID7_EBX_AVX512VL (1u << 31)

/* Leaf 1 ECX and leaf 7 EBX when the OS saves every bit of `state` in XCR0, else 0. */
static int fnn_cpu_features(uint64_t state, unsigned *ecx1, unsigned *ebx7)
{
    unsigned r[4];
    if (!fnn_cpuid(1, 0, r) || !(r[2] & FNN_CPUID1_ECX_OSXSAVE) || (fnn_xcr0() & state) != state)
        return 0;
    *ecx1 = r[2];
    if (!fnn_cpuid(7, 0, r))
        return 0;
    *ebx7 = r[1];
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
    return fnn_cpu_features(FNN_XCR0_YMM, &ecx1, &ebx7) && (ecx1 & FNN_CPUID1_ECX_FMA) &&
           (ebx7 & FNN_CPUID7_EBX_AVX2);
#else
    return 0;
#endif
}

int fnn_cpu_has_avx512(void)
{
#if FNN_X86
    unsigned ecx1, ebx7;
    const unsigned need = FNN_CPUID7_EBX_AVX512F | FNN_CPUID7_EBX_AVX512BW |
                          FNN_CPUID7_EBX_AVX512DQ | FNN_CPUID7_EBX_AVX512VL;
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
    unsigned r[4];
    if (!fnn_cpuid(0, 0, r))
        return;
    memcpy(vendor, &r[1], 4);
    memcpy(vendor + 4, &r[3], 4);
    memcpy(vendor + 8, &r[2], 4);
    vendor[12] = 0;
    if (!fnn_cpuid(1, 0, r))
        return;
    const unsigned a = r[0];
    const int base = (a >> 8) & 0xF, ext = (a >> 20) & 0xFF;
    *family = base == 0xF ? base + ext : base;
    *model = ((a >> 4) & 0xF) | (base == 0x6 || base == 0xF ? ((a >> 16) & 0xF) << 4 : 0);
#endif
}

/* ------------------------------------------------------------------ threads */

/* The CPUs this process may run on (online CPUs; every processor group on Windows). */
static int64_t fnn_online_cpus(void)
{
#if defined(_WIN32)
    return (int64_t)GetActiveProcessorCount(ALL_PROCESSOR_GROUPS);
#elif defined(_SC_NPROCESSORS_ONLN)
    return (int64_t)sysconf(_SC_NPROCESSORS_ONLN);
#elif FNN_OPENMP
    return omp_get_num_procs();
#else
    return 1;
#endif
}

int fnn_max_threads(void)
{
    int64_t cpus = fnn_online_cpus();
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

/* ------------------------------------------------------- operating system */

double fnn_seconds(void)
{
#if defined(_WIN32)
    LARGE_INTEGER count, freq;
    QueryPerformanceCounter(&count);
    QueryPerformanceFrequency(&freq);
    return (double)count.QuadPart / (double)freq.QuadPart;
#else
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
#endif
}

/* The calls a thread registered, run in reverse order when it exits.  The table is
 * allocated on the heap (the slot holds it), not in thread-local storage, which may
 * already be gone when the exit callbacks run. */
typedef struct {
    int n;
    struct {
        void (*fn)(void *);
        void *arg;
    } call[FNN_THREAD_EXIT_CALLS];
} fnn_exit_calls;

static void fnn_run_exit_calls(void *p)
{
    fnn_exit_calls *calls = (fnn_exit_calls *)p;
    while (calls->n > 0) {
        calls->n--;
        calls->call[calls->n].fn(calls->call[calls->n].arg);
    }
    free(calls);
}

#if defined(_WIN32)
static DWORD fnn_exit_slot = FLS_OUT_OF_INDEXES;
static INIT_ONCE fnn_exit_once = INIT_ONCE_STATIC_INIT;

static void WINAPI fnn_fls_callback(void *p) { fnn_run_exit_calls(p); }

static BOOL CALLBACK fnn_exit_slot_init(INIT_ONCE *once, void *param, void **context)
{
    (void)once, (void)param, (void)context;
    fnn_exit_slot = FlsAlloc(fnn_fls_callback);
    return TRUE;
}

static fnn_exit_calls *fnn_exit_table(void)
{
    InitOnceExecuteOnce(&fnn_exit_once, fnn_exit_slot_init, NULL, NULL);
    if (fnn_exit_slot == FLS_OUT_OF_INDEXES)
        return NULL;
    fnn_exit_calls *calls = (fnn_exit_calls *)FlsGetValue(fnn_exit_slot);
    if (!calls && (calls = calloc(1, sizeof *calls)) != NULL && !FlsSetValue(fnn_exit_slot, calls)) {
        free(calls);
        calls = NULL;
    }
    return calls;
}
#else
static pthread_key_t fnn_exit_key;
static pthread_once_t fnn_exit_once = PTHREAD_ONCE_INIT;
static int fnn_exit_key_ok;

static void fnn_exit_key_init(void)
{
    fnn_exit_key_ok = pthread_key_create(&fnn_exit_key, fnn_run_exit_calls) == 0;
}

static fnn_exit_calls *fnn_exit_table(void)
{
    pthread_once(&fnn_exit_once, fnn_exit_key_init);
    if (!fnn_exit_key_ok)
        return NULL;
    fnn_exit_calls *calls = (fnn_exit_calls *)pthread_getspecific(fnn_exit_key);
    if (!calls && (calls = calloc(1, sizeof *calls)) != NULL &&
        pthread_setspecific(fnn_exit_key, calls) != 0) {
        free(calls);
        calls = NULL;
    }
    return calls;
}
#endif

int fnn_at_thread_exit(void (*fn)(void *), void *arg)
{
    fnn_exit_calls *calls = fnn_exit_table();
    if (!calls || calls->n == FNN_THREAD_EXIT_CALLS)
        return -1;
    calls->call[calls->n].fn = fn;
    calls->call[calls->n].arg = arg;
    calls->n++;
    return 0;
}
