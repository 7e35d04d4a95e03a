/* The portable micro-kernel of the GEMM and its table, for one element type: part of the
 * gemm_impl.h template (T, FN, MR, NR), included by it when not FNN_HAVE_AVX2.
 *
 * One kernel, the MR x NR tile: an accumulator array the compiler keeps in SSE registers
 * (baseline x86-64) or NEON ones.  No narrow or row-pair tiles.  The kernel is inlined
 * into the driver (a spilled tile gains from it). */

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

/* This path's tiles beside MR x NR (fnn_gemm_blocking): none. */
#define PATH_N_NARROW 0
#define PATH_NARROW_TILES {{0, 0, 0}}
#define PATH_PAIRS_TILE {0, 0, 0}

/* Run micro-kernel `ukr` (FNN_UKR_PACKED, _B_DIRECT or _A_DIRECT) on the mr x nr tile at c,
 * as the AVX2 path's FN(ukr_call). */
static inline __attribute__((always_inline)) void
FN(ukr_call)(int ukr, ptrdiff_t kc, const T *a, ptrdiff_t rsa, ptrdiff_t csa, const T *b,
             ptrdiff_t rsb, T *c, ptrdiff_t rsc, ptrdiff_t csc, ptrdiff_t mr, ptrdiff_t nr,
             const FN(epi_t) *e)
{
    switch (ukr) {
    case FNN_UKR_B_DIRECT:
        FN(ukr_body)(kc, a, 1, MR, 0, b, rsb, c, rsc, csc, mr, nr, e);
        break;
    case FNN_UKR_PACKED:
        FN(ukr_body)(kc, a, 1, MR, 0, b, NR, c, rsc, csc, mr, nr, e);
        break;
    default: /* FNN_UKR_A_DIRECT */
        FN(ukr_body)(kc, a, rsa, csa, 1, b, NR, c, rsc, csc, mr, nr, e);
    }
}
