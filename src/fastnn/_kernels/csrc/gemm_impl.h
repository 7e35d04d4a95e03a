/* BLIS-style GEMM driver and packing for one element type, over the micro-kernels of the
 * compiled path.
 *
 * A template: gemm.c defines T, FN(name), ACT_FN, MR, NR, KC, MC, NC, PACK_A_LANES (the
 * copies of each value in a packed A micro-panel; portable: VLP, its vector lanes, on
 * SSE2, else 1; NR a multiple of VLP), and, with AVX2, VT, VOP(op), VBCAST, VBCAST_HALF, VBCAST_QUARTER, VBCAST_PAIR, VDUP_PAIRS,
 * VUNZIP_PAIRS, VJOIN, VSPREAD4, VQUARTER, VSTORE_LO, VMASK, VTRANSPOSE, VL for 256-bit
 * vectors; with AVX-512 also WT, WOP(op), WL, WLESS for 512-bit ones, NR == 2 * WL, else
 * NR == 2 * VL) and includes this file once per type; every parameter is #undef'd at
 * the end.  The path's micro-kernels and its table of tiles are in gemm_ukr_avx2.h (with
 * gemm_ukr_avx512.h) or gemm_ukr_portable.h; FN(blocking) holds all the numbers
 * (exported as GEMM_BLOCKING).
 *
 * Loop nest of one thread's share of C (FN(run)):
 *   jc: NC columns    pack B(pc:pc+KC, jc:jc+NC) into NR-wide micro-panels
 *   pc: <= KC depth   (first block applies beta, last one bias and activation)
 *   ic: MC rows       pack A(ic:ic+MC, pc:pc+KC) into MR-tall micro-panels
 *   jr: NR columns    B micro-panel stays in L1
 *   ir: MR rows       micro-kernel: MR x NR tile of C += A panel @ B panel
 * The path's table may give a panel another tile (FN(panel_tile)): a narrow tile when
 * all of C is a little wider than a vector or a panel, a row-pair tile on a packed
 * partial last panel; a path's column tile (COLS_W: SSE2) runs a C of its
 * widths on loops of its own, FN(run_cols), with A and B packed for it.
 * Skinny products skip packing an operand that would be used too few times: the
 * micro-kernel then reads A through its strides (n <= 2 NR), or unit-stride B in
 * place when C has few rows (see FNN_GEMM_DIRECT_B_MAX_M and its variants); so does
 * row-major A on C of whole panels where that measured faster (FNN_GEMM_DIRECT_A_MIN_M).
 */

/* What the micro-kernel does with its tile: c = act(alpha * acc + beta * c + bias). */
typedef struct {
    T alpha, beta, slope;
    const T *bias; /* bias of the tile's first column, or NULL */
    int act;
} FN(epi_t);

/* The whole problem, as passed to the public entry point; ri (ci) non-NULL: A's rows
 * (columns) are gathered through that index (FN(gemm_gather)), A is then always packed. */
typedef struct {
    ptrdiff_t m, n, k;
    const T *a, *b, *bias;
    const int64_t *ri, *ci;
    T *c;
    ptrdiff_t rsa, csa, rsb, csb, rsc, csc;
    T alpha, beta, slope;
    int act;
} FN(args_t);

/* Finish an mr x nr tile whose alpha-less products are in t (row stride ts):
 * c = act(alpha * t + beta * c + bias), the activation applied to each row of t
 * while it is in L1.  Any strides, any tile size; t is clobbered. */
static void FN(store_tile)(T *t, ptrdiff_t ts, ptrdiff_t mr, ptrdiff_t nr, T *c, ptrdiff_t rsc,
                           ptrdiff_t csc, const FN(epi_t) *e)
{
    for (ptrdiff_t i = 0; i < mr; i++) {
        T *row = t + i * ts, *ci = c + i * rsc;
        for (ptrdiff_t j = 0; j < nr; j++) row[j] *= e->alpha;
        if (e->beta != (T)0)
            for (ptrdiff_t j = 0; j < nr; j++) row[j] += e->beta * ci[j * csc];
        if (e->bias)
            for (ptrdiff_t j = 0; j < nr; j++) row[j] += e->bias[j];
        ACT_FN(e->act, e->slope, row, row, nr);
        for (ptrdiff_t j = 0; j < nr; j++) ci[j * csc] = row[j];
    }
}

