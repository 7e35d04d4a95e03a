"""fastnn.Word2Vec: vocabulary rules, training quality on corpora with planted word
groups, reproducibility, the per-epoch loss, files, progress and bad input."""
import gzip
import math

import numpy as np
import pytest

import fastnn
from fastnn import Word2Vec

GROUPS = [[f"g{g}w{i}" for i in range(6)] for g in range(6)]


def planted_corpus(n_sentences=1500, length=10, seed=0):
    """Each sentence draws its words from one group: members share their contexts."""
    rng = np.random.default_rng(seed)
    return [[str(w) for w in rng.choice(GROUPS[rng.integers(len(GROUPS))], length)]
            for _ in range(n_sentences)]


def assert_groups_found(wv):
    vectors = wv.vectors / np.linalg.norm(wv.vectors, axis=1, keepdims=True)
    sims = vectors @ vectors.T
    for group in GROUPS:
        idx = [wv.key_to_index[w] for w in group]
        others = [i for i in range(len(vectors)) if i not in idx]
        for i in idx:
            within = np.delete(sims[i, idx], idx.index(i))
            assert within.min() > sims[i, others].max(), group


def _model(sentences, **kw):
    args = dict(vector_size=16, window=3, min_count=1, epochs=5, workers=1, seed=1,
                progress=False, sample=0)
    args.update(kw)
    return Word2Vec(sentences, **args)


@pytest.mark.parametrize("sg", [1, 0], ids=["sg", "cbow"])
@pytest.mark.parametrize("workers", [1, 2])
def test_planted_groups(on_each_isa, sg, workers):
    model = _model(planted_corpus(), sg=sg, workers=workers)
    assert_groups_found(model.wv)


@pytest.mark.parametrize("sg", [1, 0], ids=["sg", "cbow"])
def test_planted_groups_some_private_rows(monkeypatch, sg):
    """Two workers training the 10 most frequent words' output rows in private copies
    and the other 26 in place."""
    monkeypatch.setattr(fastnn.word2vec, "PRIVATE_ROW_BYTES", 4 * 16 * 10)
    model = _model(planted_corpus(), sg=sg, workers=2)
    assert_groups_found(model.wv)


def test_planted_groups_cbow_sum_and_subsampling():
    model = _model(planted_corpus(), sg=0, cbow_mean=0, sample=1e-2, alpha=0.01)
    assert_groups_found(model.wv)
    assert 0 < model.effective_words < model.corpus_total_words * model.epochs


def test_reproducible_with_one_worker():
    corpus = planted_corpus(300)
    a, b, c = _model(corpus, sg=1), _model(corpus, sg=1), _model(corpus, sg=1, seed=2)
    assert np.array_equal(a.wv.vectors, b.wv.vectors)
    assert np.array_equal(a.syn1neg, b.syn1neg)
    assert not np.array_equal(a.wv.vectors, c.wv.vectors)


def test_progress_slices_do_not_change_the_result(capsys):
    corpus = planted_corpus(3000)
    quiet = _model(corpus, compute_loss=True)
    shown = _model(corpus, compute_loss=True, progress=True)
    assert np.array_equal(quiet.wv.vectors, shown.wv.vectors)
    assert quiet.epoch_losses == shown.epoch_losses
    err = capsys.readouterr().err
    assert "words/s" in err and "ETA" in err and "loss" in err and "epoch 5/5" in err


def test_no_progress_output(capsys):
    _model(planted_corpus(200))
    assert capsys.readouterr().err == ""


def test_epoch_loss_is_exact_at_zero_learning_rate():
    """One word type: every negative equals the centre and is skipped; syn1neg starts at
    zero, so with alpha = 0 each CBOW update costs log 2: the epoch's loss is N log 2."""
    corpus = [["a"] * 7] * 30
    model = _model(corpus, sg=0, alpha=0.0, min_alpha=0.0, compute_loss=True, epochs=3)
    assert model.epoch_losses == pytest.approx([210 * math.log(2)] * 3, rel=1e-12)
    assert model.get_latest_training_loss() == model.epoch_losses[-1]


