/* Skinny products that packing cannot pay for, for one element type (a template like
 * gemm_impl.h: T, FN(name) and ACT_FN are defined by the includer).
 *
 *   few rows, B row-major  (one sample through a layer: x @ W)      axpy form: each row of C
 *       accumulates a[i, p] * B[p, :] over p, four rows of B per pass over the C row;
 *   few rows, B column-major (x @ W.T)                              dot form: C[i, j] is the
 *       dot product of a row of A with a column of B, both walked with unit stride;
 *   k == 1 (an outer product, the weight gradient of one sample)     C[i, :] = a[i] * B[0, :].
 *
 * Chosen from the shape and strides alone (never from the thread count), single-threaded,
 * so results stay bitwise identical for every thread count.  Returns 0 when the product is
 * not skinny and the blocked driver must run.  SKINNY_M and SKINNY_NB are exported in
 * FN(blocking); gemm_impl.h #undef's the SKINNY_* names.
 */
#define SKINNY_M 4
#define SKINNY_MAX_FMA ((double)(1 << 22))
#define SKINNY_NB 256

/* c[0..n) = act(alpha * acc + beta * c + bias) for one row of C with unit column stride. */
static void FN(skinny_store)(const T *acc, ptrdiff_t n, T *c, const FN(args_t) *g, ptrdiff_t j0)
{
    const T alpha = g->alpha, beta = g->beta;
    const T *bias = g->bias ? g->bias + j0 : NULL;
    if (beta == (T)0) {
        for (ptrdiff_t j = 0; j < n; j++) c[j] = alpha * acc[j];
    } else {
        for (ptrdiff_t j = 0; j < n; j++) c[j] = alpha * acc[j] + beta * c[j];
    }
    if (bias)
        for (ptrdiff_t j = 0; j < n; j++) c[j] += bias[j];
    ACT_FN(g->act, g->slope, c, c, n);
}

/* acc[0..nb) = sum_p a[p] * B[p, j0 + j] with row-major B: four rows of B a pass. */
static void FN(skinny_axpy)(const FN(args_t) *g, const T *a, ptrdiff_t j0, ptrdiff_t nb, T *acc)
{
    const ptrdiff_t k = g->k, rsb = g->rsb, csa = g->csa;
    const T *b = g->b + j0;
    memset(acc, 0, (size_t)nb * sizeof(T));
    ptrdiff_t p = 0;
    for (; p + 4 <= k; p += 4) {
        const T a0 = a[p * csa], a1 = a[(p + 1) * csa], a2 = a[(p + 2) * csa], a3 = a[(p + 3) * csa];
        const T *b0 = b + p * rsb, *b1 = b0 + rsb, *b2 = b1 + rsb, *b3 = b2 + rsb;
        for (ptrdiff_t j = 0; j < nb; j++)
            acc[j] = acc[j] + a0 * b0[j] + a1 * b1[j] + a2 * b2[j] + a3 * b3[j];
    }
    for (; p < k; p++) {
        const T a0 = a[p * csa];
        const T *b0 = b + p * rsb;
        for (ptrdiff_t j = 0; j < nb; j++) acc[j] = acc[j] + a0 * b0[j];
    }
}

/* acc[j] = dot(a, B[:, j0 + j]) with B's columns contiguous (rsb == 1). */
static void FN(skinny_dot)(const FN(args_t) *g, const T *a, ptrdiff_t j0, ptrdiff_t nb, T *acc)
{
    const ptrdiff_t k = g->k, csa = g->csa;
    for (ptrdiff_t j = 0; j < nb; j++) {
        const T *b = g->b + (j0 + j) * g->csb;
        T s = 0;
        if (csa == 1) {
#pragma omp simd reduction(+ : s)
            for (ptrdiff_t p = 0; p < k; p++) s += a[p] * b[p];
        } else {
            for (ptrdiff_t p = 0; p < k; p++) s += a[p * csa] * b[p];
        }
        acc[j] = s;
    }
}

/* Each row of C, SKINNY_NB columns at a time: `block` fills the sums, then the epilogue. */
static void FN(skinny_rows)(const FN(args_t) *g,
                            void (*block)(const FN(args_t) *, const T *, ptrdiff_t, ptrdiff_t, T *))
{
    T acc[SKINNY_NB];
    for (ptrdiff_t i = 0; i < g->m; i++) {
        const T *a = g->a + i * g->rsa;
        for (ptrdiff_t j0 = 0; j0 < g->n; j0 += SKINNY_NB) {
            const ptrdiff_t nb = FNN_MIN(SKINNY_NB, g->n - j0);
            block(g, a, j0, nb, acc);
            FN(skinny_store)(acc, nb, g->c + i * g->rsc + j0, g, j0);
        }
    }
}

/* k == 1: C[i, j] = alpha * (a[i] * B[0, j]) + beta * C[i, j], B's row contiguous; written
 * in place, the bias and activation applied to each finished row. */
static void FN(skinny_outer)(const FN(args_t) *g)
{
    const T alpha = g->alpha, beta = g->beta, *b = g->b;
    const ptrdiff_t n = g->n;
    for (ptrdiff_t i = 0; i < g->m; i++) {
        const T ai = g->a[i * g->rsa];
        T *c = g->c + i * g->rsc;
        if (beta == (T)0) {
            for (ptrdiff_t j = 0; j < n; j++) c[j] = alpha * (ai * b[j]);
        } else {
            for (ptrdiff_t j = 0; j < n; j++) c[j] = alpha * (ai * b[j]) + beta * c[j];
        }
        if (g->bias)
            for (ptrdiff_t j = 0; j < n; j++) c[j] += g->bias[j];
        if (g->act != FNN_ACT_IDENTITY)
            ACT_FN(g->act, g->slope, c, c, n);
    }
}

/* The skinny form for the product g: FN(skinny_outer), FN(skinny_axpy) or FN(skinny_dot)
 * as 1, 2, 3, or 0 when the blocked driver runs it. */
static int FN(skinny_applies)(const FN(args_t) *g)
{
    if (g->csc != 1 || g->k < 1 || (double)g->m * (double)g->n * (double)g->k > SKINNY_MAX_FMA)
        return 0;
    if (g->k == 1 && g->csb == 1)
        return 1;
    if (g->m > SKINNY_M)
        return 0;
    return g->csb == 1 ? 2 : g->rsb == 1 ? 3 : 0;
}

static int FN(skinny)(const FN(args_t) *g)
{
    switch (FN(skinny_applies)(g)) {
    case 1:
        FN(skinny_outer)(g);
        return 1;
    case 2:
        FN(skinny_rows)(g, FN(skinny_axpy));
        return 1;
    case 3:
        FN(skinny_rows)(g, FN(skinny_dot));
        return 1;
    }
    return 0;
}
