/* word2vec training: skip-gram and CBOW with negative sampling (see fnn_w2v.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fnn_w2v.h"

#if FNN_HAVE_AVX2
#include <immintrin.h>
#endif
#if FNN_OPENMP
#include <omp.h>
#endif

/* ---------------------------------------------------------------- random numbers */
static inline uint64_t splitmix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/* xorshift64*: one 64-bit state per chunk, never zero. */
static inline uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static inline uint32_t rng_u32(uint64_t *s) { return (uint32_t)(rng_next(s) >> 32); }

/* A uniform draw below n (n <= 2^32): multiply-shift, no division. */
static inline uint32_t rng_below(uint64_t *s, uint32_t n)
{
    return (uint32_t)(((uint64_t)rng_u32(s) * n) >> 32);
}

/* A word drawn from the unigram^ns_exponent distribution: the first index whose
 * cumulative weight exceeds a uniform draw r below the total.  The guide table gives, for
 * r's bucket (its high bits), the answer for the bucket's smallest r; a short forward scan
 * finishes (no step at all for most draws).  The same word as a binary search over
 * cum_table for the same r, at one or two loads where that took 16 dependent ones. */
static inline int32_t draw_negative(const fnn_w2v_model *m, uint64_t *rng)
{
    const uint32_t *cum = m->cum_table;
    const uint32_t r = rng_below(rng, cum[m->vocab - 1]);
    uint32_t i = m->guide[r >> m->guide_shift];
    while (cum[i] <= r) /* stops at vocab - 1 at the latest: r < cum[vocab - 1] */
        i++;
    return (int32_t)i;
}

/* The guide table of m's cum_table (malloc'd, NULL out of memory) and its shift: bucket b
 * holds the first index whose cumulative weight exceeds b << shift, for at most
 * FNN_W2V_GUIDE_SIZE buckets over 0..total-1. */
static uint32_t *guide_table(const fnn_w2v_model *m, int *shift)
{
    const uint32_t *cum = m->cum_table, last = cum[m->vocab - 1] - 1;
    int sh = 0;
    while ((last >> sh) >= FNN_W2V_GUIDE_SIZE)
        sh++;
    const size_t n = (size_t)(last >> sh) + 1;
    uint32_t *guide = malloc(sizeof(uint32_t) * n);
    if (!guide)
        return NULL;
    uint32_t i = 0;
    for (size_t b = 0; b < n; b++) {
        while (cum[i] <= (uint32_t)b << sh) /* b << sh <= last < cum[vocab - 1] */
            i++;
        guide[b] = i;
    }
    *shift = sh;
    return guide;
}

/* ---------------------------------------------------------------- vector helpers */
/* out[b] = x . rows[b] for b < n */
static void dots(const float *x, float *const *rows, int n, ptrdiff_t d, float *out)
{
    int b = 0;
#if FNN_HAVE_AVX2
    for (; b + 4 <= n; b += 4) {
        const float *r0 = rows[b], *r1 = rows[b + 1], *r2 = rows[b + 2], *r3 = rows[b + 3];
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        ptrdiff_t j = 0;
        for (; j + 8 <= d; j += 8) {
            const __m256 v = _mm256_loadu_ps(x + j);
            a0 = _mm256_fmadd_ps(v, _mm256_loadu_ps(r0 + j), a0);
            a1 = _mm256_fmadd_ps(v, _mm256_loadu_ps(r1 + j), a1);
            a2 = _mm256_fmadd_ps(v, _mm256_loadu_ps(r2 + j), a2);
            a3 = _mm256_fmadd_ps(v, _mm256_loadu_ps(r3 + j), a3);
        }
        /* horizontal sums of the four accumulators at once */
        const __m256 h01 = _mm256_hadd_ps(a0, a1), h23 = _mm256_hadd_ps(a2, a3);
        const __m256 h = _mm256_hadd_ps(h01, h23);
        __m128 s = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
        float t[4];
        _mm_storeu_ps(t, s);
        for (; j < d; j++) {
            t[0] += x[j] * r0[j];
            t[1] += x[j] * r1[j];
            t[2] += x[j] * r2[j];
            t[3] += x[j] * r3[j];
        }
        memcpy(out + b, t, sizeof t);
    }
    for (; b < n; b++) {
        const float *r = rows[b];
        __m256 a = _mm256_setzero_ps();
        ptrdiff_t j = 0;
        for (; j + 8 <= d; j += 8)
            a = _mm256_fmadd_ps(_mm256_loadu_ps(x + j), _mm256_loadu_ps(r + j), a);
        __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
        s = _mm_hadd_ps(s, s);
        s = _mm_hadd_ps(s, s);
        float t = _mm_cvtss_f32(s);
        for (; j < d; j++)
            t += x[j] * r[j];
        out[b] = t;
    }
#else
    for (; b < n; b++) {
        const float *r = rows[b];
        float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        ptrdiff_t j = 0;
        for (; j + 8 <= d; j += 8)
            for (int l = 0; l < 8; l++)
                acc[l] += x[j + l] * r[j + l];
        float t = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
        for (; j < d; j++)
            t += x[j] * r[j];
        out[b] = t;
    }
#endif
}

