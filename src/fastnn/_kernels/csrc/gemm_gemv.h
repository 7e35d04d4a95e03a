/* Matrix times a few vectors: C with at most GEMV_N columns (GEMV_DOT_N, or rows, in the
 * dot form), for one element type of the x86 paths (a template like gemm_impl.h, which
 * includes it: T, FN, ACT_FN, VT, VOP, VBCAST, VMASK, VREDUCE, VL).  The register tiles
 * of the blocked driver hold VL columns of C a row, so one to four columns would leave
 * most lanes idle; BLAS libraries call gemv here.  Two forms, chosen from the strides
 * alone:
 *
 *   dot form   rows of A contiguous (csa == 1), n <= GEMV_DOT_N; by symmetry (C^T = B^T
 *              A^T) columns of B contiguous (rsb == 1), m <= GEMV_DOT_N.  C(r, j) is the
 *              dot product of row r of X (A, or B^T) with vector j (a column of B, or a
 *              row of A, packed contiguous and zero padded).  R rows of X a step, each
 *              row's VL values read once for all N vectors, VL products a lane by FMA
 *              across k, the R * N horizontal sums at the end (VREDUCE, a fixed order);
 *   axpy form  columns of A contiguous (rsa == 1: A given transposed), n <= GEMV_N.
 *              V vectors of VL rows of C a step: acc(v, j) += A(rows of v, p) * B(p, j),
 *              B broadcast; one FMA chain over p per element.
 *
 * R * N (or V * N) is 6 to 12 accumulators (up to 24 with AVX-512's 32 registers),
 * enough to keep both FMA pipes busy.  Beyond 4 columns the forms compete with the
 * narrow tiles (gemm_ukr_avx2.h), which leave lanes idle or spend a broadcast per FMA;
 * measured (256x128 @ 128xn, CPU time, against them): float32 5-6 columns 1.3x faster
 * in both forms, 7 columns 1.0-1.2x (dot) and 1.3-1.4x (axpy), 8 columns on AVX-512
 * 1.0x (dot) and 1.2x (axpy), on AVX2 1.05x (axpy; its dot form 0.9x: the narrow tile
 * keeps them); float64 axpy 5-6 columns 1.15-1.4x, 7 on AVX-512 1.15x, while its dot
 * form lost to the narrow tiles from 5 columns on (AVX-512: 0.86-0.96x).  Each
 * element's arithmetic depends on the shape alone (rows past m repeat a row or are
 * masked, and are not stored), and threads take whole blocks of rows: the result is
 * bitwise identical for every thread count.  k is not blocked (one chain, or VL chains
 * summed at the end, over all of k).
 */
/* most columns of C in the axpy form (exported in FN(blocking)), and most columns (rows)
 * in the dot form */
#if defined(WT)
#define GEMV_N (VL == 8 ? 8 : 7)
#define GEMV_DOT_N (VL == 8 ? 8 : 4)
#else
#define GEMV_N (VL == 8 ? 8 : 6)
#define GEMV_DOT_N (VL == 8 ? 7 : 4)
#endif
#define GEMV_ROWS 8   /* most rows of X a dot-form step */
#define GEMV_SUMS 24  /* most accumulators of a block (R * N rounded up to VL, or V * N) */
/* R * N sums, N operands and one more fit in the path's vector registers */
#define GEMV_FITS(R, N) ((R) * (N) + (N) + 1 <= GEMV_REGS)
#ifdef WT
#define GEMV_REGS 32
#else
#define GEMV_REGS 16
#endif
#define GEMV_VECS 8   /* most vectors of rows of C an axpy-form step */
/* Keep a loaded vector in its register: GCC would otherwise fold the load into each FMA
 * that uses it, reading it again per use (N or R loads where one does). */
#define FNN_IN_REGISTER(x) __asm__("" : "+x"(x))

