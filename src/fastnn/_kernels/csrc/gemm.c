/* GEMM entry points: the thread-local packing workspace and the two instantiations
 * (float, double) of the BLIS-style driver in gemm_impl.h.
 *
 * Blocking (per element type, see gemm_impl.h for the loops; fnn_sgemm_blocking() and
 * fnn_dgemm_blocking() return it, Python reads it as GEMM_BLOCKING):
 *   MR x NR  micro-tile held in registers (6x16 float / 6x8 double with AVX2: 12 ymm
 *            accumulators, 2 B vectors and 1 broadcast; 8x32 / 8x16 with AVX-512: 16
 *            zmm accumulators, 2 B vectors; 8 rows divide the usual batch sizes, where 12
 *            rows measured 5-10% slower on 64-row products);
 *            the path's other tiles are listed in gemm_ukr_avx2.h (narrow and row-pair
 *            tiles, 256-bit in both x86 paths) and gemm_ukr_portable.h (a narrow tile
 *            and a column tile, COLS_*, on SSE2).  The portable path's tile is in 16-byte vectors: 6x8 float /
 *            6x4 double with SSE2 (12 accumulators: two-operand code needs a register
 *            for each product; packed A holds each value VLP times, PACK_A_LANES, so a
 *            row broadcast is one load), 8x12 / 6x6 with NEON (32 registers; packed A
 *            once, multiplied by lane), FNN_PORTABLE(neon, other);
 *   KC       maximum depth of a packed block: a KC x NR B micro-panel (16 KiB) stays
 *            in L1 next to the A micro-panel (SSE2: 512 deep, 8 float / 4 double columns);
 *   MC       rows of a packed A block: MC x KC (~150-400 KiB) stays in the 1 MiB L2;
 *   NC       columns of a packed B block (KC x NC, a few MiB) lives in L3.
 * The k blocks depend on k alone, so the summation order and hence the result do not
 * depend on the thread count; MC, NC, packing choices and the thread split only move
 * whole micro-tiles around.
 */
#include <stdlib.h>
#include <string.h>

#include "gemm.h"
#include "fnn_math.h"
#include "fnn_simd.h"
#if FNN_OPENMP
#include <omp.h>
#endif

/* ------------------------------------------------------------------ workspace */

/* Two growable 64-byte aligned buffers per thread (packed A block, packed B block),
 * kept for the thread's lifetime and freed when it exits (fnn_at_thread_exit). */
enum { FNN_WS_A = 0, FNN_WS_B = 1 };

typedef struct {
    void *ptr[2];
    size_t size[2];
} fnn_gemm_ws;

static _Thread_local fnn_gemm_ws *fnn_ws;

static void fnn_ws_release(void *arg)
{
    fnn_gemm_ws *ws = (fnn_gemm_ws *)arg;
    if (fnn_ws == ws)
        fnn_ws = NULL; /* a GEMM from a later exit callback of this thread starts afresh */
    for (int i = 0; i < 2; i++)
        fnn_aligned_free(ws->ptr[i]);
    free(ws);
}

/* The calling thread's buffer `which` with room for `bytes`, or NULL when out of memory. */
static void *fnn_ws_get(int which, size_t bytes)
{
    fnn_gemm_ws *ws = fnn_ws;
    if (!ws) {
        if (!(ws = calloc(1, sizeof *ws)))
            return NULL;
        fnn_ws = ws;
        fnn_at_thread_exit(fnn_ws_release, ws); /* on failure, freed only with the process */
    }
    if (ws->size[which] >= bytes)
        return ws->ptr[which];
    fnn_aligned_free(ws->ptr[which]);
    size_t size = (bytes + 4095) & ~(size_t)4095;
    ws->ptr[which] = fnn_aligned_alloc(64, size);
    ws->size[which] = ws->ptr[which] ? size : 0;
    return ws->ptr[which];
}

/* -------------------------------------------------------------- AVX2 helpers */

#if FNN_HAVE_AVX2
/* Two consecutive floats at p, repeated (a 64-bit broadcast; memcpy keeps it legal C). */
static FNN_FORCE_INLINE __m256 fnn_bcast_pair_ps(const float *p)
{
    double d;
    memcpy(&d, p, sizeof d);
    return _mm256_castpd_ps(_mm256_set1_pd(d));
}

/* The 64-bit group r (0..3) of x in lanes 0, 1 (and repeated). */
static FNN_FORCE_INLINE __m256 fnn_quarter_ps(__m256 x, int r)
{
    return _mm256_permutevar8x32_ps(x, _mm256_set1_epi64x(((long long)(2 * r + 1) << 32) | (2 * r)));
}

