"""``KeyedVectors``: word vectors by key, with gensim's names and meaning.

A ``KeyedVectors`` is a matrix ``vectors`` (one row per key, float32 by default), the
list ``index_to_key`` of its row keys, the dict ``key_to_index`` back, and per-key
attributes (``get_vecattr(key, "count")``).  Similarity searches are cosine
similarities computed as one compiled matrix product (``ops.gemm``) of the stored
vectors with the unit-length queries, divided by the vectors' norms (``fill_norms``);
the analogy evaluation runs its questions through it in batches.

Files: word2vec.c's text and binary formats (``save_word2vec_format``,
``load_word2vec_format``; gensim reads and writes the same files) and an ``.npz``
archive without pickle (``save``, ``load``).
"""
from __future__ import annotations

import itertools
import json
from typing import TYPE_CHECKING, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _dispatch, ops
from ._checks import finite_array
from ._stats import pearson, spearman
from .plotting import plot_embedding

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["KeyedVectors"]

_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
FORMAT = "fastnn.KeyedVectors/1"

Key = Union[str, int, np.integer]
#: a query of ``most_similar``: a key, a vector, or either with a weight
Query = Union[Key, np.ndarray, Tuple[Union[Key, np.ndarray], float]]

#: similarity scores computed per ``ops.gemm`` call (queries x vocabulary), to bound memory
_SCORE_BLOCK = 1 << 22
#: vectors per ``ops.gemm`` call for a few queries: blocks this small (times at most 512
#: numbers per vector) run the GEMM's unpacked "skinny" path, which streams the vectors
#: once instead of packing them (several times faster for one query)
_FEW_QUERIES_BLOCK = 2048


def _check_dtype(dtype) -> np.dtype:
    dtype = np.dtype(dtype)
    if dtype not in _DTYPES:
        raise TypeError(f"dtype must be float32 or float64; received: dtype={dtype}")
    return dtype


def _check_keys(keys, n: Optional[int] = None) -> List[str]:
    """``keys`` as a list of distinct non-empty strings (``n`` of them when given)."""
    if isinstance(keys, (str, bytes)) or not isinstance(keys, Iterable):
        raise TypeError(f"keys must be a list of strings; received: {type(keys).__name__}")
    keys = list(keys)
    for key in keys:
        if not isinstance(key, str):
            raise TypeError(f"keys must be strings; received {key!r} ({type(key).__name__})")
        if not key:
            raise ValueError("keys must be non-empty strings; received ''")
    if n is not None and len(keys) != n:
        raise ValueError(f"{len(keys)} keys for {n} vectors")
    if len(set(keys)) != len(keys):
        seen = set()
        dup = next(k for k in keys if k in seen or seen.add(k))
        raise ValueError(f"keys must be distinct; {dup!r} appears more than once")
    return keys