def test_epoch_loss_decreases_and_is_off_by_default():
    model = _model(planted_corpus(), sg=1, compute_loss=True)
    losses = model.epoch_losses
    # falls, then plateaus: the loss sums over random negatives, so a plateau's epochs
    # differ by noise (skip-gram's negatives drawn per pair: +0.09% from epoch 3 to 4)
    assert len(losses) == 5 and losses[0] > 1.2 * losses[1] and losses[-1] < losses[1]
    assert all(b < 1.005 * a for a, b in zip(losses, losses[1:]))
    assert _model(planted_corpus(100)).get_latest_training_loss() == 0.0


def test_vocabulary_order_counts_and_min_count():
    corpus = [["b", "a", "c", "a"], ["c", "d", "b", "a"], ["e"]]
    model = _model(corpus, min_count=2)
    assert model.wv.index_to_key == ["a", "b", "c"]  # ties keep first appearance
    assert [model.wv.get_vecattr(k, "count") for k in "abc"] == [3, 2, 2]
    assert model.wv.vectors.dtype == np.float32 and model.syn1neg.shape == (3, 16)


def test_max_final_vocab_as_gensim():
    # counts 10, 8, 8, 5, 3: at most 2 words -> min_count 9 (the 3rd count + 1) -> 1 word
    corpus = [["a"] * 10 + ["b"] * 8 + ["c"] * 8 + ["d"] * 5 + ["e"] * 3]
    assert _model(corpus, max_final_vocab=2).wv.index_to_key == ["a"]
    assert _model(corpus, max_final_vocab=4).wv.index_to_key == ["a", "b", "c", "d"]
    assert _model(corpus, max_final_vocab=9).wv.index_to_key == ["a", "b", "c", "d", "e"]
    assert _model(corpus, max_final_vocab=4, min_count=6).wv.index_to_key == ["a", "b", "c"]


def test_tables_match_gensim():
    gensim = pytest.importorskip("gensim")
    corpus = planted_corpus(400) + [["rare"], ["x", "y", "x"]]
    ours = _model(corpus, sample=1e-2, ns_exponent=0.5, max_final_vocab=30, min_count=1,
                  epochs=1)
    theirs = gensim.models.Word2Vec(corpus, vector_size=16, min_count=1, sample=1e-2,
                                    ns_exponent=0.5, max_final_vocab=30, workers=1, epochs=1)
    assert sorted(ours.wv.index_to_key) == sorted(theirs.wv.index_to_key)
    order = [theirs.wv.key_to_index[k] for k in ours.wv.index_to_key]
    want = np.array([theirs.wv.get_vecattr(k, "sample_int") for k in ours.wv.index_to_key])
    assert np.abs(ours.sample_int.astype(np.int64) - want).max() <= 1
    ours_step = np.diff(ours.cum_table.astype(np.int64), prepend=0)
    their_step = np.diff(theirs.cum_table.astype(np.int64), prepend=0)[order]
    assert ours.cum_table[-1] == theirs.cum_table[-1] == 2 ** 31 - 1
    assert np.abs(ours_step - their_step).max() <= 2


def test_corpus_file_equals_sentences(tmp_path):
    corpus = planted_corpus(400) + [["x"] * 12_000]  # also a line longer than 10,000 words
    text = "\n".join(" ".join(s) for s in corpus) + "\n"
    plain, packed = tmp_path / "c.txt", tmp_path / "c.txt.gz"
    plain.write_text(text)
    with gzip.open(packed, "wt") as fh:
        fh.write(text)
    a = _model(corpus)
    for path in (plain, packed, str(plain)):
        b = Word2Vec(corpus_file=path, vector_size=16, window=3, min_count=1, epochs=5,
                     workers=1, seed=1, progress=False, sample=0)
        assert b.wv.index_to_key == a.wv.index_to_key
        assert np.array_equal(b.wv.vectors, a.wv.vectors)


def _write(path, corpus):
    path.write_text("\n".join(" ".join(s) for s in corpus) + "\n")
    return path


