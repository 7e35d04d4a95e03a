/* word2vec: vocabulary counting over raw bytes (w2v_vocab.c) and skip-gram / CBOW
 * training with negative sampling over an int32 token stream (w2v.c).
 *
 * Training follows word2vec.c and gensim: per sentence, frequent words are dropped with
 * probability 1 - sample_int[w] / 2^32; per kept centre word the window shrinks to a
 * random half-width in 1..window; negatives are drawn from the unigram^ns_exponent
 * distribution (cumulative table, searched through a guide table of its buckets).
 * Skip-gram trains each (context, centre) pair with negatives of its own, as word2vec.c
 * and gensim: the context row c of syn0 predicts the centre and negative rows O of syn1,
 *     g = alpha (labels - sigmoid(O c)),   syn1[outs] += g c^T,   c += g O
 * in one pass over the rows (sharing the negatives across the window, as Ji et al. 2016,
 * was faster but lost Spearman on WordSim-353 after 5 epochs).  CBOW draws
 * one set of negatives for the window's h = sum or mean of the context rows C.  The
 * products of one update read the rows as they were before it (scatter-adds after).
 * Threads take chunks of sentences from a shared counter and update syn0 without locks
 * (Hogwild, as word2vec.c and gensim).  syn1 is trained in place by one thread; with
 * more, skip-gram writes about 36 syn1 rows per centre word, and rows written by both
 * threads moved their cache lines between the cores on nearly every use (not only the
 * most frequent words' rows: a third of the negatives fall outside the top 8,000 words
 * of a 40,000-word vocabulary), so 2 threads trained slower than one.  So each thread
 * trains syn1's rows 0..private_rows-1 (the most frequent words: the vocabulary is sorted
 * by count) in a private copy, and the threads train in rounds of a few chunks each
 * (round_chunks in w2v.c, from the numbers below); after a round all of them merge the
 * copies, each a share of the rows,
 *     shared += sum over threads t of (own_t - shared),   own_t = shared
 * (shared holds the rows as they were at the round's start: nobody writes them during
 * it), so every thread's updates add up and reach the others one round late.  The
 * context rows of syn0 stay shared, except its first context_rows (the most frequent
 * words'): each thread trains those in a private copy too and adds its changes to syn0
 * after every FNN_W2V_CONTEXT_SYNC_CHUNKS_* chunks it trains, one thread at a time,
 *     shared += own - base,   own = base = shared
 * (base: the rows as the thread last saw them), so their updates reach the others that
 * many chunks late.  Written by both threads at once, those rows' cache lines moved between
 * the cores on most updates: the private rows (1 MiB a thread) trained 2-thread
 * skip-gram about 5% faster a word, at the same 1-epoch quality; kept private for whole
 * rounds as syn1's, they were as fast but lowered WS-353 by 0.005-0.015; each row taken
 * from syn0 when a chunk first uses it and only those added back (no sweep of all
 * rows) was no faster for 2-thread CBOW, at more CPU a word.  The random
 * stream of chunk c is seeded from (seed, c), so with one thread a run is reproducible. */
#ifndef FNN_W2V_H
#define FNN_W2V_H

#include <stdint.h>

#include "fnn.h"

enum {
    FNN_W2V_MAX_SENTENCE = 10000, /* longer sentences are split (gensim's limit) */
    /* chunks per thread in a round between merges.  Each merge streams all private rows
     * from memory (~4 ms at 40,000 rows of 100) and leaves them out of cache, so rounds
     * are as long as quality allows: skip-gram makes ~36 output-row updates a word, CBOW
     * ~6 (2-thread 5-epoch quality unchanged from rounds of 8 at either).  CBOW's rounds
     * are FNN_W2V_ROUND_CHUNKS_CBOW chunks of all threads, at least SYNC_CHUNKS_CBOW a
     * thread: on 2 threads 128 a thread (one merge per call at the callers' 4 MiB blocks
     * of text) trained 4-8% faster than 64 at the same WS-353 / SimLex-999 / analogies
     * over 3 seeds; 128 a thread on 3 threads let the merged rows drift from one
     * thread's further than a third of a round's change (the test of the merge), and
     * skip-gram's rounds of 64 lowered WS-353 on 2 threads (0.288 +- 0.015 against
     * 0.302 +- 0.002) */
    FNN_W2V_SYNC_CHUNKS_SG = 16,
    FNN_W2V_SYNC_CHUNKS_CBOW = 64,
    FNN_W2V_ROUND_CHUNKS_CBOW = 256,
    /* chunks a thread trains between adding its private syn0 rows to syn0 (and at the
     * end of a call).  A sync streams the rows three times (~80 us at 1 MiB); a CBOW
     * chunk trains in about 2 ms against skip-gram's 8, so CBOW syncs after 4 of them:
     * the rows then reach the other threads about as late in time as skip-gram's */
    FNN_W2V_CONTEXT_SYNC_CHUNKS_SG = 1,
    FNN_W2V_CONTEXT_SYNC_CHUNKS_CBOW = 4,
    /* buckets of the negatives' guide table (256 KiB): about one vocabulary word a bucket
     * at 40,000 words, so a draw's scan rarely takes a step.  A binary search over the
     * cumulative table instead (16 dependent loads a draw) took 14% of 1-thread CBOW's
     * time, and skip-gram draws 5 times as many negatives a word */
    FNN_W2V_GUIDE_SIZE = 1 << 16
};