/* y += sum_b g[b] * rows[b] for b < n */
static void combine(const float *g, float *const *rows, int n, ptrdiff_t d, float *y)
{
    ptrdiff_t j = 0;
#if FNN_HAVE_AVX2
    for (; j + 16 <= d; j += 16) {
        __m256 y0 = _mm256_loadu_ps(y + j), y1 = _mm256_loadu_ps(y + j + 8);
        for (int b = 0; b < n; b++) {
            const __m256 c = _mm256_set1_ps(g[b]);
            y0 = _mm256_fmadd_ps(c, _mm256_loadu_ps(rows[b] + j), y0);
            y1 = _mm256_fmadd_ps(c, _mm256_loadu_ps(rows[b] + j + 8), y1);
        }
        _mm256_storeu_ps(y + j, y0);
        _mm256_storeu_ps(y + j + 8, y1);
    }
    for (; j + 8 <= d; j += 8) {
        __m256 y0 = _mm256_loadu_ps(y + j);
        for (int b = 0; b < n; b++)
            y0 = _mm256_fmadd_ps(_mm256_set1_ps(g[b]), _mm256_loadu_ps(rows[b] + j), y0);
        _mm256_storeu_ps(y + j, y0);
    }
#endif
    for (; j < d; j++) {
        float t = y[j];
        for (int b = 0; b < n; b++)
            t += g[b] * rows[b][j];
        y[j] = t;
    }
}

/* -log sigmoid(z), stable for any z */
static inline double softplus_neg(float z)
{
    return z > 0 ? log1p(exp(-(double)z)) : -(double)z + log1p(exp((double)z));
}

/* ---------------------------------------------------------------- one update */
typedef struct {
    float **crow, **orow;  /* row pointers of the context (syn0) and output (syn1) words */
    float *f;              /* scores, then gradients */
    float *tmp;            /* 2 x dim (CBOW) */
    int32_t *kept, *ctx;
    int32_t *outs;         /* centre + negatives: one row of negative + 1 per context word */
    int *n_out;            /* the words of each row of outs (a negative equal to the centre
                            * is dropped) */
    float *own;            /* the thread's private copy of syn1's rows 0..private-1 */
    ptrdiff_t n_private;   /* 0: every row shared (one thread) */
    float *own_ctx;        /* its private copy of syn0's rows 0..n_ctx-1 (their base after
                            * the model's context_rows rows) */
    ptrdiff_t n_ctx;       /* 0: every row shared */
} scratch;

/* Row w of syn1: the thread's private copy when w is one of its private rows. */
static inline float *out_row(const fnn_w2v_model *m, const scratch *s, int32_t w)
{
    return (w < s->n_private ? s->own : m->syn1) + (ptrdiff_t)w * m->dim;
}