/* Blend doubles by float lanes (imm: the float mask). */
#define FNN_BLEND_PD(x, y, imm) \
    _mm256_castps_pd(_mm256_blend_ps(_mm256_castpd_ps(x), _mm256_castpd_ps(y), imm))
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
 * FNN_GEMM_DIRECT_B_MAX_M rows (too little reuse to amortise packing), at most
 * FNN_GEMM_DIRECT_B_MAX_M_4K rows if B's rows are a multiple of 4 KiB apart (its
 * micro-panels then crowd into few L2 sets), or at most FNN_GEMM_DIRECT_B_MAX_M_SPLIT
 * rows if they are not a multiple of 64 bytes apart (then most NR-wide row loads span
 * two cache lines: the forward product of a 784-100 layer on 200 rows, float64, ran ~5%
 * faster on packed B). */
#define FNN_GEMM_DIRECT_B_MAX_M 256
#define FNN_GEMM_DIRECT_B_MAX_M_4K 64
#define FNN_GEMM_DIRECT_B_MAX_M_SPLIT 128
/* Row-major A (unit column stride, not gathered) is read in place rather than packed on
 * the AVX2 path when C has at least FNN_GEMM_DIRECT_A_MIN_M rows and whole NR-wide column
 * panels, at most FNN_GEMM_DIRECT_A_MAX_PANELS of them: the broadcasts from MR rows of A
 * keep up with the 6 x NR tile and the packing is saved (float32, k 200-784, m 100-800,
 * n 96-256: 3-6% faster, CPU time; 512 columns, fewer rows or column-major A: packed
 * is as fast or faster; a partial last panel's row-pair tile needs packed A). */
#if FNN_HAVE_AVX2 && !FNN_HAVE_AVX512
#define FNN_GEMM_DIRECT_A_MIN_M 96
#else
#define FNN_GEMM_DIRECT_A_MIN_M 0 /* never (not measured faster on the other paths) */
#endif
#define FNN_GEMM_DIRECT_A_MAX_PANELS 16

/* The micro-kernels a path may have (gemm_impl.h, gemm_ukr_*.h): */
enum {
    FNN_UKR_PACKED,   /* MR x NR, packed A and B micro-panels */
    FNN_UKR_A_DIRECT, /* MR x NR, A read through its strides, B packed */
    FNN_UKR_B_DIRECT, /* MR x NR, A packed, NR unit-stride columns of B read in place */
    FNN_UKR_NARROW,   /* a narrow tile (fnn_gemm_blocking.narrow), A through its strides */
    FNN_UKR_PAIRS     /* the row-pair tile (fnn_gemm_blocking.pairs), packed A and B */
};

/* A number of the portable path on NEON (32 registers, FMA, multiply by a lane) or
 * elsewhere (SSE2: 16 registers, no FMA), see gemm_ukr_portable.h. */
#if defined(__aarch64__) || defined(__ARM_NEON)
#define FNN_PORTABLE(neon, other) neon
#else
#define FNN_PORTABLE(neon, other) other
#endif

/* A micro-kernel and the rows of C one call of it covers. */
typedef struct {
    int ukr;
    ptrdiff_t rows;
} fnn_ukr_tile;

#define T float
#define FN(name) fnn_s##name
#define ACT_FN fnn_act_f32
#if FNN_HAVE_AVX2
#define KC 256
#define VT __m256
#define VOP(op) _mm256_##op##_ps
#define VBCAST _mm256_broadcast_ss
#define VBCAST_HALF(p) _mm256_broadcast_ps((const __m128 *)(p)) /* VL/2 values, twice */
#define VBCAST_QUARTER fnn_bcast_pair_ps /* VL/4 values (64 bits), four times */
#define VBCAST_PAIR fnn_bcast_pair_ps /* p[0], p[1] in the even, odd lanes */
#define VJOIN(lo, hi) _mm256_blend_ps(lo, hi, 0xF0) /* low half of lo, high half of hi */
/* 64-bit group q from x_q: two independent blends, then one (a short chain) */
#define VSPREAD4(x0, x1, x2, x3) \
    _mm256_blend_ps(_mm256_blend_ps(x0, x1, 0xCC), _mm256_blend_ps(x2, x3, 0xCC), 0xF0)
