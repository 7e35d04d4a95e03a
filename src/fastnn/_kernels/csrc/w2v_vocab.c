/* word2vec vocabulary counting over raw bytes (see fnn_w2v.h): an open-addressing hash
 * table of byte strings (FNV-1a) kept in one arena, and the tokeniser that reads it. */
#include <stdlib.h>
#include <string.h>

#include "fnn_w2v.h"

typedef struct {
    uint64_t hash;
    int32_t id; /* -1: empty slot */
} slot;

struct fnn_vocab {
    slot *slots;
    ptrdiff_t nslots;         /* a power of two, at least twice the number of keys */
    char *arena;              /* the keys' bytes, back to back */
    int64_t arena_len, arena_cap;
    int64_t *key_off;         /* per id: offset in the arena (id + 1: the end) */
    int64_t *counts;
    int64_t nkeys, keys_cap, counts_cap;
};

static int grow(void **p, int64_t *cap, int64_t need, size_t item)
{
    if (need <= *cap)
        return 0;
    int64_t c = *cap ? *cap : 1024;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, (size_t)c * item);
    if (!q)
        return -1;
    *p = q;
    *cap = c;
    return 0;
}

fnn_vocab *fnn_vocab_new(void)
{
    fnn_vocab *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    v->nslots = 1 << 12;
    v->slots = malloc(sizeof(slot) * (size_t)v->nslots);
    if (!v->slots) {
        fnn_vocab_free(v);
        return NULL;
    }
    for (ptrdiff_t i = 0; i < v->nslots; i++)
        v->slots[i].id = -1;
    return v;
}

void fnn_vocab_free(fnn_vocab *v)
{
    if (!v)
        return;
    free(v->slots);
    free(v->arena);
    free(v->key_off);
    free(v->counts);
    free(v);
}

#define FNV_PRIME 1099511628211ull
#define FNV_BASIS 1469598103934665603ull

