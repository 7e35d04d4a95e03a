/* Softmax over blocks of rows and the fused losses: loops that reduce (max, sum)
 * and use `omp simd reduction` to vectorise without -ffast-math, or, with AVX2 and
 * rows of at most FNN_XT_MAX values, vertical operations on groups of rows transposed
 * in registers ("across rows", below).  Header-only so that each ISA build (see
 * setup.py) compiles them with its own flags.
 *
 * Aliasing: every output may be the very same buffer as the logits/pred input
 * (each element is read before it is written); no other overlap is allowed.
 */
#ifndef FNN_LOSS_H
#define FNN_LOSS_H

#include "fnn_math.h"
#include "fnn_simd.h"

/* Row blocks: at most FNN_BLOCK_ROWS rows and, unless a single row is longer, at
 * most FNN_BLOCK_ELEMS values (the block's size depends on c only). */
#define FNN_BLOCK_ROWS 256
#define FNN_BLOCK_ELEMS 4096
#define FNN_LONG_ROW 64 /* rows this long vectorise well on their own */
#define FNN_SHORT_ROW 16 /* shorter row reductions run scalar (no horizontal sums) */

static inline ptrdiff_t fnn_block_rows(ptrdiff_t c)
{
    ptrdiff_t r = c > 0 ? FNN_BLOCK_ELEMS / c : FNN_BLOCK_ROWS;
    return r < 1 ? 1 : (r > FNN_BLOCK_ROWS ? FNN_BLOCK_ROWS : r);
}

#define FNN_SIMD_RED(...) _Pragma(FNN_STR(omp simd reduction(__VA_ARGS__)))
#define FNN_STR(x) #x

