/* Softmax over blocks of rows and the fused losses: loops that reduce (max, sum)
 * and use `omp simd reduction` to vectorise without -ffast-math.  Header-only so
 * that each ISA build (see setup.py) compiles them with its own flags.
 *
 * Aliasing: every output may be the very same buffer as the logits/pred input
 * (each element is read before it is written); no other overlap is allowed.
 */
#ifndef FNN_LOSS_H
#define FNN_LOSS_H

#include "fnn_math.h"

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

#define FNN_DEFINE_LOSS(T, SUF, EXP, LOG, LOG1P_UNIT)                                       \
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
    /* softmax (or, with `take_log`, log-softmax) of a block of nr rows of c values (see   \
     * fnn_block_rows); y may be x. */                                                      \
    static inline void fnn_softmax_block_##SUF(int take_log, const T *x, T *y, ptrdiff_t nr, \
                                               ptrdiff_t c)                                 \
    {                                                                                       \
        T m[FNN_BLOCK_ROWS], s[FNN_BLOCK_ROWS], e[FNN_BLOCK_ELEMS]; /* c < FNN_LONG_ROW */ \
        if (c <= 0) return;                                                                 \
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
        T on = (T)1 - smooth, off = smooth / (T)c, qo = off * gscale, qs = on * gscale;     \
        if (y)                                                                              \
            for (ptrdiff_t i = 0; i < nr; i++) { /* read before g (maybe x) is written */   \
                qd[i] = x[i * c + y[i]];                                                    \
                qsum[i] = 1;                                                                \
            }                                                                               \
        fnn_shift_rows_##SUF(x, y ? NULL : q, g, nr, c, m, smooth != 0 ? dsum : NULL, qd, qsum); \
        if (y)                                                                              \
            for (ptrdiff_t i = 0; i < nr; i++) qd[i] -= m[i];                               \
        fnn_exp_rows_##SUF(g, g, nr, c, s);                                                 \
        for (ptrdiff_t i = 0; i < nr; i++)                                                  \
            loss[i] = LOG(s[i]) * (on * qsum[i] + smooth)                                   \
                      - (smooth != 0 ? on * qd[i] + off * dsum[i] : qd[i]);                 \
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
    /* POINT over n values: gradients to g, losses to `loss` unless it is NULL; returns    \
     * the sum of the losses accumulated in double.  (Two loops: a store under a          \
     * condition would keep the loop from vectorising.) */                                  \
    FNN_DEFINE_POINTWISE_RUN(T, SUF, mse)                                                   \
    FNN_DEFINE_POINTWISE_RUN(T, SUF, bce)

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

FNN_DEFINE_LOSS(float, f32, fnn_expf, fnn_logf, fnn_log1p_unit_f32)
FNN_DEFINE_LOSS(double, f64, fnn_exp, fnn_log, fnn_log1p_unit_f64)

#endif
