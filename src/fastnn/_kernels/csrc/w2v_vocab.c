/* word2vec vocabulary counting over raw bytes (see fnn_w2v.h): an open-addressing hash
 * table of byte strings (FNV-1a) kept in one arena, and the token stream as ids. */
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
    int32_t *ids;             /* the token stream */
    int64_t nids, ids_cap;
    int64_t *sent;            /* sentence offsets into ids, sent[0] = 0 */
    int64_t nsent, sent_cap;
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
    if (!v->slots || grow((void **)&v->sent, &v->sent_cap, 1, sizeof(int64_t))) {
        fnn_vocab_free(v);
        return NULL;
    }
    for (ptrdiff_t i = 0; i < v->nslots; i++)
        v->slots[i].id = -1;
    v->sent[0] = 0;
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
    free(v->ids);
    free(v->sent);
    free(v);
}

static uint64_t fnv1a(const char *s, ptrdiff_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (ptrdiff_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
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

/* The id of token s[0..n-1], added with count 0 if new; -1 out of memory. */
static int32_t lookup(fnn_vocab *v, const char *s, ptrdiff_t n)
{
    const uint64_t h = fnv1a(s, n);
    ptrdiff_t k = (ptrdiff_t)(h & (uint64_t)(v->nslots - 1));
    for (;; k = (k + 1) & (v->nslots - 1)) {
        const int32_t id = v->slots[k].id;
        if (id < 0)
            break;
        if (v->slots[k].hash == h && v->key_off[id + 1] - v->key_off[id] == n &&
            memcmp(v->arena + v->key_off[id], s, (size_t)n) == 0)
            return id;
    }
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

static int end_sentence(fnn_vocab *v)
{
    if (v->nids == v->sent[v->nsent])
        return 0;
    if (grow((void **)&v->sent, &v->sent_cap, v->nsent + 2, sizeof(int64_t)))
        return -1;
    v->sent[++v->nsent] = v->nids;
    return 0;
}

static inline int is_space(unsigned char c)
{
    return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

ptrdiff_t fnn_vocab_feed(fnn_vocab *v, const char *buf, ptrdiff_t n, int final)
{
    ptrdiff_t i = 0, consumed = 0;
    while (i < n) {
        const unsigned char c = (unsigned char)buf[i];
        if (is_space(c)) {
            if (c == '\n' && end_sentence(v))
                return -1;
            consumed = ++i;
            continue;
        }
        ptrdiff_t j = i + 1;
        while (j < n && !is_space((unsigned char)buf[j]))
            j++;
        if (j == n && !final)
            break;
        const int32_t id = lookup(v, buf + i, j - i);
        if (id < 0 || grow((void **)&v->ids, &v->ids_cap, v->nids + 1, sizeof(int32_t)))
            return -1;
        v->counts[id]++;
        v->ids[v->nids++] = id;
        if (v->nids - v->sent[v->nsent] >= FNN_W2V_MAX_SENTENCE && end_sentence(v))
            return -1;
        consumed = i = j;
    }
    if (final && end_sentence(v))
        return -1;
    return consumed;
}

ptrdiff_t fnn_vocab_size(const fnn_vocab *v) { return v->nkeys; }

const char *fnn_vocab_key(const fnn_vocab *v, ptrdiff_t id, ptrdiff_t *len, int64_t *count)
{
    *len = v->key_off[id + 1] - v->key_off[id];
    *count = v->counts[id];
    return v->arena + v->key_off[id];
}

int64_t fnn_vocab_ntokens(const fnn_vocab *v) { return v->nids; }

const int32_t *fnn_vocab_ids(const fnn_vocab *v) { return v->ids; }

int64_t fnn_vocab_nsentences(const fnn_vocab *v) { return v->nsent; }

const int64_t *fnn_vocab_sentences(const fnn_vocab *v) { return v->sent; }