/* Helpers of the blocks: the row-by-row steps, and what the across-rows path shares. */
#define FNN_DEFINE_ROWS(T, SUF, EXP, LOG)                                                   \
    /* max of x[0..n), n >= 1 (NaN entries are skipped here; they propagate via exp). */     \
    static inline T fnn_row_max_##SUF(const T *x, ptrdiff_t n)                              \
    {                                                                                       \
        T m = x[0];                                                                         \
        if (n < FNN_SHORT_ROW) {                                                            \
            for (ptrdiff_t i = 1; i < n; i++) m = x[i] > m ? x[i] : m;                      \
            return m;                                                                       \
        }                                                                                   \
        FNN_SIMD_RED(max : m)                                                               \
        for (ptrdiff_t i = 1; i < n; i++) m = x[i] > m ? x[i] : m;                          \
        return m;                                                                           \
    }                                                                                       \
                                                                                            \
    static inline T fnn_sum_run_##SUF(const T *x, ptrdiff_t n)                              \
    {                                                                                       \
        T s = 0;                                                                            \
        if (n < FNN_SHORT_ROW) {                                                            \
            for (ptrdiff_t k = 0; k < n; k++) s += x[k];                                    \
            return s;                                                                       \
        }                                                                                   \
        FNN_SIMD_RED(+ : s)                                                                 \
        for (ptrdiff_t k = 0; k < n; k++) s += x[k];                                        \
        return s;                                                                           \
    }                                                                                       \
                                                                                            \
    /* Rows [0, nr) of a (nr, c) block, c >= 1: m = row max, d = x - m written to g,      \
     * dsum (unless NULL) = sum of d; with q: qd = sum q d and qsum = sum q per row. */   \
    static inline void fnn_shift_rows_##SUF(const T *x, const T *q, T *g, ptrdiff_t nr,     \
                                            ptrdiff_t c, T *m, T *dsum, T *qd, T *qsum)     \
    {                                                                                       \
        for (ptrdiff_t i = 0; i < nr; i++) {                                                \
            const T *r = x + i * c;                                                         \
            T *o = g + i * c;                                                               \
            T mi = fnn_row_max_##SUF(r, c);                                                 \
            for (ptrdiff_t j = 0; j < c; j++) o[j] = r[j] - mi;                             \
            m[i] = mi;                                                                      \
            if (dsum) dsum[i] = fnn_sum_run_##SUF(o, c);                                    \
            if (q) {                                                                        \
                const T *qr = q + i * c;                                                    \
                T a = 0, b = 0;                                                             \
                FNN_SIMD_RED(+ : a, b)                                                      \
                for (ptrdiff_t j = 0; j < c; j++) {                                         \
                    a += qr[j] * o[j];                                                      \
                    b += qr[j];                                                             \
                }                                                                           \
                qd[i] = a;                                                                  \
                qsum[i] = b;                                                                \
            }                                                                               \
        }                                                                                   \
    }                                                                                       \
                                                                                            \
    /* y = exp(x) over n values (y may be x); returns their sum when `sum`; with y NULL  \
     * (and `sum`) only the sum. */                                                         \
    static inline T fnn_exp_run_##SUF(const T *x, T *y, ptrdiff_t n, int sum)               \
    {                                                                                       \
        T s = 0;                                                                            \
        if (!y) {                                                                           \
            FNN_SIMD_RED(+ : s)                                                             \
            for (ptrdiff_t k = 0; k < n; k++) s += EXP(x[k]);                               \
        } else if (sum) {                                                                   \
            FNN_SIMD_RED(+ : s)                                                             \
            for (ptrdiff_t k = 0; k < n; k++) {                                             \
                T e = EXP(x[k]);                                                            \
                y[k] = e;                                                                   \
                s += e;                                                                     \
            }                                                                               \
        } else {                                                                            \
            for (ptrdiff_t k = 0; k < n; k++) y[k] = EXP(x[k]);                             \
        }                                                                                   \
        return s;                                                                           \
    }                                                                                       \
                                                                                            \
    /* e = exp(d) over a block of nr rows of c values and s[i] = the sum of row i.  Short  \
     * rows take the exponentials over the whole block at once (so that they vectorise),  \
     * long ones row by row, each row in pieces of at most FNN_BLOCK_ELEMS. */             \
    static inline void fnn_exp_rows_##SUF(const T *d, T *e, ptrdiff_t nr, ptrdiff_t c,      \
                                          T *s)                                             \
    {                                                                                       \
        if (c < FNN_LONG_ROW) {                                                             \
            fnn_exp_run_##SUF(d, e, nr * c, 0);                                             \
            for (ptrdiff_t i = 0; i < nr; i++) s[i] = fnn_sum_run_##SUF(e + i * c, c);      \
            return;                                                                         \
        }                                                                                   \
        for (ptrdiff_t i = 0; i < nr; i++) s[i] = fnn_exp_run_##SUF(d + i * c, e + i * c, c, 1); \
    }                                                                                       \
                                                                                            \
    /* Sum in double of a block's n losses, vectorised (a fixed order of its own). */      \
    static inline double fnn_loss_sum_##SUF(const T *v, ptrdiff_t n)                        \
    {                                                                                       \
        double s = 0;                                                                       \
        FNN_SIMD_RED(+ : s)                                                                 \
        for (ptrdiff_t i = 0; i < n; i++) s += (double)v[i];                                \
        return s;                                                                           \
    }                                                                                       \
                                                                                            \
    /* Row losses of fnn_xent_block from its per-row sums. */                               \
    static inline void fnn_xent_loss_##SUF(ptrdiff_t nr, ptrdiff_t c, T smooth, const T *s, \
                                           const T *qd, const T *qsum, const T *dsum,       \
                                           T *loss)                                         \
    {                                                                                       \
        T on = (T)1 - smooth, off = smooth / (T)c;                                          \
        for (ptrdiff_t i = 0; i < nr; i++)                                                  \
            loss[i] = LOG(s[i]) * (on * qsum[i] + smooth)                                   \
                      - (smooth != 0 ? on * qd[i] + off * dsum[i] : qd[i]);                 \
    }

