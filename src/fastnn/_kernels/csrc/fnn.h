/* fastnn C kernel layer: shared declarations.
 *
 * Every C source here is compiled once per path (see setup.py): with the platform's
 * baseline flags, with -mavx2 -mfma and with AVX-512 F/BW/DQ/VL.  Code that needs
 * intrinsics tests FNN_HAVE_AVX2 (true in the AVX-512 build too) or FNN_HAVE_AVX512 and
 * falls back to portable C otherwise.
 */
#ifndef FNN_H
#define FNN_H

#include <stddef.h>
#include <stdint.h>

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512DQ__) && \
    defined(__AVX512VL__) && defined(__FMA__)
#define FNN_HAVE_AVX512 1
#define FNN_HAVE_AVX2 1
#define FNN_ISA_NAME "avx512"
#elif defined(__AVX2__) && defined(__FMA__)
#define FNN_HAVE_AVX512 0
#define FNN_HAVE_AVX2 1
#define FNN_ISA_NAME "avx2"
#else
#define FNN_HAVE_AVX512 0
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
    FNN_LOSS_BCE = 2,
    FNN_LOSS_POISSON = 3
};

/* ---- Portability: every compiler and platform difference of the C layer is here.
 * The compilers are GCC and Clang (Linux, macOS, MinGW-w64) and clang-cl on Windows
 * (setup.py picks it over cl.exe): the kernels use GCC vector extensions, which only
 * the GCC/Clang family has.  Windows is LLP64: `long` is 32 bits there, so sizes and
 * indices are ptrdiff_t / int64_t, never long. */
#if !defined(__GNUC__) && !defined(__clang__)
#error "fastnn's C kernels need GCC or Clang (on Windows clang-cl): they use vector extensions"
#endif

/* Always inlined / never inlined, whatever the optimiser would decide. */
#define FNN_FORCE_INLINE inline __attribute__((always_inline))
#define FNN_NOINLINE __attribute__((noinline))

/* Visible outside the shared library (the build hides everything else; on Windows a
 * DLL exports nothing unless told). */
#if defined(_WIN32)
#define FNN_EXPORT __declspec(dllexport)
#else
#define FNN_EXPORT __attribute__((visibility("default")))
#endif

/* Memory aligned to `align` bytes (a power of two; `size` a multiple of it), released
 * with fnn_aligned_free: the Windows C runtime has no aligned_alloc. */
#if defined(_WIN32)
#include <malloc.h>
#define fnn_aligned_alloc(align, size) _aligned_malloc((size), (align))
#define fnn_aligned_free _aligned_free
#else
#include <stdlib.h>
#define fnn_aligned_alloc(align, size) aligned_alloc((align), (size))
#define fnn_aligned_free free
#endif

/* runtime.c */
/* What the running CPU and OS support (CPUID, and XGETBV for the register state the OS
 * saves): AVX2 and FMA with the YMM state; AVX-512 F, BW, DQ, VL with the opmask and
 * ZMM state.  0 off x86. */
int fnn_cpu_has_avx2_fma(void);
int fnn_cpu_has_avx512(void);
/* The CPU's vendor string (12 characters, "" off x86) and its family and model as
 * CPUID leaf 1 reports them (extended fields added). */
void fnn_cpu_id(char vendor[13], int *family, int *model);
/* The largest thread count fnn_set_num_threads keeps: 4 per online CPU. */
int fnn_max_threads(void);
/* Sets the thread count of every parallel region, clamped to [1, fnn_max_threads()]. */
void fnn_set_num_threads(int n);
int fnn_get_num_threads(void);
/* Ends the calling thread's OpenMP thread pool; the next parallel region starts a new
 * one.  Called just before fork(): the child inherits the pool's bookkeeping but not
 * its threads, and libgomp then waits for them forever.  Returns 1 when the pool is
 * gone (or there is none), 0 when this OpenMP runtime cannot release it. */
int fnn_release_threads(void);
/* The thread count under a name of fastnn's own, exported so that fastnn's threadpoolctl
 * controller can tell this library from any other whose file name starts the same. */
FNN_EXPORT int fastnn_num_threads(void);
int fnn_openmp_enabled(void);
const char *fnn_isa_name(void);
const char *fnn_build_flags(void);

/* Seconds on a monotonic clock (an arbitrary origin). */
double fnn_seconds(void);
/* Arranges for fn(arg) to run when the calling thread exits, after the calls registered
 * later by that thread (a POSIX thread key; on Windows a fiber-local storage slot, whose
 * callback runs at thread exit).  At most FNN_THREAD_EXIT_CALLS per thread.  Returns 0,
 * or -1 (nothing registered: out of memory, or the table is full). */
enum { FNN_THREAD_EXIT_CALLS = 4 };
int fnn_at_thread_exit(void (*fn)(void *), void *arg);

/* peak.c */
double fnn_peak_gflops(int is_double, double seconds);

#endif
