/* C-level test harness of the kernel layer (csrc/), for targets the Python suite cannot
 * run on this machine: tools/test_aarch64.sh cross-compiles it with the C sources and runs
 * it under qemu-aarch64 (the portable path's NEON code), tools/test_windows.sh for Windows
 * x86-64 (MinGW-w64, and clang-cl's MSVC target) under wine, once per path.
 *
 *   GEMM     fnn_sgemm / fnn_dgemm over shapes across the block edges of the path
 *            (fnn_*gemm_blocking), transposed and strided operands, alpha, beta, bias and
 *            every activation, against a naive long double product; bitwise the same
 *            result on 1 and 3 threads.
 *   math     exp, tanh, sigmoid, log (float and double) against long double libm, in ulp.
 *   softmax  fnn_softmax_block rows against long double.
 *   CPU      the features and identity CPUID reports (printed, for the caller to compare).
 *   threads  fnn_at_thread_exit: the calls of a thread that ran a GEMM (which registers
 *            its workspace) run at its exit, last registered first.
 *   word2vec a corpus file with CRLF line ends written and read back in binary mode, fed
 *            to the vocabulary counter in small pieces, against a direct count; tokenised
 *            the same on 1 and 2 threads; skip-gram training reproducible on one thread,
 *            its loss falling over epochs.
 * The harness itself needs a long double wider than double (GCC's, also on MinGW-w64:
 * with MSVC's it is double), so it is always compiled by GCC; the kernels it links may
 * come from another compiler (tools/test_windows.sh: clang-cl).
 * Prints one line per failure and a summary; exits 1 on any failure. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(_WIN32)
#include <process.h>
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#else
#include <pthread.h>
#endif

#include "fnn_loss.h"
#include "fnn_w2v.h"
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
        snprintf(what, sizeof what, #S "gemm m=%lld n=%lld k=%lld ta=%d tb=%d sb=%d beta=%g bias=%d act=%d", \
                 (long long)m, (long long)n, (long long)k, ta, tb, sb, (double)beta, bias_on, act); \
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
 * each narrow tile's (and the column tile's) rows and its narrowest and widest C and one
 * more. */
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
    if (bl->cols.rows) {
        out[n++] = bl->cols.rows + 1;
        out[n++] = bl->cols.min_cols;
        out[n++] = bl->cols.max_cols;
        out[n++] = bl->cols.max_cols + 1;
    }
    return n;
}