#define FNN_DEFINE_LOSS(T, SUF, EXP, LOG, LOG1P_UNIT)                                       \
    /* softmax (or, with `take_log`, log-softmax) of a block of nr rows of c values (see   \
     * fnn_block_rows); y may be x. */                                                      \
    static inline void fnn_softmax_block_##SUF(int take_log, const T *x, T *y, ptrdiff_t nr, \
                                               ptrdiff_t c)                                 \
    {                                                                                       \
        T m[FNN_BLOCK_ROWS], s[FNN_BLOCK_ROWS], e[FNN_BLOCK_ELEMS]; /* c < FNN_LONG_ROW */ \
        if (c <= 0) return;                                                                 \
        FNN_XT_TRY(c, fnn_xt_softmax_block_##SUF(take_log, x, y, nr, c))                   \
        fnn_shift_rows_##SUF(x, NULL, y, nr, c, m, NULL, NULL, NULL);                       \
        if (!take_log) {                                                                    \
            fnn_exp_rows_##SUF(y, y, nr, c, s);                                             \
            for (ptrdiff_t i = 0; i < nr; i++) {                                            \
                T r = (T)1 / s[i], *o = y + i * c;                                          \
                for (ptrdiff_t j = 0; j < c; j++) o[j] *= r;                                \
            }                                                                               \
            return;                                                                         \
        }                                                                                   \
        if (c < FNN_LONG_ROW)                                                               \
            fnn_exp_rows_##SUF(y, e, nr, c, s);                                             \
        else                                                                                \
            for (ptrdiff_t i = 0; i < nr; i++) s[i] = fnn_exp_run_##SUF(y + i * c, NULL, c, 1); \
        for (ptrdiff_t i = 0; i < nr; i++) s[i] = LOG(s[i]);                                \
        for (ptrdiff_t i = 0; i < nr; i++) {                                                \
            T *o = y + i * c;                                                               \
            for (ptrdiff_t j = 0; j < c; j++) o[j] -= s[i];                                 \
        }                                                                                   \
    }                                                                                       \
                                                                                            \
    /* Cross-entropy of a block of nr rows of c >= 1 logits (see fnn_block_rows) against   \
     * classes y[i] in [0, c) (when y is not NULL) or probability rows q, smoothed to      \
     * (1 - smooth) q + smooth / c: loss[i] = log(s) sum_j q_j - sum_j q_j (x_j - max)     \
     * with s = sum_j exp(x_j - max), and g = (softmax(x) - q) * gscale.  g may be x. */   \
    static inline void fnn_xent_block_##SUF(const T *x, const ptrdiff_t *y, const T *q,     \
                                            ptrdiff_t nr, ptrdiff_t c, T smooth, T gscale,  \
                                            T *g, T *loss)                                  \
    {                                                                                       \
        T m[FNN_BLOCK_ROWS], dsum[FNN_BLOCK_ROWS], qd[FNN_BLOCK_ROWS], qsum[FNN_BLOCK_ROWS]; \
        T s[FNN_BLOCK_ROWS];                                                                \
        FNN_XT_TRY(c, fnn_xt_xent_block_##SUF(x, y, q, nr, c, smooth, gscale, g, loss))     \
        T qo = smooth / (T)c * gscale, qs = ((T)1 - smooth) * gscale;                       \
        if (y)                                                                              \
            for (ptrdiff_t i = 0; i < nr; i++) { /* read before g (maybe x) is written */   \
                qd[i] = x[i * c + y[i]];                                                    \
                qsum[i] = 1;                                                                \
            }                                                                               \
        fnn_shift_rows_##SUF(x, y ? NULL : q, g, nr, c, m, smooth != 0 ? dsum : NULL, qd, qsum); \
        if (y)                                                                              \
            for (ptrdiff_t i = 0; i < nr; i++) qd[i] -= m[i];                               \
        fnn_exp_rows_##SUF(g, g, nr, c, s);                                                 \
        fnn_xent_loss_##SUF(nr, c, smooth, s, qd, qsum, dsum, loss);                        \
        for (ptrdiff_t i = 0; i < nr; i++) {                                                \
            T *o = g + i * c, ps = gscale / s[i];                                           \
            if (y) {                                                                        \
                for (ptrdiff_t j = 0; j < c; j++) o[j] = o[j] * ps - qo;                    \
                o[y[i]] -= qs;                                                              \
            } else {                                                                        \
                const T *qr = q + i * c;                                                    \
                for (ptrdiff_t j = 0; j < c; j++) o[j] = o[j] * ps - (qr[j] * qs + qo);     \
            }                                                                               \
        }                                                                                   \
    }                                                                                       \
                                                                                            \
    /* Squared error (p - t)^2 of one value; *g = 2 (p - t) gscale. */                    \
    static inline T fnn_mse_point_##SUF(T p, T t, T gscale, T *g)                           \
    {                                                                                       \
        T d = p - t;                                                                        \
        *g = (d + d) * gscale;                                                              \
        return d * d;                                                                       \
    }                                                                                       \
                                                                                            \
    /* Binary cross-entropy with logits of one value:                                      \
     * max(x, 0) - x t + log1p(exp(-|x|)); *g = (sigmoid(x) - t) gscale. */                 \
    static inline T fnn_bce_point_##SUF(T x, T t, T gscale, T *g)                           \
    {                                                                                       \
        T e = EXP(x < (T)0 ? x : -x);                                                       \
        T r = (T)1 / ((T)1 + e);                                                            \
        *g = ((x >= (T)0 ? r : e * r) - t) * gscale;                                        \
        return (x > (T)0 ? x : (T)0) - x * t + LOG1P_UNIT(e);                               \
    }                                                                                       \
                                                                                            \
    /* Poisson negative log-likelihood of one value x = log(rate) (the log link):      \
     * exp(x) - t x; *g = (exp(x) - t) gscale. */                                         \
    static inline T fnn_poisson_point_##SUF(T x, T t, T gscale, T *g)                       \
    {                                                                                       \
        T e = EXP(x);                                                                       \
        *g = (e - t) * gscale;                                                              \
        return e - x * t;                                                                   \
    }                                                                                       \
                                                                                            \
    /* POINT over n values: gradients to g, losses to `loss` unless it is NULL; returns    \
     * the sum of the losses accumulated in double.  (Two loops: a store under a          \
     * condition would keep the loop from vectorising.) */                                  \
    FNN_DEFINE_POINTWISE_RUN(T, SUF, mse)                                                   \
    FNN_DEFINE_POINTWISE_RUN(T, SUF, bce)                                                   \
    FNN_DEFINE_POINTWISE_RUN(T, SUF, poisson)

#define FNN_DEFINE_POINTWISE_RUN(T, SUF, NAME)                                              \
    static inline double fnn_##NAME##_run_##SUF(const T *a, const T *t, ptrdiff_t n,        \
                                                T gscale, T *g, T *loss)                    \
    {                                                                                       \
        double s = 0;                                                                       \
        if (loss) {                                                                         \
            FNN_SIMD_RED(+ : s)                                                             \
            for (ptrdiff_t i = 0; i < n; i++) {                                             \
                T l = fnn_##NAME##_point_##SUF(a[i], t[i], gscale, g + i);                  \
                loss[i] = l;                                                                \
                s += (double)l;                                                             \
            }                                                                               \
        } else {                                                                            \
            FNN_SIMD_RED(+ : s)                                                             \
            for (ptrdiff_t i = 0; i < n; i++)                                               \
                s += (double)fnn_##NAME##_point_##SUF(a[i], t[i], gscale, g + i);           \
        }                                                                                   \
        return s;                                                                           \
    }

