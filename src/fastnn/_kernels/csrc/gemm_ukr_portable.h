/* The portable micro-kernel of the GEMM and its table, for one element type: part of the
 * gemm_impl.h template (T, FN, MR, NR, VLP), included by it when not FNN_HAVE_AVX2.
 *
 * Written once with GCC/Clang vector extensions: 16-byte vectors of VLP lanes, which the
 * compiler maps to SSE2 on baseline x86-64 and to NEON on aarch64; `acc += a * b`
 * contracts to a fused multiply-add where the target has one (aarch64), else it is a
 * multiply and an add.  One kernel, the MR x NR tile of MR x 2 vector accumulators (8
 * registers of SSE2's 16: two-operand SSE2 copies each broadcast before multiplying).  Packed A holds each value VLP times (PACK_A_LANES), so the
 * row broadcasts are plain vector loads; A read through its strides is broadcast from
 * a scalar.  No narrow or row-pair tiles.  The kernel is inlined into the driver. */

typedef T FN(vec) __attribute__((vector_size(VLP * sizeof(T))));

/* The mr x nr (<= MR x NR) tile at c from kc steps of A(i, p) = a[i * ars + p * acs] (a
 * vector of VLP copies when `splat`; rows >= mr read row mr - 1 when `clamp`) and
 * B(p, j) = b[p * bs + j], finished by the epilogue e (FN(store_tile)). */
static FNN_FORCE_INLINE void
FN(ukr_body)(ptrdiff_t kc, const T *a, ptrdiff_t ars, ptrdiff_t acs, int clamp, int splat,
             const T *b, ptrdiff_t bs, T *c, ptrdiff_t rsc, ptrdiff_t csc, ptrdiff_t mr,
             ptrdiff_t nr, const FN(epi_t) *e)
{
    ptrdiff_t off[MR];
    FN(vec) acc0[MR], acc1[MR];
#pragma GCC unroll 8
    for (ptrdiff_t i = 0; i < MR; i++) {
        off[i] = FNN_MIN(i, clamp ? mr - 1 : i) * ars;
        acc0[i] = acc1[i] = (FN(vec)){0};
    }
#pragma GCC unroll 2
    for (ptrdiff_t p = 0; p < kc; p++, a += acs, b += bs) {
        FN(vec) b0, b1;
        memcpy(&b0, b, sizeof b0);
        memcpy(&b1, b + VLP, sizeof b1);
#pragma GCC unroll 8
        for (ptrdiff_t i = 0; i < MR; i++) {
            FN(vec) ai;
            if (splat)
                memcpy(&ai, a + off[i], sizeof ai);
            else
                ai = (FN(vec)){0} + a[off[i]];
            acc0[i] += ai * b0;
            acc1[i] += ai * b1;
        }
    }
    _Alignas(64) T t[MR * NR];
#pragma GCC unroll 8
    for (ptrdiff_t i = 0; i < MR; i++) {
        memcpy(t + i * NR, &acc0[i], sizeof acc0[i]);
        memcpy(t + i * NR + VLP, &acc1[i], sizeof acc1[i]);
    }
    FN(store_tile)(t, mr, nr, c, rsc, csc, e);
}

/* This path's tiles beside MR x NR (fnn_gemm_blocking): none. */
#define PATH_N_NARROW 0
#define PATH_NARROW_TILES {{0, 0, 0}}
#define PATH_PAIRS_TILE {0, 0, 0}

/* Run micro-kernel `ukr` (FNN_UKR_PACKED, _B_DIRECT or _A_DIRECT) on the mr x nr tile at c,
 * as the AVX2 path's FN(ukr_call). */
static FNN_FORCE_INLINE void
FN(ukr_call)(int ukr, ptrdiff_t kc, const T *a, ptrdiff_t rsa, ptrdiff_t csa, const T *b,
             ptrdiff_t rsb, T *c, ptrdiff_t rsc, ptrdiff_t csc, ptrdiff_t mr, ptrdiff_t nr,
             const FN(epi_t) *e)
{
    switch (ukr) {
    case FNN_UKR_B_DIRECT:
        FN(ukr_body)(kc, a, VLP, MR * VLP, 0, 1, b, rsb, c, rsc, csc, mr, nr, e);
        break;
    case FNN_UKR_PACKED:
        FN(ukr_body)(kc, a, VLP, MR * VLP, 0, 1, b, NR, c, rsc, csc, mr, nr, e);
        break;
    default: /* FNN_UKR_A_DIRECT */
        FN(ukr_body)(kc, a, rsa, csa, 1, 0, b, NR, c, rsc, csc, mr, nr, e);
    }
}