/* The rows x cols results t (element (r, j) at t[r * trs + j * tjs], within t[0..len))
 * into C(r, j) = c[r * ors + j * ojs]: act(alpha * t + beta * C + bias(r, j)), bias(r, j) =
 * bias[r * brs + j * bjs].  t is clobbered. */
static FNN_NOINLINE void FN(gemv_finish)(T *t, ptrdiff_t trs, ptrdiff_t tjs, ptrdiff_t rows,
                                         ptrdiff_t cols, ptrdiff_t len, T *c, ptrdiff_t ors,
                                         ptrdiff_t ojs, const T *bias, ptrdiff_t brs,
                                         ptrdiff_t bjs, const FN(args_t) *g)
{
    const T alpha = g->alpha, beta = g->beta;
    for (ptrdiff_t r = 0; r < rows; r++)
        for (ptrdiff_t j = 0; j < cols; j++) {
            T x = alpha * t[r * trs + j * tjs];
            if (beta != (T)0)
                x += beta * c[r * ors + j * ojs];
            if (bias)
                x += bias[r * brs + j * bjs];
            t[r * trs + j * tjs] = x;
        }
    if (g->act != FNN_ACT_IDENTITY) /* elementwise: the layout does not matter */
        ACT_FN(g->act, g->slope, t, t, len);
    for (ptrdiff_t r = 0; r < rows; r++)
        for (ptrdiff_t j = 0; j < cols; j++) c[r * ors + j * ojs] = t[r * trs + j * tjs];
}

/* FN(gemv_finish), inline as a plain copy in the plain product's case (alpha 1, beta 0,
 * no bias, identity): a block's few sums cost about as much as a call. */
static FNN_FORCE_INLINE void FN(gemv_store)(T *t, ptrdiff_t trs, ptrdiff_t tjs, ptrdiff_t rows,
                                            ptrdiff_t cols, ptrdiff_t len, T *c, ptrdiff_t ors,
                                            ptrdiff_t ojs, const T *bias, ptrdiff_t brs,
                                            ptrdiff_t bjs, const FN(args_t) *g)
{
    if (g->alpha == (T)1 && g->beta == (T)0 && !bias && g->act == FNN_ACT_IDENTITY) {
        for (ptrdiff_t r = 0; r < rows; r++)
            for (ptrdiff_t j = 0; j < cols; j++) c[r * ors + j * ojs] = t[r * trs + j * tjs];
        return;
    }
    FN(gemv_finish)(t, trs, tjs, rows, cols, len, c, ors, ojs, bias, brs, bjs, g);
}

/* acc[r * N + j] += x_r[p..p+VL) * v_j[p..p+VL): whole vectors of x, or the lanes of
 * `mask` (the others 0).  The N vectors stay in registers while the rows are read one
 * at a time when the R * N sums leave room for them (GEMV_FITS), else the R rows while
 * the vectors are (the same products either way). */
static FNN_FORCE_INLINE void
FN(gemv_dot_step)(VT *acc, const T *const *xr, const T *v, ptrdiff_t vs, ptrdiff_t p, int full,
                  __m256i mask, const int R, const int N)
{
    if (GEMV_FITS(R, N)) {
        VT vj[GEMV_N];
#pragma GCC unroll 8
        for (int j = 0; j < N; j++) {
            vj[j] = VOP(loadu)(v + j * vs + p);
            FNN_IN_REGISTER(vj[j]);
        }
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) {
            VT xv = FN(load_part)(xr[r] + p, full, mask);
            FNN_IN_REGISTER(xv);
#pragma GCC unroll 8
            for (int j = 0; j < N; j++) acc[r * N + j] = VOP(fmadd)(xv, vj[j], acc[r * N + j]);
        }
        return;
    }
    VT xv[GEMV_ROWS];
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) {
        xv[r] = FN(load_part)(xr[r] + p, full, mask);
        FNN_IN_REGISTER(xv[r]);
    }