/* The depth of the k blocks: k in equal blocks of at most KC (no short last block); a
 * function of k alone. */
static inline ptrdiff_t FN(k_step)(ptrdiff_t k)
{
    return (k + (k + KC - 1) / KC - 1) / ((k + KC - 1) / KC);
}

/* The path's micro-kernels, all built on its general one:
 *   FN(ukr_body)(kc, a, ars, acs, clamp, b, bs, c, rsc, csc, mr, nr, e)
 * computes the mr x nr (<= MR x NR) tile at c from kc steps of
 *   A(i, p) = a[i * ars + p * acs]  (packed: ars = 1, acs = MR; rows >= mr are never
 *                                     used, they read row mr - 1 when `clamp`)
 *   B(p, j) = b[p * bs + j]         (packed: bs = NR, zero padded; else NR columns of B)
 * and finishes it with the epilogue e.  FN(ukr_call)(ukr, ...) runs the kernel FNN_UKR_*
 * on a tile; PATH_N_NARROW, PATH_NARROW_TILES and PATH_PAIRS_TILE list the path's tiles
 * beside MR x NR. */
#if FNN_HAVE_AVX2
#include "gemm_ukr_avx2.h"
#else
#include "gemm_ukr_portable.h"
#endif

#include "gemm_skinny.h"
#if FNN_HAVE_AVX2
#include "gemm_gemv.h"
#define GEMV_FORM FN(gemv_form)
#else
#define GEMV_N 0 /* no matrix-vector kernels */
#define GEMV_FORM(g) 0
#endif

/* Everything the driver's choices depend on, in one place. */
static const fnn_gemm_blocking FN(blocking) = {
    MR, NR, KC, MC, NC, PATH_N_NARROW, PATH_NARROW_TILES, PATH_PAIRS_TILE, PATH_COLS_TILE,
    SKINNY_M, SKINNY_NB, GEMV_N,
};

const fnn_gemm_blocking *FN(gemm_blocking)(void) { return &FN(blocking); }

/* The narrow tile serving a thread's share of n columns of C (rows == 0: none).  A tile
 * wider than NR reads two B panels: not in the out-of-memory fallback (`one_panel`). */
static inline fnn_gemm_tile FN(narrow_tile)(ptrdiff_t n, int one_panel)
{
    for (int i = 0; i < FN(blocking).n_narrow; i++) {
        const fnn_gemm_tile t = FN(blocking).narrow[i];
        if (n >= t.min_cols && n <= t.max_cols && !(one_panel && t.max_cols > NR))
            return t;
    }
    return (fnn_gemm_tile){0, 0, 0};
}

/* The width of the packed B panel a narrow tile of at most `cols` columns reads (when
 * narrower than NR, the whole C is that one partial panel): whole vectors. */
#ifdef VL
#define NARROW_PANEL(cols) FNN_ROUND_UP(cols, VL)
#else
#define NARROW_PANEL(cols) NR
#endif

/* The micro-kernel for a panel of nr columns and the rows of C one call covers, from the
 * path's table: B read in place; the row-pair tile on a packed partial panel it serves;
 * packed A; the narrow tile serving the whole share (`narrow`, then A is never packed);
 * else A through its strides. */
static inline fnn_ukr_tile FN(panel_tile)(fnn_gemm_tile narrow, int pack_a, int b_in_place,
                                          ptrdiff_t nr)
{
    const fnn_gemm_tile pairs = FN(blocking).pairs;
    if (b_in_place)
        return (fnn_ukr_tile){FNN_UKR_B_DIRECT, MR};
    if (pack_a && nr >= pairs.min_cols && nr <= pairs.max_cols)
        return (fnn_ukr_tile){FNN_UKR_PAIRS, pairs.rows};
    if (pack_a)
        return (fnn_ukr_tile){FNN_UKR_PACKED, MR};
    if (narrow.rows)
        return (fnn_ukr_tile){FNN_UKR_NARROW, narrow.rows};
    return (fnn_ukr_tile){FNN_UKR_A_DIRECT, MR};
}

/* Pack the kc x nc block B(p, j) = b[p * rsb + j * csb] into NR-wide micro-panels of kc
 * rows each (panel q holds columns q*NR .. q*NR+NR-1), zero padding the last one; a
 * partial last one is w_last wide (NR; VL: the tail of the V = 2 narrow tile; or the
 * NARROW_PANEL of the narrow tile serving all of C). */
