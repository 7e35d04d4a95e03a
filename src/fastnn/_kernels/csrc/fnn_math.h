/* Branch-free exp/expm1/tanh/sigmoid that GCC auto-vectorises, and the
 * activation functions applied to a contiguous run of values.
 *
 * exp: Cody-Waite reduction x = n*ln2 + r, |r| <= ln2/2, the Taylor polynomial of
 * r in Horner form (one FMA a term), and 2^n built in the exponent bits (the
 * "shifter" trick gives round-to-nearest n without a float->int conversion).
 * Results below the smallest normal are flushed to 0; arguments are clamped at
 * 128 ln2 (1024 ln2), where 2^n is +inf; NaN propagates (the clamp is a min that
 * passes NaN).  Accuracy: about 1 ulp.
 */
#ifndef FNN_MATH_H
#define FNN_MATH_H

#include <math.h>
#include <string.h>
#include "fnn.h"

#define FNN_UNROLL _Pragma("GCC unroll 20")

/* 1/k! for the exp polynomials. */
static const double fnn_inv_fact[14] = {1.0, 1.0, 1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720,
                                        1.0 / 5040, 1.0 / 40320, 1.0 / 362880, 1.0 / 3628800,
                                        1.0 / 39916800, 1.0 / 479001600, 1.0 / 6227020800.0};

