/* GEMM entry points: the thread-local packing workspace and the two instantiations
 * (float, double) of the BLIS-style driver in gemm_impl.h.
 *
 * Blocking (per element type, see gemm_impl.h for the loops):
 *   MR x NR  micro-tile held in registers (6x16 float / 6x8 double with AVX2: 12 ymm
 *            accumulators, 2 B vectors and 1 broadcast); an 8x12 float / 8x6 double
 *            tile when C has 9..12 / 5..6 columns (FN(ukr_narrow));
 *   KC       maximum depth of a packed block: a KC x NR B micro-panel (16 KiB) stays
 *            in L1 next to the A micro-panel;
 *   MC       rows of a packed A block: MC x KC (~150 KiB) stays in the 1 MiB L2;
 *   NC       columns of a packed B block (KC x NC, a few MiB) lives in L3.
 * The k blocks depend on k alone, so the summation order and hence the result do not
 * depend on the thread count; MC, NC, packing choices and the thread split only move
 * whole micro-tiles around.
 */
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

#include "gemm.h"
#include "fnn_math.h"

#if FNN_HAVE_AVX2
#include <immintrin.h>
#endif
#if FNN_OPENMP
#include <omp.h>
#endif

/* ------------------------------------------------------------------ workspace */

/* Two growable 64-byte aligned buffers per thread (packed A block, packed B block),
 * kept for the thread's lifetime and freed by a pthread key destructor at exit. */
enum { FNN_WS_A = 0, FNN_WS_B = 1 };

typedef struct {
    void *ptr[2];
    size_t size[2];
    int registered;
} fnn_gemm_ws;

static _Thread_local fnn_gemm_ws fnn_ws;
static pthread_key_t fnn_ws_key;
static pthread_once_t fnn_ws_once = PTHREAD_ONCE_INIT;
static int fnn_ws_key_ok;

static void fnn_ws_release(void *arg)
{
    fnn_gemm_ws *ws = (fnn_gemm_ws *)arg;
    for (int i = 0; i < 2; i++) {
        free(ws->ptr[i]);
        ws->ptr[i] = NULL;
        ws->size[i] = 0;
    }
}

static void fnn_ws_key_init(void) { fnn_ws_key_ok = pthread_key_create(&fnn_ws_key, fnn_ws_release) == 0; }

/* The calling thread's buffer `which` with room for `bytes`, or NULL when out of memory. */
static void *fnn_ws_get(int which, size_t bytes)
{
    fnn_gemm_ws *ws = &fnn_ws;
    if (ws->size[which] >= bytes)
        return ws->ptr[which];
    if (!ws->registered) {
        pthread_once(&fnn_ws_once, fnn_ws_key_init);
        if (fnn_ws_key_ok)
            pthread_setspecific(fnn_ws_key, ws);
        ws->registered = 1;
    }
    free(ws->ptr[which]);
    size_t size = (bytes + 4095) & ~(size_t)4095;
    ws->ptr[which] = aligned_alloc(64, size);
    ws->size[which] = ws->ptr[which] ? size : 0;
    return ws->ptr[which];
}

/* ----------------------------------------------------- in-register transposes */

#if FNN_HAVE_AVX2
/* r[q] (row q of an 8 x 8 float block) becomes column q. */
static inline __attribute__((always_inline)) void fnn_transpose_ps(__m256 *r)
{
    const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    const __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    const __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    const __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    const __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
    r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
    r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
    r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
    r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
    r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
    r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
    r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

/* r[q] (row q of a 4 x 4 double block) becomes column q. */
static inline __attribute__((always_inline)) void fnn_transpose_pd(__m256d *r)
{
    const __m256d t0 = _mm256_unpacklo_pd(r[0], r[1]), t1 = _mm256_unpackhi_pd(r[0], r[1]);
    const __m256d t2 = _mm256_unpacklo_pd(r[2], r[3]), t3 = _mm256_unpackhi_pd(r[2], r[3]);
    r[0] = _mm256_permute2f128_pd(t0, t2, 0x20);
    r[1] = _mm256_permute2f128_pd(t1, t3, 0x20);
    r[2] = _mm256_permute2f128_pd(t0, t2, 0x31);
    r[3] = _mm256_permute2f128_pd(t1, t3, 0x31);
}
#endif

/* --------------------------------------------------------------- instantiations */

#define FNN_MIN(x, y) ((x) < (y) ? (x) : (y))
#define FNN_ROUND_UP(x, r) (((x) + (r) - 1) / (r) * (r))
/* Below this many multiply-adds (~10 us on one core) a second thread costs more than
 * it saves (a parallel region costs a few us, more when a worker must be woken). */
#define FNN_GEMM_PAR_MIN_FMA ((double)(1 << 20))
/* Smallest extra parallel task (rows or columns of C), see FN(gemm). */
#define FNN_GEMM_TASK_MIN 256
/* Unit-stride B is read in place rather than packed when C has at most
 * FNN_GEMM_DIRECT_B_MAX_M rows (too little reuse to amortise packing), or at most
 * FNN_GEMM_DIRECT_B_MAX_M_4K rows if B's rows are a multiple of 4 KiB apart (its
 * micro-panels then crowd into few L2 sets). */
#define FNN_GEMM_DIRECT_B_MAX_M 256
#define FNN_GEMM_DIRECT_B_MAX_M_4K 64

#define T float
#define FN(name) fnn_s##name
#define ACT_FN fnn_act_f32
#define KC 256
#if FNN_HAVE_AVX2
#define VT __m256
#define VOP(op) _mm256_##op##_ps
#define VBCAST _mm256_broadcast_ss
#define VBCAST_HALF(p) _mm256_broadcast_ps((const __m128 *)(p)) /* VL/2 values, twice */
#define VJOIN(lo, hi) _mm256_blend_ps(lo, hi, 0xF0) /* low half of lo, high half of hi */
#define VTRANSPOSE fnn_transpose_ps
/* lanes j < r set */
#define VMASK(r) _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(r)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
#define VL 8
#define MR 6
#define NR 16
#define MC 144
#else
#define MR 4
#define NR 8
#define MC 128
#endif
#define NC 4096
#include "gemm_impl.h"

#define T double
#define FN(name) fnn_d##name
#define ACT_FN fnn_act_f64
#define KC 256
#if FNN_HAVE_AVX2
#define VT __m256d
#define VOP(op) _mm256_##op##_pd
#define VBCAST _mm256_broadcast_sd
#define VBCAST_HALF(p) _mm256_broadcast_pd((const __m128d *)(p))
#define VJOIN(lo, hi) _mm256_blend_pd(lo, hi, 0xC)
#define VTRANSPOSE fnn_transpose_pd
#define VMASK(r) _mm256_cmpgt_epi64(_mm256_set1_epi64x((long long)(r)), _mm256_setr_epi64x(0, 1, 2, 3))
#define VL 4
#define MR 6
#define NR 8
#define MC 72
#else
#define MR 4
#define NR 4
#define MC 64
#endif
#define NC 4096
#include "gemm_impl.h"
