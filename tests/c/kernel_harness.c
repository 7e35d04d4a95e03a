/* C-level test harness of the kernel layer (csrc/), for targets the Python suite cannot
 * run on this machine: tools/test_aarch64.sh cross-compiles it with the C sources and runs
 * it under qemu-aarch64 (the portable path's NEON code).
 *
 *   GEMM     fnn_sgemm / fnn_dgemm over shapes across the block edges of the path
 *            (fnn_*gemm_blocking), transposed and strided operands, alpha, beta, bias and
 *            every activation, against a naive long double product; bitwise the same
 *            result on 1 and 3 threads.
 *   math     exp, tanh, sigmoid, log (float and double) against long double libm, in ulp.
 *   softmax  fnn_softmax_block rows against long double.
 * Prints one line per failure and a summary; exits 1 on any failure. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fnn_loss.h"
#include "gemm.h"

static int failures, checks;

static void fail(const char *what)
{
    if (failures++ < 20)
        printf("FAIL %s\n", what);
}

/* A reproducible value in [-1, 1). */
static double rnd(unsigned long long *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*s >> 11) / (double)(1ULL << 52) - 1.0;
}

static long double act_ref(int act, long double x, long double slope)
{
    switch (act) {
    case FNN_ACT_RELU: return x < 0 ? 0 : x;
    case FNN_ACT_LEAKY_RELU: return x < 0 ? slope * x : x;
    case FNN_ACT_TANH: return tanhl(x);
    case FNN_ACT_SIGMOID: return 1.0L / (1.0L + expl(-x));
    default: return x;
    }
}

/* One GEMM case of element type T (suffix S: s or d) against long double. */
#define DEFINE_GEMM_CASE(T, S, EPS)                                                           \
    static void gemm_case_##S(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, int ta, int tb, int sb,  \
                              T alpha, T beta, int bias_on, int act, unsigned long long seed) \
    {                                                                                         \
        /* op(A) (m, k) from an array (k, m) when ta; op(B) (k, n) from (n, k) when tb, or  \
         * every sb-th column of a (k, n * sb) array */                                     \
        const ptrdiff_t bw = tb ? k : n * sb;                                                 \
        T *a = malloc(sizeof(T) * (size_t)(m * k + 1));                                      \
        T *b = malloc(sizeof(T) * (size_t)((tb ? n : k) * bw + 1));                           \
        T *c = malloc(sizeof(T) * (size_t)(m * n + 1)), *c3 = malloc(sizeof(T) * (size_t)(m * n + 1)); \
        T *c0 = malloc(sizeof(T) * (size_t)(m * n + 1)), *bias = malloc(sizeof(T) * (size_t)(n + 1)); \
        for (ptrdiff_t i = 0; i < m * k; i++) a[i] = (T)rnd(&seed);                           \
        for (ptrdiff_t i = 0; i < (tb ? n : k) * bw; i++) b[i] = (T)rnd(&seed);               \
        for (ptrdiff_t i = 0; i < m * n; i++) c0[i] = (T)rnd(&seed);                          \
        for (ptrdiff_t i = 0; i < n; i++) bias[i] = (T)rnd(&seed);                            \
        const ptrdiff_t rsa = ta ? 1 : k, csa = ta ? m : 1;                                   \
        const ptrdiff_t rsb = tb ? 1 : bw, csb = tb ? k : sb;                                 \
        const T slope = (T)0.1;                                                               \
        for (int nt = 1; nt <= 3; nt += 2) {                                                  \
            T *out = nt == 1 ? c : c3;                                                        \
            memcpy(out, c0, sizeof(T) * (size_t)(m * n));                                     \
            fnn_set_num_threads(nt);                                                          \
            fnn_##S##gemm(m, n, k, alpha, a, rsa, csa, b, rsb, csb, beta, out, n, 1,         \
                          bias_on ? bias : NULL, act, slope);                                 \
        }                                                                                     \
        fnn_set_num_threads(1);                                                               \
        char what[160];                                                                       \
        snprintf(what, sizeof what, #S "gemm m=%td n=%td k=%td ta=%d tb=%d sb=%d beta=%g bias=%d act=%d", \
                 m, n, k, ta, tb, sb, (double)beta, bias_on, act);                            \
        checks++;                                                                             \
        if (memcmp(c, c3, sizeof(T) * (size_t)(m * n)))                                       \
            fail(what); /* not bitwise the same on 1 and 3 threads */                        \
        for (ptrdiff_t i = 0; i < m; i++)                                                     \
            for (ptrdiff_t j = 0; j < n; j++) {                                               \
                long double s = 0, mag = 0;                                                   \
                for (ptrdiff_t p = 0; p < k; p++) {                                           \
                    long double x = (long double)a[i * rsa + p * csa] * b[p * rsb + j * csb]; \
                    s += x;                                                                   \
                    mag += fabsl(x);                                                          \
                }                                                                             \
                long double z = alpha * s + (beta != 0 ? beta * (long double)c0[i * n + j] : 0) \
                                + (bias_on ? bias[j] : 0);                                    \
                mag = fabsl(alpha) * mag + fabsl(beta * (long double)c0[i * n + j]) + 1;      \
                const long double want = act_ref(act, z, slope);                              \
                if (!(fabsl(c[i * n + j] - want) <= 8 * (EPS) * mag)) {                       \
                    fail(what);                                                               \
                    i = m;                                                                    \
                    break;                                                                    \
                }                                                                             \
            }                                                                                 \
        free(a), free(b), free(c), free(c3), free(c0), free(bias);                            \
    }

