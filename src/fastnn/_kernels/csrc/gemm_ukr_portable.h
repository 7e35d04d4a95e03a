/* The portable micro-kernels of the GEMM and their table, for one element type: part of
 * the gemm_impl.h template (T, FN, MR, NR, VLP, PACK_A_LANES), included by it when not
 * FNN_HAVE_AVX2.
 *
 * Written once with GCC/Clang vector extensions: 16-byte vectors of VLP lanes, which the
 * compiler maps to SSE2 on baseline x86-64 and to NEON on aarch64; `acc += a * b`
 * contracts to a fused multiply-add where the target has one (aarch64), else it is a
 * multiply and an add.  gemm.c sizes the MR x NR tile per target:
 *   SSE2 (16 registers, no FMA): 6 rows of 2 vectors, 6x8 float / 6x4 double.  Each
 *     product is a copy, a multiply and an add (two-operand code): 3 of Zen 4's 6
 *     dispatch slots a cycle whatever the tile, so 12 accumulators leave the loads and
 *     the loop as the only overhead (4x12 and 4x6 spill an accumulator under GCC).
 *     Packed A holds each value VLP times (PACK_A_LANES == VLP): a row broadcast is one
 *     load.  A narrow tile of 3 rows and 3 vectors serves a C of NR + 1 .. NR + VLP
 *     columns (a 10-output layer) in one pass with A read in place, where two MR x NR
 *     panels would spend 4 vectors a row.
 *   NEON (32 registers, FMA): 8x12 float / 6x6 double (24 and 18 accumulators); packed
 *     A holds each value once (PACK_A_LANES == 1) and a step multiplies by its lanes
 *     (`fmla v, v, v.s[l]`).  Three vectors wide, a 10-output layer is one panel.
 * A read through its strides (A_DIRECT and narrow kernels) is broadcast from a scalar.
 * Each element of C is one multiply-add chain over p in every kernel, so the tiling
 * never changes a result.  The kernels are inlined into the driver; k is unrolled by 8
 * (the loop's own instructions share the dispatch slots on SSE2: 2% faster than by 4). */

typedef T FN(vec) __attribute__((vector_size(VLP * sizeof(T))));

#define NV (NR / VLP) /* vectors per row of the MR x NR tile */

/* x in every lane (x - 0 is x, also for -0: no arithmetic is left). */
static FNN_FORCE_INLINE FN(vec) FN(splat)(T x)
{
    return x - (FN(vec)){0};
}

/* Finish the mr x nr tile of R rows and V vectors in acc (row i at acc + i * S): c =
 * act(alpha * acc + beta * c + bias).  Whole rows of unit column stride in vectors
 * (alpha == 1 skips the product, which is exact), the activation on the stored rows;
 * else through FN(store_tile). */
static FNN_FORCE_INLINE void
FN(finish)(const FN(vec) *acc, const int R, const int V, const int S, T *c, ptrdiff_t rsc,
           ptrdiff_t csc, ptrdiff_t mr, ptrdiff_t nr, const FN(epi_t) *e)
{
    if (csc != 1 || nr != V * VLP) {
        _Alignas(64) T t[MR * NR];
#pragma GCC unroll 8
        for (int i = 0; i < R; i++)
#pragma GCC unroll 4
            for (int q = 0; q < V; q++) memcpy(t + i * NR + q * VLP, &acc[i * S + q], sizeof *acc);
        FN(store_tile)(t, mr, nr, c, rsc, csc, e);
        return;
    }
    /* in locals: the stores to c could alias *e, which would be reread after each */
    const T alpha = e->alpha, beta = e->beta, *bias = e->bias;
    const int act = e->act;
#pragma GCC unroll 8
    for (int i = 0; i < R; i++) {
        if (i >= mr)
            break;
        T *ci = c + i * rsc;
#pragma GCC unroll 4
        for (int q = 0; q < V; q++) {
            FN(vec) x = acc[i * S + q], y;
            if (alpha != (T)1)
                x *= alpha;
            if (beta != (T)0) {
                memcpy(&y, ci + q * VLP, sizeof y);
                x += beta * y;
            }
            if (bias) {
                memcpy(&y, bias + q * VLP, sizeof y);
                x += y;
            }
            memcpy(ci + q * VLP, &x, sizeof x);
        }
        if (act != FNN_ACT_IDENTITY)
            ACT_FN(act, e->slope, ci, ci, nr);
    }
}

/* The mr x nr (<= R x V * VLP) tile at c, R rows of V vectors, from kc steps of A and of
 * B: vector q < NV of step p at b + p * bs + q * VLP, vector q >= NV at bt + p * bts +
 * (q - NV) * VLP (a narrow tile's tail panel).  A is a packed micro-panel (`packed`:
 * step p at a + p * MR * PACK_A_LANES) or read through its strides, A(i, p) =
 * a[i * ars + p * acs], rows >= mr reading row mr - 1.  Finished by FN(finish). */