FNN_DEFINE_ROWS(float, f32, fnn_expf, fnn_logf)
FNN_DEFINE_ROWS(double, f64, fnn_exp, fnn_log)

#if FNN_HAVE_AVX2
/* Across rows (AVX2, rows of c <= FNN_XT_MAX values).  The rows of a block go by groups
 * of VL (8 float, 4 double), each transposed so that a vector holds one column of the
 * group: the reductions over a row become vertical operations over c vectors.
 *   t: group k at t + k c VL, its column j at + j VL (aligned vectors);
 *   a row moves as VL-wide vectors at column offsets 0, VL, ..., the last one ending at
 *   column c (overlapping the one before), each VL x VL tile transposed in registers;
 *   with c < VL, masked lanes, and the group's columns c..VL-1 spill over the start of
 *   the next group (loaded later) or past the last one (FNN_XT_BUF has room);
 *   the last, short group of a block goes through a copy padded with zero rows (so a
 *   row's results do not depend on its position), its per-row values fill whole groups.
 * The steps are those of the row-by-row path; sums over a row run in column order. */
#define FNN_XT_MAX 32
#define FNN_XT_BUF (FNN_BLOCK_ELEMS + 8 * FNN_XT_MAX) /* a block in whole groups */
#define FNN_XT_TRY(c, call)                                                                 \
    if ((c) <= FNN_XT_MAX) {                                                                \
        call;                                                                               \
        return;                                                                             \
    }