DEFINE_GEMM_CASE(float, s, 1.2e-7L)
DEFINE_GEMM_CASE(double, d, 2.3e-16L)

/* Sizes around every edge of a blocking: 0..3, MR, NR and KC and their neighbours, and
 * each narrow tile's rows and its widest C and one more. */
static int edge_sizes(const fnn_gemm_blocking *bl, ptrdiff_t *out)
{
    const ptrdiff_t base[] = {0, 1, 2, 3, 5, 7, 13, 37};
    const ptrdiff_t edge[] = {bl->mr, bl->nr, 2 * bl->nr, bl->kc};
    int n = 0;
    for (size_t i = 0; i < sizeof base / sizeof *base; i++) out[n++] = base[i];
    for (size_t i = 0; i < sizeof edge / sizeof *edge; i++) {
        out[n++] = edge[i] - 1;
        out[n++] = edge[i] + 1;
    }
    for (int t = 0; t < bl->n_narrow; t++) {
        out[n++] = bl->narrow[t].rows + 1;
        out[n++] = bl->narrow[t].max_cols;
        out[n++] = bl->narrow[t].max_cols + 1;
    }
    return n;
}

static void test_gemm(void)
{
    unsigned long long seed = 1;
    for (int dbl = 0; dbl < 2; dbl++) {
        const fnn_gemm_blocking *bl = dbl ? fnn_dgemm_blocking() : fnn_sgemm_blocking();
        ptrdiff_t sz[16 + 3 * FNN_GEMM_MAX_NARROW];
        const int ns = edge_sizes(bl, sz);
        for (int i = 0; i < ns; i++)
            for (int j = 0; j < ns; j++) {
                const ptrdiff_t m = sz[i], n = sz[j], k = sz[(i + j) % ns];
                const int ta = (i + j) % 2, tb = (i / 2 + j) % 2, act = (i + 2 * j) % 5;
                if (dbl)
                    gemm_case_d(m, n, k, ta, tb, 1, 1.0, 0.0, j % 2, act, seed++);
                else
                    gemm_case_s(m, n, k, ta, tb, 1, 1.0f, 0.0f, j % 2, act, seed++);
            }
        /* alpha, beta, a strided B, and blocks larger than MC, NC's neighbours and KC */
        const ptrdiff_t big[][3] = {{bl->mc + 1, 3 * bl->nr + 2, bl->kc + 3}, {260, 70, 300},
                                    {bl->mc + 5, bl->nr + 2, bl->kc + 7}};
        for (int t = 0; t < 3; t++)
            for (int v = 0; v < 4; v++) {
                if (dbl)
                    gemm_case_d(big[t][0], big[t][1], big[t][2], v & 1, 0, 1 + (v >> 1), 1.5, -0.5, 1,
                                FNN_ACT_TANH, seed++);
                else
                    gemm_case_s(big[t][0], big[t][1], big[t][2], v & 1, 0, 1 + (v >> 1), 1.5f, -0.5f,
                                1, FNN_ACT_SIGMOID, seed++);
            }
    }
}

/* Units in the last place of `want` (of a type with `digits` mantissa bits) by which
 * `got` differs; infinities and NaN must match exactly. */
static double ulps(long double got, long double want, int digits, long double tiny)
{
    if (isnan(want) || isinf(want))
        return (isnan(want) && isnan(got)) || got == want ? 0 : INFINITY;
    long double scale = fabsl(want) > tiny ? fabsl(want) : tiny;
    int e;
    frexpl(scale, &e);
    return (double)(fabsl(got - want) / ldexpl(1.0L, e - digits));
}

