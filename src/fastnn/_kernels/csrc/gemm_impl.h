/* BLIS-style GEMM driver, packing and micro-kernels for one element type.
 *
 * A template: gemm.c defines T, FN(name), ACT_FN, MR, NR, KC, MC, NC (and, with AVX2,
 * VT, VOP(op), VBCAST, VBCAST_HALF, VBCAST_QUARTER, VBCAST_PAIR, VDUP_PAIRS,
 * VUNZIP_PAIRS, VJOIN, VSPREAD4, VQUARTER, VSTORE_LO, VMASK, VTRANSPOSE, VL with
 * NR == 2 * VL) and includes this file once per type; every parameter is #undef'd at
 * the end.
 *
 * Loop nest of one thread's share of C (FN(run)):
 *   jc: NC columns    pack B(pc:pc+KC, jc:jc+NC) into NR-wide micro-panels
 *   pc: <= KC depth   (first block applies beta, last one bias and activation)
 *   ic: MC rows       pack A(ic:ic+MC, pc:pc+KC) into MR-tall micro-panels
 *   jr: NR columns    B micro-panel stays in L1
 *   ir: MR rows       micro-kernel: MR x NR tile of C += A panel @ B panel
 *                     (NARROW_M / V rows of V vectors and a tail when C is narrow,
 *                     FN(ukr_narrow);
 *                     PAIRS_M x VL/2 tiles on a partial last panel of <= VL
 *                     columns, FN(ukr_pairs))
 * Skinny products skip packing an operand that would be used too few times: the
 * micro-kernel then reads A through its strides (n <= 2 NR), or unit-stride B in
 * place when C has few rows (see FNN_GEMM_DIRECT_B_MAX_M).
 */

/* What the micro-kernel does with its tile: c = act(alpha * acc + beta * c + bias). */
typedef struct {
    T alpha, beta, slope;
    const T *bias; /* bias of the tile's first column, or NULL */
    int act;
} FN(epi_t);

/* The whole problem, as passed to the public entry point. */
typedef struct {
    ptrdiff_t m, n, k;
    const T *a, *b, *bias;
    T *c;
    ptrdiff_t rsa, csa, rsb, csb, rsc, csc;
    T alpha, beta, slope;
    int act;
} FN(args_t);

/* Finish an mr x nr tile whose alpha-less products are in t (row stride NR):
 * c = act(alpha * t + beta * c + bias), the activation applied to each row of t
 * while it is in L1.  Any strides, any tile size; t is clobbered. */
static void FN(store_tile)(T *t, ptrdiff_t mr, ptrdiff_t nr, T *c, ptrdiff_t rsc, ptrdiff_t csc,
                           const FN(epi_t) *e)
{
    for (ptrdiff_t i = 0; i < mr; i++) {
        T *row = t + i * NR, *ci = c + i * rsc;
        for (ptrdiff_t j = 0; j < nr; j++) row[j] *= e->alpha;
        if (e->beta != (T)0)
            for (ptrdiff_t j = 0; j < nr; j++) row[j] += e->beta * ci[j * csc];
        if (e->bias)
            for (ptrdiff_t j = 0; j < nr; j++) row[j] += e->bias[j];
        ACT_FN(e->act, e->slope, row, row, nr);
        for (ptrdiff_t j = 0; j < nr; j++) ci[j * csc] = row[j];
    }
}

/* Micro-kernel: the mr x nr (<= MR x NR) tile at c from kc steps of
 *   A(i, p) = a[i * ars + p * acs]  (packed: ars = 1, acs = MR; rows >= mr are never
 *                                     used, they read row mr - 1 when `clamp`)
 *   B(p, j) = b[p * bs + j]         (packed: bs = NR, zero padded; else NR columns of B).
 * With unit column stride the epilogue runs in registers (lane masks at the right
 * edge); other strides go through FN(store_tile). */