/* The labels of a group as integer lanes, and the lanes whose label is j. */
static inline __m256i fnn_xt_lanes_f32(const ptrdiff_t *y)
{
    __m256 lo = _mm256_castsi256_ps(_mm256_loadu_si256((const __m256i *)y));
    __m256 hi = _mm256_castsi256_ps(_mm256_loadu_si256((const __m256i *)(y + 4)));
    /* low halves y0 y1 y4 y5 | y2 y3 y6 y7, then the 64-bit pairs put in order */
    __m256 lanes = _mm256_shuffle_ps(lo, hi, 0x88);
    return _mm256_permute4x64_epi64(_mm256_castps_si256(lanes), 0xD8);
}

static inline __m256 fnn_xt_class_f32(__m256i lab, ptrdiff_t j)
{
    return _mm256_castsi256_ps(_mm256_cmpeq_epi32(lab, _mm256_set1_epi32((int)j)));
}

static inline __m256i fnn_xt_lanes_f64(const ptrdiff_t *y)
{
    return _mm256_loadu_si256((const __m256i *)y);
}

static inline __m256d fnn_xt_class_f64(__m256i lab, ptrdiff_t j)
{
    return _mm256_castsi256_pd(_mm256_cmpeq_epi64(lab, _mm256_set1_epi64x(j)));
}