static uint64_t fnv1a(const char *s, ptrdiff_t n)
{
    uint64_t h = FNV_BASIS;
    for (ptrdiff_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * FNV_PRIME;
    return h;
}

static int rehash(fnn_vocab *v)
{
    const ptrdiff_t n = v->nslots * 2;
    slot *s = malloc(sizeof(slot) * (size_t)n);
    if (!s)
        return -1;
    for (ptrdiff_t i = 0; i < n; i++)
        s[i].id = -1;
    for (ptrdiff_t i = 0; i < v->nslots; i++) {
        if (v->slots[i].id < 0)
            continue;
        ptrdiff_t k = (ptrdiff_t)(v->slots[i].hash & (uint64_t)(n - 1));
        while (s[k].id >= 0)
            k = (k + 1) & (n - 1);
        s[k] = v->slots[i];
    }
    free(v->slots);
    v->slots = s;
    v->nslots = n;
    return 0;
}

/* The slot of token s[0..n-1] (hash h): the one holding it, or the empty slot where it
 * would go.  Reads only: safe from many threads at once. */
static ptrdiff_t probe(const fnn_vocab *v, const char *s, ptrdiff_t n, uint64_t h)
{
    ptrdiff_t k = (ptrdiff_t)(h & (uint64_t)(v->nslots - 1));
    for (;; k = (k + 1) & (v->nslots - 1)) {
        const int32_t id = v->slots[k].id;
        if (id < 0 || (v->slots[k].hash == h && v->key_off[id + 1] - v->key_off[id] == n &&
                       memcmp(v->arena + v->key_off[id], s, (size_t)n) == 0))
            return k;
    }
}

/* The id of token s[0..n-1] (hash h), added with count 0 if new; -1 out of memory. */
static int32_t lookup(fnn_vocab *v, const char *s, ptrdiff_t n, uint64_t h)
{
    const ptrdiff_t k = probe(v, s, n, h);
    if (v->slots[k].id >= 0)
        return v->slots[k].id;
    if (v->nkeys >= INT32_MAX - 1 ||
        grow((void **)&v->arena, &v->arena_cap, v->arena_len + n, 1) ||
        grow((void **)&v->key_off, &v->keys_cap, v->nkeys + 2, sizeof(int64_t)) ||
        grow((void **)&v->counts, &v->counts_cap, v->nkeys + 1, sizeof(int64_t)))
        return -1;
    const int32_t id = (int32_t)v->nkeys++;
    memcpy(v->arena + v->arena_len, s, (size_t)n);
    v->key_off[id] = v->arena_len;
    v->arena_len += n;
    v->key_off[id + 1] = v->arena_len;
    v->counts[id] = 0;
    v->slots[k].hash = h;
    v->slots[k].id = id;
    if (2 * v->nkeys > v->nslots && rehash(v))
        return -1;
    return id;
}

/* ' ', '\t', '\n', '\v', '\f', '\r': one comparison for the bytes above ' ' */
static inline int is_space(unsigned char c)
{
    return c <= ' ' && ((0x100003E00ull >> c) & 1);
}

/* The end of the token starting at buf[i] (not a space) within buf[..b-1], and its
 * hash (fnv1a, computed while scanning) in *h. */
static inline ptrdiff_t scan_token(const char *buf, ptrdiff_t i, ptrdiff_t b, uint64_t *h)
{
    uint64_t x = (FNV_BASIS ^ (unsigned char)buf[i]) * FNV_PRIME;
    ptrdiff_t j = i + 1;
    for (; j < b && !is_space((unsigned char)buf[j]); j++)
        x = (x ^ (unsigned char)buf[j]) * FNV_PRIME;
    *h = x;
    return j;
}

/* Cuts buf[0..end-1] into pieces for up to `threads` threads (at least PIECE_MIN bytes
 * each), piece p being buf[at[p] .. at[p+1]-1], each cut made after a newline (`lines`)
 * or any whitespace byte.  Returns the number of pieces. */
static int split_pieces(const char *buf, ptrdiff_t end, int threads, int lines, ptrdiff_t *at)
{
    enum { PIECE_MIN = 1 << 16 };
    int pieces = threads < FNN_W2V_MAX_PIECES ? threads : FNN_W2V_MAX_PIECES;
    if (pieces > end / PIECE_MIN)
        pieces = end / PIECE_MIN > 1 ? (int)(end / PIECE_MIN) : 1;
    at[0] = 0;
    for (int p = 1; p < pieces; p++) {
        ptrdiff_t i = end * p / pieces;
        i = i < at[p - 1] ? at[p - 1] : i;
        while (i < end && (lines ? buf[i] != '\n' : !is_space((unsigned char)buf[i])))
            i++;
        at[p] = i < end ? i + 1 : end;
    }
    at[pieces] = end;
    return pieces;
}

/* Counts the tokens of buf[a..b-1], the last one ending at b, into `own`; with `known`
 * (a table read only, shared by other threads), the tokens it holds are counted in
 * counts[id] instead.  0, or -1 out of memory. */
static int count_piece(const fnn_vocab *known, int64_t *counts, fnn_vocab *own,
                       const char *buf, ptrdiff_t a, ptrdiff_t b)
{
    ptrdiff_t i = a;
    while (i < b) {
        if (is_space((unsigned char)buf[i])) {
            i++;
            continue;
        }
        uint64_t h;
        const ptrdiff_t j = scan_token(buf, i, b, &h);
        const int32_t seen = known ? known->slots[probe(known, buf + i, j - i, h)].id : -1;
        if (seen >= 0) {
            counts[seen]++;
        } else {
            const int32_t id = lookup(own, buf + i, j - i, h);
            if (id < 0)
                return -1;
            own->counts[id]++;
        }
        i = j;
    }
    return 0;
}

/* Adds the keys and counts of `from` to v, keys new to v in the order of their ids in
 * `from`.  0, or -1 out of memory. */
static int merge_into(fnn_vocab *v, const fnn_vocab *from)
{
    for (int64_t id = 0; id < from->nkeys; id++) {
        const char *key = from->arena + from->key_off[id];
        const ptrdiff_t n = from->key_off[id + 1] - from->key_off[id];
        const int32_t to = lookup(v, key, n, fnv1a(key, n));
        if (to < 0)
            return -1;
        v->counts[to] += from->counts[id];
    }
    return 0;
}

ptrdiff_t fnn_vocab_feed(fnn_vocab *v, const char *buf, ptrdiff_t n, int final, int threads)
{
    /* the complete tokens: all of buf when final, else up to its last whitespace */
    ptrdiff_t end = n;
    if (!final)
        while (end > 0 && !is_space((unsigned char)buf[end - 1]))
            end--;
    ptrdiff_t at[FNN_W2V_MAX_PIECES + 1];
    const int pieces = split_pieces(buf, end, threads, 0, at);
    if (pieces == 1)
        return count_piece(NULL, NULL, v, buf, 0, end) ? -1 : end;
    /* each piece counts the tokens v knows (v read only) in counts of its own, and the
     * others in a table of its own; then those tables are merged into v in order, so
     * the ids stay in order of first appearance, and the counts added */
    const int64_t nkeys = v->nkeys;
    int64_t *counts = calloc((size_t)(pieces * nkeys) + 1, sizeof(int64_t));
    fnn_vocab *own[FNN_W2V_MAX_PIECES] = {NULL};
    int failed = counts == NULL;
    for (int p = 0; p < pieces; p++) {
        own[p] = fnn_vocab_new();
        failed |= own[p] == NULL;
    }
    if (!failed) {
#if FNN_OPENMP
#pragma omp parallel for num_threads(pieces) schedule(static, 1) reduction(| : failed)
#endif
        for (int p = 0; p < pieces; p++)
            failed |= count_piece(v, counts + p * nkeys, own[p], buf, at[p], at[p + 1]);
    }
    for (int p = 0; p < pieces; p++) {
        failed = failed || merge_into(v, own[p]);
        for (int64_t id = 0; !failed && id < nkeys; id++)
            v->counts[id] += counts[p * nkeys + id];
        fnn_vocab_free(own[p]);
    }
    free(counts);
    return failed ? -1 : end;
}

int32_t fnn_vocab_add(fnn_vocab *v, const char *key, ptrdiff_t n)
{
    return lookup(v, key, n, fnv1a(key, n));
}

/* Tokenises buf[a..b-1]: the ids of the known tokens to tok, and the end of each
 * non-empty sentence (a count of tokens) to ends; returns the number of tokens. */
static int64_t tokenize_piece(const fnn_vocab *v, const char *buf, ptrdiff_t a, ptrdiff_t b,
                              int32_t *tok, int64_t *ends, int64_t *nends)
{
    int64_t t = 0, start = 0, s = 0;
    ptrdiff_t i = a;
    while (i < b) {
        const unsigned char c = (unsigned char)buf[i];
        if (is_space(c)) {
            if (c == '\n' && t > start)
                ends[s++] = start = t;
            i++;
            continue;
        }
        uint64_t h;
        const ptrdiff_t j = scan_token(buf, i, b, &h);
        const int32_t id = v->slots[probe(v, buf + i, j - i, h)].id;
        if (id >= 0) {
            tok[t++] = id;
            if (t - start == FNN_W2V_MAX_SENTENCE)
                ends[s++] = start = t;
        }
        i = j;
    }
    if (t > start)
        ends[s++] = t;
    *nends = s;
    return t;
}

/* The end of the text fnn_vocab_tokenize takes from buf[0..n-1]. */
static ptrdiff_t text_end(const char *buf, ptrdiff_t n, int final)
{
    if (final)
        return n;
    for (ptrdiff_t i = n; i > 0; i--)
        if (buf[i - 1] == '\n')
            return i;
    for (ptrdiff_t i = n; i > 0; i--)
        if (is_space((unsigned char)buf[i - 1]))
            return i;
    return 0;
}

ptrdiff_t fnn_vocab_tokenize(const fnn_vocab *v, const char *buf, ptrdiff_t n, int final,
                             int threads, int32_t *tokens, int64_t *sent, int64_t *ntokens,
                             int64_t *nsent)
{
    const ptrdiff_t end = text_end(buf, n, final);
    /* piece p: buf[at[p] .. at[p+1]-1]; its tokens go to tokens[base[p]..] and its
     * sentence ends to sent[1 + base[p]..] (room for (bytes + 1) / 2 tokens each), then
     * all is moved down into place */
    ptrdiff_t at[FNN_W2V_MAX_PIECES + 1];
    const int pieces = split_pieces(buf, end, threads, 1, at);
    int64_t base[FNN_W2V_MAX_PIECES], count[FNN_W2V_MAX_PIECES], ends[FNN_W2V_MAX_PIECES];
    base[0] = 0;
    for (int p = 1; p < pieces; p++)
        base[p] = base[p - 1] + (at[p] - at[p - 1] + 1) / 2;
#if FNN_OPENMP
#pragma omp parallel for num_threads(pieces) schedule(static, 1) if (pieces > 1)
#endif
    for (int p = 0; p < pieces; p++)
        count[p] = tokenize_piece(v, buf, at[p], at[p + 1], tokens + base[p],
                                  sent + 1 + base[p], &ends[p]);
    int64_t t = 0, s = 0;
    sent[0] = 0;
    for (int p = 0; p < pieces; p++) {
        memmove(tokens + t, tokens + base[p], sizeof(int32_t) * (size_t)count[p]);
        for (int64_t k = 0; k < ends[p]; k++)
            sent[1 + s + k] = t + sent[1 + base[p] + k];
        t += count[p];
        s += ends[p];
    }
    *ntokens = t;
    *nsent = s;
    return end;
}

ptrdiff_t fnn_vocab_size(const fnn_vocab *v) { return v->nkeys; }

const char *fnn_vocab_key(const fnn_vocab *v, ptrdiff_t id, ptrdiff_t *len, int64_t *count)
{
    *len = v->key_off[id + 1] - v->key_off[id];
    *count = v->counts[id];
    return v->arena + v->key_off[id];
}