/* Row w of syn0, likewise. */
static inline float *ctx_row(const fnn_w2v_model *m, const scratch *s, int32_t w)
{
    return (w < s->n_ctx ? s->own_ctx : m->syn0) + (ptrdiff_t)w * m->dim;
}

/* Adds the changes of the thread's private syn0 rows since its last call to syn0 and
 * takes syn0's rows back, one thread at a time: shared += own - base, own = base = shared. */
static void sync_context_rows(const fnn_w2v_model *m, scratch *s)
{
    const ptrdiff_t n = s->n_ctx * m->dim;
    float *own = s->own_ctx, *base = own + m->context_rows * m->dim, *shared = m->syn0;
#if FNN_OPENMP
#pragma omp critical(fnn_w2v_context_rows)
#endif
    for (ptrdiff_t i = 0; i < n; i++) {
        const float v = shared[i] + (own[i] - base[i]);
        shared[i] = own[i] = base[i] = v;
    }
}

/* Fetches the n_out output rows and the context row of a skip-gram pair into the cache. */
static inline void prefetch_pair(const fnn_w2v_model *m, const scratch *s, int32_t ctx,
                                 const int32_t *outs, int n_out)
{
    const size_t bytes = sizeof(float) * (size_t)m->dim;
    const char *c = (const char *)ctx_row(m, s, ctx);
    for (size_t k = 0; k < bytes; k += 64)
        __builtin_prefetch(c + k, 1);
    for (int b = 0; b < n_out; b++) {
        const char *o = (const char *)out_row(m, s, outs[b]);
        for (size_t k = 0; k < bytes; k += 64)
            __builtin_prefetch(o + k, 1);
    }
}

/* Skip-gram, one (context, centre) pair: the context row c predicts the centre word o[0]
 * and its negatives o[1..n_out-1].  g: n_out floats of scratch.  One pass over the rows
 * after the scores: c += sum_b g_b o_b and o_b += g_b c, both from the rows as they were
 * (a repeated negative gets both of its updates). */
static double update_pair(const fnn_w2v_model *m, float *c, float *const *o, int n_out,
                          float alpha, float *g)
{
    const ptrdiff_t d = m->dim;
    double loss = 0;
    dots(c, o, n_out, d, g);
    for (int b = 0; b < n_out; b++) {
        const float z = b == 0 ? g[b] : -g[b]; /* label 1 for the centre word */
        if (m->compute_loss)
            loss += softplus_neg(z);
        const float t = alpha / (1.0f + expf(z)); /* alpha * (1 - sigmoid(z)) */
        g[b] = b == 0 ? t : -t;
    }
    ptrdiff_t j = 0;
#if FNN_HAVE_AVX2
    for (; j + 8 <= d; j += 8) {
        const __m256 cj = _mm256_loadu_ps(c + j);
        __m256 w = _mm256_setzero_ps();
        for (int b = 0; b < n_out; b++)
            w = _mm256_fmadd_ps(_mm256_set1_ps(g[b]), _mm256_loadu_ps(o[b] + j), w);
        for (int b = 0; b < n_out; b++)
            _mm256_storeu_ps(o[b] + j, _mm256_fmadd_ps(_mm256_set1_ps(g[b]), cj,
                                                        _mm256_loadu_ps(o[b] + j)));
        _mm256_storeu_ps(c + j, _mm256_add_ps(cj, w));
    }
#endif
    for (; j < d; j++) {
        const float cj = c[j];
        float w = 0;
        for (int b = 0; b < n_out; b++)
            w += g[b] * o[b][j];
        for (int b = 0; b < n_out; b++)
            o[b][j] += g[b] * cj;
        c[j] = cj + w;
    }
    return loss;
}

/* Skip-gram: the pairs (ctx[a], row a of outs) one after the other, the next pair's rows
 * fetched while one is trained. */