#pragma GCC unroll 8
    for (int j = 0; j < N; j++) {
        VT vj = VOP(loadu)(v + j * vs + p);
        if (R > 1)
            FNN_IN_REGISTER(vj);
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) acc[r * N + j] = VOP(fmadd)(xv[r], vj, acc[r * N + j]);
    }
}

/* One dot-form block: t[r * N + j] = sum_p x[r * xrs + p] * v[j * vs + p] for the R rows
 * (rows >= nrows read row nrows - 1), p < k; v is zero padded to a multiple of VL. */
static FNN_FORCE_INLINE void
FN(gemv_dot_block)(ptrdiff_t k, const T *x, ptrdiff_t xrs, ptrdiff_t nrows, const T *v,
                   ptrdiff_t vs, T *t, const int R, const int N)
{
    const int SUMS = (R * N + VL - 1) / VL * VL;
    const T *xr[GEMV_ROWS];
    VT acc[GEMV_SUMS];
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) xr[r] = x + FNN_MIN(r, nrows - 1) * xrs;
#pragma GCC unroll 24
    for (int q = 0; q < SUMS; q++) acc[q] = VOP(setzero)();
    const __m256i none = _mm256_setzero_si256(); /* unused by whole vectors */
    ptrdiff_t p = 0;
    for (; p + VL <= k; p += VL) FN(gemv_dot_step)(acc, xr, v, vs, p, 1, none, R, N);
    if (p < k)
        FN(gemv_dot_step)(acc, xr, v, vs, p, 0, VMASK(k - p), R, N);
#pragma GCC unroll 4
    for (int q = 0; q < R * N; q += VL) VOP(storeu)(t + q, VREDUCE(acc + q));
}

/* One axpy-form step: t[j * V * VL + i] = sum_p A(i, p) * B(p, j) for the V * VL rows i
 * of A(i, p) = a[i + p * csa] (rows >= nrows read as 0), B(p, j) = b[p * rsb + j * csb].
 * As in FN(gemv_dot_step), the N values of B stay in registers while the V vectors of A
 * are read one at a time when they fit (GEMV_FITS), else the V vectors while the values are. */
static FNN_FORCE_INLINE void
FN(gemv_axpy_block)(ptrdiff_t k, const T *a, ptrdiff_t csa, ptrdiff_t nrows, const T *b,
                    ptrdiff_t rsb, ptrdiff_t csb, T *t, const int V, const int N)
{
    VT acc[GEMV_SUMS]; /* acc[q * N + j]: rows q * VL.., column j */
    int full[GEMV_VECS];
    __m256i mask[GEMV_VECS];
#pragma GCC unroll 8
    for (int q = 0; q < V; q++) {
        full[q] = (q + 1) * VL <= nrows;
        mask[q] = VMASK(nrows - q * VL);
#pragma GCC unroll 8
        for (int j = 0; j < N; j++) acc[q * N + j] = VOP(setzero)();
    }
    for (ptrdiff_t p = 0; p < k; p++) {
        const T *bp = b + p * rsb, *ap = a + p * csa;
        if (GEMV_FITS(V, N)) {
            VT bj[GEMV_N];
#pragma GCC unroll 8
            for (int j = 0; j < N; j++) bj[j] = VBCAST(bp + j * csb);
#pragma GCC unroll 8
            for (int q = 0; q < V; q++) {
                const VT av = FN(load_part)(ap + q * VL, full[q], mask[q]);
#pragma GCC unroll 8
                for (int j = 0; j < N; j++) acc[q * N + j] = VOP(fmadd)(av, bj[j], acc[q * N + j]);
            }
            continue;
        }
        VT av[GEMV_VECS];
#pragma GCC unroll 8
        for (int q = 0; q < V; q++) {
            av[q] = FN(load_part)(ap + q * VL, full[q], mask[q]);
            FNN_IN_REGISTER(av[q]);
        }
#pragma GCC unroll 8
        for (int j = 0; j < N; j++) {
            const VT bj = VBCAST(bp + j * csb);
#pragma GCC unroll 8
            for (int q = 0; q < V; q++) acc[q * N + j] = VOP(fmadd)(av[q], bj, acc[q * N + j]);
        }
    }
#pragma GCC unroll 8
    for (int q = 0; q < V; q++)
#pragma GCC unroll 8
        for (int j = 0; j < N; j++) VOP(storeu)(t + j * V * VL + q * VL, acc[q * N + j]);
}