#define FNN_DEFINE_XT(T, SUF, VL, VT, P, EXP, LOG)                                          \
    /* One group between the VL rows of a (VL, c) matrix and t (c or more columns of VL     \
     * values): rows to t, or with `back` t to rows (columns 0..c-1). */                    \
    static inline void fnn_xt_move_##SUF(int back, const T *src, ptrdiff_t c, T *dst)       \
    {                                                                                       \
        const __m256i mask = fnn_lanes_##P(c);                                              \
        for (ptrdiff_t o = 0; o < c; o += VL) {                                             \
            ptrdiff_t k0 = o + VL > c && c >= VL ? c - VL : o; /* the tile's 1st column */  \
            VT r[VL];                                                                       \
            for (int i = 0; i < VL; i++)                                                    \
                r[i] = back     ? _mm256_load_##P(src + (k0 + i) * VL)                      \
                       : c < VL ? _mm256_maskload_##P(src + i * c, mask)                    \
                                : _mm256_loadu_##P(src + i * c + k0);                       \
            fnn_transpose_##P(r);                                                           \
            for (int i = 0; i < VL; i++) {                                                  \
                if (!back)                                                                  \
                    _mm256_store_##P(dst + (k0 + i) * VL, r[i]);                            \
                else if (c < VL)                                                            \
                    _mm256_maskstore_##P(dst + i * c, mask, r[i]);                          \
                else                                                                        \
                    _mm256_storeu_##P(dst + i * c + k0, r[i]);                              \
            }                                                                               \
        }                                                                                   \
    }                                                                                       \
                                                                                            \
    /* Rows i..i+VL of the (nr, c) matrix a, or a copy in pad padded with zero rows. */    \
    static inline const T *fnn_xt_rows_##SUF(const T *a, ptrdiff_t i, ptrdiff_t nr,         \
                                             ptrdiff_t c, T *pad)                           \
    {                                                                                       \
        if (i + VL <= nr) return a + i * c;                                                 \
        memset(pad, 0, (size_t)(VL * c) * sizeof(T));                                       \
        return memcpy(pad, a + i * c, (size_t)((nr - i) * c) * sizeof(T));                  \
    }                                                                                       \
                                                                                            \
    /* Labels of rows i..i+VL as lanes (-1 past nr). */                                     \
    static inline __m256i fnn_xt_labels_##SUF(const ptrdiff_t *y, ptrdiff_t i,              \
                                              ptrdiff_t nr)                                 \
    {                                                                                       \
        ptrdiff_t pad[VL];                                                                  \
        if (i + VL <= nr) return fnn_xt_lanes_##SUF(y + i);                                 \
        for (ptrdiff_t l = 0; l < VL; l++) pad[l] = i + l < nr ? y[i + l] : -1;             \
        return fnn_xt_lanes_##SUF(pad);                                                     \
    }                                                                                       \
                                                                                            \
    /* fnn_shift_rows across rows: d = x - m to t; with labels y, qd = d at the label     \
     * and qsum = 1; dsum unless NULL, qd and qsum unless NULL (labels or q). */            \
    static inline void fnn_xt_shift_##SUF(const T *x, const ptrdiff_t *y, const T *q, T *t, \
                                          ptrdiff_t nr, ptrdiff_t c, T *m, T *dsum, T *qd,  \
                                          T *qsum)                                          \
    {                                                                                       \
        _Alignas(32) T pad[FNN_XT_MAX * VL], qt[FNN_XT_MAX * VL];                           \
        const VT zero = _mm256_setzero_##P();                                               \
        for (ptrdiff_t i = 0; i < nr; i += VL, t += c * VL) {                               \
            fnn_xt_move_##SUF(0, fnn_xt_rows_##SUF(x, i, nr, c, pad), c, t);                \
            if (q) fnn_xt_move_##SUF(0, fnn_xt_rows_##SUF(q, i, nr, c, pad), c, qt);        \
            const __m256i lab = y ? fnn_xt_labels_##SUF(y, i, nr) : _mm256_set1_epi32(-1);  \
            VT mi = _mm256_load_##P(t), ds = zero, a = zero;                                \
            VT b = q ? zero : _mm256_set1_##P(1);                                           \
            for (ptrdiff_t j = 1; j < c; j++)                                               \
                mi = _mm256_max_##P(_mm256_load_##P(t + j * VL), mi);                       \
            for (ptrdiff_t j = 0; j < c; j++) {                                             \
                VT d = _mm256_sub_##P(_mm256_load_##P(t + j * VL), mi);                     \
                _mm256_store_##P(t + j * VL, d);                                            \
                if (dsum) ds = _mm256_add_##P(ds, d);                                       \
                if (y) a = _mm256_blendv_##P(a, d, fnn_xt_class_##SUF(lab, j));             \
                if (q) {                                                                    \
                    VT qj = _mm256_load_##P(qt + j * VL);                                   \
                    a = _mm256_fmadd_##P(qj, d, a);                                         \
                    b = _mm256_add_##P(b, qj);                                              \
                }                                                                           \
            }                                                                               \
            _mm256_storeu_##P(m + i, mi);                                                   \
            if (dsum) _mm256_storeu_##P(dsum + i, ds);                                      \
            if (qd) {                                                                       \
                _mm256_storeu_##P(qd + i, a);                                               \
                _mm256_storeu_##P(qsum + i, b);                                             \
            }                                                                               \
        }                                                                                   \
    }                                                                                       \
                                                                                            \
    /* t = exp(t) and s = the row sums. */                                                  \
    static inline void fnn_xt_exp_##SUF(T *t, ptrdiff_t nr, ptrdiff_t c, T *s)              \
    {                                                                                       \
        ptrdiff_t n = (nr + VL - 1) / VL * c * VL;                                          \
        for (ptrdiff_t k = 0; k < n; k++) t[k] = EXP(t[k]);                                 \
        for (ptrdiff_t i = 0; i < nr; i += VL, t += c * VL) {                               \
            VT si = _mm256_setzero_##P();                                                   \
            for (ptrdiff_t j = 0; j < c; j++)                                               \
                si = _mm256_add_##P(si, _mm256_load_##P(t + j * VL));                       \
            _mm256_storeu_##P(s + i, si);                                                   \
        }                                                                                   \
    }                                                                                       \
                                                                                            \
    /* g = t r - sub (r per row), less qs at the label with labels y, in the (nr, c)      \
     * layout. */                                                                           \
    static inline void fnn_xt_put_##SUF(T *t, const T *r, T sub, const ptrdiff_t *y, T qs,  \
                                        ptrdiff_t nr, ptrdiff_t c, T *g)                    \
    {                                                                                       \
        _Alignas(32) T pad[FNN_XT_MAX * VL];                                                \
        const VT sv = _mm256_set1_##P(sub), qv = _mm256_set1_##P(qs);                       \
        for (ptrdiff_t i = 0; i < nr; i += VL, t += c * VL) {                               \
            const __m256i lab = y ? fnn_xt_labels_##SUF(y, i, nr) : _mm256_set1_epi32(-1);  \
            VT ri = _mm256_loadu_##P(r + i);                                                \
            for (ptrdiff_t j = 0; j < c; j++) {                                             \
                VT v = _mm256_fmsub_##P(_mm256_load_##P(t + j * VL), ri, sv);               \
                if (y) /* qs at the label */                                                \
                    v = _mm256_sub_##P(v, _mm256_and_##P(fnn_xt_class_##SUF(lab, j), qv));  \
                _mm256_store_##P(t + j * VL, v);                                            \
            }                                                                               \
            fnn_xt_move_##SUF(1, t, c, i + VL <= nr ? g + i * c : pad);                     \
            if (i + VL > nr) memcpy(g + i * c, pad, (size_t)((nr - i) * c) * sizeof(T));    \
        }                                                                                   \
    }                                                                                       \
                                                                                            \
    /* fnn_softmax_block across rows; log-softmax (x - m) - log(s) row by row. */          \
    static inline void fnn_xt_softmax_block_##SUF(int take_log, const T *x, T *y,           \
                                                  ptrdiff_t nr, ptrdiff_t c)                \
    {                                                                                       \
        _Alignas(32) T t[FNN_XT_BUF];                                                       \
        T m[FNN_BLOCK_ROWS], s[FNN_BLOCK_ROWS];                                             \
        fnn_xt_shift_##SUF(x, NULL, NULL, t, nr, c, m, NULL, NULL, NULL);                   \
        fnn_xt_exp_##SUF(t, nr, c, s);                                                      \
        if (take_log) {                                                                     \
            for (ptrdiff_t i = 0; i < nr; i++) {                                            \
                const T *r = x + i * c, ls = LOG(s[i]);                                     \
                T *o = y + i * c;                                                           \
                for (ptrdiff_t j = 0; j < c; j++) o[j] = (r[j] - m[i]) - ls;                \
            }                                                                               \
            return;                                                                         \
        }                                                                                   \
        for (ptrdiff_t i = 0; i < nr; i++) s[i] = (T)1 / s[i];                              \
        fnn_xt_put_##SUF(t, s, 0, NULL, 0, nr, c, y);                                       \
    }                                                                                       \
                                                                                            \
    /* fnn_xent_block across rows (with q, q qs is subtracted after the transpose back). */ \
    static inline void fnn_xt_xent_block_##SUF(const T *x, const ptrdiff_t *y, const T *q,  \
                                               ptrdiff_t nr, ptrdiff_t c, T smooth,         \
                                               T gscale, T *g, T *loss)                     \
    {                                                                                       \
        _Alignas(32) T t[FNN_XT_BUF];                                                       \
        T m[FNN_BLOCK_ROWS], dsum[FNN_BLOCK_ROWS], qd[FNN_BLOCK_ROWS], qsum[FNN_BLOCK_ROWS]; \
        T s[FNN_BLOCK_ROWS], lg[FNN_BLOCK_ROWS];                                            \
        T qo = smooth / (T)c * gscale, qs = ((T)1 - smooth) * gscale;                       \
        fnn_xt_shift_##SUF(x, y, q, t, nr, c, m, smooth != 0 ? dsum : NULL, qd, qsum);      \
        fnn_xt_exp_##SUF(t, nr, c, s);                                                      \
        /* whole groups, so that every row goes through the same (vector) code */           \
        fnn_xent_loss_##SUF((nr + VL - 1) / VL * VL, c, smooth, s, qd, qsum, dsum, lg);     \
        memcpy(loss, lg, (size_t)nr * sizeof(T));                                           \
        for (ptrdiff_t i = 0; i < nr; i++) s[i] = gscale / s[i];                            \
        fnn_xt_put_##SUF(t, s, qo, y, qs, nr, c, g);                                        \
        if (q)                                                                              \
            for (ptrdiff_t k = 0; k < nr * c; k++) g[k] -= q[k] * qs;                       \
    }

FNN_DEFINE_XT(float, f32, 8, __m256, ps, fnn_expf, fnn_logf)
FNN_DEFINE_XT(double, f64, 4, __m256d, pd, fnn_exp, fnn_log)
#else
#define FNN_XT_TRY(c, call) /* the portable build goes row by row */
#endif

FNN_DEFINE_LOSS(float, f32, fnn_expf, fnn_logf, fnn_log1p_unit_f32)
FNN_DEFINE_LOSS(double, f64, fnn_exp, fnn_log, fnn_log1p_unit_f64)

#endif