static double update_sg(const fnn_w2v_model *m, scratch *s, int n_ctx, float alpha)
{
    const int stride = m->negative + 1;
    double loss = 0;
    for (int a = 0; a < n_ctx; a++) {
        const int32_t *outs = s->outs + a * stride;
        if (a + 1 < n_ctx)
            prefetch_pair(m, s, s->ctx[a + 1], outs + stride, s->n_out[a + 1]);
        for (int b = 0; b < s->n_out[a]; b++)
            s->orow[b] = out_row(m, s, outs[b]);
        loss += update_pair(m, ctx_row(m, s, s->ctx[a]), s->orow, s->n_out[a], alpha, s->f);
    }
    return loss;
}

/* CBOW: the sum (or mean) h of the context rows predicts the centre word and the
 * negatives; every context row gets the error e (divided by n_ctx for a sum, as gensim). */
static double update_cbow(const fnn_w2v_model *m, scratch *s, int n_ctx, int n_out,
                          float alpha)
{
    const ptrdiff_t d = m->dim;
    float *h = s->tmp, *e = s->tmp + d;
    double loss = 0;
    for (int a = 0; a < n_ctx; a++)
        s->crow[a] = ctx_row(m, s, s->ctx[a]);
    for (int b = 0; b < n_out; b++)
        s->orow[b] = out_row(m, s, s->outs[b]);
    memset(h, 0, sizeof(float) * (size_t)(2 * d));
    for (int a = 0; a < n_ctx; a++)
        for (ptrdiff_t j = 0; j < d; j++)
            h[j] += s->crow[a][j];
    if (m->cbow_mean) {
        const float inv = 1.0f / (float)n_ctx;
        for (ptrdiff_t j = 0; j < d; j++)
            h[j] *= inv;
    }
    dots(h, s->orow, n_out, d, s->f);
    for (int b = 0; b < n_out; b++) {
        const float z = b == 0 ? s->f[b] : -s->f[b];
        if (m->compute_loss)
            loss += softplus_neg(z);
        const float g = alpha / (1.0f + expf(z));
        s->f[b] = b == 0 ? g : -g;
    }
    combine(s->f, s->orow, n_out, d, e);
    for (int b = 0; b < n_out; b++) {
        float *o = s->orow[b];
        const float g = s->f[b];
        for (ptrdiff_t j = 0; j < d; j++)
            o[j] += g * h[j];
    }
    if (!m->cbow_mean) {
        const float inv = 1.0f / (float)n_ctx;
        for (ptrdiff_t j = 0; j < d; j++)
            e[j] *= inv;
    }
    for (int a = 0; a < n_ctx; a++) {
        float *c = s->crow[a];
        for (ptrdiff_t j = 0; j < d; j++)
            c[j] += e[j];
    }
    return loss;
}

/* bytes rounded up to whole cache lines */
static size_t whole_lines(size_t bytes)
{
    return (bytes + 63) / 64 * 64;
}

/* One block per thread that starts and ends on a cache-line boundary: scratch written for
 * every word must not share a line with another thread's (false sharing made 2-thread
 * CBOW cost 1.5-2.9x the CPU per word of one thread, depending on where malloc put it). */
static int scratch_alloc(const fnn_w2v_model *m, scratch *s)
{
    const size_t nc = 2 * (size_t)m->window, no = (size_t)m->negative + 1, d = (size_t)m->dim;
    const size_t rows = whole_lines(sizeof(float *) * (nc + no));
    const size_t floats = whole_lines(sizeof(float) * (no + 2 * d));
    const size_t ints = whole_lines(sizeof(int32_t) * (FNN_W2V_MAX_SENTENCE + nc + nc * no) +
                                    sizeof(int) * nc);
    char *block = fnn_aligned_alloc(64, rows + floats + ints);
    s->own = s->own_ctx = NULL;
    s->n_private = s->n_ctx = 0;
    s->crow = (float **)block;
    if (!block)
        return -1;
    s->orow = s->crow + nc;
    s->f = (float *)(block + rows);
    s->tmp = s->f + no;
    s->kept = (int32_t *)(block + rows + floats);
    s->ctx = s->kept + FNN_W2V_MAX_SENTENCE;
    s->outs = s->ctx + nc;
    s->n_out = (int *)(s->outs + nc * no);
    return 0;
}