#if FNN_HAVE_AVX2
#define NARROW_N (VL + VL / 2)
#define NARROW_M 8 /* rows of the narrow tile */
#define PAIRS_M (4 * MR) /* rows of the row-pair tile, FN(ukr_pairs) */
#define EPI_M (2 * MR) /* most rows FN(finish_rows) takes (12 vectors, in registers) */

/* acc_i0, acc_i1 += A(i, p) * B(p, 0:NR) */
#define FNN_UKR_ROW(i)                                  \
    ai = VBCAST(a + o##i);                              \
    acc##i##0 = VOP(fmadd)(ai, b0, acc##i##0);          \
    acc##i##1 = VOP(fmadd)(ai, b1, acc##i##1);

/* p[0..r) = lanes 0..r-1 of x (0 <= r < VL): a half-vector store, then element
 * stores, as masked stores are slow on some CPUs (AMD Zen). */
static inline __attribute__((always_inline)) void FN(store_part)(T *p, VT x, ptrdiff_t r)
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
static inline __attribute__((always_inline)) void FN(prefetch_rows)(const T *c, ptrdiff_t rsc,
                                                                    ptrdiff_t mr)
{
    for (ptrdiff_t i = 0; i < mr; i++) _mm_prefetch((const char *)(c + i * rsc), _MM_HINT_T0);
}

/* VL values at p, or only the lanes of `mask` (the others 0) when not `full`.  Masked
 * loads are slow: only a partial vector uses them. */
static inline __attribute__((always_inline)) VT FN(load_part)(const T *p, int full, __m256i mask)
{
    return full ? VOP(loadu)(p) : VOP(maskload)(p, mask);
}

/* The epilogue of a tile of `rows` (a constant) rows held in registers: row i's columns
 * 0..VL-1 in x0[i] and VL.. in x1[i] (x1 NULL when the tile is VL wide); rows >= mr and
 * columns >= nr are dropped.  Unit column stride: c = act(alpha * x + beta * c + bias)
 * in registers, each step over the whole tile behind one test (alpha == 1 skips the
 * product, which is exact), tanh and sigmoid on the stored rows; other strides go
 * through FN(store_tile).  The x are clobbered. */
static inline __attribute__((always_inline)) void FN(finish_rows)(VT *x0, VT *x1, int rows,
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
        FN(store_tile)(t, mr, nr, c, rsc, csc, e);
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

static inline __attribute__((always_inline)) void
FN(ukr_body)(ptrdiff_t kc, const T *a, ptrdiff_t ars, ptrdiff_t acs, int clamp, const T *b,
             ptrdiff_t bs, T *c, ptrdiff_t rsc, ptrdiff_t csc, ptrdiff_t mr, ptrdiff_t nr, const FN(epi_t) *e)
{
    const ptrdiff_t top = clamp ? mr - 1 : MR - 1;
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
    VT x0[MR] = {acc00, acc10, acc20, acc30, acc40, acc50};
    VT x1[MR] = {acc01, acc11, acc21, acc31, acc41, acc51};
    FN(finish_rows)(x0, x1, MR, c, rsc, csc, mr, nr, e);
}

#undef FNN_UKR_ROW

/* Narrow C: the MR x NR tile would waste most lanes of its last vector (6 of 16 float
 * lanes for the 10 outputs of a classifier, 6 of 8 double lanes in a 2-column panel).
 * A narrow tile of NARROW_M / V rows keeps V whole vectors per row for columns
 * 0..V*VL-1, and the columns V*VL.. of G rows in one tail vector, row r of the G in its
 * r-th group of VL/G lanes (VL/4 columns left: G = 4, VL/2: G = 2, VL: G = 1).
 *   V = 1, 8 rows:  VL < n <= VL + VL/2 (9..12 float, 5..6 double columns): 10 FMAs a
 *                   step (G = 4) or 12 (G = 2), where the MR x NR tile spends 12 for 6 rows;
 *   V = 2, 4 rows:  NR < n <= NR + VL (17..24 float, 9..12 double): 9, 10 or 12 FMAs a
 *                   step where two MR x NR tiles spend 24 for 6 rows.
 * A step blends the G row broadcasts of a tail vector (VJOIN, VSPREAD4) and multiplies
 * them by the tail columns of B repeated G times.
 * A is read through its strides (rows >= mr read row mr - 1), B is a packed NR-wide
 * micro-panel (V = 2: followed by the VL-wide panel of the tail columns, FN(pack_b)).
 * Each element is still one FMA chain over p, as in FN(ukr_body), so the tiling does not
 * change any result. */
static inline __attribute__((always_inline)) void
FN(narrow_body)(ptrdiff_t kc, const T *a, ptrdiff_t rsa, ptrdiff_t csa, const T *b, T *c,
                ptrdiff_t rsc, ptrdiff_t csc, ptrdiff_t mr, ptrdiff_t nr, const FN(epi_t) *e,
                const int V, const int G)
{
    enum { TAILS = NARROW_M / 2 }; /* at most (V = 1, G = 2; V = 2, G = 1) */
    const int R = NARROW_M / V;    /* rows */
    const T *bt = V == 1 ? b + VL : b + NR * kc; /* the tail columns, bs apart */
    const ptrdiff_t bs = V == 1 ? NR : VL;
    ptrdiff_t o[NARROW_M];
    VT acc[2][NARROW_M], tail[TAILS];
#pragma GCC unroll 8
    for (int i = 0; i < R; i++) {
        o[i] = FNN_MIN(i, mr - 1) * rsa;
        acc[0][i] = acc[1][i] = VOP(setzero)();
    }
#pragma GCC unroll 4
    for (int t = 0; t < R / G; t++) tail[t] = VOP(setzero)();
    FN(prefetch_rows)(c, rsc, mr);
#pragma GCC unroll 2
    for (ptrdiff_t p = 0; p < kc; p++) {
        const VT b0 = VOP(loadu)(b), b1 = V == 2 ? VOP(loadu)(b + VL) : b0;
        const VT btail = G == 1 ? VOP(loadu)(bt) : G == 2 ? VBCAST_HALF(bt) : VBCAST_QUARTER(bt);
#pragma GCC unroll 4
        for (int t = 0; t < R / G; t++) {
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
        b += NR;
        bt += bs;
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
    FN(epi_t) et = *e;
    et.bias = e->bias ? e->bias + NR : NULL;
    FN(finish_rows)(acc[0], acc[1], R, c, rsc, csc, mr, NR, e);
    FN(finish_rows)(x, NULL, R, c + NR * csc, rsc, csc, mr, nr - NR, &et);
}

/* The narrow tile for nr columns (VL < nr <= NARROW_N or NR < nr <= NR + VL). */
static FNN_NOINLINE void FN(ukr_narrow)(ptrdiff_t kc, const T *a, ptrdiff_t rsa, ptrdiff_t csa,
                                        const T *b, T *c, ptrdiff_t rsc, ptrdiff_t csc,
                                        ptrdiff_t mr, ptrdiff_t nr, const FN(epi_t) *e)
{
    if (nr <= NR) {
        if (nr - VL <= VL / 4)
            FN(narrow_body)(kc, a, rsa, csa, b, c, rsc, csc, mr, nr, e, 1, 4);
        else
            FN(narrow_body)(kc, a, rsa, csa, b, c, rsc, csc, mr, nr, e, 1, 2);
    } else if (nr - NR <= VL / 4) {
        FN(narrow_body)(kc, a, rsa, csa, b, c, rsc, csc, mr, nr, e, 2, 4);
    } else if (nr - NR <= VL / 2) {
        FN(narrow_body)(kc, a, rsa, csa, b, c, rsc, csc, mr, nr, e, 2, 2);
    } else {
        FN(narrow_body)(kc, a, rsa, csa, b, c, rsc, csc, mr, nr, e, 2, 1);
    }
}

/* A partial last column panel of at most VL columns (e.g. the 4 left of n = 100 = 6 * 16
 * + 4) would waste most of an MR x NR tile.  This PAIRS_M x VL/2 tile holds a row pair
 * per vector, interleaved: lane 2j + r is row 2q + r, column j.  A step broadcasts each
 * row pair of four consecutive packed A micro-panels (VBCAST_PAIR) against the VL/2
 * columns with every value doubled (VDUP_PAIRS): 12 FMAs for 24 rows of VL/2 columns,
 * where an MR x NR tile spends 12 for 6 rows.  Up to VL columns take two passes; the
 * panels past the last one present (mr <= 18) read that one again (rows >= mr are never
 * stored).  Each element is the same FMA chain as in FN(ukr_body). */
static FNN_NOINLINE void FN(ukr_pairs)(ptrdiff_t kc, const T *a, const T *b, T *c,
                                       ptrdiff_t rsc, ptrdiff_t csc, ptrdiff_t mr, ptrdiff_t nr,
                                       const FN(epi_t) *e)
{
    enum { P = PAIRS_M / MR, H = MR / 2, W = VL / 2 }; /* panels, pairs a panel, columns */
    _Static_assert(MR % 2 == 0 && PAIRS_M == 2 * EPI_M, "whole row pairs, two epilogue halves");
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

#else /* portable C: an MR x NR accumulator array the compiler keeps in SSE registers */

static inline __attribute__((always_inline)) void
FN(ukr_body)(ptrdiff_t kc, const T *a, ptrdiff_t ars, ptrdiff_t acs, int clamp, const T *b,
             ptrdiff_t bs, T *c, ptrdiff_t rsc, ptrdiff_t csc, ptrdiff_t mr, ptrdiff_t nr, const FN(epi_t) *e)
{
    _Alignas(64) T t[MR * NR] = {0};
    ptrdiff_t off[MR];
    for (ptrdiff_t i = 0; i < MR; i++) off[i] = FNN_MIN(i, clamp ? mr - 1 : i) * ars;
    for (ptrdiff_t p = 0; p < kc; p++, a += acs, b += bs)
        for (ptrdiff_t i = 0; i < MR; i++) {
            const T ai = a[off[i]];
            for (ptrdiff_t j = 0; j < NR; j++) t[i * NR + j] += ai * b[j];
        }
    FN(store_tile)(t, mr, nr, c, rsc, csc, e);
}

#endif

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

/* Pack the kc x nc block B(p, j) = b[p * rsb + j * csb] into NR-wide micro-panels of kc
 * rows each (panel q holds columns q*NR .. q*NR+NR-1), zero padding the last one; a
 * partial last one is w_last wide (NR, or VL: the tail of the V = 2 narrow tile). */
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
            const __m256i m0 = VMASK(nr), m1 = VMASK(nr - VL);
            for (ptrdiff_t p = 0; p < kc; p++) {
                VOP(store)(dst + p * W, FN(load_part)(src + p * rsb, nr >= VL, m0));
                if (W > VL)
                    VOP(store)(dst + p * W + VL, VOP(maskload)(src + p * rsb + VL, m1));
            }
#endif
        } else {
            for (ptrdiff_t p = 0; p < kc; p++)
                for (ptrdiff_t j = 0; j < W; j++)
                    dst[p * W + j] = j < nr ? src[p * rsb + j * csb] : (T)0;
        }
        dst += W * kc;
    }
}

/* Pack the mc x kc block A(i, p) = a[i * rsa + p * csa] into MR-tall micro-panels
 * (element (i, p) of panel q at q*MR*kc + p*MR + i), zero padding the last one. */
static void FN(pack_a)(ptrdiff_t mc, ptrdiff_t kc, const T *a, ptrdiff_t rsa, ptrdiff_t csa,
                       T *dst)
{
#if FNN_HAVE_AVX2
    enum { G = (MR + VL - 1) / VL }; /* vectors per column of a micro-panel */
    /* Columns are stored as G whole vectors, so the lanes beyond MR spill into the next
     * column's slots (or the workspace slack) before those are written. */
    if (rsa == 1) { /* columns are contiguous (a transposed view): blocks of PB columns,
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
                        const VT x = FN(load_part)(a + p * csa + i0 + g * VL, full[g], mask[g]);
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
    for (ptrdiff_t i0 = 0; i0 < mc; i0 += MR, dst += MR * kc) {
        const ptrdiff_t mr = FNN_MIN(MR, mc - i0);
        const T *src = a + i0 * rsa;
        if (mr == MR) {
            ptrdiff_t p = 0;
#if FNN_HAVE_AVX2
            /* rows are contiguous: transpose VL x VL blocks (the last row repeated to fill
             * a block) */
            if (csa == 1)
                for (; p + VL <= kc; p += VL) {
                    VT r[G][VL];
                    for (int g = 0; g < G; g++) {
                        for (int q = 0; q < VL; q++)
                            r[g][q] = VOP(loadu)(src + FNN_MIN(g * VL + q, MR - 1) * rsa + p);
                        VTRANSPOSE(r[g]);
                    }
                    for (int q = 0; q < VL; q++)
                        for (int g = 0; g < G; g++) VOP(storeu)(dst + (p + q) * MR + g * VL, r[g][q]);
                }
#endif
            for (; p < kc; p++)
                for (ptrdiff_t i = 0; i < MR; i++) dst[p * MR + i] = src[i * rsa + p * csa];
        } else {
            for (ptrdiff_t p = 0; p < kc; p++)
                for (ptrdiff_t i = 0; i < MR; i++)
                    dst[p * MR + i] = i < mr ? src[i * rsa + p * csa] : (T)0;
        }
    }
}

/* C(m0:m1, n0:n1) of the problem g, on the calling thread.  m0 and n0 are multiples of
 * MR and NR, so every element sees the same micro-tile arithmetic whatever the split. */
static void FN(run)(const FN(args_t) *g, ptrdiff_t m0, ptrdiff_t m1, ptrdiff_t n0, ptrdiff_t n1)
{
    const ptrdiff_t m = m1 - m0, n = n1 - n0, k = g->k;
    const ptrdiff_t rsa = g->rsa, csa = g->csa, rsb = g->rsb, csb = g->csb;
    const ptrdiff_t rsc = g->rsc, csc = g->csc;
    const T *a = g->a + m0 * rsa, *b = g->b + n0 * csb;
    const T *bias = g->bias ? g->bias + n0 : NULL;
    T *c = g->c + m0 * rsc + n0 * csc;
    FN(epi_t) e = {g->alpha, g->beta, g->slope, bias, g->act};
    _Alignas(64) T t[MR * NR];

    if (k == 0) { /* C = act(beta * C + bias): finish all-zero tiles */
        for (ptrdiff_t j = 0; j < n; j += NR)
            for (ptrdiff_t i = 0; i < m; i += MR) {
                memset(t, 0, sizeof t);
                e.bias = bias ? bias + j : NULL;
                FN(store_tile)(t, FNN_MIN(MR, m - i), FNN_MIN(NR, n - j), c + i * rsc + j * csc,
                               rsc, csc, &e);
            }
        return;
    }

    /* Packing A pays when each A micro-panel serves more than two B micro-panels.
     * Unit-stride B is read in place for few rows (only a partial last panel is
     * packed), see FNN_GEMM_DIRECT_B_MAX_M. */
    int pack_a = n > 2 * NR;
    int direct_b = pack_a && csb == 1 &&
                   m <= ((rsb * (ptrdiff_t)sizeof(T)) % 4096 ? FNN_GEMM_DIRECT_B_MAX_M
                                                             : FNN_GEMM_DIRECT_B_MAX_M_4K);
    /* Out of memory: fall back to one B micro-panel on the stack and unpacked A; the
     * arithmetic (kernel, KC) is unchanged, so is the result. */
    _Alignas(64) T bpanel[KC * NR];
    ptrdiff_t ncap = direct_b ? n : FNN_ROUND_UP(FNN_MIN(n, NC), NR);
    const ptrdiff_t kcap = FNN_MIN(k, KC);
    T *bufb = (T *)fnn_ws_get(FNN_WS_B, (size_t)(kcap * (direct_b ? NR : ncap)) * sizeof(T));
    const size_t abytes = (size_t)(kcap * FNN_ROUND_UP(FNN_MIN(m, MC), MR) + 64) * sizeof(T);
    T *bufa = pack_a ? (T *)fnn_ws_get(FNN_WS_A, abytes) : NULL; /* + slack for FN(pack_a) */
    if (!bufb || (pack_a && !bufa)) {
        bufb = bpanel;
        ncap = NR;
        pack_a = direct_b = 0; /* FN(ukr_b_direct) reads packed A */
    }
#if FNN_HAVE_AVX2
    /* the narrow tile's V (0: none; then pack_a == 0; V = 2 needs more than the one B
     * panel of the fallback) and the columns a tile covers */
    const int narrow = n > VL && n <= NARROW_N ? 1 : n > NR && n <= NR + VL && ncap > NR ? 2 : 0;
    const ptrdiff_t nstep = narrow == 2 ? NR + VL : NR, tail_w = narrow == 2 ? VL : NR;
#else
    const ptrdiff_t nstep = NR, tail_w = NR;
#endif

    /* k in equal blocks of at most KC (no short last block); a function of k alone */
    const ptrdiff_t kstep = (k + (k + KC - 1) / KC - 1) / ((k + KC - 1) / KC);
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
                const T *ablk = a + ic * rsa + pc * csa;
                if (pack_a)
                    FN(pack_a)(mc, kc, ablk, rsa, csa, bufa);
                for (ptrdiff_t jr = 0; jr < nc; jr += nstep) {
                    const ptrdiff_t nr = FNN_MIN(nstep, nc - jr);
                    const T *bp = bufb + (jr - nfull) * kc;
                    e.bias = last && bias ? bias + jc + jr : NULL;
#if FNN_HAVE_AVX2
                    /* a packed partial panel of <= VL columns (never read in place) */
                    const int pairs = pack_a && nr <= VL;
                    const ptrdiff_t mstep = pairs ? PAIRS_M : narrow ? NARROW_M / narrow : MR;
#else
                    const ptrdiff_t mstep = MR;
#endif
                    for (ptrdiff_t ir = 0; ir < mc; ir += mstep) {
                        const ptrdiff_t mr = FNN_MIN(mstep, mc - ir);
                        T *ct = c + (ic + ir) * rsc + (jc + jr) * csc;
                        if (jr < nfull)
                            FN(ukr_b_direct)(kc, bufa + ir * kc, bblk + jr, rsb, ct, rsc, csc, mr, nr, &e);
#if FNN_HAVE_AVX2
                        else if (pairs)
                            FN(ukr_pairs)(kc, bufa + ir * kc, bp, ct, rsc, csc, mr, nr, &e);
#endif
                        else if (pack_a)
                            FN(ukr_packed)(kc, bufa + ir * kc, bp, ct, rsc, csc, mr, nr, &e);
#if FNN_HAVE_AVX2
                        else if (narrow)
                            FN(ukr_narrow)(kc, ablk + ir * rsa, rsa, csa, bp, ct, rsc, csc, mr, nr, &e);
#endif
                        else
                            FN(ukr_a_direct)(kc, ablk + ir * rsa, rsa, csa, bp, ct, rsc, csc, mr, nr, &e);
                    }
                }
            }
        }
    }
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