/* The threads for `fma` multiply-adds split into `blocks` blocks of rows. */
static int FN(gemv_threads)(double fma, ptrdiff_t blocks)
{
    const int nt = fnn_get_num_threads();
    return nt > 1 && fma >= FNN_GEMM_PAR_MIN_FMA ? (int)FNN_MIN(nt, blocks) : 1;
}

/* Block q of the dot form over rows r < rows of X = x[r * xrs + p], N vectors packed at
 * v (vs apart), into C(r, j) = c[r * ors + j * ojs] with bias(r, j) = bias[r * brs + j * bjs]. */
static FNN_FORCE_INLINE void
FN(gemv_dot_rows)(const FN(args_t) *g, ptrdiff_t q, ptrdiff_t rows, const T *x, ptrdiff_t xrs,
                  const T *v, ptrdiff_t vs, ptrdiff_t ors, ptrdiff_t ojs, ptrdiff_t brs,
                  ptrdiff_t bjs, const int R, const int N)
{
    _Alignas(32) T t[GEMV_SUMS];
    const ptrdiff_t r0 = q * R, nr = FNN_MIN(R, rows - r0);
    FN(gemv_dot_block)(g->k, x + r0 * xrs, xrs, nr, v, vs, t, R, N);
    FN(gemv_store)(t, N, 1, nr, N, nr * N, g->c + r0 * ors, ors, ojs,
                   g->bias ? g->bias + r0 * brs : NULL, brs, bjs, g);
}

/* The nr (<= V * VL) rows i0.. of C in the axpy form, A(i, p) = a[i + p * csa]. */
static FNN_FORCE_INLINE void FN(gemv_axpy_rows)(const FN(args_t) *g, ptrdiff_t i0, ptrdiff_t nr,
                                                const int V, const int N)
{
    _Alignas(32) T t[GEMV_SUMS * VL];
    const ptrdiff_t R = V * VL;
    FN(gemv_axpy_block)(g->k, g->a + i0, g->csa, nr, g->b, g->rsb, g->csb, t, V, N);
    FN(gemv_store)(t, 1, R, nr, N, R * N, g->c + i0 * g->rsc, g->rsc, g->csc, g->bias, 0, 1, g);
}

/* The rows of C before the first 64-byte boundary in A's columns, when every column
 * starts at the same offset in a cache line (csa a multiple of 64 bytes, or 32: then
 * half of them at the boundary, the others half way): the axpy form runs them as a block
 * of their own (GEMV_LEAD_VECS vectors) so that the other blocks read whole lines, never
 * a vector split between two (NumPy aligns arrays to 16 bytes only; a misaligned A was
 * up to 35% slower).  Every element of C is the same FMA chain in any block, so where
 * the blocks start changes no result. */
#define GEMV_LEAD_VECS (64 / (int)sizeof(T) / VL)
static ptrdiff_t FN(gemv_lead)(const FN(args_t) *g)
{
    const uintptr_t at = (uintptr_t)g->a, off = at % 64;
    if (g->n > 3 || off == 0 || at % sizeof(T) || (g->csa * (ptrdiff_t)sizeof(T)) % 32 ||
        (g->n == 3 && off % 32 == 0))
        return 0;
    return FNN_MIN(g->m, (ptrdiff_t)((64 - off) / sizeof(T)));
}

/* Run `step` (a statement using q) for every block q < blocks: split between the threads
 * of FN(gemv_threads) in whole blocks, or on the calling thread. */