/* Thread t's private copy of syn0's rows 0..rows-1 and its base, both from syn0. */
static void scratch_context_rows(const fnn_w2v_model *m, scratch *s, ptrdiff_t rows, int t)
{
    const size_t bytes = sizeof(float) * (size_t)(rows * m->dim);
    s->own_ctx = m->context_copies + (size_t)t * 2 * (size_t)(m->context_rows * m->dim);
    s->n_ctx = rows;
    memcpy(s->own_ctx, m->syn0, bytes);
    memcpy(s->own_ctx + m->context_rows * m->dim, m->syn0, bytes);
}

static void scratch_free(scratch *s)
{
    fnn_aligned_free(s->crow);
}

double fnn_w2v_update(const fnn_w2v_model *m, const int32_t *ctx, int n_ctx,
                      const int32_t *outs, int n_out, float alpha)
{
    fnn_w2v_model one = *m; /* buffers sized for this window, loss always computed */
    one.window = (n_ctx + 1) / 2;
    one.negative = n_out - 1;
    one.compute_loss = 1;
    m = &one;
    scratch s;
    double loss = -1;
    if (scratch_alloc(m, &s) == 0) {
        memcpy(s.ctx, ctx, sizeof(int32_t) * (size_t)n_ctx);
        for (int a = 0; a < (m->sg ? n_ctx : 1); a++) {
            memcpy(s.outs + a * n_out, outs, sizeof(int32_t) * (size_t)n_out);
            s.n_out[a] = n_out;
        }
        loss = m->sg ? update_sg(m, &s, n_ctx, alpha) : update_cbow(m, &s, n_ctx, n_out, alpha);
    }
    scratch_free(&s);
    return loss;
}

int fnn_w2v_draw_negatives(const fnn_w2v_model *m, uint64_t seed, int64_t n, int32_t *out)
{
    fnn_w2v_model g = *m;
    uint32_t *guide = guide_table(m, &g.guide_shift);
    if (!guide)
        return -1;
    g.guide = guide;
    uint64_t rng = splitmix64(seed) | 1u;
    for (int64_t i = 0; i < n; i++)
        out[i] = draw_negative(&g, &rng);
    free(guide);
    return 0;
}

/* ---------------------------------------------------------------- private rows */
/* Thread t of `team` merges its share of the private rows (between barriers: no thread
 * trains meanwhile): shared += sum_u (own_u - shared), then own_u = shared for every u.
 * In blocks, so the loops over the copies run along contiguous floats. */
static void merge_private(const fnn_w2v_model *m, ptrdiff_t rows, int team, int t)
{
    enum { BLOCK = 1024 };
    const ptrdiff_t d = m->dim, per = m->private_rows * d;
    const ptrdiff_t lo = rows * t / team * d, hi = rows * (t + 1) / team * d;
    float sum[BLOCK];
    for (ptrdiff_t b = lo; b < hi; b += BLOCK) {
        const ptrdiff_t n = hi - b < BLOCK ? hi - b : BLOCK;
        float *shared = m->syn1 + b;
        memcpy(sum, shared, sizeof(float) * (size_t)n);
        for (int u = 0; u < team; u++) {
            const float *own = m->copies + u * per + b;
            for (ptrdiff_t i = 0; i < n; i++)
                sum[i] += own[i] - shared[i];
        }
        memcpy(shared, sum, sizeof(float) * (size_t)n);
        for (int u = 0; u < team; u++)
            memcpy(m->copies + u * per + b, sum, sizeof(float) * (size_t)n);
    }
}

