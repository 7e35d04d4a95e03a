/* The AVX2/FMA micro-kernels of the GEMM and their table, for one element type: part of
 * the gemm_impl.h template (T, FN, VT, VOP, ... as listed there), included by it when
 * FNN_HAVE_AVX2.  The AVX-512 path shares the narrow and row-pair tiles (256-bit
 * vectors, which AVX-512VL gives 32 registers) and replaces the MR x NR tile with the
 * 512-bit one of gemm_ukr_avx512.h.
 *
 * Kernels (each computes one mr x nr tile of C, see FN(ukr_call)):
 *   FN(ukr_packed), FN(ukr_a_direct), FN(ukr_b_direct)  the MR x NR tile, FN(ukr_body);
 *   FN(ukr_narrow)  NARROW_M / V rows for a C of 1..VL or VL+1..VL+VL/2 (V = 1) or
 *                   2VL+1..3VL (V = 2) columns; in the AVX-512 path also the 6 x 2VL
 *                   tile FN(ukr_body6) for VL+VL/2+1..2VL columns;
 *   FN(ukr_pairs)   PAIRS_M rows of a packed partial last panel of at most VL columns.
 * The table (PATH_NARROW_TILES, PATH_PAIRS_TILE) says which columns each one serves; the
 * driver picks a kernel from it (FN(panel_tile) in gemm_impl.h).
 *
 * Kernels stay out of line: a call per tile is cheap, and each kernel's register
 * allocation then does not depend on the driver it would be inlined into. */
#define NARROW_M 8 /* rows of the narrow tile */
#define PAIRS_M 24 /* rows of the row-pair tile, FN(ukr_pairs): a multiple of MR */
#define EPI_M 12 /* most rows FN(finish_rows) takes (12 vectors, in registers) */

