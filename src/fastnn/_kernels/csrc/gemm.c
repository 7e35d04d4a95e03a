/* GEMM entry points: the thread-local packing workspace and the two instantiations
 * (float, double) of the BLIS-style driver in gemm_impl.h.
 *
 * Blocking (per element type, see gemm_impl.h for the loops):
 *   MR x NR  micro-tile held in registers (6x16 float / 6x8 double with AVX2: 12 ymm
 *            accumulators, 2 B vectors and 1 broadcast);
 *   KC       depth of a packed block: a KC x NR B micro-panel (16 KiB) stays in L1;
 *   MC       rows of a packed A block: MC x KC (~150-200 KiB) stays in the 1 MiB L2;
 *   NC       columns of a packed B block (KC x NC, a few MiB) lives in L3.
 * KC is fixed, so the k-summation order and hence the result do not depend on the
 * thread count; MC, NC and the thread split only move whole micro-tiles around.
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

/* --------------------------------------------------------------- instantiations */

#define FNN_MIN(x, y) ((x) < (y) ? (x) : (y))
#define FNN_ROUND_UP(x, r) (((x) + (r) - 1) / (r) * (r))
/* Below this many multiply-adds a second thread costs more than it saves. */
#define FNN_GEMM_PAR_MIN_FMA ((double)(1 << 20))
/* Unit-stride B is read in place rather than packed, unless its rows are a multiple
 * of 4 KiB apart (a micro-panel's rows then crowd into few L2 sets) and C has more
 * than this many rows (enough reuse to amortise packing). */
#define FNN_GEMM_DIRECT_B_MAX_M 64

#define T float
#define FN(name) fnn_s##name
#define ACT_FN fnn_act_f32
#define KC 256
#if FNN_HAVE_AVX2
#define VT __m256
#define VOP(op) _mm256_##op##_ps
#define VBCAST _mm256_broadcast_ss
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