static void FN(pack_b)(ptrdiff_t kc, ptrdiff_t nc, const T *b, ptrdiff_t rsb, ptrdiff_t csb,
                       T *dst, ptrdiff_t w_last)
{
    for (ptrdiff_t j0 = 0; j0 < nc; j0 += NR) {
        const ptrdiff_t nr = FNN_MIN(NR, nc - j0), W = nr < NR ? w_last : NR;
        const T *src = b + j0 * csb;
        if (nr == NR && csb == 1) {
            for (ptrdiff_t p = 0; p < kc; p++)
                for (ptrdiff_t j = 0; j < NR; j++) dst[p * NR + j] = src[p * rsb + j];
#if FNN_HAVE_AVX2
        } else if (nr == NR && rsb == 1) { /* columns are contiguous: VL x VL transposes */
            ptrdiff_t p = 0;
            for (; p + VL <= kc; p += VL)
                for (ptrdiff_t j = 0; j < NR; j += VL) {
                    VT r[VL];
                    for (int q = 0; q < VL; q++) r[q] = VOP(loadu)(src + (j + q) * csb + p);
                    VTRANSPOSE(r);
                    for (int q = 0; q < VL; q++) VOP(store)(dst + (p + q) * NR + j, r[q]);
                }
            for (; p < kc; p++)
                for (ptrdiff_t j = 0; j < NR; j++) dst[p * NR + j] = src[j * csb + p];
        } else if (csb == 1) { /* partial panel of unit-stride rows: masked loads for partial vectors */
            __m256i mask[NR / VL];
            for (ptrdiff_t j = 0; j < W; j += VL) mask[j / VL] = VMASK(nr - j);
            for (ptrdiff_t p = 0; p < kc; p++)
                for (ptrdiff_t j = 0; j < W; j += VL)
                    VOP(store)(dst + p * W + j, FN(load_part)(src + p * rsb + j, nr >= j + VL, mask[j / VL]));
#endif
        } else {
            for (ptrdiff_t p = 0; p < kc; p++)
                for (ptrdiff_t j = 0; j < W; j++)
                    dst[p * W + j] = j < nr ? src[p * rsb + j * csb] : (T)0;
        }
        dst += W * kc;
    }
}

#if PACK_A_LANES > 1
/* Element `at` of a packed A micro-panel from x, a vector with the value in every lane. */
static FNN_FORCE_INLINE void FN(put_a_splat)(T *dst, ptrdiff_t at, FN(vec) x)
{
    memcpy(dst + at * PACK_A_LANES, &x, sizeof x);
}
#endif

/* Element `at` of a packed A micro-panel: PACK_A_LANES copies of v (then one vector of
 * the portable path, FN(vec)). */
static FNN_FORCE_INLINE void FN(put_a)(T *dst, ptrdiff_t at, T v)
{
#if PACK_A_LANES > 1
    FN(put_a_splat)(dst, at, FN(splat)(v));
#else
    dst[at] = v;
#endif
}

/* Pack the mc x kc block A(i, p) = a[ROW(i) + COL(p)] into MR-tall micro-panels
 * (element (i, p) of panel q at q*MR*kc + p*MR + i, times PACK_A_LANES copies), zero
 * padding the last one.  ROW(i) = i * rsa, or ri[i] * rsa when the rows are gathered
 * (ri non-NULL); COL(p) = p * csa, or ci[p] * csa: the same packed values as from the
 * gathered matrix. */