static void check_ulps(const char *name, double worst, double bound)
{
    char what[96];
    checks++;
    snprintf(what, sizeof what, "%s: %.1f ulp (bound %.1f)", name, worst, bound);
    if (!(worst <= bound))
        fail(what);
    printf("  %s\n", what);
}

static void test_math(void)
{
    double we = 0, wt = 0, ws = 0, wl = 0, de = 0, dt = 0, ds = 0, dl = 0;
    for (int i = 0; i <= 20000; i++) {
        const double u = i / 20000.0; /* [0, 1] */
        const double x = -85.0 + 170.0 * u, xt = -12.0 + 24.0 * u, xd = -700.0 + 1400.0 * u;
        const double xl = ldexp(1.0 + u, (int)(u * 200) - 100);
        we = fmax(we, ulps(fnn_expf((float)x), expl((float)x), 24, 0x1p-126L));
        wt = fmax(wt, ulps(fnn_tanhf((float)xt), tanhl((float)xt), 24, 0x1p-126L));
        ws = fmax(ws, ulps(fnn_sigmoidf((float)x), 1 / (1 + expl(-(long double)(float)x)), 24, 0x1p-126L));
        wl = fmax(wl, ulps(fnn_logf((float)xl), logl((float)xl), 24, 0x1p-126L));
        de = fmax(de, ulps(fnn_exp(xd), expl(xd), 53, 0x1p-1022L));
        dt = fmax(dt, ulps(fnn_tanh(xt * 1.7), tanhl(xt * 1.7), 53, 0x1p-1022L));
        ds = fmax(ds, ulps(fnn_sigmoid(x), 1 / (1 + expl(-(long double)x)), 53, 0x1p-1022L));
        dl = fmax(dl, ulps(fnn_log(xl), logl(xl), 53, 0x1p-1022L));
    }
    check_ulps("expf", we, 2), check_ulps("tanhf", wt, 7), check_ulps("sigmoidf", ws, 4);
    check_ulps("logf", wl, 3), check_ulps("exp", de, 2), check_ulps("tanh", dt, 10);
    check_ulps("sigmoid", ds, 4), check_ulps("log", dl, 3);
    /* the activations over an array (vectorised loops, which may contract differently) */
    float xs[1001], ys[1001], yg[1001];
    double wa = 0, wg = 0;
    for (int i = 0; i < 1001; i++) xs[i] = (float)(i - 500) / 50.0f;
    fnn_act_f32(FNN_ACT_TANH, 0.0f, xs, ys, 1001);
    fnn_act_f32(FNN_ACT_SIGMOID, 0.0f, xs, yg, 1001);
    for (int i = 0; i < 1001; i++) {
        wa = fmax(wa, ulps(ys[i], tanhl(xs[i]), 24, 0x1p-126L));
        wg = fmax(wg, ulps(yg[i], 1 / (1 + expl(-(long double)xs[i])), 24, 0x1p-126L));
    }
    check_ulps("fnn_act_f32 tanh", wa, 7), check_ulps("fnn_act_f32 sigmoid", wg, 4);
}

static void test_softmax(void)
{
    unsigned long long seed = 7;
    const ptrdiff_t cs[] = {1, 3, 10, 17, 100};
    for (size_t t = 0; t < sizeof cs / sizeof *cs; t++) {
        const ptrdiff_t c = cs[t], nr = 9;
        float x[900], y[900];
        for (ptrdiff_t i = 0; i < nr * c; i++) x[i] = (float)(8 * rnd(&seed));
        fnn_softmax_block_f32(0, x, y, nr, c);
        for (ptrdiff_t i = 0; i < nr; i++) {
            long double s = 0;
            for (ptrdiff_t j = 0; j < c; j++) s += expl(x[i * c + j]);
            for (ptrdiff_t j = 0; j < c; j++) {
                checks++;
                /* within 16 ulp: x - max rounds to half an ulp of |x - max| <= 16 */
                if (ulps(y[i * c + j], expl(x[i * c + j]) / s, 24, 0x1p-126L) > 16) {
                    fail("fnn_softmax_block_f32");
                    j = c, i = nr;
                }
            }
        }
    }
}

int main(void)
{
    printf("fastnn C kernels, %s path (%s)\n", fnn_isa_name(), fnn_build_flags());
    test_math();
    test_softmax();
    test_gemm();
    printf("%d checks, %d failures\n", checks, failures);
    return failures != 0;
}