/* ---------------------------------------------------------------- one sentence */
/* outs[0] = centre, then `negative` draws less those equal to the centre; returns the count. */
static int draw_outs(const fnn_w2v_model *m, int32_t centre, uint64_t *rng, int32_t *outs)
{
    int n = 1;
    outs[0] = centre;
    for (int k = 0; k < m->negative; k++) {
        const int32_t neg = draw_negative(m, rng);
        if (neg != centre)
            outs[n++] = neg;
    }
    return n;
}

static double train_sentence(const fnn_w2v_model *m, scratch *s, const int32_t *words,
                             int64_t n, float alpha, uint64_t *rng, int64_t *effective)
{
    int32_t *kept = s->kept;
    int nk = 0;
    double loss = 0;
    for (int64_t i = 0; i < n; i++) {
        const int32_t w = words[i];
        if (m->sample_int[w] != UINT32_MAX && m->sample_int[w] < rng_u32(rng))
            continue;
        kept[nk++] = w;
    }
    *effective += nk;
    for (int i = 0; i < nk; i++) {
        const int half = m->window - (int)rng_below(rng, (uint32_t)m->window);
        const int lo = i - half < 0 ? 0 : i - half, hi = i + half >= nk ? nk - 1 : i + half;
        int n_ctx = 0;
        for (int j = lo; j <= hi; j++)
            if (j != i)
                s->ctx[n_ctx++] = kept[j];
        if (n_ctx == 0)
            continue;
        if (m->sg) { /* negatives of their own for each (context, centre) pair */
            for (int a = 0; a < n_ctx; a++)
                s->n_out[a] = draw_outs(m, kept[i], rng, s->outs + a * (m->negative + 1));
            loss += update_sg(m, s, n_ctx, alpha);
        } else {
            loss += update_cbow(m, s, n_ctx, draw_outs(m, kept[i], rng, s->outs), alpha);
        }
    }
    return loss;
}

/* Trains chunk c: its sentences in order, the learning rate from the words all threads
 * had done when it started plus its own so far. */
static double train_chunk(const fnn_w2v_model *m, scratch *s, const fnn_w2v_corpus *text,
                          const fnn_w2v_schedule *plan, int64_t c, int64_t *done,
                          int64_t *effective)
{
    const double span = plan->alpha - plan->min_alpha;
    const double total = plan->total_words > 0 ? (double)plan->total_words : 1.0;
    uint64_t rng = splitmix64(plan->seed ^ splitmix64((uint64_t)c)) | 1u;
    /* exact with one thread; the shared count is touched once a chunk */
    int64_t seen, mine = 0;
    double loss = 0;
#if FNN_OPENMP
#pragma omp atomic read
#endif
    seen = *done;
    for (int64_t t = text->chunk_start[c]; t < text->chunk_start[c + 1]; t++) {
        const int64_t a = text->sent_start[t], n = text->sent_start[t + 1] - a;
        double alpha = plan->alpha - span * (double)(plan->words_before + seen + mine) / total;
        if (alpha < plan->min_alpha)
            alpha = plan->min_alpha;
        loss += train_sentence(m, s, text->tokens + a, n, (float)alpha, &rng, effective);
        mine += n;
    }
#if FNN_OPENMP
#pragma omp atomic update
#endif
    *done += mine;
    return loss;
}

/* The rows each thread trains in a private copy from `copies` (`rows` of them, at most
 * the vocabulary): none on one thread or without the buffer. */
static ptrdiff_t private_rows(const fnn_w2v_model *m, int threads, const float *copies,
                              ptrdiff_t rows)
{
    return threads < 2 || !copies ? 0 : rows < m->vocab ? rows : m->vocab;
}

