/* Row softmax and the fused losses: loops that reduce (max, sum) and therefore
 * need `omp simd reduction` to vectorise without -ffast-math.  Header-only so
 * that each ISA build (see setup.py) compiles them with its own flags.
 *
 * Aliasing: every output may be the very same buffer as the logits/pred input
 * (each element is read before it is written); no other overlap is allowed.
 */
#ifndef FNN_LOSS_H
#define FNN_LOSS_H

#include "fnn_math.h"

#define FNN_SIMD_RED(...) _Pragma(FNN_STR(omp simd reduction(__VA_ARGS__)))
#define FNN_STR(x) #x

#define FNN_DEFINE_LOSS(T, SUF, EXP, LOG, LOG1P_UNIT)                                       \
    /* max of x[0..n), n >= 1 (NaN entries are skipped here; they propagate via exp). */     \
    static inline T fnn_row_max_##SUF(const T *x, ptrdiff_t n)                              \
    {                                                                                       \
        T m = x[0];                                                                         \
        FNN_SIMD_RED(max : m)                                                               \
        for (ptrdiff_t i = 1; i < n; i++) m = x[i] > m ? x[i] : m;                          \
        return m;                                                                           \
    }                                                                                       \
                                                                                            \
    /* y = softmax(x) over a row of n >= 0 values. */                                       \
    static inline void fnn_softmax_row_##SUF(const T *x, T *y, ptrdiff_t n)                 \
    {                                                                                       \
        if (n <= 0) return;                                                                 \
        T m = fnn_row_max_##SUF(x, n), s = 0;                                               \
        FNN_SIMD_RED(+ : s)                                                                 \
        for (ptrdiff_t i = 0; i < n; i++) {                                                 \
            T e = EXP(x[i] - m);                                                            \
            y[i] = e;                                                                       \
            s += e;                                                                         \
        }                                                                                   \
        T r = (T)1 / s;                                                                     \
        for (ptrdiff_t i = 0; i < n; i++) y[i] *= r;                                        \
    }                                                                                       \
                                                                                            \
    /* y = x - max - log(sum(exp(x - max))) over a row of n >= 0 values. */                 \
    static inline void fnn_log_softmax_row_##SUF(const T *x, T *y, ptrdiff_t n)             \
    {                                                                                       \
        if (n <= 0) return;                                                                 \
        T m = fnn_row_max_##SUF(x, n), s = 0;                                               \
        FNN_SIMD_RED(+ : s)                                                                 \
        for (ptrdiff_t i = 0; i < n; i++) s += EXP(x[i] - m);                               \
        T ls = LOG(s);                                                                      \
        for (ptrdiff_t i = 0; i < n; i++) y[i] = (x[i] - m) - ls;                           \
    }                                                                                       \
                                                                                            \
    /* Cross-entropy of one row of c >= 1 logits against class y in [0, c) smoothed by     \
     * `smooth`: returns log(s) - sum_j q_j (x_j - max) and writes (p - q) * gscale to g.   \
     */                                                                                     \
    static inline T fnn_xent_row_label_##SUF(const T *x, ptrdiff_t c, ptrdiff_t y,          \
                                             T smooth, T gscale, T *g)                      \
    {                                                                                       \
        T m = fnn_row_max_##SUF(x, c), xy = x[y], s = 0, t = 0;                             \
        FNN_SIMD_RED(+ : s, t)                                                              \
        for (ptrdiff_t i = 0; i < c; i++) {                                                 \
            T d = x[i] - m, e = EXP(d);                                                     \
            g[i] = e;                                                                       \
            s += e;                                                                         \
            t += d;                                                                         \
        }                                                                                   \
        T on = (T)1 - smooth, off = smooth / (T)c;                                          \
        T loss = LOG(s) - on * (xy - m) - off * t;                                          \
        T ps = gscale / s, qo = off * gscale;                                               \
        for (ptrdiff_t i = 0; i < c; i++) g[i] = g[i] * ps - qo;                            \
        g[y] -= on * gscale;                                                                \
        return loss;                                                                        \
    }                                                                                       \
                                                                                            \
    /* Same against a probability row q (smoothed to (1 - smooth) q + smooth / c). */      \
    static inline T fnn_xent_row_prob_##SUF(const T *x, const T *q, ptrdiff_t c, T smooth,  \
                                            T gscale, T *g)                                 \
    {                                                                                       \
        T m = fnn_row_max_##SUF(x, c), s = 0, qd = 0, d_sum = 0, q_sum = 0;                 \
        FNN_SIMD_RED(+ : s, qd, d_sum, q_sum)                                               \
        for (ptrdiff_t i = 0; i < c; i++) {                                                 \
            T d = x[i] - m, e = EXP(d);                                                     \
            g[i] = e;                                                                       \
            s += e;                                                                         \
            qd += q[i] * d;                                                                 \
            d_sum += d;                                                                     \
            q_sum += q[i];                                                                  \
        }                                                                                   \
        T on = (T)1 - smooth, off = smooth / (T)c;                                          \
        T loss = LOG(s) * (on * q_sum + smooth) - (on * qd + off * d_sum);                  \
        T ps = gscale / s, qs = on * gscale, qo = off * gscale;                             \
        for (ptrdiff_t i = 0; i < c; i++) g[i] = g[i] * ps - (q[i] * qs + qo);              \
        return loss;                                                                        \
    }                                                                                       \
                                                                                            \
    /* Squared error over n values: g = 2 (p - t) gscale, loss (may be NULL) = (p - t)^2;  \
     * returns the sum of the losses accumulated in double. */                              \
    static inline double fnn_mse_run_##SUF(const T *p, const T *t, ptrdiff_t n, T gscale,   \
                                           T *g, T *loss)                                   \
    {                                                                                       \
        double s = 0;                                                                       \
        if (loss) {                                                                         \
            FNN_SIMD_RED(+ : s)                                                             \
            for (ptrdiff_t i = 0; i < n; i++) {                                             \
                T d = p[i] - t[i], l = d * d;                                               \
                g[i] = (d + d) * gscale;                                                    \
                loss[i] = l;                                                                \
                s += (double)l;                                                             \
            }                                                                               \
        } else {                                                                            \
            FNN_SIMD_RED(+ : s)                                                             \
            for (ptrdiff_t i = 0; i < n; i++) {                                             \
                T d = p[i] - t[i], l = d * d;                                               \
                g[i] = (d + d) * gscale;                                                    \
                s += (double)l;                                                             \
            }                                                                               \
        }                                                                                   \
        return s;                                                                           \
    }                                                                                       \
                                                                                            \
    /* Binary cross-entropy with logits over n values:                                     \
     * loss = max(x, 0) - x t + log1p(exp(-|x|)), g = (sigmoid(x) - t) gscale. */           \
    static inline double fnn_bce_run_##SUF(const T *x, const T *t, ptrdiff_t n, T gscale,   \
                                           T *g, T *loss)                                   \
    {                                                                                       \
        double s = 0;                                                                       \
        FNN_SIMD_RED(+ : s)                                                                 \
        for (ptrdiff_t i = 0; i < n; i++) {                                                 \
            T xi = x[i], ti = t[i];                                                         \
            T e = EXP(xi < (T)0 ? xi : -xi);                                                \
            T l = (xi > (T)0 ? xi : (T)0) - xi * ti + LOG1P_UNIT(e);                        \
            T r = (T)1 / ((T)1 + e);                                                        \
            T sig = xi >= (T)0 ? r : e * r;                                                 \
            g[i] = (sig - ti) * gscale;                                                     \
            if (loss) loss[i] = l;                                                          \
            s += (double)l;                                                                 \
        }                                                                                   \
        return s;                                                                           \
    }

FNN_DEFINE_LOSS(float, f32, fnn_expf, logf, fnn_log1p_unit_f32)
FNN_DEFINE_LOSS(double, f64, fnn_exp, log, fnn_log1p_unit_f64)

#endif