/* acc_i0, acc_i1 += A(i, p) * B(p, 0:NR) */
#define FNN_UKR_ROW(i)                                  \
    ai = VBCAST(a + o##i);                              \
    acc##i##0 = VOP(fmadd)(ai, b0, acc##i##0);          \
    acc##i##1 = VOP(fmadd)(ai, b1, acc##i##1);

/* p[0..r) = lanes 0..r-1 of x (0 <= r < VL): a half-vector store, then element
 * stores, as masked stores are slow on some CPUs (AMD Zen). */
static FNN_FORCE_INLINE void FN(store_part)(T *p, VT x, ptrdiff_t r)
{
    _Alignas(32) T tmp[VL];
    VOP(store)(tmp, x);
    ptrdiff_t j = 0;
    if (r >= VL / 2) {
        VSTORE_LO(p, x);
        j = VL / 2;
    }
#pragma GCC unroll 8
    for (; j < VL - 1; j++)
        if (j < r) p[j] = tmp[j];
}

/* Start loading the mr rows of a C tile (read by the epilogue). */
static FNN_FORCE_INLINE void FN(prefetch_rows)(const T *c, ptrdiff_t rsc,
                                                                    ptrdiff_t mr)
{
    for (ptrdiff_t i = 0; i < mr; i++) _mm_prefetch((const char *)(c + i * rsc), _MM_HINT_T0);
}

/* VL values at p, or only the lanes of `mask` (the others 0) when not `full`.  Masked
 * loads are slow: only a partial vector uses them. */
static FNN_FORCE_INLINE VT FN(load_part)(const T *p, int full, __m256i mask)
{
    return full ? VOP(loadu)(p) : VOP(maskload)(p, mask);
}

/* The epilogue of a tile of `rows` (a constant) rows held in registers: row i's columns
 * 0..VL-1 in x0[i] and VL.. in x1[i] (x1 NULL when the tile is VL wide); rows >= mr and
 * columns >= nr are dropped.  Unit column stride: c = act(alpha * x + beta * c + bias)
 * in registers, each step over the whole tile behind one test (alpha == 1 skips the
 * product, which is exact), tanh and sigmoid on the stored rows; other strides go
 * through FN(store_tile).  The x are clobbered. */
static FNN_FORCE_INLINE void FN(finish_rows)(VT *x0, VT *x1, int rows,
                                                                  T *c, ptrdiff_t rsc,
                                                                  ptrdiff_t csc, ptrdiff_t mr,
                                                                  ptrdiff_t nr, const FN(epi_t) *e)
{
    mr = FNN_MIN(mr, rows);
    if (mr <= 0)
        return;
    if (csc != 1) {
        _Alignas(64) T t[EPI_M * NR];
#pragma GCC unroll 12
        for (int i = 0; i < rows; i++) {
            VOP(store)(t + i * NR, x0[i]);
            if (x1)
                VOP(store)(t + i * NR + VL, x1[i]);
        }
        FN(store_tile)(t, NR, mr, nr, c, rsc, csc, e);
        return;
    }
    const int act = e->act, full0 = nr >= VL, full1 = nr >= 2 * VL;
    const __m256i mask0 = VMASK(nr), mask1 = VMASK(nr - VL);
    const VT zero = VOP(setzero)();
    if (e->alpha != (T)1) {
        const VT alpha = VOP(set1)(e->alpha);
#pragma GCC unroll 12
        for (int i = 0; i < rows; i++) {
            x0[i] = VOP(mul)(alpha, x0[i]);
            if (x1)
                x1[i] = VOP(mul)(alpha, x1[i]);
        }
    }
    if (e->beta != (T)0) {
        const VT beta = VOP(set1)(e->beta);
#pragma GCC unroll 12
        for (int i = 0; i < rows; i++)
            if (i < mr) {
                x0[i] = VOP(fmadd)(beta, FN(load_part)(c + i * rsc, full0, mask0), x0[i]);
                if (x1)
                    x1[i] = VOP(fmadd)(beta, FN(load_part)(c + i * rsc + VL, full1, mask1), x1[i]);
            }
    }
    if (e->bias) {
        const VT bias0 = FN(load_part)(e->bias, full0, mask0);
        const VT bias1 = x1 ? FN(load_part)(e->bias + VL, full1, mask1) : zero;
#pragma GCC unroll 12
        for (int i = 0; i < rows; i++) {
            x0[i] = VOP(add)(x0[i], bias0);
            if (x1)
                x1[i] = VOP(add)(x1[i], bias1);
        }
    }
    if (act == FNN_ACT_RELU) { /* max returns its 2nd operand when one is NaN */
#pragma GCC unroll 12
        for (int i = 0; i < rows; i++) {
            x0[i] = VOP(max)(zero, x0[i]);
            if (x1)
                x1[i] = VOP(max)(zero, x1[i]);
        }
    } else if (act == FNN_ACT_LEAKY_RELU) {
        const VT slope = VOP(set1)(e->slope);
#pragma GCC unroll 12
        for (int i = 0; i < rows; i++) {
            x0[i] = VOP(blendv)(x0[i], VOP(mul)(slope, x0[i]), VOP(cmp)(x0[i], zero, _CMP_LT_OQ));
            if (x1)
                x1[i] = VOP(blendv)(x1[i], VOP(mul)(slope, x1[i]), VOP(cmp)(x1[i], zero, _CMP_LT_OQ));
        }
    }
    if (full0 && (!x1 || full1)) { /* whole vectors */
#pragma GCC unroll 12
        for (int i = 0; i < rows; i++)
            if (i < mr) {
                VOP(storeu)(c + i * rsc, x0[i]);
                if (x1)
                    VOP(storeu)(c + i * rsc + VL, x1[i]);
            }
    } else {
#pragma GCC unroll 12
        for (int i = 0; i < rows; i++)
            if (i < mr) {
                T *ci = c + i * rsc;
                if (!full0) {
                    FN(store_part)(ci, x0[i], nr);
                    continue;
                }
                VOP(storeu)(ci, x0[i]);
                if (x1)
                    FN(store_part)(ci + VL, x1[i], nr - VL);
            }
    }
    if (act == FNN_ACT_TANH || act == FNN_ACT_SIGMOID)
        for (ptrdiff_t i = 0; i < mr; i++) ACT_FN(act, e->slope, c + i * rsc, c + i * rsc, nr);
}

/* The 6 x 2 VL tile (12 ymm accumulators, 2 B vectors, 1 broadcast): the MR x NR tile of
 * the AVX2 path, a narrow tile of the AVX-512 one (arguments as FN(ukr_body), B(p, j) =
 * b[p * bs + j] for j < 2 VL). */
static FNN_FORCE_INLINE void
FN(ukr_body6)(ptrdiff_t kc, const T *a, ptrdiff_t ars, ptrdiff_t acs, int clamp, const T *b,
             ptrdiff_t bs, T *c, ptrdiff_t rsc, ptrdiff_t csc, ptrdiff_t mr, ptrdiff_t nr, const FN(epi_t) *e)
{
    const ptrdiff_t top = clamp ? mr - 1 : 5;
    const ptrdiff_t o0 = 0, o1 = FNN_MIN(1, top) * ars, o2 = FNN_MIN(2, top) * ars,
                    o3 = FNN_MIN(3, top) * ars, o4 = FNN_MIN(4, top) * ars,
                    o5 = FNN_MIN(5, top) * ars;
    VT acc00 = VOP(setzero)(), acc01 = acc00, acc10 = acc00, acc11 = acc00, acc20 = acc00,
       acc21 = acc00, acc30 = acc00, acc31 = acc00, acc40 = acc00, acc41 = acc00,
       acc50 = acc00, acc51 = acc00;
    FN(prefetch_rows)(c, rsc, mr);
#pragma GCC unroll 4
    for (ptrdiff_t p = 0; p < kc; p++) {
        VT b0 = VOP(loadu)(b), b1 = VOP(loadu)(b + VL), ai;
        FNN_UKR_ROW(0) FNN_UKR_ROW(1) FNN_UKR_ROW(2) FNN_UKR_ROW(3) FNN_UKR_ROW(4) FNN_UKR_ROW(5)
        a += acs;
        b += bs;
    }
    VT x0[6] = {acc00, acc10, acc20, acc30, acc40, acc50};
    VT x1[6] = {acc01, acc11, acc21, acc31, acc41, acc51};
    FN(finish_rows)(x0, x1, 6, c, rsc, csc, mr, nr, e);
}
#ifdef WT
#include "gemm_ukr_avx512.h"
#else
static FNN_FORCE_INLINE void
FN(ukr_body)(ptrdiff_t kc, const T *a, ptrdiff_t ars, ptrdiff_t acs, int clamp, const T *b,
             ptrdiff_t bs, T *c, ptrdiff_t rsc, ptrdiff_t csc, ptrdiff_t mr, ptrdiff_t nr, const FN(epi_t) *e)
{
    FN(ukr_body6)(kc, a, ars, acs, clamp, b, bs, c, rsc, csc, mr, nr, e);
}
#endif

#undef FNN_UKR_ROW

/* Narrow C: the MR x NR tile would waste most lanes of its last vector (6 of 16 float
 * lanes for the 10 outputs of a classifier, 6 of 8 double lanes in a 2-column panel).
 * A narrow tile of NARROW_M / V rows keeps V whole vectors per row for columns
 * 0..V*VL-1, and the columns V*VL.. of G rows in one tail vector, row r of the G in its
 * r-th group of VL/G lanes (VL/4 columns left: G = 4, VL/2: G = 2, VL: G = 1; none: G = 0).
 *   V = 1, 8 rows, G = 0:  n <= VL (1..8 float, 1..4 double columns): 8 FMAs a step,
 *                   where the MR x NR tile spends 12 for 6 rows (up to GEMV_N columns
 *                   only for A without a unit stride: gemm_gemv.h runs the others);
 *   V = 1, 8 rows:  VL < n <= VL + VL/2 (9..12 float, 5..6 double columns): 10 FMAs a
 *                   step (G = 4) or 12 (G = 2), where the MR x NR tile spends 12 for 6 rows;
 *   V = 2, 4 rows:  2 VL < n <= 3 VL (17..24 float, 9..12 double): 9, 10 or 12 FMAs a
 *                   step where two AVX2 MR x NR tiles spend 24 for 6 rows (and one
 *                   8 x 4VL AVX-512 tile 16 zmm FMAs, 32 halves on Zen 4, for 8 rows).
 * A step blends the G row broadcasts of a tail vector (VJOIN, VSPREAD4) and multiplies
 * them by the tail columns of B repeated G times.
 * A is read through its strides (rows >= mr read row mr - 1), B is a packed micro-panel
 * bw (a multiple of VL) wide (V = 2 with bw == NR == 2 VL: followed by the VL-wide panel
 * of the tail columns, FN(pack_b)).
 * Each element is still one FMA chain over p, as in FN(ukr_body), so the tiling does not
 * change any result. */
static FNN_FORCE_INLINE void
FN(narrow_body)(ptrdiff_t kc, const T *a, ptrdiff_t rsa, ptrdiff_t csa, const T *b,
                ptrdiff_t bw, T *c, ptrdiff_t rsc, ptrdiff_t csc, ptrdiff_t mr, ptrdiff_t nr,
                const FN(epi_t) *e, const int V, const int G)
{
    enum { TAILS = NARROW_M / 2 }; /* at most (V = 1, G = 2; V = 2, G = 1) */
    const int R = NARROW_M / V;    /* rows */
    const int NT = G ? R / G : 0;  /* tail vectors */
    /* the tail columns, bs apart: in the bw-wide panel, else (V = 2 with bw == 2 VL) in
     * the VL-wide one after it */
    const int in_panel = V == 1 || bw >= 3 * VL;
    const T *bt = in_panel ? b + V * VL : b + bw * kc;
    const ptrdiff_t bs = in_panel ? bw : VL;
    ptrdiff_t o[NARROW_M];
    VT acc[2][NARROW_M], tail[TAILS];
#pragma GCC unroll 8
    for (int i = 0; i < R; i++) {
        o[i] = FNN_MIN(i, mr - 1) * rsa;
        acc[0][i] = acc[1][i] = VOP(setzero)();
    }
#pragma GCC unroll 4
    for (int t = 0; t < NT; t++) tail[t] = VOP(setzero)();
    FN(prefetch_rows)(c, rsc, mr);
    /* counted down to 0: GCC then keeps the count in a register (counting up to kc, the
     * AVX-512 build compared with kc spilled to the stack every step, its float64 256x128
     * @ 128x10 7% slower than AVX2's identical loop) */
#pragma GCC unroll 2
    for (ptrdiff_t left = kc; left > 0; left--) {
        const VT b0 = VOP(loadu)(b), b1 = V == 2 ? VOP(loadu)(b + VL) : b0;
        if (G == 0) {
#pragma GCC unroll 8
            for (int i = 0; i < R; i++) acc[0][i] = VOP(fmadd)(VBCAST(a + o[i]), b0, acc[0][i]);
            a += csa;
            b += bw;
            continue;
        }
        const VT btail = G == 1 ? VOP(loadu)(bt) : G == 2 ? VBCAST_HALF(bt) : VBCAST_QUARTER(bt);
#pragma GCC unroll 4
        for (int t = 0; t < NT; t++) {
            VT r[4];
#pragma GCC unroll 4
            for (int q = 0; q < G; q++) {
                r[q] = VBCAST(a + o[t * G + q]);
                acc[0][t * G + q] = VOP(fmadd)(r[q], b0, acc[0][t * G + q]);
                if (V == 2)
                    acc[1][t * G + q] = VOP(fmadd)(r[q], b1, acc[1][t * G + q]);
            }
            const VT spread = G == 1 ? r[0] : G == 2 ? VJOIN(r[0], r[1]) : VSPREAD4(r[0], r[1], r[2], r[3]);
            tail[t] = VOP(fmadd)(spread, btail, tail[t]);
        }
        a += csa;
        b += bw;
        bt += bs;
    }
    if (G == 0) {
        FN(finish_rows)(acc[0], NULL, R, c, rsc, csc, mr, nr, e);
        return;
    }
    /* row i's columns V*VL.. in the low lanes of x */
    VT x[NARROW_M];
#pragma GCC unroll 8
    for (int i = 0; i < R; i++)
        x[i] = G == 1   ? tail[i]
               : G == 2 ? (i % 2 ? VOP(permute2f128)(tail[i / 2], tail[i / 2], 0x11) : tail[i / 2])
                        : VQUARTER(tail[i / 4], i % 4);
    if (V == 1) {
        FN(finish_rows)(acc[0], x, R, c, rsc, csc, mr, nr, e);
        return;
    }
    FN(epi_t) et = *e; /* the tail columns 2 VL.. */
    et.bias = e->bias ? e->bias + 2 * VL : NULL;
    FN(finish_rows)(acc[0], acc[1], R, c, rsc, csc, mr, 2 * VL, e);
    FN(finish_rows)(x, NULL, R, c + 2 * VL * csc, rsc, csc, mr, nr - 2 * VL, &et);
}

/* The narrow tile for nr columns (the path's PATH_NARROW_TILES). */
static FNN_NOINLINE void FN(ukr_narrow)(ptrdiff_t kc, const T *a, ptrdiff_t rsa, ptrdiff_t csa,
                                        const T *b, ptrdiff_t bw, T *c, ptrdiff_t rsc,
                                        ptrdiff_t csc, ptrdiff_t mr, ptrdiff_t nr,
                                        const FN(epi_t) *e)
{
    if (nr <= VL) {
        FN(narrow_body)(kc, a, rsa, csa, b, bw, c, rsc, csc, mr, nr, e, 1, 0);
    } else if (nr <= VL + VL / 2) {
        if (nr - VL <= VL / 4)
            FN(narrow_body)(kc, a, rsa, csa, b, bw, c, rsc, csc, mr, nr, e, 1, 4);
        else
            FN(narrow_body)(kc, a, rsa, csa, b, bw, c, rsc, csc, mr, nr, e, 1, 2);
#ifdef WT
    } else if (nr <= 2 * VL) {
        FN(ukr_body6)(kc, a, rsa, csa, 1, b, bw, c, rsc, csc, mr, nr, e);
#endif
    } else if (nr - 2 * VL <= VL / 4) {
        FN(narrow_body)(kc, a, rsa, csa, b, bw, c, rsc, csc, mr, nr, e, 2, 4);
    } else if (nr - 2 * VL <= VL / 2) {
        FN(narrow_body)(kc, a, rsa, csa, b, bw, c, rsc, csc, mr, nr, e, 2, 2);
    } else {
        FN(narrow_body)(kc, a, rsa, csa, b, bw, c, rsc, csc, mr, nr, e, 2, 1);
    }
}

/* A partial last column panel of at most VL columns (e.g. the 4 left of n = 100 = 6 * 16
 * + 4) would waste most of an MR x NR tile.  This PAIRS_M x VL/2 tile holds a row pair
 * per vector, interleaved: lane 2j + r is row 2q + r, column j.  A step broadcasts each
 * row pair of the PAIRS_M / MR consecutive packed A micro-panels (VBCAST_PAIR) against
 * the VL/2 columns with every value doubled (VDUP_PAIRS): 12 FMAs for 24 rows of VL/2
 * columns, where the AVX2 6 x 16 tile spends 12 for 6 rows.  Up to VL columns take two
 * passes; the panels past the last one present read that one again (rows >= mr are
 * never stored).  Each element is the same FMA chain as in FN(ukr_body). */
static FNN_NOINLINE void FN(ukr_pairs)(ptrdiff_t kc, const T *a, const T *b, T *c,
                                       ptrdiff_t rsc, ptrdiff_t csc, ptrdiff_t mr, ptrdiff_t nr,
                                       const FN(epi_t) *e)
{
    enum { P = PAIRS_M / MR, H = MR / 2, W = VL / 2 }; /* panels, pairs a panel, columns */
    _Static_assert(MR % 2 == 0 && PAIRS_M % MR == 0 && PAIRS_M == 2 * EPI_M,
                   "whole row pairs and panels, two epilogue halves");
    FN(prefetch_rows)(c, rsc, mr);
    FN(epi_t) ej = *e;
    for (ptrdiff_t j = 0; j < nr; j += W) {
        const T *ap[P], *bj = b + j;
        VT acc[P * H];
#pragma GCC unroll 4
        for (int q = 0; q < P; q++) ap[q] = a + FNN_MIN(q, (mr - 1) / MR) * MR * kc;
#pragma GCC unroll 12
        for (int q = 0; q < P * H; q++) acc[q] = VOP(setzero)();
#pragma GCC unroll 2
        for (ptrdiff_t p = 0; p < kc; p++) {
            const VT bb = VDUP_PAIRS(bj);
#pragma GCC unroll 4
            for (int q = 0; q < P; q++) {
#pragma GCC unroll 3
                for (int h = 0; h < H; h++)
                    acc[q * H + h] = VOP(fmadd)(VBCAST_PAIR(ap[q] + 2 * h), bb, acc[q * H + h]);
                ap[q] += MR;
            }
            bj += NR;
        }
        /* rows 2q, 2q+1 to the low lanes of x[2q], x[2q+1]; the epilogue in two halves */
        ej.bias = e->bias ? e->bias + j : NULL;
#pragma GCC unroll 2
        for (int half = 0; half < 2; half++) {
            VT x[EPI_M];
#pragma GCC unroll 6
            for (int q = 0; q < EPI_M / 2; q++) {
                x[2 * q] = VUNZIP_PAIRS(acc[half * EPI_M / 2 + q]);
                x[2 * q + 1] = VOP(permute2f128)(x[2 * q], x[2 * q], 0x11);
            }
            FN(finish_rows)(x, NULL, EPI_M, c + half * EPI_M * rsc + j * csc, rsc, csc,
                            mr - half * EPI_M, FNN_MIN(W, nr - j), &ej);
        }
    }
}

/* The micro-kernel on packed A and B micro-panels (constant offsets). */
static FNN_NOINLINE void FN(ukr_packed)(ptrdiff_t kc, const T *a, const T *b, T *c,
                                        ptrdiff_t rsc, ptrdiff_t csc, ptrdiff_t mr, ptrdiff_t nr,
                                        const FN(epi_t) *e)
{
    FN(ukr_body)(kc, a, 1, MR, 0, b, NR, c, rsc, csc, mr, nr, e);
}

/* ... reading A in place through its strides (B packed). */
static FNN_NOINLINE void FN(ukr_a_direct)(ptrdiff_t kc, const T *a, ptrdiff_t rsa,
                                          ptrdiff_t csa, const T *b, T *c, ptrdiff_t rsc,
                                          ptrdiff_t csc, ptrdiff_t mr, ptrdiff_t nr,
                                          const FN(epi_t) *e)
{
    FN(ukr_body)(kc, a, rsa, csa, 1, b, NR, c, rsc, csc, mr, nr, e);
}

/* ... reading NR unit-stride columns of B in place, rsb apart (A packed). */
static FNN_NOINLINE void FN(ukr_b_direct)(ptrdiff_t kc, const T *a, const T *b,
                                          ptrdiff_t rsb, T *c, ptrdiff_t rsc, ptrdiff_t csc,
                                          ptrdiff_t mr, ptrdiff_t nr, const FN(epi_t) *e)
{
    FN(ukr_body)(kc, a, 1, MR, 0, b, rsb, c, rsc, csc, mr, nr, e);
}

/* This path's tiles beside MR x NR, as fnn_gemm_blocking entries {rows, min_cols, max_cols}. */
#ifdef WT /* NR is 4 VL: the 256-bit tiles serve C up to 3 VL wide (on Zen 4 a 512-bit
           * tile would spend twice the FMAs on its idle lanes) */