/* Split the MR x NR tile grid of C into tm x tn rectangles (tm * tn == nt): the most
 * row blocks whose busiest thread has at most 5% more tiles than in the best split (a
 * thread packs A for its rows and B for its columns; splitting rows shares B, the
 * operand that is read in place or cheaper to pack). */
static void FN(split)(ptrdiff_t m, ptrdiff_t n, int nt, int *tm, int *tn)
{
    const ptrdiff_t tiles_m = (m + MR - 1) / MR, tiles_n = (n + NR - 1) / NR;
    ptrdiff_t best = -1;
    for (int r = 1; r <= nt; r++) {
        const ptrdiff_t load = FN(split_load)(tiles_m, tiles_n, nt, r);
        if (load >= 0 && (best < 0 || load < best))
            best = load;
    }
    *tm = *tn = 1;
    for (int r = 1; r <= nt && best >= 0; r++) {
        const ptrdiff_t load = FN(split_load)(tiles_m, tiles_n, nt, r);
        if (load >= 0 && load * 20 <= best * 21) {
            *tm = r;
            *tn = nt / r;
        }
    }
}

#include "gemm_skinny.h"

void FN(gemm)(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, T alpha, const T *a, ptrdiff_t rsa,
              ptrdiff_t csa, const T *b, ptrdiff_t rsb, ptrdiff_t csb, T beta, T *c, ptrdiff_t rsc,
              ptrdiff_t csc, const T *bias, int act, T slope)
{
    if (m <= 0 || n <= 0)
        return;
    const FN(args_t) g = {m, n, k < 0 ? 0 : k, a, b, bias, c, rsa, csa, rsb, csb, rsc, csc,
                          alpha, beta, slope, act};
    if (FN(skinny)(&g))
        return;
    int tm = 1, tn = 1;
    const int nt = fnn_get_num_threads();
    if (nt > 1 && (double)m * (double)n * (double)g.k >= FNN_GEMM_PAR_MIN_FMA)
        FN(split)(m, n, nt, &tm, &tn);
    if (tm * tn == 1) {
        FN(run)(&g, 0, m, 0, n);
        return;
    }
#if FNN_OPENMP
    /* Up to two tasks per thread, handed out dynamically, so that a thread getting less
     * CPU (on a shared machine) does less; tasks pack their own operands, hence keep at
     * least FNN_GEMM_TASK_MIN rows (columns). */
    if (tm > 1)
        while (tm < 2 * nt && m / (2 * tm) >= FNN_GEMM_TASK_MIN) tm *= 2;
    else
        while (tn < 2 * nt && n / (2 * tn) >= FNN_GEMM_TASK_MIN) tn *= 2;
    const ptrdiff_t tiles_m = (m + MR - 1) / MR, tiles_n = (n + NR - 1) / NR;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
    for (int task = 0; task < tm * tn; task++) {
        const int ti = task / tn, tj = task % tn;
        const ptrdiff_t m0 = FNN_MIN(m, tiles_m * ti / tm * MR);
        const ptrdiff_t m1 = FNN_MIN(m, tiles_m * (ti + 1) / tm * MR);
        const ptrdiff_t n0 = FNN_MIN(n, tiles_n * tj / tn * NR);
        const ptrdiff_t n1 = FNN_MIN(n, tiles_n * (tj + 1) / tn * NR);
        FN(run)(&g, m0, m1, n0, n1);
    }
#else
    FN(run)(&g, 0, m, 0, n);
#endif
}

#undef T
#undef FN
#undef ACT_FN
#undef MR
#undef NR
#undef KC
#undef MC
#undef NC
#if FNN_HAVE_AVX2
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
#undef NARROW_N
#undef NARROW_M
#undef EPI_M
#undef PAIRS_M
#undef VTRANSPOSE
#undef VMASK
#undef VL
#endif