def _check_matrix(vectors, name: str, dtype: Optional[np.dtype] = None) -> np.ndarray:
    """A 2-D finite float32/float64 C-contiguous array (no copy when ``vectors`` is one)."""
    if not isinstance(vectors, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray; received: {type(vectors).__name__}")
    if vectors.ndim != 2:
        raise ValueError(f"{name} must be 2-D (keys, vector_size); received shape {vectors.shape}")
    if dtype is None:
        if vectors.dtype not in _DTYPES:
            raise TypeError(f"{name} must be float32 or float64; received dtype {vectors.dtype}")
        dtype = vectors.dtype
    return finite_array(vectors, dtype, name)


def _check_counts(counts, n: int) -> np.ndarray:
    counts = np.asarray(counts)
    if counts.shape != (n,):
        raise ValueError(f"counts must have shape ({n},); received shape {counts.shape}")
    if counts.dtype.kind not in "iu":
        raise TypeError(f"counts must be integers; received dtype {counts.dtype}")
    if n and counts.min() < 0:
        raise ValueError("counts must be non-negative")
    return counts.astype(np.int64)


class KeyedVectors:
    """Vectors of ``vector_size`` numbers looked up by string key (gensim's ``KeyedVectors``).

    ``KeyedVectors(vector_size, count)`` allocates ``count`` zero rows that
    ``add_vector`` fills in order (their keys are None until then);
    :meth:`from_arrays` wraps existing arrays.  ``wv[key]`` is the key's vector (a
    ``KeyError`` for an unknown key), ``wv[[k1, k2]]`` a matrix of rows.  An int key is
    a row index when it is not itself a key, as in gensim.

    ``norms`` caches the vectors' Euclidean lengths for the similarity searches; it is
    reset when rows are added or ``vectors`` is assigned.  After changing ``vectors``
    in place, call ``fill_norms(force=True)``.
    """

    def __init__(self, vector_size: int, count: int = 0, dtype=np.float32):
        if isinstance(vector_size, bool) or not isinstance(vector_size, (int, np.integer)) \
                or vector_size < 1:
            raise ValueError(f"vector_size must be a positive integer; received: {vector_size!r}")
        if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 0:
            raise ValueError(f"count must be a non-negative integer; received: {count!r}")
        self.vector_size = int(vector_size)
        self._vectors = np.zeros((int(count), self.vector_size), _check_dtype(dtype))
        self.index_to_key: List[Optional[str]] = [None] * int(count)
        self.key_to_index: Dict[str, int] = {}
        self.expandos: Dict[str, np.ndarray] = {"count": np.zeros(int(count), np.int64)}
        self.next_index = 0
        self.norms: Optional[np.ndarray] = None

    @classmethod
    def from_arrays(cls, keys: Sequence[str], vectors: np.ndarray,
                    counts: Optional[np.ndarray] = None) -> "KeyedVectors":
        """Keys and their vectors (row ``i`` is ``keys[i]``), without copying ``vectors``
        when it is a C-contiguous float32/float64 array.  ``counts`` (integers, one per key)
        are the ``"count"`` attribute; without them each key gets ``n - index`` (the
        stand-in counts gensim gives vectors loaded from a word2vec file)."""
        vectors = _check_matrix(vectors, "vectors")
        n = len(vectors)
        keys = _check_keys(keys, n)
        counts = np.arange(n, 0, -1, dtype=np.int64) if counts is None else _check_counts(counts, n)
        kv = cls(vectors.shape[1], 0, vectors.dtype)
        kv._vectors = vectors
        kv.index_to_key = keys
        kv.key_to_index = {key: i for i, key in enumerate(keys)}
        kv.expandos["count"] = counts
        kv.next_index = n
        return kv

    # ------------------------------------------------------------------ the table
    @property
    def vectors(self) -> np.ndarray:
        return self._vectors

    @vectors.setter
    def vectors(self, value: np.ndarray) -> None:
        value = _check_matrix(value, "vectors")
        if value.shape != self._vectors.shape:
            raise ValueError(f"vectors must have shape {self._vectors.shape}; received {value.shape}")
        self._vectors = value
        self.norms = None

    @property
    def dtype(self) -> np.dtype:
        return self._vectors.dtype

    def __len__(self) -> int:
        return len(self.index_to_key)

    def __contains__(self, key) -> bool:
        return self.has_index_for(key)

    def has_index_for(self, key) -> bool:
        """True when ``key`` is a stored key (gensim: ``key in wv``)."""
        return isinstance(key, str) and key in self.key_to_index

    def get_index(self, key: Key, default: Optional[int] = None) -> int:
        """The row of ``key``: its index, or the int itself when it is a valid row number;
        ``default`` when given, else a ``KeyError``."""
        if isinstance(key, str):
            index = self.key_to_index.get(key)
            if index is not None:
                return index
        elif isinstance(key, (int, np.integer)) and not isinstance(key, bool) \
                and 0 <= key < len(self.index_to_key):
            return int(key)
        if default is not None:
            return default
        raise KeyError(f"Key '{key}' not present")

    def get_vector(self, key: Key, norm: bool = False) -> np.ndarray:
        """The vector of ``key`` (a view of its row), or a unit-length copy when ``norm``."""
        index = self.get_index(key)
        if norm:
            self.fill_norms()
            return self._vectors[index] / (float(self.norms[index]) or 1.0)
        return self._vectors[index]

    def __getitem__(self, keys):
        if isinstance(keys, (str, int, np.integer)):
            return self.get_vector(keys)
        return np.vstack([self.get_vector(key) for key in keys]) if len(keys) else \
            np.empty((0, self.vector_size), self.dtype)

    def get_vecattr(self, key: Key, attr: str):
        """The per-key attribute ``attr`` (``"count"``, or one set by ``set_vecattr``)."""
        if attr not in self.expandos:
            raise KeyError(f"no per-key attribute {attr!r}; have {sorted(self.expandos)}")
        return self.expandos[attr][self.get_index(key)].item()

    def set_vecattr(self, key: Key, attr: str, value) -> None:
        """Set the per-key attribute ``attr`` of ``key`` (allocated on first use)."""
        index = self.get_index(key)
        if attr not in self.expandos:
            self.expandos[attr] = np.zeros(len(self.index_to_key), np.asarray(value).dtype)
        self.expandos[attr][index] = value

    def __repr__(self) -> str:
        return (f"{type(self).__name__}<vector_size={self.vector_size}, {len(self)} keys, "
                f"{self.dtype.name}>")

    # ----------------------------------------------------------------- adding rows
    def add_vector(self, key: str, vector) -> int:
        """Add one key and its vector (into the next preallocated row if any); returns its
        index.  An existing key has its vector replaced."""
        return int(self.add_vectors([key], np.asarray(vector).reshape(1, -1), replace=True)[0])

    def add_vectors(self, keys: Sequence[str], weights, extras: Optional[dict] = None,
                    replace: bool = False) -> np.ndarray:
        """Add ``keys`` with their rows of ``weights``; ``extras`` maps attribute names to
        one value per key.  Keys already present keep their vector unless ``replace``.
        New keys fill the preallocated rows first, then new rows are appended.
        Returns the index of every key."""
        if isinstance(keys, str):
            keys, weights = [keys], np.asarray(weights).reshape(1, -1)
        keys = _check_keys(keys)
        weights = _check_matrix(np.asarray(weights), "weights", self.dtype)
        if weights.shape != (len(keys), self.vector_size):
            raise ValueError(f"weights must have shape ({len(keys)}, {self.vector_size}); "
                             f"received {weights.shape}")
        extras = {attr: np.asarray(values) for attr, values in (extras or {}).items()}
        for attr, values in extras.items():
            if values.shape != (len(keys),):
                raise ValueError(f"extras[{attr!r}] must have shape ({len(keys)},); "
                                 f"received {values.shape}")
        is_new = np.array([key not in self.key_to_index for key in keys], dtype=bool)
        n_new = int(is_new.sum())
        free = len(self.index_to_key) - self.next_index
        grow = max(0, n_new - free)
        if grow:
            self._vectors = np.concatenate([self._vectors, np.zeros((grow, self.vector_size), self.dtype)])
            self.index_to_key += [None] * grow
            for attr, values in self.expandos.items():
                self.expandos[attr] = np.concatenate([values, np.zeros(grow, values.dtype)])
        indices = np.empty(len(keys), dtype=np.int64)
        for i, key in enumerate(keys):
            if is_new[i]:
                index = self.next_index
                self.next_index += 1
                self.index_to_key[index] = key
                self.key_to_index[key] = index
            indices[i] = self.key_to_index[key]
        write = is_new | bool(replace)
        self._vectors[indices[write]] = weights[write]
        for attr, values in extras.items():
            if attr not in self.expandos:
                self.expandos[attr] = np.zeros(len(self.index_to_key), values.dtype)
            self.expandos[attr][indices[write]] = values[write]
        self.norms = None
        return indices

    # ----------------------------------------------------------------- similarity
    def fill_norms(self, force: bool = False) -> None:
        """Compute the Euclidean norm of every row into ``norms`` (kept until reset)."""
        if self.norms is None or force or len(self.norms) != len(self._vectors):
            self.norms = np.linalg.norm(self._vectors, axis=1)

    def get_normed_vectors(self) -> np.ndarray:
        """A unit-length copy of ``vectors`` (zero rows stay zero)."""
        self.fill_norms()
        return self._vectors / self._safe_norms()[:, None]

    def _safe_norms(self) -> np.ndarray:
        return np.where(self.norms > 0, self.norms, 1.0).astype(self.dtype)

    def _unit(self, vector: np.ndarray) -> np.ndarray:
        norm = np.linalg.norm(vector)
        return (vector / norm if norm > 0 else vector).astype(self.dtype)

    def _query_vector(self, item, what: str) -> Tuple[np.ndarray, Optional[int]]:
        """A query term as (vector, its row or None): a key gives its unit vector, an
        array is used as it is."""
        if isinstance(item, (str, int, np.integer)):
            index = self.get_index(item)
            return self.get_vector(index, norm=True), index
        vector = np.asarray(item)
        if vector.shape != (self.vector_size,) or vector.dtype.kind not in "biuf":
            raise ValueError(f"{what} vectors must be numbers of shape ({self.vector_size},); "
                             f"received {vector.dtype} {vector.shape}")
        return vector.astype(self.dtype), None

    def _combine(self, positive, negative) -> Tuple[np.ndarray, List[int]]:
        """The unit mean of the weighted query terms and the rows of the keys among them."""
        terms = []
        for items, sign, what in ((positive, 1.0, "positive"), (negative, -1.0, "negative")):
            if items is None:
                continue
            if isinstance(items, (str, int, np.integer)) or \
                    (isinstance(items, np.ndarray) and items.ndim == 1):
                items = [items]
            for item in items:
                weight = sign
                if isinstance(item, tuple):
                    if len(item) != 2:
                        raise ValueError(f"a weighted {what} term is (key or vector, weight); "
                                         f"received {item!r}")
                    item, weight = item[0], sign * float(item[1])
                terms.append((self._query_vector(item, what), weight))
        if not terms:
            raise ValueError("cannot compute similarity with no input")
        mean = np.mean([vector * weight for (vector, _), weight in terms], axis=0)
        return self._unit(mean), [index for (_, index), _ in terms if index is not None]

    def _restrict(self, restrict_vocab: Optional[int]) -> int:
        if restrict_vocab is None:
            return len(self._vectors)
        if isinstance(restrict_vocab, bool) or not isinstance(restrict_vocab, (int, np.integer)) \
                or restrict_vocab < 0:
            raise ValueError(f"restrict_vocab must be a non-negative integer or None; "
                             f"received: {restrict_vocab!r}")
        return min(int(restrict_vocab), len(self._vectors))

    def _cosine_scores(self, queries: np.ndarray, end: Optional[int] = None) -> np.ndarray:
        """Cosine similarity of each unit-length row of ``queries`` (q, vector_size) to the
        first ``end`` vectors (all by default): ``(queries @ vectors[:end].T) / norms``,
        one ``ops.gemm`` (a few queries: one per block of ``_FEW_QUERIES_BLOCK`` vectors);
        shape (q, end)."""
        end = len(self._vectors) if end is None else end
        self.fill_norms()
        queries = np.ascontiguousarray(queries, dtype=self.dtype)
        scores = np.empty((len(queries), end), self.dtype)
        few = len(queries) <= _dispatch.kernels.GEMM_BLOCKING[self.dtype.name]["skinny"]["max_rows"]
        step = _FEW_QUERIES_BLOCK if few else max(end, 1)
        for first in range(0, end, step):
            last = min(end, first + step)
            ops.gemm(queries, self._vectors[first:last], trans_b=True, out=scores[:, first:last])
        scores /= self._safe_norms()[:end]
        return scores

    def _top(self, scores: np.ndarray, topn: int, exclude: Iterable[int]) -> List[Tuple[str, float]]:
        """The ``topn`` best (key, score) of one row of scores, skipping the rows ``exclude``."""
        exclude = set(exclude)
        k = min(len(scores), topn + len(exclude))
        if k == 0:
            return []
        best = np.argpartition(-scores, k - 1)[:k]
        best = best[np.argsort(-scores[best], kind="stable")]
        return [(self.index_to_key[i], float(scores[i])) for i in best if i not in exclude][:topn]

    def most_similar(self, positive=None, negative=None, topn: Optional[int] = 10,
                     restrict_vocab: Optional[int] = None):
        """The ``topn`` keys most cosine-similar to the mean of the unit vectors of
        ``positive`` minus those of ``negative``, as ``[(key, similarity), ...]``.

        Terms are keys or vectors (used as given), optionally ``(term, weight)`` pairs;
        the query keys are left out of the answer.  ``restrict_vocab=n`` searches the
        first ``n`` keys only.  ``topn=None`` (or 0) returns the similarity to every key.
        """
        query, used = self._combine(positive, negative)
        end = self._restrict(restrict_vocab)
        scores = self._cosine_scores(query[None, :], end)[0]
        if not topn:
            return scores
        if isinstance(topn, bool) or not isinstance(topn, (int, np.integer)) or topn < 0:
            raise ValueError(f"topn must be a non-negative integer or None; received: {topn!r}")
        return self._top(scores, int(topn), used)

    def similar_by_key(self, key: Key, topn: Optional[int] = 10,
                       restrict_vocab: Optional[int] = None):
        """``most_similar(positive=[key], ...)``."""
        return self.most_similar(positive=[key], topn=topn, restrict_vocab=restrict_vocab)

    def similar_by_vector(self, vector: np.ndarray, topn: Optional[int] = 10,
                          restrict_vocab: Optional[int] = None):
        """``most_similar(positive=[vector], ...)``."""
        return self.most_similar(positive=[vector], topn=topn, restrict_vocab=restrict_vocab)

    def similarity(self, key1: Key, key2: Key) -> float:
        """Cosine similarity of the vectors of two keys."""
        return float(self.get_vector(key1, norm=True) @ self.get_vector(key2, norm=True))

    def distance(self, key1: Key, key2: Key) -> float:
        """Cosine distance ``1 - similarity(key1, key2)``."""
        return 1.0 - self.similarity(key1, key2)

    def n_similarity(self, keys1: Sequence[Key], keys2: Sequence[Key]) -> float:
        """Cosine similarity of the mean vectors of two non-empty lists of keys."""
        if not len(keys1) or not len(keys2):
            raise ValueError("n_similarity needs two non-empty lists of keys")
        return float(self._unit(self[list(keys1)].mean(axis=0)) @
                     self._unit(self[list(keys2)].mean(axis=0)))

    def doesnt_match(self, keys: Sequence[str]) -> str:
        """The key furthest from the mean of the unit vectors of ``keys`` (unknown keys are
        ignored; a ``ValueError`` when none is known)."""
        used = [key for key in keys if self.has_index_for(key)]
        if not used:
            raise ValueError(f"cannot select a word from an empty list: none of {list(keys)!r} "
                             "is a known key")
        vectors = np.vstack([self.get_vector(key, norm=True) for key in used])
        scores = vectors @ self._unit(vectors.mean(axis=0))
        return sorted(zip(scores.tolist(), used))[0][1]

    def plot(self, keys: Sequence[str], topn: int = 0, *, ax: Optional["Axes"] = None) -> "Axes":
        """Draw ``keys`` and, with ``topn``, each one's ``topn`` most similar keys (coloured
        by the key they are near; a neighbour of two keys goes with the first) as words on
        the two principal components of their unit vectors (:func:`fastnn.plot_embedding`).
        Returns the matplotlib axes; needs matplotlib (``pip install "fastnn[plot]"``)."""
        if isinstance(keys, (str, bytes)) or not isinstance(keys, Iterable):
            raise TypeError(f"keys must be a list of keys; received: {type(keys).__name__}")
        if isinstance(topn, bool) or not isinstance(topn, (int, np.integer)) or topn < 0:
            raise ValueError(f"topn must be a non-negative integer; received: {topn!r}")
        group: Dict[str, str] = {}
        for key in keys:
            word = self.index_to_key[self.get_index(key)]
            group.setdefault(word, word)
        if topn:
            for key in list(group):
                for near, _ in self.most_similar(positive=[key], topn=int(topn)):
                    group.setdefault(near, key)
        words = list(group)
        vectors = np.vstack([self.get_vector(word, norm=True) for word in words])
        return plot_embedding(vectors, [group[w] for w in words] if topn else None,
                              annotate=words, ax=ax)

    # ----------------------------------------------------------------- evaluation
    def _eval_vocab(self, restrict_vocab: int, case_insensitive: bool) -> Dict[str, int]:
        """Key -> row over the first ``restrict_vocab`` keys; with ``case_insensitive`` the
        keys are upper-cased and the first (most frequent) spelling wins."""
        end = self._restrict(restrict_vocab)
        keys = self.index_to_key[:end]
        fold = str.upper if case_insensitive else str
        return {fold(key): i for i, key in reversed(list(enumerate(keys))) if key is not None}

    def evaluate_word_pairs(self, pairs, delimiter: str = "\t", encoding: str = "utf8",
                            restrict_vocab: int = 300000, case_insensitive: bool = True,
                            dummy4unknown: bool = False):
        """Correlation of the model's similarities with human judgements.

        ``pairs`` is a file of lines ``word1<delimiter>word2<delimiter>score`` (lines
        starting with ``#`` and malformed lines are skipped), e.g. WordSim-353 or
        SimLex-999.  Returns ``((pearson, p), (spearman, p), oov_ratio)`` as gensim:
        ``oov_ratio`` is the percentage of pairs with a word outside the first
        ``restrict_vocab`` keys; those pairs are skipped, or scored 0 with
        ``dummy4unknown``.
        """
        vocab = self._eval_vocab(restrict_vocab, case_insensitive)
        gold, model, oov = [], [], 0
        with open(pairs, encoding=encoding) as fin:
            for line in fin:
                if not line or line.startswith("#"):
                    continue
                fields = line.split(delimiter)
                if case_insensitive:
                    fields = [field.upper() for field in fields]
                try:
                    a, b, score = fields
                    score = float(score)
                except ValueError:
                    continue
                if a not in vocab or b not in vocab:
                    oov += 1
                    if dummy4unknown:
                        gold.append(score)
                        model.append(0.0)
                    continue
                gold.append(score)
                model.append(self.similarity(vocab[a], vocab[b]))
        if len(gold) < 2:
            raise ValueError(f"{pairs}: fewer than 2 word pairs with both words known "
                             f"({len(gold)} scored, {oov} out of vocabulary)")
        oov_ratio = 100.0 * oov / (len(gold) if dummy4unknown else len(gold) + oov)
        return pearson(gold, model), spearman(gold, model), oov_ratio

    def evaluate_word_analogies(self, analogies, restrict_vocab: int = 300000,
                                case_insensitive: bool = True, dummy4unknown: bool = False,
                                batch_size: int = 256):
        """Accuracy on analogy questions ``a b c d`` ("a is to b as c is to d").

        ``analogies`` is a file in word2vec's questions-words format (``: section`` lines,
        then one question a line).  A question is answered by the nearest key to
        ``b - a + c`` (unit vectors) among the first ``restrict_vocab`` keys, other than
        ``a``, ``b``, ``c``; questions with an unknown word are skipped (counted wrong with
        ``dummy4unknown``).  The searches run ``batch_size`` questions per ``ops.gemm``.
        Returns ``(score, sections)`` as gensim: the total accuracy, and a list of
        ``{"section", "correct", "incorrect"}`` dicts ending with ``"Total accuracy"``.
        """
        vocab = self._eval_vocab(restrict_vocab, case_insensitive)
        end = self._restrict(restrict_vocab)
        sections: List[dict] = []
        questions: List[Tuple[dict, Tuple[str, ...]]] = []
        with open(analogies, "rb") as fin:
            for line_no, raw in enumerate(fin, 1):
                line = raw.decode("utf8")
                if line.startswith(": "):
                    sections.append({"section": line[2:].strip(), "correct": [], "incorrect": []})
                    continue
                if not sections:
                    raise ValueError(f"{analogies}: missing section header before line {line_no}")
                words = tuple(w.upper() if case_insensitive else w for w in line.split())
                if len(words) == 4 and (dummy4unknown or all(w in vocab for w in words)):
                    questions.append((sections[-1], words))
        known = [i for i, (_, words) in enumerate(questions) if all(w in vocab for w in words)]
        correct = np.zeros(len(questions), dtype=bool)
        for first in range(0, len(known), batch_size):
            batch = known[first:first + batch_size]
            correct[batch] = self._answer_analogies([questions[i][1] for i in batch], vocab, end,
                                                    case_insensitive)
        for (section, words), right in zip(questions, correct):
            section["correct" if right else "incorrect"].append(words)
        total = {"section": "Total accuracy",
                 "correct": list(itertools.chain.from_iterable(s["correct"] for s in sections)),
                 "incorrect": list(itertools.chain.from_iterable(s["incorrect"] for s in sections))}
        answered = len(total["correct"]) + len(total["incorrect"])
        score = len(total["correct"]) / answered if answered else 0.0
        sections.append(total)
        return score, sections

    def _answer_analogies(self, questions: List[Tuple[str, ...]], vocab: Dict[str, int],
                          end: int, case_insensitive: bool) -> List[bool]:
        """Whether each question is answered right, all scored by one ``ops.gemm`` (gensim's
        rule: the answer is the first of the 5 best keys, query rows left out, whose
        spelling is not one of ``a``, ``b``, ``c``)."""
        self.fill_norms()
        rows = np.array([[vocab[w] for w in words[:3]] for words in questions], dtype=np.int64)
        unit = self._vectors[rows] / self._safe_norms()[rows][:, :, None]
        queries = (unit[:, 1] + unit[:, 2] - unit[:, 0]) / 3
        norms = np.linalg.norm(queries, axis=1, keepdims=True)
        queries /= np.where(norms > 0, norms, 1.0)
        results = []
        for words, row, scores in zip(questions, rows, self._score_blocks(queries, end)):
            predicted = None
            for key, _ in self._top(scores, 5, row.tolist()):
                predicted = key.upper() if case_insensitive else key
                if predicted in vocab and predicted not in words[:3]:
                    break
            results.append(predicted == words[3])
        return results

    def _score_blocks(self, queries: np.ndarray, end: int):
        """Rows of ``_cosine_scores(queries, end)``, computed a block of queries at
        a time (at most ``_SCORE_BLOCK`` scores per block)."""
        step = max(1, _SCORE_BLOCK // max(end, 1))
        for first in range(0, len(queries), step):
            yield from self._cosine_scores(queries[first:first + step], end)

    # ---------------------------------------------------------------- files
    def save_word2vec_format(self, fname, fvocab=None, binary: bool = False,
                             write_header: bool = True) -> None:
        """Write word2vec.c's format: a header line ``"<count> <vector_size>"``, then per key
        ``key v1 v2 ...`` in text, or ``key `` and ``vector_size`` little-endian float32 in
        ``binary`` (each record ended by a newline, as word2vec.c writes).  Keys go in
        order of decreasing count (as gensim writes them); ``fvocab`` also writes a file of
        ``key count`` lines."""
        if self.next_index != len(self.index_to_key):
            raise ValueError(f"{len(self.index_to_key) - self.next_index} preallocated rows have "
                             "no key yet; fill them with add_vector before saving")
        for key in self.index_to_key:
            if any(ch.isspace() for ch in key):
                raise ValueError(f"key {key!r} contains whitespace: word2vec files cannot hold it")
        counts = self.expandos["count"]
        order = np.argsort(-counts, kind="stable")
        if fvocab is not None:
            with open(fvocab, "w", encoding="utf8") as vout:
                vout.writelines(f"{self.index_to_key[i]} {counts[i]}\n" for i in order)
        with open(fname, "wb") as fout:
            if write_header:
                fout.write(f"{len(self)} {self.vector_size}\n".encode("utf8"))
            if binary:
                rows = self._vectors.astype("<f4", copy=False)
                for i in order:
                    fout.write(self.index_to_key[i].encode("utf8") + b" " + rows[i].tobytes() + b"\n")
            else:
                template = " ".join(["%.9g" if self.dtype == np.float32 else "%.17g"] * self.vector_size)
                for i in order:
                    fout.write(f"{self.index_to_key[i]} {template % tuple(self._vectors[i])}\n"
                               .encode("utf8"))

    @classmethod
    def load_word2vec_format(cls, fname, fvocab=None, binary: bool = False,
                             encoding: str = "utf8", unicode_errors: str = "strict",
                             limit: Optional[int] = None, datatype=np.float32,
                             no_header: bool = False) -> "KeyedVectors":
        """Read word2vec.c's text or binary format (see :meth:`save_word2vec_format`),
        at most ``limit`` keys.  A repeated key keeps its first vector.  Counts come from
        ``fvocab`` when given, else are ``n - index``.  A missing header (``no_header``,
        text only), truncated, malformed or inconsistent file is a ``ValueError``
        naming the line or record."""
        datatype = _check_dtype(datatype)
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, np.integer))
                                  or limit < 0):
            raise ValueError(f"limit must be a non-negative integer or None; received: {limit!r}")
        counts = _read_vocab_file(fvocab, encoding, unicode_errors) if fvocab is not None else None
        with open(fname, "rb") as fin:
            if no_header:
                if binary:
                    raise ValueError("no_header needs the text format (binary=False)")
                n, size = _text_sizes(fin, fname, encoding, unicode_errors)
                fin.seek(0)
            else:
                n, size = _read_header(fin.readline(), fname)
            if limit is not None:
                n = min(n, int(limit))
            reader = _read_binary if binary else _read_text
            keys, vectors = reader(fin, fname, n, size, datatype, encoding, unicode_errors)
        if counts is None:
            key_counts = np.arange(len(keys), 0, -1, dtype=np.int64) + (n - len(keys))
        else:
            missing = [key for key in keys if key not in counts]
            if missing:
                raise ValueError(f"{fvocab}: no count for {len(missing)} keys, e.g. {missing[0]!r}")
            key_counts = np.array([counts[key] for key in keys], dtype=np.int64)
        return cls.from_arrays(keys, vectors, key_counts)

    def save(self, path) -> None:
        """Write keys, vectors and per-key attributes to an ``.npz`` archive (no pickle):
        ``__fastnn__`` a JSON header, ``vectors``, ``keys_utf8`` the UTF-8 bytes of the
        keys and ``keys_end`` where each one ends, ``attr.<name>`` per attribute."""
        if self.next_index != len(self.index_to_key):
            raise ValueError(f"{len(self.index_to_key) - self.next_index} preallocated rows have "
                             "no key yet; fill them with add_vector before saving")
        encoded = [key.encode("utf8") for key in self.index_to_key]
        header = {"format": FORMAT, "vector_size": self.vector_size, "count": len(self)}
        arrays = {f"attr.{name}": values for name, values in self.expandos.items()}
        np.savez(path, __fastnn__=np.array(json.dumps(header)), vectors=self._vectors,
                 keys_utf8=np.frombuffer(b"".join(encoded), dtype=np.uint8),
                 keys_end=np.cumsum([len(e) for e in encoded], dtype=np.int64), **arrays)

    @classmethod
    def load(cls, path) -> "KeyedVectors":
        """Read a file written by :meth:`save`; a corrupt or foreign file is a ``ValueError``."""
        try:
            with np.load(path, allow_pickle=False) as data:
                header = json.loads(str(data["__fastnn__"]))
                if header.get("format") != FORMAT:
                    raise ValueError(f"unknown format {header.get('format')!r}")
                vectors = data["vectors"]
                blob, ends = data["keys_utf8"].tobytes(), data["keys_end"]
                attrs = {name[5:]: data[name] for name in data.files if name.startswith("attr.")}
            starts = np.r_[0, ends[:-1]] if len(ends) else ends
            keys = [blob[s:e].decode("utf8") for s, e in zip(starts.tolist(), ends.tolist())]
            if len(keys) != header["count"] or vectors.shape != (header["count"], header["vector_size"]):
                raise ValueError(f"{len(keys)} keys and vectors of shape {vectors.shape} do not "
                                 f"match the header {header}")
            kv = cls.from_arrays(keys, vectors, attrs.pop("count", None))
            for name, values in attrs.items():
                if values.shape != (len(keys),):
                    raise ValueError(f"attribute {name!r} has shape {values.shape}")
                kv.expandos[name] = values
        except FileNotFoundError:
            raise
        except Exception as exc:  # zip, npy, JSON, key and shape errors all mean the same
            raise ValueError(f"{path} is not a readable fastnn KeyedVectors file ({exc})") from exc
        return kv