static void FN(pack_a)(ptrdiff_t mc, ptrdiff_t kc, const T *a, ptrdiff_t rsa, ptrdiff_t csa,
                       const int64_t *ri, const int64_t *ci, T *dst)
{
#define ROW(i) ((ri ? ri[i] : (i)) * rsa)
#define COL(p) ((ci ? ci[p] : (p)) * csa)
#if FNN_HAVE_AVX2
    enum { G = (MR + VL - 1) / VL }; /* vectors per column of a micro-panel */
    /* Columns are stored as G whole vectors, so the lanes beyond MR spill into the next
     * column's slots (or the workspace slack) before those are written. */
    if (rsa == 1 && !ri) { /* columns are contiguous (a transposed view): blocks of PB columns,
                     * each through all panels while it is in L1; G vectors a column,
                     * loads reaching past row mc masked (0 there); a panel's last column
                     * must not spill into the next panel, packed before it */
        enum { PB = 16 };
        for (ptrdiff_t p0 = 0; p0 < kc; p0 += PB) {
            const ptrdiff_t p1 = FNN_MIN(kc, p0 + PB);
            T *d = dst;
            for (ptrdiff_t i0 = 0; i0 < mc; i0 += MR, d += MR * kc) {
                int full[G];
                __m256i mask[G];
                for (int g = 0; g < G; g++) {
                    full[g] = i0 + (g + 1) * VL <= mc;
                    mask[g] = VMASK(mc - i0 - g * VL);
                }
                for (ptrdiff_t p = p0; p < p1; p++)
                    for (int g = 0; g < G; g++) {
                        const VT x = FN(load_part)(a + COL(p) + i0 + g * VL, full[g], mask[g]);
                        if (p + 1 < kc || MR - g * VL >= VL)
                            VOP(storeu)(d + p * MR + g * VL, x);
                        else
                            FN(store_part)(d + p * MR + g * VL, x, MR - g * VL);
                    }
            }
        }
        return;
    }
#endif
    for (ptrdiff_t i0 = 0; i0 < mc; i0 += MR, dst += MR * kc * PACK_A_LANES) {
        const ptrdiff_t mr = FNN_MIN(MR, mc - i0);
        const T *src[MR]; /* the panel's rows (the last one repeated past mr) */
        for (ptrdiff_t i = 0; i < MR; i++) src[i] = a + ROW(i0 + FNN_MIN(i, mr - 1));
        ptrdiff_t p = 0;
#if FNN_HAVE_AVX2
        /* rows are contiguous: transpose VL x VL blocks (the last row repeated to fill
         * a block) */
        if (mr == MR && csa == 1 && !ci)
            for (; p + VL <= kc; p += VL) {
                VT r[G][VL];
                for (int g = 0; g < G; g++) {
                    for (int q = 0; q < VL; q++) r[g][q] = VOP(loadu)(src[FNN_MIN(g * VL + q, MR - 1)] + p);
                    VTRANSPOSE(r[g]);
                }
                for (int q = 0; q < VL; q++)
                    for (int g = 0; g < G; g++) VOP(storeu)(dst + (p + q) * MR + g * VL, r[g][q]);
            }
#elif PACK_A_LANES > 1
        /* rows are contiguous: a vector of each row, its lanes splat by shuffles */
        if (mr == MR && csa == 1 && !ci)
            for (; p + VLP <= kc; p += VLP)
                for (ptrdiff_t i = 0; i < MR; i++) {
                    FN(vec) x, s[VLP];
                    memcpy(&x, src[i] + p, sizeof x);
                    FN(splat_lanes)(x, s);
                    for (int l = 0; l < VLP; l++) FN(put_a_splat)(dst, (p + l) * MR + i, s[l]);
                }
#endif
        for (; p < kc; p++) {
            const ptrdiff_t col = COL(p);
            for (ptrdiff_t i = 0; i < MR; i++) FN(put_a)(dst, p * MR + i, i < mr ? src[i][col] : (T)0);
        }
    }
#undef ROW
#undef COL
}

/* C(m0:m1, n0:n1) of the problem g, on the calling thread.  m0 and n0 are multiples of
 * MR and NR, so every element sees the same micro-tile arithmetic whatever the split.
 * Returns 0, or -1 (C untouched) when A is gathered (g->ri or g->ci) but cannot be
 * packed. */