#if FNN_OPENMP
#define GEMV_BLOCKS(fma, blocks, step)                                      \
    do {                                                                    \
        const ptrdiff_t nb_ = (blocks);                                     \
        const int nt_ = FN(gemv_threads)((fma), nb_);                       \
        if (nt_ > 1) {                                                      \
            _Pragma("omp parallel for schedule(static) num_threads(nt_)")   \
            for (ptrdiff_t q = 0; q < nb_; q++) step;                       \
        } else {                                                            \
            for (ptrdiff_t q = 0; q < nb_; q++) step;                       \
        }                                                                   \
    } while (0)
#else
#define GEMV_BLOCKS(fma, blocks, step) \
    for (ptrdiff_t q = 0; q < (blocks); q++) step
#endif

/* Pack the N vectors u(j, p) = u[j * us + p * ups] (p < k) contiguous, zero padded to
 * kp = k rounded up to VL; NULL when out of memory. */
static const T *FN(gemv_pack)(const T *u, ptrdiff_t us, ptrdiff_t ups, ptrdiff_t k, ptrdiff_t N,
                              ptrdiff_t kp)
{
    T *v = (T *)fnn_ws_get(FNN_WS_B, (size_t)(N * kp) * sizeof(T));
    if (v)
        for (ptrdiff_t j = 0; j < N; j++) {
            for (ptrdiff_t p = 0; p < k; p++) v[j * kp + p] = u[j * us + p * ups];
            for (ptrdiff_t p = k; p < kp; p++) v[j * kp + p] = 0;
        }
    return v;
}

/* The dot form with N (1..GEMV_N) vectors (arguments as FN(gemv_dot_rows)), the kernels
 * instantiated per N. */
static FNN_NOINLINE void FN(gemv_dot)(const FN(args_t) *g, ptrdiff_t rows, const T *x,
                                      ptrdiff_t xrs, const T *v, ptrdiff_t vs, ptrdiff_t ors,
                                      ptrdiff_t ojs, ptrdiff_t brs, ptrdiff_t bjs, int N)
{
#define GEMV_DOT(R, N)                                                                      \
    do {                                                                                    \
        _Static_assert(R <= GEMV_ROWS && (R * N + VL - 1) / VL * VL <= GEMV_SUMS,           \
                       "a dot-form block's rows and sums fit its arrays");                  \
        GEMV_BLOCKS((double)rows * N * g->k, (rows + R - 1) / R,                            \
                    FN(gemv_dot_rows)(g, q, rows, x, xrs, v, vs, ors, ojs, brs, bjs, R, N)); \
    } while (0)
    /* R rows: R * N sums and min(R, N) + 1 operands in registers (AVX2: 16, AVX-512: 32) */
    switch (N) {
    case 1: GEMV_DOT(8, 1); break;
    case 2: GEMV_DOT(4, 2); break;
#ifdef WT
    case 3: GEMV_DOT(4, 3); break;
    case 4: GEMV_DOT(4, 4); break;
#if GEMV_DOT_N > 4
    case 5: GEMV_DOT(4, 5); break;
    case 6: GEMV_DOT(4, 6); break;
    case 7: GEMV_DOT(3, 7); break;
    case 8: GEMV_DOT(3, 8); break;
#endif
#else
    case 3: GEMV_DOT(2, 3); break;
    case 4: GEMV_DOT(3, 4); break;
#if GEMV_DOT_N > 4
    case 5: GEMV_DOT(2, 5); break;
    case 6: GEMV_DOT(2, 6); break;
    case 7: GEMV_DOT(1, 7); break;
#endif
#endif
    }
#undef GEMV_DOT
}

/* The axpy form over all of C (n <= GEMV_N columns, rsa == 1): the rows before A's
 * first line boundary (FN(gemv_lead)), then blocks of V vectors. */