static FNN_FORCE_INLINE void
FN(tile_body)(ptrdiff_t kc, const T *a, ptrdiff_t ars, ptrdiff_t acs, int packed, const T *b,
              ptrdiff_t bs, const T *bt, ptrdiff_t bts, T *c, ptrdiff_t rsc, ptrdiff_t csc,
              ptrdiff_t mr, ptrdiff_t nr, const FN(epi_t) *e, const int R, const int V)
{
    ptrdiff_t off[MR];
    FN(vec) acc[MR * NV];
#pragma GCC unroll 8
    for (int i = 0; i < R; i++) {
        off[i] = FNN_MIN(i, mr - 1) * ars;
#pragma GCC unroll 4
        for (int q = 0; q < V; q++) acc[i * V + q] = (FN(vec)){0};
    }
    if (packed)
        acs = MR * PACK_A_LANES;
#pragma GCC unroll 8
    for (ptrdiff_t p = 0; p < kc; p++, a += acs, b += bs, bt += bts) {
        FN(vec) bv[NV + 1];
#pragma GCC unroll 4
        for (int q = 0; q < V; q++)
            memcpy(&bv[q], q < NV ? b + q * VLP : bt + (q - NV) * VLP, sizeof bv[q]);
#if PACK_A_LANES == 1
        FN(vec) av[MR / VLP];
        if (packed) {
#pragma GCC unroll 4
            for (int g = 0; g < MR / VLP; g++) memcpy(&av[g], a + g * VLP, sizeof av[g]);
        }
#endif
#pragma GCC unroll 8
        for (int i = 0; i < R; i++) {
            FN(vec) ai;
            if (!packed)
                ai = FN(splat)(a[off[i]]);
            else
#if PACK_A_LANES == 1
                ai = FN(splat)(av[i / VLP][i % VLP]);
#else
                memcpy(&ai, a + i * VLP, sizeof ai);
#endif
#pragma GCC unroll 4
            for (int q = 0; q < V; q++) acc[i * V + q] += ai * bv[q];
        }
    }
    if (V <= NV) {
        FN(finish)(acc, R, V, V, c, rsc, csc, mr, nr, e);
        return;
    }
    /* a narrow tile: the NR-wide part, then the tail vector */
    FN(epi_t) et = *e;
    et.bias = e->bias ? e->bias + NR : NULL;
    FN(finish)(acc, R, NV, V, c, rsc, csc, mr, NR, e);
    FN(finish)(acc + NV, R, V - NV, V, c + NR * csc, rsc, csc, mr, nr - NR, &et);
}

/* This path's tiles beside MR x NR, as fnn_gemm_blocking entries {rows, min_cols,
 * max_cols}: SSE2's narrow tile (NARROW_M rows, NV + 1 vectors); none on NEON. */
#if PACK_A_LANES == 1
#define PATH_N_NARROW 0
#define PATH_NARROW_TILES {{0, 0, 0}}
#else
#define NARROW_M 3
#define PATH_N_NARROW 1
#define PATH_NARROW_TILES {{NARROW_M, NR + 1, NR + VLP}}
#endif
#define PATH_PAIRS_TILE {0, 0, 0}

/* Run micro-kernel `ukr` (FNN_UKR_PACKED, _B_DIRECT, _A_DIRECT or _NARROW) on the mr x nr
 * tile at c, as the AVX2 path's FN(ukr_call); the narrow tile's B is a packed NR-wide
 * panel followed by the VLP-wide panel of its tail columns. */
static FNN_FORCE_INLINE void
FN(ukr_call)(int ukr, ptrdiff_t kc, const T *a, ptrdiff_t rsa, ptrdiff_t csa, const T *b,
             ptrdiff_t rsb, T *c, ptrdiff_t rsc, ptrdiff_t csc, ptrdiff_t mr, ptrdiff_t nr,
             const FN(epi_t) *e)
{
    switch (ukr) {
    case FNN_UKR_B_DIRECT:
        FN(tile_body)(kc, a, 0, 0, 1, b, rsb, b, 0, c, rsc, csc, mr, nr, e, MR, NV);
        break;
    case FNN_UKR_PACKED:
        FN(tile_body)(kc, a, 0, 0, 1, b, NR, b, 0, c, rsc, csc, mr, nr, e, MR, NV);
        break;
#ifdef NARROW_M
    case FNN_UKR_NARROW:
        FN(tile_body)(kc, a, rsa, csa, 0, b, NR, b + NR * kc, VLP, c, rsc, csc, mr, nr, e,
                      NARROW_M, NV + 1);
        break;
#endif
    default: /* FNN_UKR_A_DIRECT */
        FN(tile_body)(kc, a, rsa, csa, 0, b, NR, b, 0, c, rsc, csc, mr, nr, e, MR, NV);
    }
}

#undef NV