@pytest.mark.parametrize("source", ["file", "sentences"])
def test_streamed_in_small_batches(tmp_path, monkeypatch, source):
    """The corpus streamed in many blocks (file) or batches (sentences) each epoch: every
    word trained once an epoch, lines longer than a block split at a token boundary, the
    epoch loss summed over the batches, reproducible, and the groups still found."""
    from fastnn import word2vec
    monkeypatch.setattr(word2vec, "BLOCK_BYTES", 512)
    monkeypatch.setattr(word2vec, "BATCH_WORDS", 300)
    corpus = planted_corpus() + [["g1w1", "g1w2"] * 400, ["y" * 1200]]  # a 6,400-byte line
    # and a token longer than a block
    words = sum(map(len, corpus))
    if source == "file":
        args = dict(corpus_file=_write(tmp_path / "c.txt", corpus))
    else:
        args = dict(sentences=corpus)
    kw = dict(vector_size=16, window=3, min_count=1, epochs=5, workers=1, seed=1,
              progress=False, sample=0, compute_loss=True)
    a, b = Word2Vec(**args, **kw), Word2Vec(**args, **kw)
    assert a.corpus_total_words == words and a.effective_words == 5 * words
    assert np.array_equal(a.wv.vectors, b.wv.vectors) and a.epoch_losses == b.epoch_losses
    assert len(a.epoch_losses) == 5 and a.epoch_losses[0] > a.epoch_losses[-1]
    assert_groups_found(a.wv)
    assert a.train(**{"corpus_iterable" if source == "sentences" else "corpus_file":
                      next(iter(args.values()))}, epochs=1) == (words, words)


def test_epoch_loss_is_exact_over_many_batches(monkeypatch):
    from fastnn import word2vec
    monkeypatch.setattr(word2vec, "BATCH_WORDS", 20)
    model = _model([["a"] * 7] * 30, sg=0, alpha=0.0, min_alpha=0.0, compute_loss=True,
                   epochs=2)
    assert model.epoch_losses == pytest.approx([210 * math.log(2)] * 2, rel=1e-12)


def test_one_shot_sentences_are_rejected():
    with pytest.raises(TypeError, match="re-iterable.*generator"):
        Word2Vec((s for s in planted_corpus(10)), min_count=1, progress=False)
    with pytest.raises(TypeError, match="re-iterable.*list_iterator"):
        Word2Vec(iter(planted_corpus(10)), min_count=1, progress=False)


def test_build_vocab_then_train_skips_unknown_words():
    model = Word2Vec(vector_size=8, min_count=1, workers=1, progress=False, sample=0)
    assert model.wv is None
    model.build_vocab(planted_corpus(200))
    before = model.wv.vectors.copy()
    effective, raw = model.train([["g0w1", "zzz", "g0w2", "g0w3"]] * 50, epochs=2)
    assert raw == effective == 2 * 50 * 3
    assert not np.array_equal(before, model.wv.vectors)
    assert "zzz" not in model.wv.key_to_index


def test_similarity_searches_see_the_trained_vectors():
    model = _model(planted_corpus(), sg=1)
    top = [k for k, _ in model.wv.most_similar("g2w0", topn=5)]
    assert sorted(map(str, top)) == sorted(w for w in GROUPS[2] if w != "g2w0")


def test_save_load_roundtrip(tmp_path):
    model = _model(planted_corpus(300), compute_loss=True, sg=1, negative=3)
    path = tmp_path / "w2v.npz"
    model.save(path)
    back = Word2Vec.load(path)
    assert back.wv.index_to_key == model.wv.index_to_key
    assert np.array_equal(back.wv.vectors, model.wv.vectors)
    assert np.array_equal(back.syn1neg, model.syn1neg)
    assert np.array_equal(back.cum_table, model.cum_table)
    assert back.epoch_losses == model.epoch_losses
    assert (back.sg, back.negative, back.vector_size) == (1, 3, 16)
    back.train(planted_corpus(50), epochs=1)  # keeps training


def test_load_rejects_other_files(tmp_path):
    other = tmp_path / "other.npz"
    np.savez(other, a=np.zeros(3))
    with pytest.raises(ValueError, match="not a fastnn Word2Vec file"):
        Word2Vec.load(other)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a fastnn Word2Vec file"):
        Word2Vec.load(junk)
    with pytest.raises(FileNotFoundError):
        Word2Vec.load(tmp_path / "missing.npz")


@pytest.mark.parametrize("corpus", [[], [[]], [[], []]], ids=["none", "one-empty", "empties"])
def test_empty_corpus(corpus):
    with pytest.raises(ValueError, match="corpus is empty"):
        Word2Vec(corpus, progress=False)


