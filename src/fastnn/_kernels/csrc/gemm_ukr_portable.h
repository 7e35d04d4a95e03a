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
 *     load.  A column tile serves 9..12 float / 9..10 double columns (a 10-output
 *     layer; FN(run_cols)): rows of C as two vectors, 6 / 5 columns a tile, two tiles a
 *     row panel, A m-major (packed once by transposes, or its contiguous columns read in
 *     place) and B splat, where NR-wide panels would pack all of A VLP times and compute
 *     16 / 12 columns (float, 256x128 @ 128x10: 1.05x the 3-row narrow tile, 1.25x
 *     with A given transposed).  A narrow tile of 3 rows and 3 vectors serves 5..6
 *     double columns in one pass with A read in place, where two MR x NR panels would
 *     spend 4 vectors a row.
 *   NEON (32 registers, FMA): 8x12 float / 6x6 double (24 and 18 accumulators); packed
 *     A holds each value once (PACK_A_LANES == 1) and a step multiplies by its lanes
 *     (`fmla v, v, v.s[l]`).  Three vectors wide, a 10-output layer is one panel.
 * A read through its strides (A_DIRECT and narrow kernels) is broadcast from a scalar.
 * Each element of C is one multiply-add chain over p in every kernel, so the tiling
 * never changes a result.  The kernels are inlined into the driver; k is unrolled by 8
 * (the loop's own instructions share the dispatch slots on SSE2: 2% faster than by 4).
 * The SSE2 6x8 loop (GCC 12, Zen 4) runs 6.3 cycles a step with its panels in L1 (6 at
 * the multiply and add pipes), ~6.6 inside the 512^3 float product (94% of its time).
 * Measured no faster there (CPU time): the last row's A as memory operands of its
 * multiplies (one macro-op fewer a step; in isolation 7.0 cycles); A loaded twice a row
 * instead of copied (14 loads a step: 0.88x); B reloaded mid-step to save copies
 * (0.55-0.97x); prefetching A 8-32 steps ahead (0.92x); the A-stationary loop order (an
 * A micro-panel kept in L1, B streamed from L2) at KC 128-512; KC 128-384;
 * -fschedule-insns (0.55x: more copies).  B splat instead of A (an 8x6 tile with rows
 * as lanes, as the column tile: B packed VLP times once per k block, A in plain 8-row
 * vectors, so its L2 stream is a quarter and the B micro-panel is reused by every row
 * panel; C transposed on store), KC 192-512, MC 64-512, also with each B micro-panel
 * splat into an L1 buffer just before use: 0.96-1.02x (12x4: 0.55x, spills).  Its loop
 * has the same shape (GCC 12: 37.75 macro-ops a step) and runs 6.5 cycles a step in L1,
 * 6.7 in the product: the L2 loss falls to ~3%, but packing B splat costs what packing
 * A splat did (3.6% + 1.7% plain A).  Three macro-ops a product (two-operand code) bound
 * either layout near 6.3 cycles a step. */

typedef T FN(vec) __attribute__((vector_size(VLP * sizeof(T))));

#define NV (NR / VLP) /* vectors per row of the MR x NR tile */

/* x in every lane (x - 0 is x, also for -0: no arithmetic is left). */
static FNN_FORCE_INLINE FN(vec) FN(splat)(T x)
{
    return x - (FN(vec)){0};
}

/* out[l] = lane l of x in every lane: a shuffle each where the compiler has
 * __builtin_shufflevector (GCC 12, Clang), else through a scalar. */
static FNN_FORCE_INLINE void FN(splat_lanes)(FN(vec) x, FN(vec) *out)
{
#if (defined(__clang__) || __GNUC__ >= 12) && VLP == 4
    out[0] = __builtin_shufflevector(x, x, 0, 0, 0, 0);
    out[1] = __builtin_shufflevector(x, x, 1, 1, 1, 1);
    out[2] = __builtin_shufflevector(x, x, 2, 2, 2, 2);
    out[3] = __builtin_shufflevector(x, x, 3, 3, 3, 3);
#elif (defined(__clang__) || __GNUC__ >= 12) && VLP == 2
    out[0] = __builtin_shufflevector(x, x, 0, 0);
    out[1] = __builtin_shufflevector(x, x, 1, 1);
#else
    for (int l = 0; l < VLP; l++) out[l] = FN(splat)(x[l]);
#endif
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
        FN(store_tile)(t, NR, mr, nr, c, rsc, csc, e);
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

#ifdef COLS_W
/* The column tile (SSE2): C(i, j) for i < mr <= COLS_M, j < nr <= COLS_W, held as two
 * vectors along m a column, from kc steps of an m-major A (step p: COLS_M values at a + p
 * * as: packed, or contiguous columns read in place) and a splat-packed B (B(p, j) VLP
 * times at b + p * bs + j * VLP, COLS_W columns, zero padded).  A vector of A serves
 * COLS_W columns, a load of B two vectors, so neither is packed VLP times the whole A
 * (which NR-wide panels need). */
static FNN_FORCE_INLINE void FN(cols_body)(ptrdiff_t kc, const T *a, ptrdiff_t as, const T *b,
                                           ptrdiff_t bs, T *c, ptrdiff_t rsc, ptrdiff_t csc,
                                           ptrdiff_t mr, ptrdiff_t nr, const FN(epi_t) *e)
{
    FN(vec) acc[2][COLS_W];
#pragma GCC unroll 8
    for (int j = 0; j < COLS_W; j++) acc[0][j] = acc[1][j] = (FN(vec)){0};
#pragma GCC unroll 4
    for (ptrdiff_t p = 0; p < kc; p++, a += as, b += bs) {
        FN(vec) a0, a1;
        memcpy(&a0, a, sizeof a0);
        memcpy(&a1, a + VLP, sizeof a1);
#pragma GCC unroll 8
        for (int j = 0; j < COLS_W; j++) {
            FN(vec) bj;
            memcpy(&bj, b + j * VLP, sizeof bj);
            acc[0][j] += a0 * bj;
            acc[1][j] += a1 * bj;
        }
    }
    if (mr == COLS_M && nr == COLS_W && csc == 1 && e->alpha == (T)1 && e->beta == (T)0 &&
        !e->bias && e->act == FNN_ACT_IDENTITY) { /* the plain product: lanes stored to C */
#pragma GCC unroll 8
        for (int i = 0; i < COLS_M; i++)
#pragma GCC unroll 8
            for (int j = 0; j < COLS_W; j++) c[i * rsc + j] = acc[i / VLP][j][i % VLP];
        return;
    }
    _Alignas(64) T t[COLS_M * COLS_W];
    for (int i = 0; i < COLS_M; i++)
#pragma GCC unroll 8
        for (int j = 0; j < COLS_W; j++) t[i * COLS_W + j] = acc[i / VLP][j][i % VLP];
    FN(store_tile)(t, COLS_W, mr, nr, c, rsc, csc, e);
}

/* r[q] (row q of a VLP x VLP block) becomes column q: unpacks where the compiler has
 * __builtin_shufflevector (GCC 12, Clang), else lane by lane. */
static FNN_FORCE_INLINE void FN(transpose)(FN(vec) *r)
{
#if (defined(__clang__) || __GNUC__ >= 12) && VLP == 4
    const FN(vec) t0 = __builtin_shufflevector(r[0], r[1], 0, 4, 1, 5);
    const FN(vec) t1 = __builtin_shufflevector(r[0], r[1], 2, 6, 3, 7);
    const FN(vec) t2 = __builtin_shufflevector(r[2], r[3], 0, 4, 1, 5);
    const FN(vec) t3 = __builtin_shufflevector(r[2], r[3], 2, 6, 3, 7);
    r[0] = __builtin_shufflevector(t0, t2, 0, 1, 4, 5);
    r[1] = __builtin_shufflevector(t0, t2, 2, 3, 6, 7);
    r[2] = __builtin_shufflevector(t1, t3, 0, 1, 4, 5);
    r[3] = __builtin_shufflevector(t1, t3, 2, 3, 6, 7);
#elif (defined(__clang__) || __GNUC__ >= 12) && VLP == 2
    const FN(vec) t0 = __builtin_shufflevector(r[0], r[1], 0, 2);
    r[1] = __builtin_shufflevector(r[0], r[1], 1, 3);
    r[0] = t0;
#else
    FN(vec) x[VLP];
    for (int l = 0; l < VLP; l++)
        for (int q = 0; q < VLP; q++) x[l][q] = r[q][l];
    memcpy(r, x, sizeof x);
#endif
}

/* Pack the mc x kc block A(i, p) = a[i * rsa + p * csa] m-major in COLS_M-tall panels
 * (element (i, p) of panel q at q * COLS_M * kc + p * COLS_M + i), zero padded; full
 * panels of contiguous rows by VLP x VLP transposes. */
static void FN(pack_a_cols)(ptrdiff_t mc, ptrdiff_t kc, const T *a, ptrdiff_t rsa, ptrdiff_t csa,
                            T *dst)
{
    for (ptrdiff_t i0 = 0; i0 < mc; i0 += COLS_M) {
        const ptrdiff_t mr = FNN_MIN(COLS_M, mc - i0);
        const T *src = a + i0 * rsa;
        T *d = dst + i0 * kc;
        ptrdiff_t p = 0;
        if (mr == COLS_M && csa == 1)
            for (; p + VLP <= kc; p += VLP)
                for (int g = 0; g < COLS_M; g += VLP) {
                    FN(vec) r[VLP];
                    for (int q = 0; q < VLP; q++) memcpy(&r[q], src + (g + q) * rsa + p, sizeof r[q]);
                    FN(transpose)(r);
                    for (int l = 0; l < VLP; l++) memcpy(d + (p + l) * COLS_M + g, &r[l], sizeof r[l]);
                }
        for (; p < kc; p++)
            for (ptrdiff_t i = 0; i < COLS_M; i++)
                d[p * COLS_M + i] = i < mr ? src[i * rsa + p * csa] : (T)0;
    }
}

/* Pack the kc x n block B(p, j) = b[p * rsb + j * csb] splat: B(p, j) VLP times at
 * (p * 2 * COLS_W + j) * VLP, zero past column n. */
static void FN(pack_b_cols)(ptrdiff_t kc, ptrdiff_t n, const T *b, ptrdiff_t rsb, ptrdiff_t csb,
                            T *dst)
{
    for (ptrdiff_t p = 0; p < kc; p++)
        for (ptrdiff_t j = 0; j < 2 * COLS_W; j++) {
            const FN(vec) x = FN(splat)(j < n ? b[p * rsb + j * csb] : (T)0);
            memcpy(dst + (p * 2 * COLS_W + j) * VLP, &x, sizeof x);
        }
}

/* C(m0:m1, n0:n1) of g through the column tile when it serves that many columns
 * (COLS_MIN..2 COLS_W: two tiles a row panel), A not gathered and the workspace had;
 * returns 1 when done, 0 when FN(run)'s general loops must run.  The same k blocks and
 * epilogue steps as FN(run), one multiply-add chain an element: the same results. */
static int FN(run_cols)(const FN(args_t) *g, ptrdiff_t m0, ptrdiff_t m1, ptrdiff_t n0, ptrdiff_t n1)
{
    const ptrdiff_t m = m1 - m0, n = n1 - n0, k = g->k;
    if (n < COLS_MIN || n > 2 * COLS_W || g->ri || g->ci)
        return 0;
    const ptrdiff_t kcap = FNN_MIN(k, KC), bs = 2 * COLS_W * VLP;
    T *bufb = (T *)fnn_ws_get(FNN_WS_B, (size_t)(kcap * bs) * sizeof(T));
    T *bufa = (T *)fnn_ws_get(FNN_WS_A, (size_t)(kcap * FNN_ROUND_UP(FNN_MIN(m, MC), COLS_M)) * sizeof(T));
    if (!bufa || !bufb)
        return 0;
    const T *a = g->a + m0 * g->rsa, *b = g->b + n0 * g->csb, *bias = g->bias ? g->bias + n0 : NULL;
    T *c = g->c + m0 * g->rsc + n0 * g->csc;
    FN(epi_t) e = {g->alpha, g->beta, g->slope, NULL, g->act}, e1;
    const int a_in_place = g->rsa == 1; /* columns of A contiguous: full panels read in place */
    const ptrdiff_t kstep = FN(k_step)(k);
    for (ptrdiff_t pc = 0; pc < k; pc += kstep) {
        const ptrdiff_t kc = FNN_MIN(kstep, k - pc);
        const int last = pc + kc == k;
        FN(pack_b_cols)(kc, n, b + pc * g->rsb, g->rsb, g->csb, bufb);
        e.beta = pc == 0 ? g->beta : (T)1;
        e.act = last ? g->act : FNN_ACT_IDENTITY;
        e.bias = last ? bias : NULL;
        e1 = e;
        e1.bias = e.bias ? e.bias + COLS_W : NULL;
        for (ptrdiff_t ic = 0; ic < m; ic += MC) {
            const ptrdiff_t mc = FNN_MIN(MC, m - ic);
            const T *ablk = a + ic * g->rsa + pc * g->csa;
            if (!a_in_place)
                FN(pack_a_cols)(mc, kc, ablk, g->rsa, g->csa, bufa);
            for (ptrdiff_t ir = 0; ir < mc; ir += COLS_M) {
                const ptrdiff_t mr = FNN_MIN(COLS_M, mc - ir);
                const T *ap = bufa + ir * kc;
                ptrdiff_t as = COLS_M;
                if (a_in_place && mr == COLS_M) {
                    ap = ablk + ir;
                    as = g->csa;
                } else if (a_in_place) { /* the partial last panel: packed, zero padded */
                    FN(pack_a_cols)(mr, kc, ablk + ir, 1, g->csa, bufa);
                    ap = bufa;
                }
                T *cp = c + (ic + ir) * g->rsc;
                FN(cols_body)(kc, ap, as, bufb, bs, cp, g->rsc, g->csc, mr, COLS_W, &e);
                FN(cols_body)(kc, ap, as, bufb + COLS_W * VLP, bs, cp + COLS_W * g->csc, g->rsc,
                              g->csc, mr, n - COLS_W, &e1);
            }
        }
    }
    return 1;
}
#define PATH_COLS_TILE {COLS_M, COLS_MIN, 2 * COLS_W}
#else
#define PATH_COLS_TILE {0, 0, 0}
#endif

/* This path's tiles beside MR x NR, as fnn_gemm_blocking entries {rows, min_cols,
 * max_cols}: SSE2's narrow tile (NARROW_M rows, NV + 1 vectors) where the column tile
 * does not serve its widths (double); none on NEON. */
#if PACK_A_LANES == 1 || (defined(COLS_MIN) && COLS_MIN <= NR + 1) /* (or the column tile's) */
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