#define VQUARTER(x, r) fnn_quarter_ps(x, r) /* 64-bit group r of x to lanes 0.. */
/* lanes 2j, 2j+1 = p[j] (j < VL/2), and its inverse: even lanes to the low half */
#define VDUP_PAIRS(p) _mm256_permutevar8x32_ps(VBCAST_HALF(p), _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3))
#define VUNZIP_PAIRS(x) _mm256_permutevar8x32_ps(x, _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7))
#define VSTORE_LO(p, x) _mm_storeu_ps(p, _mm256_castps256_ps128(x)) /* lanes 0..VL/2-1 */
#define VTRANSPOSE fnn_transpose_ps
#define VREDUCE fnn_reduce_ps /* VL vectors to one of their sums */
#define VMASK fnn_lanes_ps /* lanes j < r set */
#define VL 8
#if FNN_HAVE_AVX512 /* the MR x NR tile in 512-bit vectors (gemm_ukr_avx512.h) */
#define WT __m512
#define WOP(op) _mm512_##op##_ps
#define WLESS(x, y) _mm512_cmp_ps_mask(x, y, _CMP_LT_OQ) /* opmask of x < y */
#define WL 16
#define MR 8
#define NR 32
#else
#define MR 6
#define NR 16
#endif
#define MC 144
#define PACK_A_LANES 1
#else /* vector extensions, 16-byte vectors (gemm_ukr_portable.h) */
#define VLP 4
#define MR FNN_PORTABLE(8, 6)
#define NR FNN_PORTABLE(12, 8)
/* SSE2: one depth block up to k = 512 (one pass over C; a 16 KiB B micro-panel) and a
 * 384 KiB splat-packed A block: 512^3 3-4% faster than 256 x 72 */
#define KC FNN_PORTABLE(256, 512)
#define MC FNN_PORTABLE(72, 48)
#define PACK_A_LANES FNN_PORTABLE(1, VLP)
#if PACK_A_LANES > 1 /* SSE2: the column tile, 8 rows by 6 columns, for 9..12 columns */
#define COLS_M (2 * VLP)
#define COLS_W 6
#define COLS_MIN 9
#endif
#endif
#define NC 4096
#include "gemm_impl.h"

#define T double
#define FN(name) fnn_d##name
#define ACT_FN fnn_act_f64
#if FNN_HAVE_AVX2
#define KC 256
#define VT __m256d
#define VOP(op) _mm256_##op##_pd
#define VBCAST _mm256_broadcast_sd
#define VBCAST_HALF(p) _mm256_broadcast_pd((const __m128d *)(p))
#define VBCAST_QUARTER _mm256_broadcast_sd
#define VBCAST_PAIR(p) _mm256_broadcast_pd((const __m128d *)(p))
/* blends as vblendps (bitwise the same): vblendpd cost as much as an FMA on Zen 4 */
#define VJOIN(lo, hi) FNN_BLEND_PD(lo, hi, 0xF0)
#define VSPREAD4(x0, x1, x2, x3) \
    FNN_BLEND_PD(FNN_BLEND_PD(x0, x1, 0xCC), FNN_BLEND_PD(x2, x3, 0xCC), 0xF0)
#define VQUARTER(x, r) _mm256_castps_pd(fnn_quarter_ps(_mm256_castpd_ps(x), r))
#define VDUP_PAIRS(p) _mm256_permute4x64_pd(VBCAST_HALF(p), 0x50)
#define VUNZIP_PAIRS(x) _mm256_permute4x64_pd(x, 0xD8)
#define VSTORE_LO(p, x) _mm_storeu_pd(p, _mm256_castpd256_pd128(x))
#define VTRANSPOSE fnn_transpose_pd
#define VREDUCE fnn_reduce_pd
#define VMASK fnn_lanes_pd
#define VL 4
#if FNN_HAVE_AVX512
#define WT __m512d
#define WOP(op) _mm512_##op##_pd
#define WLESS(x, y) _mm512_cmp_pd_mask(x, y, _CMP_LT_OQ)
#define WL 8
#define MR 8
#define NR 16
#else
#define MR 6
#define NR 8
#endif
#define MC 72
#define PACK_A_LANES 1
#else
#define VLP 2
#define MR 6
#define NR FNN_PORTABLE(6, 4)
/* SSE2: as float, one depth block up to k = 512 (a 16 KiB B micro-panel), and 24 rows
 * (192 KiB of packed A): 512^3 and 200-1000-row products with k 300-1000 3-7% faster
 * than 256 x 72 (48 rows: 2% slower than 24; float stays at 48, where 24 measured
 * 1% faster at 512^3 but 5% slower at 200x1000 @ 1000x300) */
#define KC FNN_PORTABLE(256, 512)
#define MC FNN_PORTABLE(72, 24)
#define PACK_A_LANES FNN_PORTABLE(1, VLP)
#if PACK_A_LANES > 1 /* SSE2: the column tile, 4 rows by 5 columns, for 9..10 columns */
#define COLS_M (2 * VLP)
#define COLS_W 5
#define COLS_MIN 9
#endif
#endif
#define NC 4096
#include "gemm_impl.h"