# --------------------------------------------------------------------- word2vec files
def _read_header(line: bytes, fname) -> Tuple[int, int]:
    try:
        n, size = (int(field) for field in line.split())
    except ValueError:
        raise ValueError(f"{fname}: the first line must be '<count> <vector_size>'; received "
                         f"{line[:80]!r} (a file without header needs no_header=True)") from None
    if n < 0 or size < 1:
        raise ValueError(f"{fname}: invalid header {line[:80]!r}")
    return n, size


def _text_sizes(fin, fname, encoding: str, unicode_errors: str) -> Tuple[int, int]:
    """(lines, numbers per line) of a text file without header."""
    first = fin.readline()
    if not first.strip():
        raise ValueError(f"{fname}: empty file")
    size = len(first.decode(encoding, unicode_errors).rstrip().split(" ")) - 1
    n = 1 + sum(1 for line in fin if line.strip())
    return n, size


def _read_text(fin, fname, n: int, size: int, datatype, encoding: str, unicode_errors: str):
    keys: List[str] = []
    seen = set()
    vectors = np.empty((n, size), datatype)
    for line_no in range(n):
        line = fin.readline()
        if not line:
            raise ValueError(f"{fname}: unexpected end of file after {line_no} of {n} vectors "
                             "(truncated file or wrong count in the header)")
        parts = line.decode(encoding, unicode_errors).rstrip().split(" ")
        if len(parts) != size + 1:
            raise ValueError(f"{fname}: vector {line_no + 1} has {len(parts) - 1} numbers, "
                             f"expected {size} (is this really the text format?)")
        key = parts[0]
        if key in seen:
            continue
        try:
            vectors[len(keys)] = np.array(parts[1:], dtype=np.float64)
        except ValueError:
            raise ValueError(f"{fname}: vector {line_no + 1} ({key!r}) holds a value that is "
                             "not a number") from None
        seen.add(key)
        keys.append(key)
    return keys, _finite(vectors[:len(keys)], fname)