static int FN(run)(const FN(args_t) *g, ptrdiff_t m0, ptrdiff_t m1, ptrdiff_t n0, ptrdiff_t n1)
{
    const ptrdiff_t m = m1 - m0, n = n1 - n0, k = g->k;
    const ptrdiff_t rsa = g->rsa, csa = g->csa, rsb = g->rsb, csb = g->csb;
    const ptrdiff_t rsc = g->rsc, csc = g->csc;
    const int64_t *ri = g->ri ? g->ri + m0 : NULL, *ci = g->ci;
    const T *a = g->a + (ri ? 0 : m0 * rsa), *b = g->b + n0 * csb;
    const T *bias = g->bias ? g->bias + n0 : NULL;
    T *c = g->c + m0 * rsc + n0 * csc;
    FN(epi_t) e = {g->alpha, g->beta, g->slope, bias, g->act};
    _Alignas(64) T t[MR * NR];

    if (k == 0) { /* C = act(beta * C + bias): finish all-zero tiles */
        for (ptrdiff_t j = 0; j < n; j += NR)
            for (ptrdiff_t i = 0; i < m; i += MR) {
                memset(t, 0, sizeof t);
                e.bias = bias ? bias + j : NULL;
                FN(store_tile)(t, NR, FNN_MIN(MR, m - i), FNN_MIN(NR, n - j), c + i * rsc + j * csc,
                               rsc, csc, &e);
            }
        return 0;
    }

#ifdef COLS_W
    if (FN(run_cols)(g, m0, m1, n0, n1))
        return 0;
#endif
    /* Packing A pays when each A micro-panel serves more than two B micro-panels, unless
     * row-major A is read in place on whole panels (FNN_GEMM_DIRECT_A_MIN_M, gemm.c).
     * Unit-stride B is read in place for few rows (only a partial last panel is
     * packed), see FNN_GEMM_DIRECT_B_MAX_M and its variants. */
    const int direct_a = FNN_GEMM_DIRECT_A_MIN_M && csa == 1 && !ri && !ci && n % NR == 0 &&
                         n <= FNN_GEMM_DIRECT_A_MAX_PANELS * NR && m >= FNN_GEMM_DIRECT_A_MIN_M;
    int pack_a = n > 2 * NR && !direct_a;
    const ptrdiff_t row_bytes = rsb * (ptrdiff_t)sizeof(T);
    int direct_b = pack_a && csb == 1 &&
                   m <= (row_bytes % 4096 == 0 ? FNN_GEMM_DIRECT_B_MAX_M_4K
                         : row_bytes % 64    ? FNN_GEMM_DIRECT_B_MAX_M_SPLIT
                                             : FNN_GEMM_DIRECT_B_MAX_M);
    /* Out of memory: fall back to one B micro-panel on the stack and unpacked A; the
     * arithmetic (kernel, KC) is unchanged, so is the result. */
    _Alignas(64) T bpanel[KC * NR];
    ptrdiff_t ncap = direct_b ? n : FNN_ROUND_UP(FNN_MIN(n, NC), NR);
    const ptrdiff_t kcap = FNN_MIN(k, KC);
    T *bufb = (T *)fnn_ws_get(FNN_WS_B, (size_t)(kcap * (direct_b ? NR : ncap)) * sizeof(T));
    const size_t abytes =
        (size_t)(kcap * FNN_ROUND_UP(FNN_MIN(m, MC), MR) * PACK_A_LANES + 64) * sizeof(T);
    T *bufa = pack_a ? (T *)fnn_ws_get(FNN_WS_A, abytes) : NULL; /* + slack for FN(pack_a) */
    if ((ri || ci) && (!pack_a || !bufb || !bufa))
        return -1;
    if (!bufb || (pack_a && !bufa)) {
        bufb = bpanel;
        ncap = NR;
        pack_a = direct_b = 0; /* FN(ukr_b_direct) reads packed A */
    }
    /* the narrow tile serving this share (then pack_a == 0), the columns a tile covers and
     * the width of a packed partial last B panel */
    const fnn_gemm_tile narrow = FN(narrow_tile)(n, ncap <= NR);
    const int wide = narrow.max_cols > NR;
    const ptrdiff_t nstep = wide ? narrow.max_cols : NR;
    const ptrdiff_t tail_w = wide ? narrow.max_cols - NR : narrow.rows ? NARROW_PANEL(narrow.max_cols) : NR;

    const ptrdiff_t kstep = FN(k_step)(k);
    for (ptrdiff_t jc = 0; jc < n; jc += ncap) {
        const ptrdiff_t nc = FNN_MIN(ncap, n - jc);
        const ptrdiff_t nfull = direct_b ? nc / NR * NR : 0; /* columns read in place */
        for (ptrdiff_t pc = 0; pc < k; pc += kstep) {
            const ptrdiff_t kc = FNN_MIN(kstep, k - pc);
            const int last = pc + kc == k;
            const T *bblk = b + pc * rsb + jc * csb;
            FN(pack_b)(kc, nc - nfull, bblk + nfull * csb, rsb, csb, bufb, tail_w);
            e.beta = pc == 0 ? g->beta : (T)1;
            e.act = last ? g->act : FNN_ACT_IDENTITY;
            for (ptrdiff_t ic = 0; ic < m; ic += MC) {
                const ptrdiff_t mc = FNN_MIN(MC, m - ic);
                const T *ablk = a + ic * rsa + pc * csa; /* (unpacked A is never gathered) */
                if (pack_a)
                    FN(pack_a)(mc, kc, a + (ri ? 0 : ic * rsa) + (ci ? 0 : pc * csa), rsa, csa,
                               ri ? ri + ic : NULL, ci ? ci + pc : NULL, bufa);
                for (ptrdiff_t jr = 0; jr < nc; jr += nstep) {
                    const ptrdiff_t nr = FNN_MIN(nstep, nc - jr);
                    const int in_place = jr < nfull;
                    const fnn_ukr_tile tile = FN(panel_tile)(narrow, pack_a, in_place, nr);
                    const T *bp = in_place ? bblk + jr : bufb + (jr - nfull) * kc;
                    e.bias = last && bias ? bias + jc + jr : NULL;
                    for (ptrdiff_t ir = 0; ir < mc; ir += tile.rows) {
                        const ptrdiff_t mr = FNN_MIN(tile.rows, mc - ir);
                        const T *ap = pack_a ? bufa + ir * kc * PACK_A_LANES : ablk + ir * rsa;
                        FN(ukr_call)(tile.ukr, kc, ap, rsa, csa, bp, in_place ? rsb : nr < NR ? tail_w : NR,
                                     c + (ic + ir) * rsc + (jc + jr) * csc, rsc, csc, mr, nr, &e);
                    }
                }
            }
        }
    }
    return 0;
}

