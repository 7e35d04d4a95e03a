/* The AVX-512 MR x NR micro-kernel of the GEMM (8 x 32 float, 8 x 16 double), for one
 * element type: part of the gemm_impl.h template, included by gemm_ukr_avx2.h in the
 * AVX-512 build in place of the AVX2 6 x NR one (WT, WOP, WL, WLESS: the 512-bit vector
 * type, its intrinsics, lanes and x < y opmask; NR == 2 * WL).
 *
 * 16 zmm registers accumulate, two hold the B row, one an A value broadcast from memory
 * (AVX-512's 32 registers leave the narrow and row-pair tiles of gemm_ukr_avx2.h room
 * too).  8 rows rather than 12 or 14: batches are multiples of 8 (a 64-row product wastes
 * a third of its last 12-row tile, measured 5-10% slower than AVX2).  Edge tiles cost nothing extra:
 * rows >= mr compute on a repeated row and are never stored, columns >= nr are dropped
 * by the opmask of the loads and stores in the epilogue.  Each element of C is one FMA
 * chain over p, as in every other tile of the path. */

/* Opmask of lanes j < r (any r; none when r <= 0). */
static FNN_FORCE_INLINE __mmask16 FN(wmask)(ptrdiff_t r)
{
    return r >= WL ? (__mmask16)((1u << WL) - 1) : r <= 0 ? 0 : (__mmask16)((1u << r) - 1);
}

/* c = act(alpha * x + beta * c + bias) for the mr x nr tile whose row i is x0[i] (columns
 * 0..WL-1), x1[i] (WL..NR-1); unit column stride, else through FN(store_tile).  Each step
 * over the whole tile behind one test (alpha == 1 skips the product, which is exact);
 * tanh and sigmoid on the stored rows. */
static FNN_FORCE_INLINE void FN(finish_wide)(WT *x0, WT *x1, T *c,
                                                                  ptrdiff_t rsc, ptrdiff_t csc,
                                                                  ptrdiff_t mr, ptrdiff_t nr,
                                                                  const FN(epi_t) *e)
{
    if (csc != 1) {
        _Alignas(64) T t[MR * NR];
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++) {
            WOP(store)(t + i * NR, x0[i]);
            WOP(store)(t + i * NR + WL, x1[i]);
        }
        FN(store_tile)(t, NR, mr, nr, c, rsc, csc, e);
        return;
    }
    const __mmask16 m0 = FN(wmask)(nr), m1 = FN(wmask)(nr - WL);
    const WT zero = WOP(setzero)();
    if (e->alpha != (T)1) {
        const WT alpha = WOP(set1)(e->alpha);
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++) {
            x0[i] = WOP(mul)(alpha, x0[i]);
            x1[i] = WOP(mul)(alpha, x1[i]);
        }
    }
    if (e->beta != (T)0) {
        const WT beta = WOP(set1)(e->beta);
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++)
            if (i < mr) {
                x0[i] = WOP(fmadd)(beta, WOP(maskz_loadu)(m0, c + i * rsc), x0[i]);
                x1[i] = WOP(fmadd)(beta, WOP(maskz_loadu)(m1, c + i * rsc + WL), x1[i]);
            }
    }
    if (e->bias) {
        const WT bias0 = WOP(maskz_loadu)(m0, e->bias), bias1 = WOP(maskz_loadu)(m1, e->bias + WL);
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++) {
            x0[i] = WOP(add)(x0[i], bias0);
            x1[i] = WOP(add)(x1[i], bias1);
        }
    }
    if (e->act == FNN_ACT_RELU) { /* max returns its 2nd operand when one is NaN */
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++) {
            x0[i] = WOP(max)(zero, x0[i]);
            x1[i] = WOP(max)(zero, x1[i]);
        }
    } else if (e->act == FNN_ACT_LEAKY_RELU) {
        const WT slope = WOP(set1)(e->slope);
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++) {
            x0[i] = WOP(mask_mul)(x0[i], WLESS(x0[i], zero), slope, x0[i]);
            x1[i] = WOP(mask_mul)(x1[i], WLESS(x1[i], zero), slope, x1[i]);
        }
    }
    if (nr >= NR) {
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++)
            if (i < mr) {
                WOP(storeu)(c + i * rsc, x0[i]);
                WOP(storeu)(c + i * rsc + WL, x1[i]);
            }
    } else {
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++)
            if (i < mr) {
                WOP(mask_storeu)(c + i * rsc, m0, x0[i]);
                WOP(mask_storeu)(c + i * rsc + WL, m1, x1[i]);
            }
    }
    if (e->act == FNN_ACT_TANH || e->act == FNN_ACT_SIGMOID)
        for (ptrdiff_t i = 0; i < mr; i++) ACT_FN(e->act, e->slope, c + i * rsc, c + i * rsc, nr);
}

/* The mr x nr (<= MR x NR) tile at c from kc steps of A(i, p) = a[i * ars + p * acs]
 * (rows >= mr read row mr - 1 when `clamp`) and B(p, j) = b[p * bs + j]; see gemm_impl.h. */
static FNN_FORCE_INLINE void
FN(ukr_body)(ptrdiff_t kc, const T *a, ptrdiff_t ars, ptrdiff_t acs, int clamp, const T *b,
             ptrdiff_t bs, T *c, ptrdiff_t rsc, ptrdiff_t csc, ptrdiff_t mr, ptrdiff_t nr, const FN(epi_t) *e)
{
    const ptrdiff_t top = clamp ? mr - 1 : MR - 1;
    ptrdiff_t o[MR];
    WT x0[MR], x1[MR];
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) {
        o[i] = FNN_MIN(i, top) * ars;
        x0[i] = x1[i] = WOP(setzero)();
    }
    FN(prefetch_rows)(c, rsc, mr);
#pragma GCC unroll 2
    for (ptrdiff_t p = 0; p < kc; p++) {
        const WT b0 = WOP(loadu)(b), b1 = WOP(loadu)(b + WL);
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++) {
            const WT ai = WOP(set1)(a[o[i]]);
            x0[i] = WOP(fmadd)(ai, b0, x0[i]);
            x1[i] = WOP(fmadd)(ai, b1, x1[i]);
        }
        a += acs;
        b += bs;
    }
    FN(finish_wide)(x0, x1, c, rsc, csc, mr, nr, e);
}