def _read_binary(fin, fname, n: int, size: int, datatype, encoding: str, unicode_errors: str):
    keys: List[str] = []
    seen = set()
    vectors = np.empty((n, size), datatype)
    record = size * 4
    buffer = b""
    pos = 0
    for number in range(n):
        while True:
            space = buffer.find(b" ", pos)
            if space >= 0 and len(buffer) - space - 1 >= record:
                break
            more = fin.read(max(1 << 20, record + 256))
            if not more:
                raise ValueError(f"{fname}: unexpected end of file in vector {number + 1} of {n} "
                                 "(truncated file, wrong count in the header, or a text file "
                                 "read with binary=True)")
            buffer, pos = buffer[pos:] + more, 0
        key = buffer[pos:space].decode(encoding, unicode_errors).lstrip("\n")
        if not key or any(ch.isspace() for ch in key):
            raise ValueError(f"{fname}: malformed key {key!r} in vector {number + 1}")
        start = space + 1
        if key not in seen:
            vectors[len(keys)] = np.frombuffer(buffer, dtype="<f4", count=size, offset=start)
            seen.add(key)
            keys.append(key)
        pos = start + record
    return keys, _finite(vectors[:len(keys)], fname)


def _finite(vectors: np.ndarray, fname) -> np.ndarray:
    if not np.isfinite(vectors).all():
        row = int(np.flatnonzero(~np.isfinite(vectors).all(axis=1))[0])
        raise ValueError(f"{fname}: vector {row + 1} holds NaN or infinity")
    return np.ascontiguousarray(vectors)


def _read_vocab_file(fvocab, encoding: str, unicode_errors: str) -> Dict[str, int]:
    counts: Dict[str, int] = {}
    with open(fvocab, "rb") as fin:
        for line_no, line in enumerate(fin, 1):
            fields = line.decode(encoding, unicode_errors).split()
            try:
                key, count = fields
                counts.setdefault(key, int(count))
            except ValueError:
                raise ValueError(f"{fvocab}: line {line_no} is not '<key> <count>': "
                                 f"{line[:80]!r}") from None
    return counts