/* Tiles of the busiest thread when r x (nt / r) threads split tm x tn tiles; -1 if
 * that split is impossible. */
static ptrdiff_t FN(split_load)(ptrdiff_t tiles_m, ptrdiff_t tiles_n, int nt, int r)
{
    const int s = nt / r;
    if (nt % r || r > tiles_m || s > tiles_n)
        return -1;
    return ((tiles_m + r - 1) / r) * ((tiles_n + s - 1) / s);
}

/* Split the MR x NR tile grid of C into tm x tn rectangles (tm * tn == nt): among the
 * splits whose busiest thread has at most 5% more tiles than in the best one, the most
 * row blocks (a thread packs A for its rows and B for its columns; splitting rows shares
 * B, the operand that is read in place or cheaper to pack), unless B must be packed
 * (`pack_b`: its columns are not contiguous) and is wider than A is tall: then each row
 * block would pack all of B, so the most column blocks.  (AVX-512, 2 threads, 64x128 @
 * 128x784 with B transposed: two row blocks each packing the 784 x 128 B ran 0.8-0.9x
 * the AVX2 path, whose 6 x 16 tiles had split the columns.) */
static void FN(split)(ptrdiff_t m, ptrdiff_t n, int nt, int pack_b, int *tm, int *tn)
{
    const ptrdiff_t tiles_m = (m + MR - 1) / MR, tiles_n = (n + NR - 1) / NR;
    const int by_cols = pack_b && n > m;
    ptrdiff_t best = -1;
    for (int r = 1; r <= nt; r++) {
        const ptrdiff_t load = FN(split_load)(tiles_m, tiles_n, nt, r);
        if (load >= 0 && (best < 0 || load < best))
            best = load;
    }
    *tm = *tn = 1;
    for (int r = 1; r <= nt && best >= 0; r++) {
        const int q = by_cols ? nt + 1 - r : r; /* row blocks, in the order of preference */
        const ptrdiff_t load = FN(split_load)(tiles_m, tiles_n, nt, q);
        if (load >= 0 && load * 20 <= best * 21) {
            *tm = q;
            *tn = nt / q;
        }
    }
}

/* C of the problem g on fnn_get_num_threads() threads (tm x tn blocks of the tile grid,
 * FN(split)); 0, or -1 when some block's FN(run) failed. */