#define PATH_N_NARROW 4
#define PATH_NARROW_TILES                                                             \
    {{NARROW_M, 1, VL}, {NARROW_M, VL + 1, VL + VL / 2}, {6, VL + VL / 2 + 1, 2 * VL}, \
     {NARROW_M / 2, 2 * VL + 1, 3 * VL}}
#else
#define PATH_N_NARROW 3
#define PATH_NARROW_TILES \
    {{NARROW_M, 1, VL}, {NARROW_M, VL + 1, VL + VL / 2}, {NARROW_M / 2, NR + 1, NR + VL}, {0, 0, 0}}
#endif
#define PATH_PAIRS_TILE {PAIRS_M, 1, VL}
#define PATH_COLS_TILE {0, 0, 0} /* no column tile (see gemm_ukr_portable.h) */

/* Run micro-kernel `ukr` (FNN_UKR_*) on the mr x nr tile at c: A is a packed micro-panel
 * (PACKED, B_DIRECT, PAIRS) or read through rsa, csa; B is packed (for NARROW, rsb is
 * the width of its panel) or, for B_DIRECT, NR unit-stride columns rsb apart. */
static FNN_FORCE_INLINE void
FN(ukr_call)(int ukr, ptrdiff_t kc, const T *a, ptrdiff_t rsa, ptrdiff_t csa, const T *b,
             ptrdiff_t rsb, T *c, ptrdiff_t rsc, ptrdiff_t csc, ptrdiff_t mr, ptrdiff_t nr,
             const FN(epi_t) *e)
{
    /* No tile has more rows than the row-pair tile or more columns than the V = 2 narrow
     * tile: saying so lets GCC's value ranges of mr and nr reach the kernels (without it
     * the double narrow kernel runs ~25% more instructions). */
    mr = FNN_MIN(mr, PAIRS_M);
    nr = FNN_MIN(nr, NR + VL);
    if (ukr == FNN_UKR_PACKED)
        FN(ukr_packed)(kc, a, b, c, rsc, csc, mr, nr, e);
    else if (ukr == FNN_UKR_B_DIRECT)
        FN(ukr_b_direct)(kc, a, b, rsb, c, rsc, csc, mr, nr, e);
    else if (ukr == FNN_UKR_PAIRS)
        FN(ukr_pairs)(kc, a, b, c, rsc, csc, mr, nr, e);
    else if (ukr == FNN_UKR_NARROW)
        FN(ukr_narrow)(kc, a, rsa, csa, b, rsb, c, rsc, csc, mr, nr, e);
    else
        FN(ukr_a_direct)(kc, a, rsa, csa, b, c, rsc, csc, mr, nr, e);
}