def test_empty_corpus_file(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_text(" \n\n")
    with pytest.raises(ValueError, match="corpus is empty"):
        Word2Vec(corpus_file=path, progress=False)


def test_min_count_empties_the_vocabulary():
    with pytest.raises(ValueError, match="min_count=5 leaves the vocabulary empty.*4 times"):
        Word2Vec([["a", "b", "a"], ["a", "a"]], progress=False)


@pytest.mark.parametrize("corpus,error,match", [
    ([["a", 3, "b"]], TypeError, "tokens must be strings.*3 \\(int\\)"),
    ([["a", None]], TypeError, "tokens must be strings.*None"),
    ([["a", ["b"]]], TypeError, "tokens must be strings.*sentence 0 holds \\['b'\\]"),
    ([["a", ""]], ValueError, "non-empty"),
    (["a sentence as a string"], TypeError, "iterable of token lists; sentence 0 is a str"),
    ([3], TypeError, "iterable of token lists"),
    ("text", TypeError, "iterable of token lists; received str"),
])
def test_bad_tokens(corpus, error, match):
    with pytest.raises(error, match=match):
        Word2Vec(corpus, min_count=1, progress=False)


def test_missing_and_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="corpus_file"):
        Word2Vec(corpus_file=tmp_path / "nope.txt", progress=False)
    bad = tmp_path / "latin1.txt"
    bad.write_bytes(b"caf\xe9 au lait\n")
    with pytest.raises(ValueError, match="UTF-8"):
        Word2Vec(corpus_file=bad, min_count=1, progress=False)


@pytest.mark.parametrize("kw,error,match", [
    (dict(vector_size=0), ValueError, "vector_size must be >= 1"),
    (dict(window=0), ValueError, "window"),
    (dict(negative=0), ValueError, "negative"),
    (dict(min_count=0), ValueError, "min_count"),
    (dict(epochs=0), ValueError, "epochs"),
    (dict(workers=0), ValueError, "workers"),
    (dict(workers=10 ** 6), ValueError, "workers must be <="),
    (dict(alpha=-0.1), ValueError, "alpha"),
    (dict(alpha=float("nan")), ValueError, "alpha"),
    (dict(alpha=0.01, min_alpha=0.1), ValueError, "min_alpha"),
    (dict(sample=-1.0), ValueError, "sample"),
    (dict(ns_exponent=float("inf")), ValueError, "ns_exponent"),
    (dict(vector_size=2.5), TypeError, "vector_size must be an integer"),
    (dict(max_final_vocab=0), ValueError, "max_final_vocab"),
])
def test_bad_parameters(kw, error, match):
    with pytest.raises(error, match=match):
        Word2Vec([["a", "b"]], **{"min_count": 1, "progress": False, **kw})


def test_build_and_train_arguments():
    model = Word2Vec(min_count=1, progress=False)
    with pytest.raises(RuntimeError, match="build_vocab"):
        model.train([["a"]])
    with pytest.raises(ValueError, match="exactly one"):
        model.build_vocab()
    with pytest.raises(ValueError, match="exactly one"):
        model.build_vocab([["a"]], corpus_file="x.txt")
    with pytest.raises(RuntimeError, match="nothing to save"):
        model.save("never.npz")


def test_public_names():
    assert fastnn.Word2Vec is Word2Vec and "Word2Vec" in fastnn.__all__
    model = _model(planted_corpus(50))
    assert "Word2Vec<vocab=36" in repr(model)
    assert isinstance(model.wv, fastnn.KeyedVectors)


def test_dropped_words_are_removed_before_windowing():
    """Words below min_count leave the stream before the windows are drawn: training on
    the corpus equals training on the corpus without them (one worker, same seed)."""
    corpus = planted_corpus(400)
    rng, unique = np.random.default_rng(9), iter(range(10 ** 6))
    noisy = [[w if rng.random() > 0.2 else f"rare{next(unique)}" for w in s] + ["x"]
             for s in corpus]
    clean = [[w for w in s if not w.startswith("rare")] for s in noisy]
    clean[0] = clean[0] + ["lone"]  # below min_count in both
    noisy[0] = noisy[0] + ["lone"]
    noisy.insert(5, ["rare_a", "rare_b"])  # a sentence left empty
    a, b = _model(noisy, min_count=2), _model(clean, min_count=2)
    assert a.wv.index_to_key == b.wv.index_to_key
    assert np.array_equal(a.wv.vectors, b.wv.vectors)