typedef struct {
    float *syn0, *syn1;           /* (vocab, dim) row-major, updated in place */
    ptrdiff_t vocab, dim;
    const uint32_t *cum_table;    /* (vocab,) cumulative unigram^ns_exponent, last > 0 */
    const uint32_t *sample_int;   /* (vocab,) keep probability * 2^32 (UINT32_MAX: keep) */
    int sg, cbow_mean, window, negative, compute_loss;
    ptrdiff_t private_rows;       /* syn1 rows 0..private_rows-1 private per thread (threads > 1), */
    float *copies;                /* in (threads, private_rows, dim) floats */
    int copies_synced;            /* the copies hold syn1's rows already (as the last call on
                                   * them left them): not copied in again */
    ptrdiff_t context_rows;       /* syn0 rows 0..context_rows-1 private per thread (threads >
                                   * 1), added to syn0 after every chunk, */
    float *context_copies;        /* in (threads, 2, context_rows, dim) floats: the copy, its base */
    const uint32_t *guide;        /* set by the trainer from cum_table (draw_negative in w2v.c) */
    int guide_shift;
} fnn_w2v_model;

typedef struct {
    const int32_t *tokens;        /* indices into the vocabulary */
    const int64_t *sent_start;    /* sentence s: tokens[sent_start[s] : sent_start[s+1]] */
    const int64_t *chunk_start;   /* chunk c: sentences chunk_start[c] .. chunk_start[c+1]-1 */
} fnn_w2v_corpus;

typedef struct {
    double alpha, min_alpha;      /* learning rate decays linearly from alpha to min_alpha */
    int64_t words_before;         /* words trained before this call (all epochs) */
    int64_t total_words;          /* words of the whole training run (all epochs) */
    uint64_t seed;                /* mixed with the chunk index for each chunk's stream */
} fnn_w2v_schedule;

typedef struct {
    double loss;                  /* sum of the negative-sampling losses (compute_loss) */
    int64_t words;                /* raw words of the chunks trained */
    int64_t effective;            /* words left after subsampling */
} fnn_w2v_result;

/* Trains chunks c0 .. c1-1 of the corpus on `threads` threads.  Returns 0, or -1 when
 * a per-thread buffer cannot be allocated (nothing trained then). */
int fnn_w2v_train(const fnn_w2v_model *m, const fnn_w2v_corpus *corpus, int64_t c0,
                  int64_t c1, const fnn_w2v_schedule *sched, int threads,
                  fnn_w2v_result *result);

/* One update as fnn_w2v_train makes it, with the window and the negatives given: the
 * centre word outs[0], negatives outs[1..n_out-1], context rows ctx[0..n_ctx-1].
 * Returns the loss of the update (-1 out of memory).  The tests' deterministic entry. */
double fnn_w2v_update(const fnn_w2v_model *m, const int32_t *ctx, int n_ctx,
                      const int32_t *outs, int n_out, float alpha);

/* n words drawn as the negatives are (only m->vocab and m->cum_table are read).  Returns
 * 0, or -1 when the guide table cannot be allocated (nothing drawn then). */
int fnn_w2v_draw_negatives(const fnn_w2v_model *m, uint64_t seed, int64_t n, int32_t *out);

/* ---- vocabulary (w2v_vocab.c) ------------------------------------------------------
 * Tokens are maximal runs of bytes other than ASCII whitespace.  The counter gives each
 * distinct token an id in order of first appearance and counts it; the tokeniser turns
 * text into the ids of the tokens it knows, a newline ending a sentence. */
typedef struct fnn_vocab fnn_vocab;

enum {
    FNN_W2V_MAX_PIECES = 32 /* at most this many threads tokenise one block */
};

fnn_vocab *fnn_vocab_new(void);
void fnn_vocab_free(fnn_vocab *v);
/* Counts the complete tokens of buf[0..n-1]; unless `final`, a token running to the end
 * of buf is left for the next call.  `threads` threads count pieces of the block into
 * tables of their own, merged in order: the result does not depend on their number.
 * Returns the bytes consumed, or -1 out of memory. */
ptrdiff_t fnn_vocab_feed(fnn_vocab *v, const char *buf, ptrdiff_t n, int final, int threads);
/* The id of `key` (added with count 0 if new), or -1 out of memory. */
int32_t fnn_vocab_add(fnn_vocab *v, const char *key, ptrdiff_t n);
ptrdiff_t fnn_vocab_size(const fnn_vocab *v);
/* Token `id`: its bytes (not NUL-terminated), length and count. */
const char *fnn_vocab_key(const fnn_vocab *v, ptrdiff_t id, ptrdiff_t *len, int64_t *count);
/* The ids of the known tokens of the complete lines of buf[0..n-1] (all of it when
 * `final`; a block without a newline is cut after its last whitespace), unknown tokens
 * dropped: *ntokens ids to `tokens` and *nsent + 1 sentence offsets to `sent` (sentence s
 * is tokens[sent[s] : sent[s+1]]; a newline ends a sentence, and so does its
 * FNN_W2V_MAX_SENTENCE-th id; empty sentences are left out).  Both arrays need room for
 * n / 2 + FNN_W2V_MAX_PIECES + 1 entries.  `threads` threads tokenise pieces of the
 * block at once; the result does not depend on their number.  Returns the bytes
 * consumed.  Reads v only: many calls may share it. */
ptrdiff_t fnn_vocab_tokenize(const fnn_vocab *v, const char *buf, ptrdiff_t n, int final,
                             int threads, int32_t *tokens, int64_t *sent, int64_t *ntokens,
                             int64_t *nsent);

#endif