static void test_gemm(void)
{
    unsigned long long seed = 1;
    for (int dbl = 0; dbl < 2; dbl++) {
        const fnn_gemm_blocking *bl = dbl ? fnn_dgemm_blocking() : fnn_sgemm_blocking();
        ptrdiff_t sz[20 + 3 * FNN_GEMM_MAX_NARROW];
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

static void test_cpu(void)
{
    char vendor[13];
    int family, model;
    fnn_cpu_id(vendor, &family, &model);
    const int avx2 = fnn_cpu_has_avx2_fma(), avx512 = fnn_cpu_has_avx512();
    printf("  cpu: vendor=%s family=%d model=%d avx2_fma=%d avx512=%d\n", vendor, family, model,
           avx2, avx512);
    checks++;
    if (avx512 && !avx2)
        fail("cpu: AVX-512 reported without AVX2 and FMA");
    checks++;
    if (strcmp(fnn_isa_name(), "portable") != 0 && !avx2)
        fail("cpu: an AVX2 path runs on a CPU said to lack AVX2");
}

/* ---- thread-exit callbacks */
static int exit_order[FNN_THREAD_EXIT_CALLS], exit_calls, exit_registered;

static void record_exit(void *arg)
{
    if (exit_calls < FNN_THREAD_EXIT_CALLS)
        exit_order[exit_calls] = (int)(intptr_t)arg;
    exit_calls++;
}

/* A GEMM large enough to pack (the thread's workspace registers its release), then
 * record_exit registered until the table is full. */
static void thread_body(void)
{
    fnn_set_num_threads(1);
    const ptrdiff_t n = 64;
    float *a = calloc((size_t)(n * n), sizeof(float)), *c = malloc(sizeof(float) * (size_t)(n * n));
    for (ptrdiff_t i = 0; i < n; i++) a[i * n + i] = 2.0f;
    fnn_sgemm(n, n, n, 1.0f, a, n, 1, a, n, 1, 0.0f, c, n, 1, NULL, FNN_ACT_IDENTITY, 0.0f);
    checks++;
    if (c[0] != 4.0f || c[n * n - 1] != 4.0f || c[1] != 0.0f)
        fail("threads: GEMM on a new thread");
    free(a), free(c);
    while (exit_registered <= FNN_THREAD_EXIT_CALLS &&
           fnn_at_thread_exit(record_exit, (void *)(intptr_t)exit_registered) == 0)
        exit_registered++;
}

#if defined(_WIN32)
static unsigned __stdcall thread_main(void *arg)
{
    (void)arg;
    thread_body();
    return 0;
}

static int run_thread(void)
{
    HANDLE t = (HANDLE)_beginthreadex(NULL, 0, thread_main, NULL, 0, NULL);
    if (!t)
        return -1;
    WaitForSingleObject(t, INFINITE);
    CloseHandle(t);
    return 0;
}
#else
static void *thread_main(void *arg)
{
    (void)arg;
    thread_body();
    return NULL;
}

static int run_thread(void)
{
    pthread_t t;
    if (pthread_create(&t, NULL, thread_main, NULL) != 0)
        return -1;
    return pthread_join(t, NULL);
}
#endif

static void test_thread_exit(void)
{
    checks++;
    if (run_thread() != 0) {
        fail("threads: cannot start a thread");
        return;
    }
    char what[96];
    snprintf(what, sizeof what, "threads: %d exit calls registered (the GEMM's first), %d ran",
             exit_registered, exit_calls);
    printf("  %s\n", what);
    checks++;
    if (exit_registered != FNN_THREAD_EXIT_CALLS - 1 || exit_calls != exit_registered)
        fail(what);
    for (int i = 0; i < exit_calls && i < FNN_THREAD_EXIT_CALLS; i++) {
        checks++;
        if (exit_order[i] != exit_registered - 1 - i)
            fail("threads: exit calls not run last registered first");
    }
}

/* ---- word2vec */
enum { W2V_WORDS = 23, W2V_LINES = 300, W2V_DIM = 16 };

/* Writes the corpus: W2V_LINES lines of words w0..w22 (word i + 1 tends to follow word i),
 * CRLF line ends, a tab and a blank line here and there; returns the bytes written. */
static long write_corpus(const char *path, int64_t counts[W2V_WORDS], int64_t *tokens,
                         int64_t *sentences)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    unsigned long long seed = 11;
    long bytes = 0;
    memset(counts, 0, sizeof(int64_t) * W2V_WORDS);
    *tokens = *sentences = 0;
    for (int line = 0; line < W2V_LINES; line++) {
        const int len = line % 17 == 0 ? 0 : 3 + (int)((rnd(&seed) + 1) * 6);
        int w = (int)((rnd(&seed) + 1) * W2V_WORDS / 2);
        for (int i = 0; i < len; i++) {
            w = rnd(&seed) < 0.6 ? (w + 1) % W2V_WORDS : (int)((rnd(&seed) + 1) * W2V_WORDS / 2);
            bytes += fprintf(f, "%sw%d", i == 0 ? "" : i % 5 == 0 ? "\t" : " ", w);
            counts[w]++;
        }
        bytes += fprintf(f, "\r\n");
        *tokens += len;
        *sentences += len > 0;
    }
    return fclose(f) == 0 ? bytes : -1;
}

/* Feeds the file to a new counter through a 37-byte buffer; the whole text (its size in
 * *bytes) to *text. */
static fnn_vocab *read_corpus(const char *path, long *bytes, char **text)
{
    FILE *f = fopen(path, "rb");
    fnn_vocab *v = fnn_vocab_new();
    char buf[37];
    size_t have = 0;
    *bytes = 0;
    *text = NULL;
    for (int ok = f && v; ok;) {
        const size_t got = fread(buf + have, 1, sizeof buf - have, f);
        char *grown = realloc(*text, (size_t)*bytes + got + 1);
        if (!grown)
            break;
        *text = grown;
        memcpy(*text + *bytes, buf + have, got);
        *bytes += (long)got;
        have += got;
        const int final = got == 0;
        const ptrdiff_t used = fnn_vocab_feed(v, buf, (ptrdiff_t)have, final, 1);
        if (used < 0 || final) {
            ok = 0;
            continue;
        }
        memmove(buf, buf + used, have - (size_t)used);
        have -= (size_t)used;
    }
    if (f)
        fclose(f);
    return v;
}

/* The ids and sentence offsets of `text` (n bytes) on `threads` threads; NULL out of memory. */
static int32_t *tokenize(const fnn_vocab *v, const char *text, long n, int threads, int64_t **sent,
                         int64_t *ntokens, int64_t *nsent)
{
    const size_t room = (size_t)n / 2 + FNN_W2V_MAX_PIECES + 1;
    int32_t *ids = malloc(sizeof(int32_t) * room);
    *sent = malloc(sizeof(int64_t) * room);
    if (ids && *sent && fnn_vocab_tokenize(v, text, n, 1, threads, ids, *sent, ntokens, nsent) == n)
        return ids;
    free(ids);
    free(*sent);
    *sent = NULL;
    return NULL;
}

static double train_epochs(const fnn_w2v_model *m, const fnn_w2v_corpus *corpus, int64_t nchunks,
                           int epochs, int threads, int64_t words)
{
    double loss = 0;
    for (int e = 0; e < epochs; e++) {
        const fnn_w2v_schedule sched = {0.05, 0.05, 0, 1, 1234};
        fnn_w2v_result r;
        checks++;
        if (fnn_w2v_train(m, corpus, 0, nchunks, &sched, threads, &r) != 0 || r.words != words)
            fail("word2vec: fnn_w2v_train");
        loss = r.loss;
    }
    return loss;
}

static void test_word2vec(void)
{
    const char *path = "fastnn_harness_corpus.txt";
    int64_t want[W2V_WORDS], tokens, sentences;
    long written, read;
    checks++;
    if ((written = write_corpus(path, want, &tokens, &sentences)) < 0) {
        fail("word2vec: cannot write the corpus file");
        return;
    }
    char *text;
    fnn_vocab *v = read_corpus(path, &read, &text);
    remove(path);
    checks++;
    if (!v || !text || read != written) {
        fail("word2vec: the corpus file reads back with another size (text mode?)");
        fnn_vocab_free(v);
        free(text);
        return;
    }
    /* the tokeniser on one and on two threads */
    int64_t *sent[2], ntok[2], nsent[2];
    int32_t *ids[2];
    for (int t = 0; t < 2; t++)
        ids[t] = tokenize(v, text, read, t + 1, &sent[t], &ntok[t], &nsent[t]);
    free(text);
    const ptrdiff_t nv = fnn_vocab_size(v);
    checks++;
    if (!ids[0] || !ids[1] || nv != W2V_WORDS || ntok[0] != tokens || nsent[0] != sentences ||
        ntok[1] != tokens || nsent[1] != sentences ||
        memcmp(ids[0], ids[1], sizeof(int32_t) * (size_t)tokens) ||
        memcmp(sent[0], sent[1], sizeof(int64_t) * (size_t)(sentences + 1)))
        fail("word2vec: vocabulary size, or the tokens and sentences on 1 and 2 threads");
    uint32_t cum[W2V_WORDS], keep[W2V_WORDS];
    double total = 0;
    for (ptrdiff_t id = 0; id < nv && id < W2V_WORDS; id++) {
        ptrdiff_t len;
        int64_t count;
        const char *key = fnn_vocab_key(v, id, &len, &count);
        char name[16];
        memcpy(name, key, (size_t)(len < 15 ? len : 15));
        name[len < 15 ? len : 15] = 0;
        const int w = atoi(name + 1);
        checks++;
        if (name[0] != 'w' || w < 0 || w >= W2V_WORDS || count != want[w])
            fail("word2vec: a word's count");
        total += pow((double)count, 0.75);
        cum[id] = (uint32_t)(total * 1000);
        keep[id] = UINT32_MAX;
    }
    printf("  word2vec: %lld tokens, %lld sentences, %lld words read back from %ld bytes\n",
           (long long)tokens, (long long)sentences, (long long)nv, read);
    if (failures)
        goto done;
    /* skip-gram: the same start trained twice on one thread, once on two */
    float *syn[3][2];
    unsigned long long seed = 5;
    for (int r = 0; r < 3; r++)
        for (int t = 0; t < 2; t++)
            syn[r][t] = malloc(sizeof(float) * W2V_WORDS * W2V_DIM);
    for (int i = 0; i < W2V_WORDS * W2V_DIM; i++) {
        syn[0][0][i] = syn[1][0][i] = syn[2][0][i] = (float)(rnd(&seed) / W2V_DIM);
        syn[0][1][i] = syn[1][1][i] = syn[2][1][i] = 0.0f;
    }
    const int64_t chunks[3] = {0, sentences / 2, sentences};
    const fnn_w2v_corpus corpus = {ids[0], sent[0], chunks};
    double first = 0, last[3] = {0, 0, 0};
    for (int r = 0; r < 3; r++) {
        const fnn_w2v_model m = {syn[r][0], syn[r][1], W2V_WORDS, W2V_DIM, cum, keep, 1, 0, 3, 4, 1};
        if (r == 0)
            first = train_epochs(&m, &corpus, 2, 1, 1, tokens);
        last[r] = train_epochs(&m, &corpus, 2, r == 0 ? 19 : 20, r == 2 ? 2 : 1, tokens);
    }
    char what[128];
    snprintf(what, sizeof what, "word2vec: skip-gram loss %.1f after 1 epoch, %.1f after 20 (2 threads: %.1f)",
             first, last[0], last[2]);
    printf("  %s\n", what);
    checks++;
    if (!(last[0] < 0.9 * first) || !(last[2] < 0.9 * first))
        fail(what);
    checks++;
    if (memcmp(syn[0][0], syn[1][0], sizeof(float) * W2V_WORDS * W2V_DIM) ||
        memcmp(syn[0][1], syn[1][1], sizeof(float) * W2V_WORDS * W2V_DIM))
        fail("word2vec: one-thread training not reproducible");
    for (int r = 0; r < 3; r++)
        free(syn[r][0]), free(syn[r][1]);
done:
    for (int t = 0; t < 2; t++)
        free(ids[t]), free(sent[t]);
    fnn_vocab_free(v);
}

int main(void)
{
    printf("fastnn C kernels, %s path (%s)\n", fnn_isa_name(), fnn_build_flags());
    test_cpu();
    test_math();
    test_softmax();
    test_gemm();
    test_thread_exit();
    test_word2vec();
    printf("%d checks, %d failures\n", checks, failures);
    return failures != 0;
}
