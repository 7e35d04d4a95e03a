"""The word2vec kernel layer: one update against the NumPy reference, the negative draws,
subsampling, the trainer's arguments, and the byte-level vocabulary counter."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastnn import reference

DIMS = [1, 7, 8, 15, 16, 17, 37, 100, 131]


def _tables(counts):
    counts = np.asarray(counts, dtype=np.float64)
    cum = np.round(np.cumsum(counts ** 0.75) / np.sum(counts ** 0.75) * (2 ** 31 - 1))
    return cum.astype(np.uint32), np.full(len(counts), 2 ** 32 - 1, dtype=np.uint32)


def _vectors(rng, vocab, dim):
    syn0 = ((rng.random((vocab, dim)) - 0.5) / dim * 20).astype(np.float32)
    syn1 = (rng.standard_normal((vocab, dim)) * 0.3).astype(np.float32)
    return syn0, syn1


def _check_update(kmod, rng, vocab, dim, n_ctx, n_out, sg, cbow_mean, alpha=0.05):
    syn0, syn1 = _vectors(rng, vocab, dim)
    ctx = rng.integers(0, vocab, n_ctx).astype(np.int32)
    outs = rng.integers(0, vocab, n_out).astype(np.int32)
    k0, k1, r0, r1 = syn0.copy(), syn1.copy(), syn0.copy(), syn1.copy()
    loss = kmod.word2vec_update(k0, k1, ctx, outs, sg=sg, cbow_mean=cbow_mean, alpha=alpha)
    want = reference.word2vec_update(r0, r1, ctx, outs, sg=sg, cbow_mean=cbow_mean, alpha=alpha)
    scale = max(1.0, np.abs(syn0).max(), np.abs(syn1).max()) * max(n_ctx, n_out)
    np.testing.assert_allclose(k0, r0, rtol=1e-5, atol=2e-6 * scale)
    np.testing.assert_allclose(k1, r1, rtol=1e-5, atol=2e-6 * scale)
    assert loss == pytest.approx(want, rel=1e-5, abs=1e-5)
    return not np.array_equal(k0, syn0) and not np.array_equal(k1, syn1)


@pytest.mark.parametrize("sg,cbow_mean", [(1, 1), (0, 1), (0, 0)], ids=["sg", "cbow-mean", "cbow-sum"])
@pytest.mark.parametrize("dim", DIMS)
def test_update_matches_reference(kmod, sg, cbow_mean, dim):
    rng = np.random.default_rng(dim)
    for n_ctx, n_out in [(1, 1), (1, 2), (2, 6), (5, 3), (10, 6), (7, 11)]:
        assert _check_update(kmod, rng, 13, dim, n_ctx, n_out, sg, cbow_mean)


def test_update_repeated_words(kmod):
    """Context words and negatives that repeat (also the centre among the contexts'
    rows of the other matrix) add up their updates, as np.add.at does (skip-gram: pair
    after pair)."""
    rng = np.random.default_rng(1)
    for sg in (0, 1):
        syn0, syn1 = _vectors(rng, 4, 9)
        ctx = np.array([2, 2, 2, 1], np.int32)
        outs = np.array([1, 3, 3, 3], np.int32)
        k0, k1, r0, r1 = syn0.copy(), syn1.copy(), syn0.copy(), syn1.copy()
        kmod.word2vec_update(k0, k1, ctx, outs, sg=sg, cbow_mean=True, alpha=0.5)
        reference.word2vec_update(r0, r1, ctx, outs, sg=sg, cbow_mean=True, alpha=0.5)
        np.testing.assert_allclose(k0, r0, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(k1, r1, rtol=1e-5, atol=1e-6)


# alpha up to 10x word2vec's default: past ~0.25, updates chained on one row (a small
# vocabulary, skip-gram's pairs) amplify float32 rounding past rtol 1e-5 (vocab 1, 8 pairs
# of 5 outputs, alpha 1: the kernel 1.2e-5 from a float64 reference, the float32 one
# 1.4e-6; 15 of 13,488 random cases above 0.25 failed, none of 4,512 below, where the
# kernel stayed within 2.4x the float32 reference's distance from float64)
@settings(max_examples=40, deadline=None)
@given(vocab=st.integers(1, 30), dim=st.integers(1, 70), n_ctx=st.integers(1, 12),
       n_out=st.integers(1, 8), sg=st.booleans(), cbow_mean=st.booleans(),
       alpha=st.floats(0.0, 0.25), seed=st.integers(0, 2 ** 32 - 1))
def test_update_property(vocab, dim, n_ctx, n_out, sg, cbow_mean, alpha, seed):
    from fastnn import _dispatch
    for kmod in _dispatch.modules.values():
        _check_update(kmod, np.random.default_rng(seed), vocab, dim, n_ctx, n_out, sg,
                      cbow_mean, alpha)


def test_update_gradient_by_finite_differences():
    """The reference update is a gradient step: its change equals -alpha * d(loss) to
    first order (float64 central differences of the loss)."""
    rng = np.random.default_rng(2)
    for sg, cbow_mean in [(1, True), (0, True), (0, False)]:
        syn0 = rng.standard_normal((6, 5)) * 0.5
        syn1 = rng.standard_normal((6, 5)) * 0.5
        ctx, outs = np.array([0, 1, 4]), np.array([2, 3, 5])

        def loss(s0, s1):
            return reference.word2vec_update(s0.copy(), s1.copy(), ctx, outs, sg=sg,
                                             cbow_mean=cbow_mean, alpha=0.0)

        alpha, eps = 1e-4, 1e-6
        n0, n1 = syn0.copy(), syn1.copy()
        reference.word2vec_update(n0, n1, ctx, outs, sg=sg, cbow_mean=cbow_mean, alpha=alpha)

        def numeric_grad(f, a, rows):
            grad = np.zeros_like(a)
            for i in rows:
                for j in range(a.shape[1]):
                    p, m = a.copy(), a.copy()
                    p[i, j] += eps
                    m[i, j] -= eps
                    grad[i, j] = (f(p) - f(m)) / (2 * eps)
            return grad

        grad1 = numeric_grad(lambda s1: loss(syn0, s1), syn1, outs)
        np.testing.assert_allclose((n1 - syn1) / alpha, -grad1, rtol=1e-3, atol=1e-6)
        grad0 = numeric_grad(lambda s0: loss(s0, syn1), syn0, ctx)
        # CBOW applies the error of h to each context row: the full error for the mean
        # (word2vec.c), the error over n for the sum (gensim)
        scale = 1.0 if sg else len(ctx) if cbow_mean else 1.0 / len(ctx)
        np.testing.assert_allclose((n0 - syn0) / alpha, -grad0 * scale, rtol=1e-3, atol=1e-6)


def test_negatives_follow_the_table(kmod):
    counts = np.array([50, 0, 1, 30, 7, 200, 3], dtype=np.float64)
    cum = np.cumsum(counts).astype(np.uint32)
    draws = kmod.word2vec_draw_negatives(cum, 200_000, 7)
    freq = np.bincount(draws, minlength=len(counts)) / len(draws)
    expected = counts / counts.sum()
    assert freq[1] == 0
    assert (np.abs(freq - expected) <= 4 * np.sqrt(expected / len(draws)) + 1e-4).all()
    assert np.array_equal(draws, kmod.word2vec_draw_negatives(cum, 200_000, 7))
    assert not np.array_equal(draws, kmod.word2vec_draw_negatives(cum, 200_000, 8))
    for vocab in (1, 2, 3, 64, 1000):  # every slot reachable, none beyond the table
        d = kmod.word2vec_draw_negatives(np.arange(1, vocab + 1, dtype=np.uint32), 20 * vocab, 1)
        assert d.min() >= 0 and d.max() < vocab and len(np.unique(d)) > 0.9 * vocab


def _reference_draws(cum, n, seed):
    """The trainer's negatives by definition: its random stream (splitmix64 seeding,
    xorshift64*, multiply-shift below the total) and, for each draw r, the first word whose
    cumulative weight exceeds r (NumPy's binary search)."""
    m = (1 << 64) - 1
    x = (seed + 0x9E3779B97F4A7C15) & m
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & m
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & m
    state = (x ^ (x >> 31)) | 1
    total, r = int(cum[-1]), np.empty(n, np.uint64)
    for i in range(n):
        state ^= state >> 12
        state ^= (state << 25) & m
        state ^= state >> 27
        r[i] = (((state * 0x2545F4914F6CDD1D) & m) >> 32) * total >> 32
    return np.searchsorted(cum.astype(np.uint64), r, side="right")


@pytest.mark.parametrize("total", [1, 7, 65_535, 65_536, 65_537, 1 << 20, 2 ** 31 - 1])
def test_negatives_are_the_first_word_whose_cumulative_weight_exceeds_the_draw(kmod, total):
    # tables whose total spans fewer buckets than the guide table has, exactly as many, and
    # many more; Zipf weights (the head spans many buckets, the tail shares them) with words
    # of weight 0 among them
    rng = np.random.default_rng(total)
    vocab = int(min(total, 3_000))
    weights = 1.0 / np.arange(1, vocab + 1) ** 0.75
    weights[rng.choice(vocab, vocab // 10, replace=False)] = 0
    weights[-1] = max(weights[-1], 1e-3)
    cum = np.round(np.cumsum(weights) / weights.sum() * total).astype(np.uint32)
    cum[-1] = total
    seed = int(rng.integers(1 << 62))
    draws = kmod.word2vec_draw_negatives(cum, 10_000, seed)
    np.testing.assert_array_equal(draws, _reference_draws(cum, 10_000, seed))

def _corpus(rng, vocab, n_sent, length):
    tokens = rng.integers(0, vocab, n_sent * length).astype(np.int32)
    sent = np.arange(0, n_sent * length + 1, length, dtype=np.int64)
    chunks = np.arange(0, n_sent + 1, 4, dtype=np.int64)
    if chunks[-1] != n_sent:
        chunks = np.append(chunks, n_sent)
    return tokens, sent, chunks


def _train(kmod, syn0, syn1, cum, sample, tokens, sent, chunks, **kw):
    args = dict(sg=1, cbow_mean=True, window=3, negative=4, alpha=0.05, min_alpha=0.001,
                words_before=0, total_words=len(tokens), seed=5, compute_loss=True, threads=1)
    args.update(kw)
    return kmod.word2vec_train(syn0, syn1, cum, sample, tokens, sent, chunks, 0,
                               len(chunks) - 1, **args)


def test_train_reproducible_and_seeded(kmod):
    rng = np.random.default_rng(3)
    cum, sample = _tables(rng.integers(1, 100, 40))
    tokens, sent, chunks = _corpus(rng, 40, 30, 17)
    results = []
    for seed in (5, 5, 6):
        syn0, syn1 = _vectors(np.random.default_rng(0), 40, 12)
        loss, words, eff = _train(kmod, syn0, syn1, cum, sample, tokens, sent, chunks, seed=seed)
        assert words == eff == len(tokens) and loss > 0
        results.append((syn0, syn1, loss))
    assert np.array_equal(results[0][0], results[1][0]) and results[0][2] == results[1][2]
    assert not np.array_equal(results[0][0], results[2][0])


@pytest.mark.parametrize("sg,cbow_mean", [(1, 1), (0, 1), (0, 0)], ids=["sg", "cbow-mean", "cbow-sum"])
def test_train_matches_reference_draw_for_draw(kmod, sg, cbow_mean):
    """The trainer on one thread against the NumPy reference of its arithmetic and random
    stream: subsampling, window shrink, learning-rate decay, and the negatives (drawn
    per (context, centre) pair in skip-gram: shared ones would change every row)."""
    rng = np.random.default_rng(8)
    vocab, dim = 11, 7
    cum, sample = _tables(rng.integers(1, 60, vocab))
    sample[[0, 3]] = [2 ** 31, 2 ** 30]  # words 0 and 3 kept half and a quarter the time
    tokens = rng.integers(0, vocab, 90).astype(np.int32)
    sent = np.array([0, 1, 13, 30, 31, 52, 90], dtype=np.int64)
    chunks = np.array([0, 2, 3, 6], dtype=np.int64)
    syn0, syn1 = _vectors(rng, vocab, dim)
    k0, k1, r0, r1 = syn0.copy(), syn1.copy(), syn0.copy(), syn1.copy()
    args = dict(sg=sg, cbow_mean=cbow_mean, window=3, negative=4, alpha=0.2, min_alpha=0.01,
                words_before=40, total_words=200, seed=11)
    got = kmod.word2vec_train(k0, k1, cum, sample, tokens, sent, chunks, 0, 3,
                              compute_loss=True, threads=1, **args)
    want = reference.word2vec_train(r0, r1, cum, sample, tokens, sent, chunks, 0, 3, **args)
    assert got[1:] == want[1:] and want[2] < want[1]
    assert got[0] == pytest.approx(want[0], rel=1e-5)
    np.testing.assert_allclose(k0, r0, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(k1, r1, rtol=1e-5, atol=1e-5)
    assert not np.allclose(k0, syn0, atol=1e-3) and not np.allclose(k1, syn1, atol=1e-3)


def test_train_threads_cover_the_corpus(kmod):
    rng = np.random.default_rng(4)
    cum, sample = _tables(rng.integers(1, 100, 40))
    tokens, sent, chunks = _corpus(rng, 40, 200, 11)
    syn0, syn1 = _vectors(rng, 40, 16)
    loss, words, eff = _train(kmod, syn0, syn1, cum, sample, tokens, sent, chunks, threads=2)
    assert words == eff == len(tokens) and np.isfinite(loss) and np.isfinite(syn0).all()


def test_train_private_rows_ignored_on_one_thread(kmod):
    """One thread trains every row in place: private copies change nothing, bit for bit."""
    rng = np.random.default_rng(10)
    cum, sample = _tables(rng.integers(1, 100, 25))
    tokens, sent, chunks = _corpus(rng, 25, 60, 13)
    runs = []
    for rows, context_rows in ((None, None), (9, None), (25, 25), (None, 7)):
        syn0, syn1 = _vectors(np.random.default_rng(2), 25, 10)
        buffer = None if rows is None else np.zeros((1, rows, 10), np.float32)
        context = None if context_rows is None else np.zeros((1, 2, context_rows, 10), np.float32)
        runs.append((syn0, syn1, _train(kmod, syn0, syn1, cum, sample, tokens, sent, chunks,
                                        copies=buffer, context_copies=context)))
    for syn0, syn1, result in runs[1:]:
        assert np.array_equal(syn0, runs[0][0]) and np.array_equal(syn1, runs[0][1])
        assert result == runs[0][2]


def _private_change(kmod, start, data, private, rows, threads, **kw):
    """Train (syn0, syn1) copies of `start` on `data` (cum, sample, tokens, sent, chunks)
    with the first `rows` rows of `private` ("syn1": ``copies``, "syn0":
    ``context_copies``, NaN-filled) private per thread; the change of those rows."""
    vectors = start[0].copy(), start[1].copy()
    which = 1 if private == "syn1" else 0
    dim = start[0].shape[1]
    own = ({"copies": np.full((threads, rows, dim), np.nan, np.float32)} if which
           else {"context_copies": np.full((threads, 2, rows, dim), np.nan, np.float32)})
    sent, chunks = data[3], data[4]
    _, words, eff = _train(kmod, *vectors, *data, threads=threads, **own, **kw)
    assert words == eff == sent[chunks[-1]]
    return (vectors[which] - start[which])[:rows]


@pytest.mark.parametrize("sg", [1, 0], ids=["sg", "cbow"])
@pytest.mark.parametrize("threads", [2, 3])
@pytest.mark.parametrize("rows", [30, 7], ids=["all-private", "7-private"])
@pytest.mark.parametrize("private", ["syn1", "syn0"])
def test_train_private_rows_sum_every_threads_updates(kmod, rows, threads, sg, private):
    """Threads, each training the first `rows` rows of syn1 in a private copy merged
    after each round (16 chunks a thread for skip-gram; for CBOW 256 chunks of all
    threads, at least 64 a thread; ``copies``) or of
    syn0 in one synced every few chunks (``context_copies``), against one thread, at a
    learning rate small enough for the updates to add up whatever their order and
    staleness: the change of the private rows is one thread's within a third of a
    round's (a round of 5 * per_round chunks of 30 sentences: the error of one thread's
    round lost or applied twice at a merge; 5 rounds' worth is no multiple of 2 or 3
    threads' rounds, so the last round is short).  (The shared rows are not compared:
    concurrent updates of a shared row can lose one.)"""
    per_round = 16 if sg else max(64, 256 // threads)
    rng = np.random.default_rng(9)
    vocab, dim, alpha = 30, 64, 1e-4
    cum, sample = _tables(rng.integers(1, 100, vocab) * np.arange(vocab, 0, -1))
    n_chunks = 5 * per_round
    tokens, sent, _ = _corpus(rng, vocab, 30 * n_chunks, 10)
    chunks = np.arange(0, 30 * n_chunks + 1, 30, dtype=np.int64)

    start = _vectors(np.random.default_rng(1), vocab, dim)

    def change(threads, last=n_chunks):
        return _private_change(kmod, start, (cum, sample, tokens, sent, chunks[:last + 1]),
                               private, rows, threads, sg=sg, alpha=alpha, min_alpha=alpha)

    want = change(1)
    lost = np.linalg.norm(change(1, last=n_chunks - per_round) - want)
    assert lost > 0.1 * np.linalg.norm(want)  # the size of the error the test must catch
    for _ in range(3):
        assert np.linalg.norm(change(threads) - want) < lost / 3


@pytest.mark.parametrize("sg", [1, 0], ids=["sg", "cbow"])
def test_train_private_context_rows_reach_syn0_at_the_end(kmod, sg):
    """A thread adds its private syn0 rows to syn0 every few chunks (4 for CBOW) and at the
    end of the call: with fewer chunks in all than that (so whichever thread takes them),
    the change of those rows is still one thread's (lost, it would be all of it)."""
    rng = np.random.default_rng(12)
    vocab, dim, alpha, rows = 20, 32, 1e-4, 8
    cum, sample = _tables(rng.integers(1, 100, vocab) * np.arange(vocab, 0, -1))
    tokens, sent, _ = _corpus(rng, vocab, 30 * 3, 10)
    chunks = np.arange(0, 30 * 3 + 1, 30, dtype=np.int64)  # 3 chunks: no thread reaches 4
    start = _vectors(np.random.default_rng(1), vocab, dim)

    def change(threads):
        return _private_change(kmod, start, (cum, sample, tokens, sent, chunks), "syn0", rows,
                               threads, sg=sg, alpha=alpha, min_alpha=alpha)

    want = change(1)
    assert np.linalg.norm(want) > 0
    for _ in range(3):
        assert np.linalg.norm(change(2) - want) < 0.2 * np.linalg.norm(want)


def test_train_synced_copies_are_not_copied_in(kmod):
    """synced=True trusts the copies to hold syn1's private rows (as the previous call left
    them): NaN copies then reach syn1's private rows at the merge; synced=False copies the
    rows in first."""
    rng = np.random.default_rng(4)
    cum, sample = _tables(rng.integers(1, 100, 20))
    tokens, sent, chunks = _corpus(rng, 20, 200, 8)
    for synced in (False, True):
        syn0, syn1 = _vectors(np.random.default_rng(2), 20, 16)
        _train(kmod, syn0, syn1, cum, sample, tokens, sent, chunks, threads=2,
               copies=np.full((2, 5, 16), np.nan, np.float32), synced=synced)
        if synced:
            assert np.isnan(syn1[:5]).all()
        else:
            assert np.isfinite(syn0).all() and np.isfinite(syn1).all()


def test_subsampling_keeps_the_expected_share(kmod):
    rng = np.random.default_rng(5)
    cum, _ = _tables(np.ones(10))
    keep = np.linspace(0.05, 1.0, 10)
    sample = np.where(keep >= 1, 2 ** 32 - 1, keep * (2 ** 32 - 1)).astype(np.uint32)
    tokens, sent, chunks = _corpus(rng, 10, 2000, 20)
    syn0, syn1 = _vectors(rng, 10, 4)
    _, words, eff = _train(kmod, syn0, syn1, cum, sample, tokens, sent, chunks)
    expected = keep[tokens].sum()
    assert words == len(tokens)
    assert abs(eff - expected) < 5 * np.sqrt(expected)


def test_learning_rate_zero_changes_nothing(kmod):
    rng = np.random.default_rng(6)
    cum, sample = _tables(rng.integers(1, 9, 20))
    tokens, sent, chunks = _corpus(rng, 20, 10, 9)
    syn0, syn1 = _vectors(rng, 20, 8)
    a0, a1 = syn0.copy(), syn1.copy()
    _train(kmod, a0, a1, cum, sample, tokens, sent, chunks, alpha=0.0, min_alpha=0.0)
    assert np.array_equal(a0, syn0) and np.array_equal(a1, syn1)


def test_train_rejects_bad_arguments(kmod):
    rng = np.random.default_rng(7)
    cum, sample = _tables(rng.integers(1, 9, 20))
    tokens, sent, chunks = _corpus(rng, 20, 10, 9)
    syn0, syn1 = _vectors(rng, 20, 8)

    def call(**bad):
        a = dict(syn0=syn0, syn1=syn1, cum=cum, sample=sample, tokens=tokens, sent=sent,
                 chunks=chunks)
        kw = {k: bad.pop(k) for k in list(bad) if k not in a}
        a.update(bad)
        return _train(kmod, a["syn0"], a["syn1"], a["cum"], a["sample"], a["tokens"], a["sent"],
                      a["chunks"], **kw)

    before = syn0.copy()
    with pytest.raises(ValueError, match="syn0"):
        call(syn0=syn0.astype(np.float64))
    with pytest.raises(ValueError, match="syn1"):
        call(syn1=syn1[:5])
    with pytest.raises(ValueError, match="syn1"):
        ro = syn1.copy()
        ro.flags.writeable = False
        call(syn1=ro)
    with pytest.raises(ValueError, match="syn0"):
        call(syn0=np.asfortranarray(syn0))
    with pytest.raises(ValueError, match="cum_table"):
        call(cum=cum.astype(np.int64))
    with pytest.raises(ValueError, match="cum_table"):
        call(cum=np.zeros_like(cum))
    with pytest.raises(ValueError, match="tokens"):
        bad = tokens.copy()
        bad[17] = 20
        call(tokens=bad)
    with pytest.raises(ValueError, match="tokens"):
        bad = tokens.copy()
        bad[3] = -1
        call(tokens=bad)
    with pytest.raises(ValueError, match="sent_start"):
        bad = sent.copy()
        bad[4] = bad[6]
        call(sent=bad)
    with pytest.raises(ValueError, match="sent_start"):
        call(sent=sent + 1)
    with pytest.raises(ValueError, match="chunk_start"):
        call(chunks=chunks[::-1].copy())
    with pytest.raises(ValueError, match="window"):
        call(window=0)
    with pytest.raises(ValueError, match="negative"):
        call(negative=0)
    with pytest.raises(ValueError, match="threads"):
        call(threads=0)
    for bad in (np.zeros((1, 2, 3, 8), np.float32), np.zeros((2, 1, 3, 8), np.float32),
                np.zeros((2, 2, 3, 7), np.float32), np.zeros((2, 3, 8), np.float32),
                np.zeros((2, 2, 3, 8), np.float64)):
        with pytest.raises(ValueError, match="^context_copies must"):
            call(threads=2, context_copies=bad)
    with pytest.raises(TypeError, match="^context_copies must"):
        call(threads=2, context_copies=[[1.0]])
    for bad in (np.zeros((1, 3, 8), np.float32), np.zeros((2, 3, 7), np.float32),
                np.zeros((2, 3, 8, 1), np.float32), np.zeros((2, 3, 8), np.float64)):
        with pytest.raises(ValueError, match="copies"):
            call(threads=2, copies=bad)
    with pytest.raises(TypeError, match="copies"):
        call(threads=2, copies=[[1.0]])
    with pytest.raises(ValueError, match="alpha"):
        call(alpha=0.01, min_alpha=0.1)
    with pytest.raises(ValueError, match="c0, c1"):
        kmod.word2vec_train(syn0, syn1, cum, sample, tokens, sent, chunks, 0, len(chunks),
                            sg=1, cbow_mean=1, window=2, negative=2, alpha=0.1, min_alpha=0,
                            words_before=0, total_words=1, seed=0, compute_loss=0, threads=1)
    with pytest.raises(ValueError, match="ctx"):
        kmod.word2vec_update(syn0, syn1, np.array([20], np.int32), np.array([1], np.int32),
                             sg=1, cbow_mean=1, alpha=0.1)
    with pytest.raises(ValueError, match="at least one"):
        kmod.word2vec_update(syn0, syn1, np.array([], np.int32), np.array([1], np.int32),
                             sg=1, cbow_mean=1, alpha=0.1)
    assert np.array_equal(syn0, before)


# ------------------------------------------------------------------ vocabulary counter
def _count(kmod, data: bytes, cuts):
    """Count ``data`` fed in blocks cut at ``cuts``; then tokenise it whole with the
    counter as the table (every token known: ids in order of first appearance)."""
    counter = kmod.VocabCounter()
    pending, start = b"", 0
    for cut in list(cuts) + [len(data)]:
        block = pending + data[start:cut]
        pending = block[counter.feed(block):]
        start = cut
    counter.feed(pending, final=True)
    keys, counts = counter.vocabulary()
    ids, sent = _tokenize(counter, data, True)[1:]
    return keys, counts, ids, sent


def _tokenize(table, data: bytes, final: bool, threads: int = 1):
    room = table.room(len(data))
    tokens, sent = np.full(room, -7, np.int32), np.full(room, -7, np.int64)
    used, nt, ns = table.tokenize(data, final, threads, tokens, sent)
    return used, tokens[:nt], sent[:ns + 1]


def _python_count(data: bytes, known=None):
    """Keys in order of first appearance, the ids of the tokens in ``known`` (all when
    None; ids then index ``known``), and the non-empty sentences of at most 10,000 ids."""
    keys, ids, sentences = {}, [], []
    for line in data.split(b"\n"):
        for t in line.split():
            keys.setdefault(t, len(keys))
        toks = [t for t in line.split() if known is None or t in known]
        index = keys if known is None else {k: i for i, k in enumerate(known)}
        for k in range(0, len(toks), 10000):
            piece = [index[t] for t in toks[k:k + 10000]]
            if piece:
                sentences.append(piece)
                ids += piece
    return list(keys), ids, sentences


@settings(max_examples=60, deadline=None)
@given(text=st.lists(st.sampled_from([b"a", b"bb", b"c\xc3\xa9", b" ", b"  ", b"\n", b"\t",
                                      b"\r\n", b"dd", b"a b", b"\x0b", b"\x0c"]), max_size=60),
       cuts=st.lists(st.integers(0, 200), max_size=6))
def test_counter_matches_python_split(text, cuts):
    from fastnn import _dispatch
    data = b"".join(text)
    want_keys, want_ids, sentences = _python_count(data)
    for kmod in _dispatch.modules.values():
        keys, counts, ids, sent = _count(kmod, data, sorted(c for c in cuts if c <= len(data)))
        assert keys == want_keys
        assert ids.tolist() == want_ids
        assert counts.tolist() == np.bincount(want_ids, minlength=len(keys)).tolist()
        assert np.diff(sent).tolist() == [len(s) for s in sentences]


def test_counter_splits_long_sentences_and_grows(kmod):
    words = [b"w%d" % i for i in range(25_000)]
    data = b" ".join(words) + b"\nx y\n"
    keys, counts, ids, sent = _count(kmod, data, range(4096, len(data), 4096))
    assert len(keys) == 25_002 and counts.sum() == 25_002 == len(ids)
    assert np.diff(sent).tolist() == [10_000, 10_000, 5_000, 2]
    assert kmod.W2V_MAX_SENTENCE == 10_000


def test_counter_empty(kmod):
    keys, counts, ids, sent = _count(kmod, b" \n\n \t", [2])
    assert keys == [] and len(counts) == 0 and len(ids) == 0 and sent.tolist() == [0]


@pytest.mark.parametrize("threads", [1, 2, 5])
def test_tokenize_drops_unknown_words_in_parallel_pieces(kmod, threads):
    """A block large enough to be cut in pieces for several threads: the same ids and
    sentences as Python's split, whatever the thread count; unknown words dropped,
    sentences left empty by them left out, long ones split after 10,000 known words."""
    rng = np.random.default_rng(11)
    words = [b"w%d" % i for i in range(300)]
    lines = [b" ".join(rng.choice(words, rng.integers(0, 30))) for _ in range(20_000)]
    lines[7] = b" ".join([b"w0", b"zz"] * 12_000)  # 24,000 words, 12,000 known
    data = b"\n".join(lines) + b"\n\t w2"
    known = words[::3]
    table = kmod.VocabCounter()
    table.add(known)
    _, want_ids, sentences = _python_count(data, known)
    used, ids, sent = _tokenize(table, data, True, threads)
    assert used == len(data) and len(data) > 6 * 65536
    assert ids.tolist() == want_ids
    assert np.diff(sent).tolist() == [len(s) for s in sentences]


@pytest.mark.parametrize("threads", [2, 3, 32])
def test_counter_in_parallel_pieces_as_one_thread(kmod, threads):
    """Blocks large enough to be counted in pieces by several threads, cut mid-token and
    mid-line, separated by every kind of whitespace and with words first seen in the
    later pieces: the same keys in the same order and the same counts as one thread."""
    rng = np.random.default_rng(5)
    words = np.array([b"w%d" % i for i in range(6000)] + [b"\xc3\xa9t\xc3\xa9"], dtype=object)
    seps = np.array([b" ", b"\n", b"\t", b"\r\n", b"  ", b"\x0b", b"\x0c"], dtype=object)
    # later words are more frequent in later parts, so each piece brings new keys
    n = 120_000
    picks = np.minimum(rng.integers(0, 6001, n), np.arange(n) * 6001 // n + 50)
    text = b"".join(w + sep for w, sep in zip(words[picks], seps[rng.integers(0, 7, n)]))
    data = b" \n" + text + b"tail"
    assert len(data) > 8 * 65536
    cuts = [300_001, 700_003]

    def count(t):
        counter = kmod.VocabCounter()
        pending, start = b"", 0
        for cut in cuts + [len(data)]:
            block = pending + data[start:cut]
            pending = block[counter.feed(block, False, t):]
            start = cut
        assert counter.feed(pending, True, t) == len(pending)
        return counter.vocabulary()

    want_keys, want_counts = count(1)
    keys, counts = count(threads)
    assert keys == want_keys == list(dict.fromkeys(data.split()))
    assert counts.tolist() == want_counts.tolist()
    assert counts.sum() == len(data.split())


def test_counter_rejects_bad_threads(kmod):
    with pytest.raises(ValueError, match="threads must be >= 1; received 0"):
        kmod.VocabCounter().feed(b"a b", True, 0)


def test_tokenize_takes_complete_lines_of_a_block(kmod):
    table = kmod.VocabCounter()
    table.add([b"a", b"b", b"c"])
    used, ids, sent = _tokenize(table, b"a b\nc a\nb c", False)
    assert used == 8 and ids.tolist() == [0, 1, 2, 0] and sent.tolist() == [0, 2, 4]
    used, ids, sent = _tokenize(table, b"a b c a", False)  # no newline: cut at a space
    assert used == 6 and ids.tolist() == [0, 1, 2] and sent.tolist() == [0, 3]
    assert _tokenize(table, b"abc", False)[0] == 0
    used, ids, sent = _tokenize(table, b"abc c", True)
    assert used == 5 and ids.tolist() == [2] and sent.tolist() == [0, 1]


def test_tokenize_and_add_reject_bad_arguments(kmod):
    table = kmod.VocabCounter()
    table.add([b"a"])
    ok32, ok64 = np.empty(table.room(3), np.int32), np.empty(table.room(3), np.int64)
    with pytest.raises(ValueError, match="need 34 entries for 3 bytes"):
        table.tokenize(b"a a", True, 1, ok32[:-1], ok64)
    with pytest.raises(ValueError, match="sent_out"):
        table.tokenize(b"a a", True, 1, ok32, ok64.astype(np.int32))
    with pytest.raises(ValueError, match="writeable"):
        ok32.flags.writeable = False
        table.tokenize(b"a a", True, 1, ok32, ok64)
    with pytest.raises(ValueError, match="threads"):
        table.tokenize(b"a a", True, 0, ok32, ok64)
    with pytest.raises(TypeError, match="bytes"):
        table.add(["a"])
    with pytest.raises(ValueError, match="non-empty"):
        table.add([b""])