/* Chunks a thread trains in a round between merges of the private rows (fnn_w2v.h). */
static int64_t round_chunks(int sg, int team)
{
    if (sg)
        return FNN_W2V_SYNC_CHUNKS_SG;
    const int64_t share = FNN_W2V_ROUND_CHUNKS_CBOW / team;
    return share > FNN_W2V_SYNC_CHUNKS_CBOW ? share : FNN_W2V_SYNC_CHUNKS_CBOW;
}

int fnn_w2v_train(const fnn_w2v_model *m, const fnn_w2v_corpus *corpus, int64_t c0,
                  int64_t c1, const fnn_w2v_schedule *sched, int threads,
                  fnn_w2v_result *result)
{
    int64_t done = 0, effective = 0;
    double loss = 0;
    int failed = 0;
    fnn_w2v_model guided = *m; /* the caller's model with the negatives' guide table */
    uint32_t *guide = guide_table(m, &guided.guide_shift);
    if (!guide)
        return -1;
    guided.guide = guide;
    m = &guided;
    const ptrdiff_t n_private = private_rows(m, threads, m->copies, m->private_rows);
    const ptrdiff_t n_ctx = private_rows(m, threads, m->context_copies, m->context_rows);
#if FNN_OPENMP
#pragma omp parallel num_threads(threads) reduction(+ : loss, effective)
#endif
    {
        /* each thread reads its own copies of the settings: the caller's structs lie on
         * the calling thread's stack, where a cache line can hold that thread's busiest
         * locals too (that false sharing cost 2-thread CBOW up to 2x the CPU per word) */
        const fnn_w2v_model model = *m;
        const fnn_w2v_corpus text = *corpus;
        const fnn_w2v_schedule plan = *sched;
#if FNN_OPENMP
        const int team = omp_get_num_threads(), t = omp_get_thread_num();
#else
        const int team = 1, t = 0;
#endif
        scratch s;
        const int ok = scratch_alloc(&model, &s) == 0;
        if (ok && n_ctx > 0)
            scratch_context_rows(&model, &s, n_ctx, t);
        if (ok && n_private > 0) {
            s.n_private = n_private;
            s.own = model.copies + (size_t)t * (size_t)(model.private_rows * model.dim);
            if (!model.copies_synced)
                memcpy(s.own, model.syn1, sizeof(float) * (size_t)(n_private * model.dim));
        }
        if (!ok) {
#if FNN_OPENMP
#pragma omp atomic write
#endif
            failed = 1;
        }
#if FNN_OPENMP
#pragma omp barrier
#endif
        int stop;
#if FNN_OPENMP
#pragma omp atomic read
#endif
        stop = failed;
        /* rounds of round_chunks() chunks a thread, the private rows merged after each
         * (so the copies end equal to syn1); without private rows one round */
        const int64_t round = n_private > 0 ? round_chunks(model.sg, team) * team : c1 - c0;
        const int sync_every =
            model.sg ? FNN_W2V_CONTEXT_SYNC_CHUNKS_SG : FNN_W2V_CONTEXT_SYNC_CHUNKS_CBOW;
        int unsynced = 0; /* chunks this thread trained since its last context-row sync */
        for (int64_t r0 = c0; !stop && r0 < c1; r0 += round) {
            const int64_t r1 = c1 - r0 < round ? c1 : r0 + round;
#if FNN_OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
            for (int64_t c = r0; c < r1; c++) {
                loss += train_chunk(&model, &s, &text, &plan, c, &done, &effective);
                if (n_ctx > 0 && ++unsynced == sync_every) {
                    sync_context_rows(&model, &s);
                    unsynced = 0;
                }
            }
            if (n_private > 0) {
                merge_private(&model, n_private, team, t);
#if FNN_OPENMP
#pragma omp barrier
#endif
            }
        }
        if (n_ctx > 0 && unsynced > 0)
            sync_context_rows(&model, &s);
        scratch_free(&s);
    }
    free(guide);
    result->loss = loss;
    result->words = done;
    result->effective = effective;
    return failed ? -1 : 0;
}
