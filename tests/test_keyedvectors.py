"""``KeyedVectors``: the table, the similarity searches against a brute-force NumPy
oracle, the evaluations (planted analogies, SciPy's statistics, gensim's answers when
gensim is installed), the word2vec files and the ``.npz`` format, and bad input."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastnn
from fastnn import KeyedVectors
from fastnn._stats import betainc, pearson, rankdata, spearman

from conftest import DTYPES

SIZES = [1, 2, 7, 31, 600, 4500]  # 4500: more than one block of vectors per gemm


def make_kv(n=40, d=8, dtype=np.float32, seed=0, prefix="w"):
    rng = np.random.default_rng(seed)
    keys = [f"{prefix}{i}" for i in range(n)]
    return KeyedVectors.from_arrays(keys, rng.standard_normal((n, d)).astype(dtype))


def oracle_scores(vectors, query):
    """Cosine similarity of every row of ``vectors`` to ``query``, in float64."""
    v = vectors.astype(np.float64)
    q = np.asarray(query, np.float64)
    norms = np.linalg.norm(v, axis=1)
    return (v @ (q / (np.linalg.norm(q) or 1.0))) / np.where(norms > 0, norms, 1.0)


def unit(v):
    v = np.asarray(v, np.float64)
    return v / np.linalg.norm(v)


# ------------------------------------------------------------------ the table
def test_preallocated_rows_are_filled_in_order():
    kv = KeyedVectors(3, count=2)
    assert len(kv) == 2 and kv.vectors.shape == (2, 3) and kv.vectors.dtype == np.float32
    assert kv.index_to_key == [None, None] and "a" not in kv
    assert kv.add_vector("a", [1, 2, 3]) == 0
    assert kv.add_vector("b", [4, 5, 6]) == 1
    assert kv.add_vector("c", [7, 8, 9]) == 2  # beyond the preallocation: appended
    assert kv.index_to_key == ["a", "b", "c"] and kv.key_to_index == {"a": 0, "b": 1, "c": 2}
    np.testing.assert_array_equal(kv["b"], [4, 5, 6])
    np.testing.assert_array_equal(kv[["c", "a"]], [[7, 8, 9], [1, 2, 3]])
    assert kv.add_vector("a", [0, 0, 1]) == 0  # replaced
    np.testing.assert_array_equal(kv["a"], [0, 0, 1])
    assert KeyedVectors(4, dtype=np.float64).vectors.dtype == np.float64


def test_from_arrays_keeps_the_array():
    vectors = np.arange(12, dtype=np.float32).reshape(4, 3)
    kv = KeyedVectors.from_arrays(["a", "b", "c", "d"], vectors, counts=np.array([9, 7, 7, 1]))
    assert kv.vectors is vectors and kv.vector_size == 3 and len(kv) == 4
    assert kv.get_vecattr("b", "count") == 7 and kv.get_vecattr(3, "count") == 1
    assert "c" in kv and "e" not in kv and 0 not in kv
    assert kv.get_index("d") == 3 and kv.get_index(2) == 2 and kv.get_index("e", -1) == -1
    kv.set_vecattr("a", "count", 10)
    kv.set_vecattr("a", "tag", 5)
    assert kv.get_vecattr("a", "count") == 10 and kv.get_vecattr("a", "tag") == 5
    with pytest.raises(KeyError, match="Key 'e' not present"):
        kv["e"]
    with pytest.raises(KeyError, match="Key '7' not present"):
        kv[7]
    with pytest.raises(KeyError, match="nope"):
        kv.get_vecattr("a", "nope")
    default = KeyedVectors.from_arrays(["a", "b"], vectors[:2])
    assert [default.get_vecattr(k, "count") for k in "ab"] == [2, 1]
    assert "4 keys" in repr(kv)


@pytest.mark.parametrize("keys, vectors, counts, error, match", [
    (["a", 1], np.zeros((2, 3), np.float32), None, TypeError, "strings"),
    ("ab", np.zeros((2, 3), np.float32), None, TypeError, "list of strings"),
    (["a", "a"], np.zeros((2, 3), np.float32), None, ValueError, "distinct"),
    (["a", ""], np.zeros((2, 3), np.float32), None, ValueError, "non-empty"),
    (["a"], np.zeros((2, 3), np.float32), None, ValueError, "1 keys for 2 vectors"),
    (["a", "b"], np.zeros(6, np.float32), None, ValueError, "2-D"),
    (["a", "b"], np.zeros((2, 3), np.int32), None, TypeError, "float32 or float64"),
    (["a", "b"], [[0.0], [1.0]], None, TypeError, "numpy.ndarray"),
    (["a", "b"], np.full((2, 3), np.nan, np.float32), None, ValueError, "NaN"),
    (["a", "b"], np.zeros((2, 3), np.float32), np.array([1]), ValueError, "counts must have shape"),
    (["a", "b"], np.zeros((2, 3), np.float32), np.array([1.0, 2.0]), TypeError, "integers"),
    (["a", "b"], np.zeros((2, 3), np.float32), np.array([1, -2]), ValueError, "non-negative"),
])
def test_from_arrays_bad_input(keys, vectors, counts, error, match):
    with pytest.raises(error, match=match):
        KeyedVectors.from_arrays(keys, vectors, counts)


@pytest.mark.parametrize("args, error", [((0,), ValueError), ((2.5,), ValueError),
                                         ((3, -1), ValueError), ((3, 0, np.int32), TypeError)])
def test_constructor_bad_input(args, error):
    with pytest.raises(error):
        KeyedVectors(*args)


def test_add_vectors_keeps_or_replaces_existing_keys():
    kv = make_kv(3, 2)
    old = kv["w1"].copy()
    idx = kv.add_vectors(["w1", "x", "y"], np.ones((3, 2)), extras={"count": np.array([5, 6, 7])})
    assert list(idx) == [1, 3, 4] and len(kv) == 5 and kv.vectors.dtype == np.float32
    np.testing.assert_array_equal(kv["w1"], old)
    np.testing.assert_array_equal(kv["y"], [1, 1])
    assert kv.get_vecattr("x", "count") == 6 and kv.get_vecattr("w1", "count") == 2
    kv.add_vectors(["w1"], np.full((1, 2), 3.0), replace=True)
    np.testing.assert_array_equal(kv["w1"], [3, 3])
    with pytest.raises(ValueError, match=r"shape \(2, 2\)"):
        kv.add_vectors(["p", "q"], np.ones((2, 3)))
    with pytest.raises(ValueError, match="distinct"):
        kv.add_vectors(["p", "p"], np.ones((2, 2)))
    with pytest.raises(ValueError, match="extras"):
        kv.add_vectors(["p"], np.ones((1, 2)), extras={"count": np.array([1, 2])})
    assert len(kv) == 5


def test_assigning_vectors_resets_the_norms():
    kv = make_kv(5, 3)
    kv.fill_norms()
    kv.vectors = np.eye(5, 3, dtype=np.float32)
    np.testing.assert_allclose(kv.get_normed_vectors(), np.eye(5, 3))
    with pytest.raises(ValueError, match="shape"):
        kv.vectors = np.ones((4, 3), np.float32)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", SIZES)
def test_normed_vectors(n, dtype):
    kv = make_kv(n, 5, dtype)
    kv.vectors[0] = 0  # a zero row stays zero
    kv.fill_norms(force=True)
    expected = kv.vectors / np.where(kv.norms > 0, kv.norms, 1)[:, None]
    normed = kv.get_normed_vectors()
    assert normed.dtype == dtype
    np.testing.assert_allclose(normed, expected, rtol=1e-6)
    np.testing.assert_allclose(kv.norms, np.linalg.norm(kv.vectors.astype(np.float64), axis=1),
                               rtol=1e-6)
    np.testing.assert_array_equal(kv.get_vector(0, norm=True), 0)


# ------------------------------------------------------------ similarity search
def check_most_similar(kv, positive, negative, topn, restrict_vocab=None):
    """``most_similar`` against the brute-force oracle: the same keys (up to ties) in the
    same order, the same scores."""
    result = kv.most_similar(positive=positive, negative=negative, topn=topn,
                             restrict_vocab=restrict_vocab)
    terms, used = [], set()
    for items, sign in ((positive or [], 1.0), (negative or [], -1.0)):
        for item in items:
            if isinstance(item, str):
                terms.append(sign * unit(kv[item]))
                used.add(kv.get_index(item))
            else:
                terms.append(sign * np.asarray(item, np.float64))
    end = len(kv) if restrict_vocab is None else min(restrict_vocab, len(kv))
    scores = oracle_scores(kv.vectors[:end], np.mean(terms, axis=0))
    tol = 1e-5 if kv.dtype == np.float32 else 1e-12
    order = [i for i in np.argsort(-scores, kind="stable") if i not in used][:topn]
    assert len(result) == len(order)
    for (key, score), i in zip(result, order):
        assert score == pytest.approx(scores[kv.get_index(key)], abs=tol)
        assert score == pytest.approx(scores[i], abs=tol)  # same rank: ties may swap keys
        assert kv.get_index(key) not in used and kv.get_index(key) < end


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", SIZES)
def test_most_similar_against_oracle(n, dtype):
    kv = make_kv(n, 9, dtype, seed=n)
    check_most_similar(kv, ["w0"], None, 10)
    check_most_similar(kv, [kv.vectors[n // 2] * 3], None, 5)
    if n > 3:
        check_most_similar(kv, ["w1", "w2"], ["w3"], 4)
        check_most_similar(kv, ["w1"], ["w3"], n, restrict_vocab=n // 2)


@pytest.mark.parametrize("dtype", DTYPES)
def test_most_similar_forms_of_query(dtype):
    kv = make_kv(30, 6, dtype)
    assert kv.most_similar("w3") == kv.most_similar(positive=["w3"])
    assert kv.similar_by_key("w3", topn=4) == kv.most_similar("w3", topn=4)
    assert kv.most_similar(3, topn=4) == kv.most_similar("w3", topn=4)
    weighted = kv.most_similar(positive=[("w1", 2.0), "w2"], negative=[("w5", 0.5)], topn=5)
    query = (2 * unit(kv["w1"]) + unit(kv["w2"]) - 0.5 * unit(kv["w5"])) / 3
    scores = oracle_scores(kv.vectors, query)
    for key, score in weighted:
        assert score == pytest.approx(scores[kv.get_index(key)], abs=1e-5)
    by_vector = kv.similar_by_vector(kv["w4"], topn=3)
    assert by_vector[0][0] == "w4" and by_vector[0][1] == pytest.approx(1.0, abs=1e-5)
    everything = kv.most_similar("w0", topn=None)
    assert everything.shape == (30,) and everything.dtype == dtype
    np.testing.assert_allclose(everything, oracle_scores(kv.vectors, kv["w0"]), atol=1e-5)
    assert len(kv.most_similar("w0", topn=100)) == 29
    assert kv.most_similar("w0", restrict_vocab=0, topn=3) == []


def test_most_similar_bad_input():
    kv = make_kv(10, 4)
    with pytest.raises(KeyError, match="Key 'zzz' not present"):
        kv.most_similar(["w1", "zzz"])
    with pytest.raises(ValueError, match="no input"):
        kv.most_similar()
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
        kv.most_similar([np.ones(5)])
    with pytest.raises(ValueError, match="topn"):
        kv.most_similar("w1", topn=-1)
    with pytest.raises(ValueError, match="restrict_vocab"):
        kv.most_similar("w1", restrict_vocab=-2)
    with pytest.raises(ValueError, match="weighted"):
        kv.most_similar([("w1", 1.0, 2.0)])


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 60), d=st.integers(1, 12), seed=st.integers(0, 2**16),
       topn=st.integers(1, 70), n_pos=st.integers(1, 3), n_neg=st.integers(0, 2),
       float64=st.booleans())
def test_most_similar_property(n, d, seed, topn, n_pos, n_neg, float64):
    kv = make_kv(n, d, np.float64 if float64 else np.float32, seed)
    rng = np.random.default_rng(seed)
    picks = [f"w{i}" for i in rng.integers(0, n, n_pos + n_neg)]
    check_most_similar(kv, picks[:n_pos], picks[n_pos:] or None, topn)


@pytest.mark.parametrize("dtype", DTYPES)
def test_pair_similarities(dtype):
    kv = make_kv(12, 5, dtype)
    expected = unit(kv["w1"]) @ unit(kv["w2"])
    assert kv.similarity("w1", "w2") == pytest.approx(expected, abs=1e-6)
    assert kv.distance("w1", "w2") == pytest.approx(1 - expected, abs=1e-6)
    n_sim = unit(kv[["w1", "w3"]].mean(0)) @ unit(kv[["w2"]].mean(0))
    assert kv.n_similarity(["w1", "w3"], ["w2"]) == pytest.approx(n_sim, abs=1e-6)
    with pytest.raises(ValueError, match="non-empty"):
        kv.n_similarity([], ["w1"])
    with pytest.raises(KeyError):
        kv.similarity("w1", "nope")


def test_doesnt_match_finds_the_outlier():
    rng = np.random.default_rng(1)
    centre = rng.standard_normal(16)
    group = centre + 0.1 * rng.standard_normal((4, 16))
    vectors = np.vstack([group, -centre]).astype(np.float32)
    kv = KeyedVectors.from_arrays(["cat", "dog", "cow", "pig", "car"], vectors)
    assert kv.doesnt_match(["cat", "car", "dog", "cow", "unknown"]) == "car"
    with pytest.raises(ValueError, match="empty"):
        kv.doesnt_match(["x", "y"])


# ------------------------------------------------------------------ evaluation
def planted_analogies(dtype=np.float32, seed=0):
    """Pairs (x, X) with ``X = x + offset`` for one shared offset, plus distractors: every
    question "a A b B" is answered exactly by vector arithmetic."""
    rng = np.random.default_rng(seed)
    d, n_pairs = 24, 6
    offset = 3 * rng.standard_normal(d)
    base = rng.standard_normal((n_pairs, d)) * 2
    keys = [f"s{i}" for i in range(n_pairs)] + [f"S{i}x" for i in range(n_pairs)]
    vectors = [*base, *(base + offset)]
    keys += [f"noise{i}" for i in range(20)]
    vectors += list(rng.standard_normal((20, d)))
    return KeyedVectors.from_arrays(keys, np.array(vectors, dtype=dtype))


def write_questions(path, sections):
    with open(path, "w", encoding="utf8") as f:
        for name, lines in sections.items():
            f.write(f": {name}\n")
            f.writelines(line + "\n" for line in lines)
    return path


def analogy_file(tmp_path):
    """Section "pairs": 12 answerable questions; section "mixed": 2 answerable, 1 whose
    answer is a distractor (wrong), 1 with an unknown word, 1 malformed line."""
    good = [f"s{a} S{a}x s{b} S{b}x" for a in range(4) for b in range(4) if a != b]
    return write_questions(tmp_path / "questions.txt", {
        "pairs": good,
        "mixed": ["s4 S4x s5 S5x", "S5x s5 S4x s4", "s1 S1x s2 noise3",
                  "s1 S1x s2 unknownword", "s1 S1x"]})


@pytest.mark.parametrize("dtype", DTYPES)
def test_evaluate_word_analogies_planted(tmp_path, dtype):
    kv = planted_analogies(dtype)
    path = analogy_file(tmp_path)
    score, sections = kv.evaluate_word_analogies(path)
    assert [s["section"] for s in sections] == ["pairs", "mixed", "Total accuracy"]
    assert len(sections[0]["correct"]) == 12 and not sections[0]["incorrect"]
    assert sections[1]["correct"] == [("S4", "S4X", "S5", "S5X"), ("S5X", "S5", "S4X", "S4")]
    assert sections[1]["incorrect"] == [("S1", "S1X", "S2", "NOISE3")]
    assert score == pytest.approx(14 / 15)
    assert len(sections[2]["correct"]) == 14
    score, sections = kv.evaluate_word_analogies(path, dummy4unknown=True, batch_size=1)
    assert score == pytest.approx(14 / 16)
    assert sections[1]["incorrect"][-1] == ("S1", "S1X", "S2", "UNKNOWNWORD")
    # case-sensitive lookup: "S1x" is a key, "S1X" is not
    score, sections = kv.evaluate_word_analogies(path, case_insensitive=False)
    assert score == pytest.approx(14 / 15) and sections[0]["correct"][0] == ("s0", "S0x", "s1", "S1x")
    # only the first 12 keys: the distractor answer "noise3" is out of vocabulary
    score, _ = kv.evaluate_word_analogies(path, restrict_vocab=12)
    assert score == 1.0


def test_evaluate_word_analogies_batches_agree(tmp_path):
    kv = make_kv(50, 6, seed=3)
    rng = np.random.default_rng(0)
    lines = [" ".join(f"w{i}" for i in rng.integers(0, 50, 4)) for _ in range(60)]
    path = write_questions(tmp_path / "q.txt", {"a": lines[:25], "b": lines[25:]})
    reference = kv.evaluate_word_analogies(path, batch_size=1)
    for batch_size in (7, 256):
        assert kv.evaluate_word_analogies(path, batch_size=batch_size) == reference


def test_evaluate_word_analogies_bad_file(tmp_path):
    kv = planted_analogies()
    path = tmp_path / "q.txt"
    path.write_text("s0 S0x s1 S1x\n")
    with pytest.raises(ValueError, match="missing section header before line 1"):
        kv.evaluate_word_analogies(path)
    with pytest.raises(FileNotFoundError):
        kv.evaluate_word_analogies(tmp_path / "missing.txt")
    path.write_text(": empty\n")
    assert kv.evaluate_word_analogies(path)[0] == 0.0


def pairs_file(tmp_path, rows, delimiter="\t"):
    path = tmp_path / "pairs.txt"
    with open(path, "w", encoding="utf8") as f:
        f.write("# a comment\n")
        for row in rows:
            f.write(delimiter.join(map(str, row)) + "\n")
    return path


def test_evaluate_word_pairs(tmp_path):
    kv = make_kv(30, 7, seed=2)
    rng = np.random.default_rng(5)
    rows = [(f"W{a}", f"w{b}", round(float(s), 2))
            for a, b, s in zip(rng.integers(0, 30, 40), rng.integers(0, 30, 40), rng.random(40) * 10)]
    rows += [("w1", "unknown", 3.0), ("malformed line",)]
    path = pairs_file(tmp_path, rows)
    (r, p_r), (rho, p_rho), oov = kv.evaluate_word_pairs(path)
    gold = [s for _, _, s in rows[:40]]
    model = [kv.similarity(a.lower(), b) for a, b, _ in rows[:40]]
    assert (r, p_r) == pytest.approx(pearson(gold, model))
    assert (rho, p_rho) == pytest.approx(spearman(gold, model))
    assert r == pytest.approx(np.corrcoef(gold, model)[0, 1])
    assert oov == pytest.approx(100 / 41)
    (r, _), _, oov = kv.evaluate_word_pairs(path, dummy4unknown=True)
    assert r == pytest.approx(np.corrcoef(gold + [3.0], model + [0.0])[0, 1])
    assert oov == pytest.approx(100 / 41)
    # case-sensitive: every pair has an unknown first word "W<i>"
    with pytest.raises(ValueError, match="fewer than 2"):
        kv.evaluate_word_pairs(path, case_insensitive=False)
    comma = pairs_file(tmp_path, rows[:40], delimiter=",")
    assert kv.evaluate_word_pairs(comma, delimiter=",")[0] == pytest.approx(pearson(gold, model))


def test_evaluate_word_pairs_matches_scipy(tmp_path):
    stats = pytest.importorskip("scipy.stats")
    kv = make_kv(20, 5, seed=4)
    rng = np.random.default_rng(6)
    rows = [(f"w{a}", f"w{b}", float(rng.integers(0, 5)))  # integer scores: many ties
            for a, b in zip(rng.integers(0, 20, 50), rng.integers(0, 20, 50))]
    path = pairs_file(tmp_path, rows)
    (r, p_r), (rho, p_rho), _ = kv.evaluate_word_pairs(path)
    gold = [s for _, _, s in rows]
    model = [kv.similarity(a, b) for a, b, _ in rows]
    expected_r = stats.pearsonr(gold, model)
    expected_rho = stats.spearmanr(gold, model)
    assert (r, p_r) == pytest.approx((expected_r.statistic, expected_r.pvalue), rel=1e-9)
    assert (rho, p_rho) == pytest.approx((expected_rho.statistic, expected_rho.pvalue), rel=1e-9)


# ------------------------------------------------------------------ statistics
def test_statistics_against_scipy():
    stats = pytest.importorskip("scipy.stats")
    special = pytest.importorskip("scipy.special")
    rng = np.random.default_rng(0)
    for n in (3, 4, 10, 57, 1000):
        x = rng.standard_normal(n)
        y = 0.3 * x + rng.standard_normal(n)
        ties = np.round(y)
        assert pearson(x, y) == pytest.approx(tuple(stats.pearsonr(x, y)), rel=1e-9, abs=1e-300)
        assert spearman(x, ties) == pytest.approx(tuple(stats.spearmanr(x, ties)), rel=1e-9)
        np.testing.assert_array_equal(rankdata(ties), stats.rankdata(ties))
    for a, b, x in [(0.5, 0.5, 0.3), (1.0, 0.5, 0.99), (499, 0.5, 0.9), (30, 0.5, 0.01),
                    (2.5, 0.5, 1e-6), (7000, 0.5, 0.999)]:
        assert betainc(a, b, x) == pytest.approx(special.betainc(a, b, x), rel=1e-9, abs=1e-300)


def test_statistics_edge_cases():
    assert pearson([1, 2, 3], [2, 4, 6]) == pytest.approx((1.0, 0.0))
    assert pearson([1, 2], [2, 1]) == (-1.0, 1.0)
    assert all(math.isnan(v) for v in pearson([1, 1, 1], [1, 2, 3]))
    assert betainc(2, 0.5, 0.0) == 0.0 and betainc(2, 0.5, 1.0) == 1.0
    with pytest.raises(ValueError, match="length >= 2"):
        pearson([1], [1])
    np.testing.assert_array_equal(rankdata([3, 1, 3, 2]), [3.5, 1, 3.5, 2])


# ------------------------------------------------------------- word2vec files
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("binary", [False, True])
def test_word2vec_format_round_trip(tmp_path, binary, dtype):
    kv = make_kv(25, 7, dtype)
    kv.set_vecattr("w3", "count", 100)  # written first: decreasing count order
    path = tmp_path / "vectors.bin"
    kv.save_word2vec_format(path, fvocab=tmp_path / "vocab.txt", binary=binary)
    back = KeyedVectors.load_word2vec_format(path, binary=binary, datatype=dtype)
    assert back.index_to_key[0] == "w3" and sorted(back.index_to_key) == sorted(kv.index_to_key)
    expected = kv[back.index_to_key]
    if binary:  # binary files hold float32
        expected = expected.astype(np.float32).astype(dtype)
    np.testing.assert_array_equal(back.vectors, expected)
    assert back.vectors.dtype == dtype
    assert back.get_vecattr("w3", "count") == len(kv)
    counted = KeyedVectors.load_word2vec_format(path, fvocab=tmp_path / "vocab.txt",
                                                binary=binary)
    assert counted.get_vecattr("w3", "count") == 100 and counted.get_vecattr("w0", "count") == 25
    limited = KeyedVectors.load_word2vec_format(path, binary=binary, limit=4)
    assert limited.index_to_key == back.index_to_key[:4]
    assert len(KeyedVectors.load_word2vec_format(path, binary=binary, limit=0)) == 0


def test_word2vec_text_format_details(tmp_path):
    path = tmp_path / "v.txt"
    path.write_bytes("3 2\nchat 1 2\nchat 5 5\nété -1.5 0.25 \n".encode("utf8"))
    kv = KeyedVectors.load_word2vec_format(path)
    assert kv.index_to_key == ["chat", "été"]  # a repeated key keeps its first vector
    np.testing.assert_array_equal(kv.vectors, [[1, 2], [-1.5, 0.25]])
    path.write_bytes(b"a 1 2\nb 3 4\n")
    kv = KeyedVectors.load_word2vec_format(path, no_header=True)
    assert kv.index_to_key == ["a", "b"] and kv.vector_size == 2
    binary = tmp_path / "v.bin"  # gensim's binary records have no trailing newline
    binary.write_bytes(b"2 2\na " + np.array([1, 2], "<f4").tobytes()
                       + b"b " + np.array([3, 4], "<f4").tobytes())
    np.testing.assert_array_equal(KeyedVectors.load_word2vec_format(binary, binary=True).vectors,
                                  [[1, 2], [3, 4]])


def word2vec_bytes(binary):
    """A valid two-vector file of size 3."""
    rows = [("ab", [1.0, 2.0, 3.0]), ("cd", [4.0, 5.0, 6.0])]
    if binary:
        body = b"".join(k.encode() + b" " + np.array(v, "<f4").tobytes() + b"\n" for k, v in rows)
    else:
        body = "".join(f"{k} {' '.join(map(str, v))}\n" for k, v in rows).encode()
    return b"2 3\n" + body


@pytest.mark.parametrize("binary, content, match", [
    (False, b"", "first line"),
    (False, b"two 3\n", "first line"),
    (False, b"2 0\n", "invalid header"),
    (False, word2vec_bytes(False)[:-8], "vector 2 has 1 numbers"),
    (False, word2vec_bytes(False).replace(b"\ncd 4.0 5.0 6.0\n", b"\n"), "end of file after 1 of 2"),
    (False, word2vec_bytes(False).replace(b"5.0", b"x5"), "not a number"),
    (False, word2vec_bytes(False).replace(b"5.0", b"nan"), "vector 2 holds NaN"),
    (False, word2vec_bytes(False).replace(b"2 3", b"2 4"), "expected 4"),
    (True, word2vec_bytes(True)[:-5], "end of file in vector 2 of 2"),
    (True, word2vec_bytes(True).replace(b"2 3", b"3 3"), "end of file in vector 3 of 3"),
    (True, word2vec_bytes(False).replace(b"1.0", b"1.255"), "malformed key '0\\\\ncd'"),
    (True, b"1 1\na\tb " + np.array([1], "<f4").tobytes(), "malformed key"),
])
def test_word2vec_format_bad_files(tmp_path, binary, content, match):
    path = tmp_path / "bad"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=match):
        KeyedVectors.load_word2vec_format(path, binary=binary)


def test_word2vec_format_bad_arguments(tmp_path):
    kv = KeyedVectors.from_arrays(["a b", "c"], np.ones((2, 2), np.float32))
    with pytest.raises(ValueError, match="whitespace"):
        kv.save_word2vec_format(tmp_path / "x.txt")
    with pytest.raises(ValueError, match="preallocated"):
        KeyedVectors(2, count=1).save_word2vec_format(tmp_path / "x.txt")
    path = tmp_path / "ok.txt"
    path.write_bytes(word2vec_bytes(False))
    with pytest.raises(ValueError, match="limit"):
        KeyedVectors.load_word2vec_format(path, limit=-1)
    with pytest.raises(TypeError, match="dtype"):
        KeyedVectors.load_word2vec_format(path, datatype=np.int32)
    with pytest.raises(ValueError, match="binary=False"):
        KeyedVectors.load_word2vec_format(path, binary=True, no_header=True)
    (tmp_path / "vocab.txt").write_text("ab 3\n")
    with pytest.raises(ValueError, match="no count for 1 keys"):
        KeyedVectors.load_word2vec_format(path, fvocab=tmp_path / "vocab.txt")
    (tmp_path / "vocab.txt").write_text("ab 3 4\n")
    with pytest.raises(ValueError, match="line 1"):
        KeyedVectors.load_word2vec_format(path, fvocab=tmp_path / "vocab.txt")
    with pytest.raises(FileNotFoundError):
        KeyedVectors.load_word2vec_format(tmp_path / "missing.txt")


@pytest.mark.parametrize("binary", [False, True])
def test_word2vec_format_interchangeable_with_gensim(tmp_path, binary):
    gensim_kv = pytest.importorskip("gensim.models.keyedvectors")
    kv = make_kv(40, 10, seed=9)
    kv.add_vector("naïve", np.arange(10, dtype=np.float32))
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    kv.save_word2vec_format(ours, binary=binary)
    loaded = gensim_kv.KeyedVectors.load_word2vec_format(ours, binary=binary)
    assert loaded.index_to_key == kv.index_to_key
    np.testing.assert_array_equal(loaded.vectors, kv.vectors)
    loaded.save_word2vec_format(theirs, binary=binary)
    back = KeyedVectors.load_word2vec_format(theirs, binary=binary)
    assert back.index_to_key == kv.index_to_key
    np.testing.assert_array_equal(back.vectors, kv.vectors)


def test_answers_match_gensim(tmp_path):
    gensim_kv = pytest.importorskip("gensim.models.keyedvectors")
    kv = make_kv(300, 20, seed=11)
    kv.add_vector("W5", kv["w5"] * 0.5 + 0.1)  # a second spelling of "w5"
    theirs = gensim_kv.KeyedVectors(20)
    theirs.add_vectors(kv.index_to_key, kv.vectors)
    for query in (dict(positive=["w1"]), dict(positive=["w1", "w7"], negative=["w2"], topn=7),
                  dict(positive=["w3"], restrict_vocab=50)):
        ours = kv.most_similar(**query)
        expected = theirs.most_similar(**query)
        assert [k for k, _ in ours] == [k for k, _ in expected]
        np.testing.assert_allclose([s for _, s in ours], [s for _, s in expected], atol=1e-6)
    assert kv.doesnt_match(["w1", "w2", "w3", "w4"]) == theirs.doesnt_match(["w1", "w2", "w3", "w4"])
    rng = np.random.default_rng(0)
    lines = [" ".join(f"w{i}" for i in rng.integers(0, 300, 4)) for _ in range(150)]
    lines += ["w5 w6 w7 w8", "W5 w1 w2 w3", "w1 w2 w3 unknown"]
    questions = write_questions(tmp_path / "q.txt", {"one": lines[:80], "two": lines[80:]})
    for options in ({}, {"restrict_vocab": 100}, {"dummy4unknown": True},
                    {"case_insensitive": False}):
        ours = kv.evaluate_word_analogies(questions, **options)
        expected = theirs.evaluate_word_analogies(questions, **options)
        assert ours[0] == pytest.approx(expected[0])
        assert ours[1] == expected[1]
    pairs = pairs_file(tmp_path, [(f"w{a}", f"W{b}", float(s)) for a, b, s in
                                  zip(rng.integers(0, 300, 60), rng.integers(0, 10, 60),
                                      rng.integers(0, 10, 60))])
    for options in ({}, {"dummy4unknown": True}, {"restrict_vocab": 150}):
        ours = kv.evaluate_word_pairs(pairs, **options)
        expected = theirs.evaluate_word_pairs(pairs, **options)
        assert ours[0] == pytest.approx(tuple(expected[0]), rel=1e-5)
        assert ours[1] == pytest.approx(tuple(expected[1]), rel=1e-5)
        assert ours[2] == pytest.approx(expected[2])


# ------------------------------------------------------------------- .npz files
@pytest.mark.parametrize("dtype", DTYPES)
def test_npz_round_trip(tmp_path, dtype):
    kv = make_kv(17, 4, dtype)
    kv.add_vector("日本", np.ones(4))
    kv.set_vecattr("w2", "count", 77)
    kv.set_vecattr("w2", "tag", 3)
    kv.save(tmp_path / "kv.npz")
    back = KeyedVectors.load(tmp_path / "kv.npz")
    assert back.index_to_key == kv.index_to_key and back.key_to_index == kv.key_to_index
    np.testing.assert_array_equal(back.vectors, kv.vectors)
    assert back.vectors.dtype == dtype
    assert back.get_vecattr("w2", "count") == 77 and back.get_vecattr("w2", "tag") == 3
    empty = KeyedVectors(3)
    empty.save(tmp_path / "empty.npz")
    assert len(KeyedVectors.load(tmp_path / "empty.npz")) == 0


def test_npz_bad_files(tmp_path):
    kv = make_kv(5, 3)
    with pytest.raises(FileNotFoundError):
        KeyedVectors.load(tmp_path / "missing.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a readable fastnn KeyedVectors file"):
        KeyedVectors.load(tmp_path / "junk.npz")
    np.savez(tmp_path / "foreign.npz", vectors=np.ones((2, 2)))
    with pytest.raises(ValueError, match="not a readable"):
        KeyedVectors.load(tmp_path / "foreign.npz")
    model = fastnn.Sequential([fastnn.Dense(2, 2)])
    model.save(tmp_path / "model.npz")
    with pytest.raises(ValueError, match="unknown format"):
        KeyedVectors.load(tmp_path / "model.npz")
    kv.save(tmp_path / "kv.npz")
    with np.load(tmp_path / "kv.npz") as data:
        arrays = dict(data)
    arrays["vectors"] = arrays["vectors"][:4]
    np.savez(tmp_path / "cut.npz", **arrays)
    with pytest.raises(ValueError, match="do not match the header"):
        KeyedVectors.load(tmp_path / "cut.npz")
    with pytest.raises(ValueError, match="preallocated"):
        KeyedVectors(2, count=1).save(tmp_path / "x.npz")