static inline float fnn_expf(float x)
{
    const float hi = 88.72283935546875f, lo = -87.3365478515625f; /* 128 ln2, -126 ln2 */
    const float shifter = 12582912.0f; /* 0x1.8p23 */
    float xc = hi < x ? hi : x;
    float t = xc * 1.44269504088896341f + shifter;
    float n = t - shifter;
    float r = xc - n * 0.693359375f;
    r = r + n * 2.12194440e-4f;
    float p = (float)fnn_inv_fact[7];
    FNN_UNROLL
    for (int k = 6; k >= 0; k--) p = p * r + (float)fnn_inv_fact[k];
    int32_t bits;
    memcpy(&bits, &t, sizeof bits);
    bits = (bits - 0x4B400000 + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    float res = p * scale;
    return x < lo ? 0.0f : res;
}

static inline double fnn_exp(double x)
{
    const double hi = 709.782712893384, lo = -708.0; /* 1024 ln2 */
    const double shifter = 6755399441055744.0; /* 0x1.8p52 */
    double xc = hi < x ? hi : x;
    double t = xc * 1.4426950408889634074 + shifter;
    double n = t - shifter;
    double r = xc - n * 6.93145751953125e-1;
    r = r - n * 1.42860682030941723212e-6;
    double p = fnn_inv_fact[13];
    FNN_UNROLL
    for (int k = 12; k >= 0; k--) p = p * r + fnn_inv_fact[k];
    int64_t bits;
    memcpy(&bits, &t, sizeof bits);
    bits = (bits - (int64_t)0x4338000000000000LL + 1023) << 52;
    double scale;
    memcpy(&scale, &bits, sizeof scale);
    double res = p * scale;
    return x < lo ? 0.0 : res;
}

/* tanh(x) = sign(x) |x| P(x^2) / Q(x^2) for |x| <= T and sign(x) beyond, T being where
 * tanh rounds to 1.  P(0) = Q(0) = 1, so tiny and subnormal x give x exactly; the other
 * coefficients (highest degree first) are fitted for least maximal relative error on
 * [0, T] by tools/fit_tanh.py: degrees 4/4, T = 9.02, error 2.2e-8 in float; 10/9,
 * T = 19.07, error 4.1e-18 in double.  They are positive (but P's negligible leading one
 * in double), so Horner in x^2 does not cancel; the roundings of P, Q, the product and
 * the quotient give up to 6.5 ulp in float (every value) and about 8 in double (a
 * sample), just below 1.  NaN propagates (NaN > T is false). */
static const float fnn_tanh_p32[5] = {1.33843796e-8f, 2.06358955e-5f, 3.49746252e-3f,
                                      1.33826915e-1f, 1.0f};
static const float fnn_tanh_q32[5] = {7.79028810e-7f, 3.28852498e-4f, 2.58843798e-2f,
                                      4.67160127e-1f, 1.0f};
static const double fnn_tanh_p64[11] = {
    -2.6570133437491126666e-27, 1.0019831170011574515e-22, 1.6142933716384835923e-18,
    4.8857059377487642677e-15, 5.5237789735633123064e-12, 2.8770648948798245346e-9,
    7.4820264720971743006e-7, 9.7970492740755606675e-5, 6.0884810083038485667e-3,
    1.5256139356201381171e-1, 1.0};
static const double fnn_tanh_q64[10] = {
    1.7303358411796352209e-20, 1.0270243473982840451e-16, 1.8258309976774427977e-13,
    1.3791859184643231751e-10, 5.0503512022184315325e-8, 9.346500174200772631e-6,
    8.536130883104534797e-4, 3.4720056640086310979e-2, 4.8589472689534711019e-1, 1.0};

static inline float fnn_tanhf(float x)
{
    float a = fabsf(x), s = a * a, p = fnn_tanh_p32[0], q = fnn_tanh_q32[0];
    FNN_UNROLL
    for (int k = 1; k < 5; k++) {
        p = p * s + fnn_tanh_p32[k];
        q = q * s + fnn_tanh_q32[k];
    }
    float t = a * p / q;
    t = 1.0f < t ? 1.0f : t;
    return copysignf(a > 9.02f ? 1.0f : t, x);
}

static inline double fnn_tanh(double x)
{
    double a = fabs(x), s = a * a, p = fnn_tanh_p64[0], q = fnn_tanh_q64[0];
    FNN_UNROLL
    for (int k = 1; k < 10; k++) {
        p = p * s + fnn_tanh_p64[k];
        q = q * s + fnn_tanh_q64[k];
    }
    p = p * s + fnn_tanh_p64[10];
    double t = a * p / q;
    t = 1.0 < t ? 1.0 : t;
    return copysign(a > 19.07 ? 1.0 : t, x);
}

/* sigmoid(x) = 1/(1+e^-x) for x >= 0 and e^x/(1+e^x) below, with e = exp(-|x|). */
static inline float fnn_sigmoidf(float x)
{
    float e = fnn_expf(-fabsf(x));
    float s = 1.0f / (1.0f + e);
    return x >= 0.0f ? s : e * s;
}

static inline double fnn_sigmoid(double x)
{
    double e = fnn_exp(-fabs(x));
    double s = 1.0 / (1.0 + e);
    return x >= 0.0 ? s : e * s;
}

/* Natural log of a positive normal x (+inf and NaN propagate), vectorisable:
 * x = 2^k m with m in [sqrt(1/2), sqrt(2)), log m = 2 atanh(z), z = (m - 1) / (m + 1),
 * |z| <= 0.172, as an odd series in Horner form; k ln2 in two parts.  Within 3 ulp. */
static inline float fnn_logf(float x)
{
    int32_t bits, mbits;
    memcpy(&bits, &x, sizeof bits);
    mbits = (bits & 0x007FFFFF) | 0x3F800000;
    float m, k = (float)(((bits >> 23) & 0xFF) - 127);
    memcpy(&m, &mbits, sizeof m);
    int big = m > 1.41421356f;
    m = big ? 0.5f * m : m;
    k = big ? k + 1.0f : k;
    float z = (m - 1.0f) / (m + 1.0f), z2 = z * z, p = 1.0f / 11.0f;
    FNN_UNROLL
    for (int j = 4; j >= 0; j--) p = p * z2 + 1.0f / (float)(2 * j + 1);
    float r = k * 0.693145751953125f + (k * 1.428606765330187e-06f + 2.0f * z * p);
    return x < INFINITY ? r : x;
}

static inline double fnn_log(double x)
{
    int64_t bits, mbits, ebits;
    memcpy(&bits, &x, sizeof bits);
    mbits = (bits & 0x000FFFFFFFFFFFFFLL) | 0x3FF0000000000000LL;
    ebits = ((bits >> 52) & 0x7FF) | 0x4330000000000000LL; /* 2^52 + biased exponent */
    double m, e;
    memcpy(&m, &mbits, sizeof m);
    memcpy(&e, &ebits, sizeof e);
    double k = (e - 4503599627370496.0) - 1023.0;
    int big = m > 1.4142135623730951;
    m = big ? 0.5 * m : m;
    k = big ? k + 1.0 : k;
    double z = (m - 1.0) / (m + 1.0), z2 = z * z, p = 1.0 / 23.0;
    FNN_UNROLL
    for (int j = 10; j >= 0; j--) p = p * z2 + 1.0 / (double)(2 * j + 1);
    double r = k * 6.93145751953125e-1 + (k * 1.42860682030941723212e-6 + 2.0 * z * p);
    return x < INFINITY ? r : x;
}

/* log(1 + e) for 0 <= e <= 1 (the softplus tail log1p(exp(-|x|))): 2 atanh(z) with
 * z = e / (2 + e) in [0, 1/3], summed as the odd series z + z^3/3 + ... in Horner
 * form.  No cancellation for tiny e; truncation below 1 ulp; NaN propagates. */
static inline float fnn_log1p_unit_f32(float e)
{
    float z = e / (2.0f + e), z2 = z * z, p = 1.0f / 17.0f;
    FNN_UNROLL
    for (int k = 7; k >= 0; k--) p = p * z2 + 1.0f / (float)(2 * k + 1);
    return 2.0f * z * p;
}

static inline double fnn_log1p_unit_f64(double e)
{
    double z = e / (2.0 + e), z2 = z * z, p = 1.0 / 33.0;
    FNN_UNROLL
    for (int k = 15; k >= 0; k--) p = p * z2 + 1.0 / (double)(2 * k + 1);
    return 2.0 * z * p;
}

/* y[i] = act(x[i]) for i < n; y may equal x.  NaN propagates through every act. */
#define FNN_DEFINE_ACT(T, SUF, TANH, SIGMOID)                                        \
    static inline void fnn_act_##SUF(int act, T slope, const T *x, T *y, ptrdiff_t n) \
    {                                                                                 \
        ptrdiff_t i;                                                                  \
        switch (act) {                                                                \
        case FNN_ACT_RELU:                                                            \
            for (i = 0; i < n; i++) y[i] = x[i] < (T)0 ? (T)0 : x[i];                 \
            break;                                                                    \
        case FNN_ACT_LEAKY_RELU:                                                      \
            for (i = 0; i < n; i++) y[i] = x[i] < (T)0 ? slope * x[i] : x[i];         \
            break;                                                                    \
        case FNN_ACT_TANH:                                                            \
            for (i = 0; i < n; i++) y[i] = TANH(x[i]);                                \
            break;                                                                    \
        case FNN_ACT_SIGMOID:                                                         \
            for (i = 0; i < n; i++) y[i] = SIGMOID(x[i]);                             \
            break;                                                                    \
        default:                                                                      \
            if (y != x) memcpy(y, x, (size_t)n * sizeof(T));                          \
        }                                                                             \
    }

FNN_DEFINE_ACT(float, f32, fnn_tanhf, fnn_sigmoidf)
FNN_DEFINE_ACT(double, f64, fnn_tanh, fnn_sigmoid)

/* gx[i] = g[i] * act'(x) written from the forward output y[i]; gx may equal g. */
#define FNN_DEFINE_ACT_BACKWARD(T, SUF)                                                       \
    static inline void fnn_act_backward_##SUF(int act, T slope, const T *g, const T *y, T *gx, \
                                              ptrdiff_t n)                                    \
    {                                                                                         \
        ptrdiff_t i;                                                                          \
        switch (act) {                                                                        \
        case FNN_ACT_RELU:                                                                    \
            for (i = 0; i < n; i++) { /* g[i] read unconditionally: vectorises on SSE2 */ \
                T gi = g[i];                                                                  \
                gx[i] = y[i] > (T)0 ? gi : (T)0;                                              \
            }                                                                                 \
            break;                                                                            \
        case FNN_ACT_LEAKY_RELU:                                                              \
            for (i = 0; i < n; i++) gx[i] = y[i] > (T)0 ? g[i] : slope * g[i];                \
            break;                                                                            \
        case FNN_ACT_TANH:                                                                    \
            for (i = 0; i < n; i++) gx[i] = g[i] * ((T)1 - y[i] * y[i]);                      \
            break;                                                                            \
        case FNN_ACT_SIGMOID:                                                                 \
            for (i = 0; i < n; i++) gx[i] = g[i] * (y[i] * ((T)1 - y[i]));                    \
            break;                                                                            \
        default:                                                                              \
            if (gx != g) memcpy(gx, g, (size_t)n * sizeof(T));                                \
        }                                                                                     \
    }

FNN_DEFINE_ACT_BACKWARD(float, f32)
FNN_DEFINE_ACT_BACKWARD(double, f64)

#endif