static FNN_NOINLINE void FN(gemv_axpy)(const FN(args_t) *g)
{
    const ptrdiff_t lead = FN(gemv_lead)(g), rest = g->m - lead;
#define GEMV_AXPY(V, N)                                                                     \
    do {                                                                                    \
        _Static_assert(V <= GEMV_VECS && V * N <= GEMV_SUMS && GEMV_LEAD_VECS * N <= GEMV_SUMS, \
                       "an axpy-form block's vectors and sums fit its arrays");             \
        if (lead)                                                                           \
            FN(gemv_axpy_rows)(g, 0, lead, GEMV_LEAD_VECS, N);                              \
        GEMV_BLOCKS((double)rest * N * g->k, (rest + V * VL - 1) / (V * VL),                \
                    FN(gemv_axpy_rows)(g, lead + q * V * VL,                                \
                                       FNN_MIN(V * VL, rest - q * V * VL), V, N));          \
    } while (0)
    /* V vectors of rows: V * N sums and min(V, N) + 1 operands in registers */
    switch (g->n) {
    case 1: GEMV_AXPY(8, 1); break;
    case 2: GEMV_AXPY(4, 2); break;
    case 3: GEMV_AXPY(3, 3); break;
#ifdef WT
    case 4: GEMV_AXPY(4, 4); break;
    case 5: GEMV_AXPY(4, 5); break;
    case 6: GEMV_AXPY(4, 6); break;
    case 7: GEMV_AXPY(3, 7); break;
#if GEMV_N > 7
    case 8: GEMV_AXPY(3, 8); break;
#endif
#else
    case 4: GEMV_AXPY(3, 4); break;
    case 5: GEMV_AXPY(2, 5); break;
    case 6: GEMV_AXPY(2, 6); break;
#if GEMV_N > 6
    case 7: GEMV_AXPY(1, 7); break;
    case 8: GEMV_AXPY(1, 8); break;
#endif
#endif
    }
#undef GEMV_AXPY
}

/* The form that runs the product g: 1 dot (X = A), 2 axpy, 3 dot (X = B^T), or 0 when
 * none fits. */
static int FN(gemv_form)(const FN(args_t) *g)
{
    if (g->k < 1)
        return 0;
    if (g->n <= GEMV_DOT_N && g->csa == 1)
        return 1;
    if (g->n <= GEMV_N && g->rsa == 1)
        return 2;
    return g->m <= GEMV_DOT_N && g->rsb == 1 ? 3 : 0;
}

/* Run the product as matrix times vectors when its shape and strides fit one of the
 * forms; 0 when not (or out of memory): the other paths run. */
static int FN(gemv)(const FN(args_t) *g)
{
    const ptrdiff_t k = g->k, kp = FNN_ROUND_UP(k, VL);
    const int form = FN(gemv_form)(g);
    if (form == 2) {
        FN(gemv_axpy)(g);
        return 1;
    }
    if (form == 1) { /* X = A, vectors: the columns of B */
        const T *v = FN(gemv_pack)(g->b, g->csb, g->rsb, k, g->n, kp);
        if (v)
            FN(gemv_dot)(g, g->m, g->a, g->rsa, v, kp, g->rsc, g->csc, 0, 1, (int)g->n);
        return v != NULL;
    }
    if (form == 3) { /* X = B^T, vectors: the rows of A */
        const T *v = FN(gemv_pack)(g->a, g->rsa, g->csa, k, g->m, kp);
        if (v)
            FN(gemv_dot)(g, g->n, g->b, g->csb, v, kp, g->csc, g->rsc, 1, 0, (int)g->m);
        return v != NULL;
    }
    return 0;
}

#undef GEMV_ROWS
#undef GEMV_VECS
#undef GEMV_DOT_N
#undef GEMV_LEAD_VECS
#undef GEMV_SUMS
#undef GEMV_FITS
#undef GEMV_REGS
#undef GEMV_BLOCKS
#undef FNN_IN_REGISTER