static int FN(dispatch)(const FN(args_t) *g)
{
    const ptrdiff_t m = g->m, n = g->n;
    int tm = 1, tn = 1;
    const int nt = fnn_get_num_threads();
    if (nt > 1 && (double)m * (double)n * (double)g->k >= FNN_GEMM_PAR_MIN_FMA)
        FN(split)(m, n, nt, g->csb != 1, &tm, &tn);
    if (tm * tn == 1)
        return FN(run)(g, 0, m, 0, n);
    int failed = 0;
#if FNN_OPENMP
    /* Up to two tasks per thread, handed out dynamically, so that a thread getting less
     * CPU (on a shared machine) does less; tasks pack their own operands, hence keep at
     * least FNN_GEMM_TASK_MIN rows (columns). */
    if (tm > 1)
        while (tm < 2 * nt && m / (2 * tm) >= FNN_GEMM_TASK_MIN) tm *= 2;
    else
        while (tn < 2 * nt && n / (2 * tn) >= FNN_GEMM_TASK_MIN) tn *= 2;
    const ptrdiff_t tiles_m = (m + MR - 1) / MR, tiles_n = (n + NR - 1) / NR;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt) reduction(| : failed)
    for (int task = 0; task < tm * tn; task++) {
        const int ti = task / tn, tj = task % tn;
        const ptrdiff_t m0 = FNN_MIN(m, tiles_m * ti / tm * MR);
        const ptrdiff_t m1 = FNN_MIN(m, tiles_m * (ti + 1) / tm * MR);
        const ptrdiff_t n0 = FNN_MIN(n, tiles_n * tj / tn * NR);
        const ptrdiff_t n1 = FNN_MIN(n, tiles_n * (tj + 1) / tn * NR);
        failed |= FN(run)(g, m0, m1, n0, n1) != 0;
    }
#else
    failed = FN(run)(g, 0, m, 0, n) != 0;
#endif
    return failed ? -1 : 0;
}

void FN(gemm)(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, T alpha, const T *a, ptrdiff_t rsa,
              ptrdiff_t csa, const T *b, ptrdiff_t rsb, ptrdiff_t csb, T beta, T *c, ptrdiff_t rsc,
              ptrdiff_t csc, const T *bias, int act, T slope)
{
    if (m <= 0 || n <= 0)
        return;
    const FN(args_t) g = {m, n, k < 0 ? 0 : k, a, b, bias, NULL, NULL, c, rsa, csa, rsb, csb,
                          rsc, csc, alpha, (T)beta, slope, act};
#if FNN_HAVE_AVX2
    if (FN(gemv)(&g))
        return;
#endif
    if (FN(skinny)(&g))
        return;
    FN(dispatch)(&g);
}

int FN(gemm_gather)(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, T alpha, const T *a, ptrdiff_t rsa,
                    ptrdiff_t csa, const int64_t *idx, int idx_cols, const T *b, ptrdiff_t rsb,
                    ptrdiff_t csb, T *c, ptrdiff_t rsc, const T *bias, int act, T slope)
{
    if (m <= 0 || n <= 0 || k <= 0)
        return -1;
    const FN(args_t) g = {m, n, k, a, b, bias, idx_cols ? NULL : idx, idx_cols ? idx : NULL,
                          c, rsa, csa, rsb, csb, rsc, 1, alpha, (T)0, slope, act};
    if (FN(skinny_applies)(&g) || GEMV_FORM(&g))
        return -1;
    return FN(dispatch)(&g);
}

/* every template parameter, including the path's (#undef of a name never defined is a no-op) */
#undef T
#undef FN
#undef ACT_FN
#undef MR
#undef NR
#undef KC
#undef MC
#undef NC
#undef VT
#undef VOP
#undef VBCAST
#undef VBCAST_HALF
#undef VJOIN
#undef VSTORE_LO
#undef VBCAST_PAIR
#undef VDUP_PAIRS
#undef VUNZIP_PAIRS
#undef VBCAST_QUARTER
#undef VSPREAD4
#undef VQUARTER
#undef VTRANSPOSE
#undef VMASK
#undef VL
#undef VLP
#undef PACK_A_LANES
#undef WT
#undef WOP
#undef WL
#undef WLESS
#undef NARROW_M
#undef EPI_M
#undef PAIRS_M
#undef PATH_N_NARROW
#undef PATH_NARROW_TILES
#undef PATH_PAIRS_TILE
#undef PATH_COLS_TILE
#undef COLS_M
#undef COLS_W
#undef COLS_MIN
#undef SKINNY_M
#undef SKINNY_MAX_FMA
#undef SKINNY_NB
#undef GEMV_N
#undef GEMV_FORM
#undef NARROW_PANEL
#undef VREDUCE
