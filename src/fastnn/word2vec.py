"""``Word2Vec``: skip-gram and CBOW with negative sampling, with gensim's names and
defaults, trained by the compiled kernel (``word2vec_train`` in the kernel layer).

The pipeline:

1. *Scan* the corpus once: ``corpus_file`` is read in blocks of bytes and tokenised and
   counted in C (never held as Python objects); ``sentences`` go through a dict that
   numbers each new token (C-level ``map``, no Python loop per token).  Either gives the
   distinct tokens in order of first appearance, their counts, and the corpus as an
   int32 stream of token ids with sentence offsets.
2. *Vocabulary*: words with ``count >= min_count`` (raised, as gensim does, so that at
   most ``max_final_vocab`` words stay), sorted by count (ties by first appearance);
   per word the subsampling threshold (word2vec.c's formula, as gensim) and the
   cumulative unigram^ns_exponent table of the negative draws.
3. *Train*: the stream is remapped to vocabulary indices (dropped words removed),
   grouped in chunks of about ``CHUNK_WORDS`` words, and trained epoch by epoch, the
   learning rate falling linearly from ``alpha`` to ``min_alpha`` over all words of
   all epochs.  Threads take chunks and update the vectors without locks (Hogwild).
"""
from __future__ import annotations

import gzip
import itertools
import json
import math
import os
import sys
import time
from array import array
from collections import defaultdict
from typing import Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _dispatch
from .keyedvectors import KeyedVectors

__all__ = ["Word2Vec"]

FORMAT = "fastnn.Word2Vec/1"
#: words per chunk of the token stream: the unit of work of one thread, with its own
#: random stream (so the random decisions do not depend on the thread count)
CHUNK_WORDS = 4096
#: bytes read from a corpus file per block
BLOCK_BYTES = 1 << 20
_CUM_DOMAIN = 2 ** 31 - 1
_PARAMS = ("vector_size", "window", "min_count", "max_final_vocab", "sample", "sg",
           "cbow_mean", "negative", "ns_exponent", "alpha", "min_alpha", "epochs", "workers",
           "seed", "compute_loss")

PathLike = Union[str, "os.PathLike[str]"]


class _Scan:
    """A scanned corpus: distinct tokens (first-appearance order), their counts, the
    token ids and the sentence offsets (sentence s is ids[sent[s]:sent[s + 1]])."""

    def __init__(self, keys: List[str], counts: np.ndarray, ids: np.ndarray, sent: np.ndarray):
        self.keys, self.counts, self.ids, self.sent = keys, counts, ids, sent


def _scan_file(path: PathLike) -> _Scan:
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"corpus_file must be an existing file; received {path!r}")
    counter = _dispatch.kernels.VocabCounter()
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as fh:
        pending = b""
        while True:
            block = fh.read(BLOCK_BYTES)
            if not block:
                break
            data = pending + block if pending else block
            pending = data[counter.feed(data):]
        counter.feed(pending, final=True)
    raw_keys, counts = counter.vocabulary()
    try:
        keys = [k.decode("utf-8") for k in raw_keys]
    except UnicodeDecodeError as exc:
        raise ValueError(f"corpus_file must be UTF-8 text; {path!r} is not ({exc})") from None
    ids, sent = counter.stream()
    return _Scan(keys, counts, ids, sent)


def _split_long(lengths: np.ndarray) -> np.ndarray:
    """Sentence offsets from lengths, sentences longer than W2V_MAX_SENTENCE split."""
    limit = _dispatch.kernels.W2V_MAX_SENTENCE
    pieces = np.maximum(1, -(-lengths // limit))
    if (pieces == 1).all():
        sizes = lengths
    else:
        sizes = np.full(int(pieces.sum()), limit, dtype=np.int64)
        last = np.cumsum(pieces) - 1
        sizes[last] = lengths - (pieces - 1) * limit
    return np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)])


def _scan_sentences(sentences: Iterable) -> _Scan:
    if isinstance(sentences, (str, bytes)) or not isinstance(sentences, Iterable):
        raise TypeError("sentences must be an iterable of token lists; received "
                        f"{type(sentences).__name__}")
    index = defaultdict(itertools.count().__next__)  # token -> id of first appearance
    number = index.__getitem__
    ids = array("i")
    lengths = array("q")
    for i, sentence in enumerate(sentences):
        if isinstance(sentence, (str, bytes)) or not isinstance(sentence, Iterable):
            raise TypeError(f"sentences must be an iterable of token lists; sentence {i} is "
                            f"a {type(sentence).__name__}: {str(sentence)[:50]!r}")
        before = len(ids)
        try:
            ids.extend(map(number, sentence))
        except TypeError:
            bad = next(t for t in sentence if not isinstance(t, str))
            raise TypeError(f"tokens must be strings; sentence {i} holds {bad!r} "
                            f"({type(bad).__name__})") from None
        lengths.append(len(ids) - before)
    keys = list(index)
    for key in keys:
        if not isinstance(key, str):
            raise TypeError(f"tokens must be strings; received {key!r} ({type(key).__name__})")
    if "" in index:
        raise ValueError("tokens must be non-empty strings; received ''")
    ids_a = np.frombuffer(ids, dtype=np.int32) if len(ids) else np.empty(0, np.int32)
    counts = np.bincount(ids_a, minlength=len(keys)).astype(np.int64)
    lengths_a = np.frombuffer(lengths, dtype=np.int64) if len(lengths) else np.empty(0, np.int64)
    return _Scan(keys, counts, ids_a, _split_long(lengths_a[lengths_a > 0]))


def _scan(corpus_iterable, corpus_file) -> _Scan:
    if (corpus_iterable is None) == (corpus_file is None):
        raise ValueError("give exactly one of sentences (corpus_iterable) and corpus_file; "
                         f"received {'both' if corpus_file is not None else 'neither'}")
    scan = _scan_file(corpus_file) if corpus_file is not None else _scan_sentences(corpus_iterable)
    if len(scan.ids) == 0:
        where = f"corpus_file {os.fspath(corpus_file)!r}" if corpus_file is not None else "sentences"
        raise ValueError(f"the corpus is empty: {where} holds no token")
    return scan


def _check_int(name: str, value, low: int, optional: bool = False) -> Optional[int]:
    if optional and value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer; received {value!r}")
    if value < low:
        raise ValueError(f"{name} must be >= {low}; received {name}={value}")
    return int(value)


def _check_float(name: str, value, low: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{name} must be a number; received {value!r}")
    if not (math.isfinite(value) and value >= low):
        raise ValueError(f"{name} must be finite and >= {low}; received {name}={value}")
    return float(value)


class _Progress:
    """One line on stderr, rewritten in place at most every ``INTERVAL`` seconds (and at
    the end): epoch, percent, words/s, the epoch's loss so far, ETA."""

    INTERVAL = 0.5

    def __init__(self, enabled: bool, total_words: int, stream=None):
        self.enabled, self.total = enabled, max(total_words, 1)
        self.stream = stream or sys.stderr
        self.start = self.shown = time.perf_counter()

    def update(self, epoch: int, epochs: int, done: int, loss: Optional[float]) -> None:
        now = time.perf_counter()
        if not self.enabled or (now - self.shown < self.INTERVAL and done < self.total):
            return
        self.shown = now
        elapsed = now - self.start
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - done) / rate if rate > 0 else 0.0
        text = (f"\rword2vec epoch {epoch + 1}/{epochs} {100 * done / self.total:5.1f}% "
                f"{rate / 1e3:8.1f}k words/s")
        if loss is not None:
            text += f" loss {loss:.4g}"
        self.stream.write(text + f" ETA {eta:6.1f}s")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


class Word2Vec:
    """word2vec (Mikolov et al. 2013): skip-gram (``sg=1``) or CBOW (``sg=0``) trained
    with negative sampling, gensim's parameters and defaults.

    For each kept centre word ``w`` and its context words ``c`` (a window shrunk to a
    random half-width in 1..``window``), with ``k = negative`` words ``n`` drawn from
    the unigram^``ns_exponent`` distribution, SGD descends
    ``-log sigmoid(u_w . v) - sum_n log sigmoid(-u_n . v)`` where ``v`` is the input
    vector of a context word (skip-gram) or the mean (sum with ``cbow_mean=0``) of
    the context (CBOW), and ``u`` are the output vectors (``syn1neg``).  The negatives
    are shared by the whole window of a centre word (Ji et al. 2016).

    ``sentences`` (a re-iterable of token lists) or ``corpus_file`` (a text file, one
    sentence a line, tokens separated by ASCII whitespace, ``.gz`` allowed) start
    ``build_vocab`` and ``train`` at once.  ``workers`` threads (default: fastnn's
    thread count); with ``workers=1`` a seed gives the same vectors every run.
    ``compute_loss`` keeps each epoch's loss (the sum over the epoch's updates) in
    ``epoch_losses``; ``progress`` shows words/s, loss and ETA on stderr.
    """

    def __init__(self, sentences: Optional[Iterable[Sequence[str]]] = None, *,
                 corpus_file: Optional[PathLike] = None, vector_size: int = 100,
                 window: int = 5, min_count: int = 5, max_final_vocab: Optional[int] = None,
                 sample: float = 1e-3, sg: int = 0, cbow_mean: int = 1, negative: int = 5,
                 ns_exponent: float = 0.75, alpha: float = 0.025, min_alpha: float = 0.0001,
                 epochs: int = 5, workers: Optional[int] = None, seed: int = 1,
                 compute_loss: bool = False, progress: bool = True):
        self.vector_size = _check_int("vector_size", vector_size, 1)
        self.window = _check_int("window", window, 1)
        self.min_count = _check_int("min_count", min_count, 1)
        self.max_final_vocab = _check_int("max_final_vocab", max_final_vocab, 1, optional=True)
        self.sample = _check_float("sample", sample, 0.0)
        self.sg = int(bool(sg))
        self.cbow_mean = int(bool(cbow_mean))
        self.negative = _check_int("negative", negative, 1)
        if isinstance(ns_exponent, bool) or not isinstance(ns_exponent, (int, float, np.number)) \
                or not math.isfinite(ns_exponent):
            raise ValueError(f"ns_exponent must be a finite number; received {ns_exponent!r}")
        self.ns_exponent = float(ns_exponent)
        self.alpha = _check_float("alpha", alpha, 0.0)
        self.min_alpha = _check_float("min_alpha", min_alpha, 0.0)
        self.epochs = _check_int("epochs", epochs, 1)
        self.workers = _check_int("workers", _dispatch.get_num_threads() if workers is None
                                  else workers, 1)
        if self.workers > _dispatch.max_threads():
            raise ValueError(f"workers must be <= {_dispatch.max_threads()} (4 threads per "
                             f"online CPU); received workers={self.workers}")
        self.seed = _check_int("seed", seed, 0)
        self.compute_loss = bool(compute_loss)
        self.progress = bool(progress)
        self.wv: Optional[KeyedVectors] = None
        self.syn1neg: Optional[np.ndarray] = None
        self.cum_table: Optional[np.ndarray] = None
        self.sample_int: Optional[np.ndarray] = None
        self.epoch_losses: List[float] = []
        self.corpus_total_words = 0
        self.effective_words = 0
        self._epochs_trained = 0
        if sentences is not None or corpus_file is not None:
            scan = _scan(sentences, corpus_file)
            self._build_vocab(scan)
            self._train(scan, self.epochs, self.alpha, self.min_alpha)

    def __repr__(self) -> str:
        vocab = len(self.wv.index_to_key) if self.wv is not None else 0
        return (f"Word2Vec<vocab={vocab}, vector_size={self.vector_size}, "
                f"{'sg' if self.sg else 'cbow'}, window={self.window}, negative={self.negative}, "
                f"alpha={self.alpha}>")

    # ------------------------------------------------------------------ vocabulary
    def build_vocab(self, corpus_iterable: Optional[Iterable[Sequence[str]]] = None,
                    corpus_file: Optional[PathLike] = None) -> None:
        """Count the corpus, keep the words of ``min_count`` / ``max_final_vocab``, and
        initialise the vectors (``wv.vectors`` uniform in ``+-0.5 / vector_size``,
        ``syn1neg`` zero)."""
        self._build_vocab(_scan(corpus_iterable, corpus_file))

    def _build_vocab(self, scan: _Scan) -> None:
        counts = scan.counts
        min_count = self.min_count
        if self.max_final_vocab is not None and self.max_final_vocab < len(counts):
            # gensim: the smallest min_count keeping at most max_final_vocab words
            nth = np.sort(counts)[::-1][self.max_final_vocab]
            min_count = max(min_count, int(nth) + 1)
        kept = np.flatnonzero(counts >= min_count)
        if len(kept) == 0:
            raise ValueError(f"min_count={min_count} leaves the vocabulary empty: the most "
                             f"frequent of the {len(counts)} distinct words occurs "
                             f"{int(counts.max())} times")
        order = kept[np.argsort(-counts[kept], kind="stable")]
        vocab_counts = counts[order]
        keys = [scan.keys[i] for i in order]
        self.effective_min_count = min_count
        self._set_tables(vocab_counts)
        rng = np.random.default_rng(self.seed)
        vectors = rng.random((len(keys), self.vector_size), dtype=np.float32)
        vectors -= 0.5
        vectors /= self.vector_size
        self.wv = KeyedVectors.from_arrays(keys, vectors, vocab_counts)
        self.syn1neg = np.zeros_like(vectors)
        self.epoch_losses = []
        self._epochs_trained = 0

    def _set_tables(self, counts: np.ndarray) -> None:
        """The subsampling thresholds and the negative-sampling table (as gensim)."""
        total = float(counts.sum())
        if self.sample == 0:
            threshold = total
        elif self.sample < 1.0:
            threshold = self.sample * total
        else:
            threshold = float(int(self.sample * (3 + np.sqrt(5)) / 2))
        c = counts.astype(np.float64)
        keep = np.minimum((np.sqrt(c / threshold) + 1) * (threshold / c), 1.0)
        self.sample_int = np.where(keep >= 1.0, np.uint32(2 ** 32 - 1),
                                   (keep * (2 ** 32 - 1)).astype(np.uint32)).astype(np.uint32)
        weights = np.cumsum(c ** self.ns_exponent)
        self.cum_table = np.round(weights / weights[-1] * _CUM_DOMAIN).astype(np.uint32)

    # ------------------------------------------------------------------ training
    def train(self, corpus_iterable: Optional[Iterable[Sequence[str]]] = None,
              corpus_file: Optional[PathLike] = None, total_examples: Optional[int] = None,
              total_words: Optional[int] = None, epochs: Optional[int] = None,
              start_alpha: Optional[float] = None, end_alpha: Optional[float] = None,
              compute_loss: Optional[bool] = None) -> Tuple[int, int]:
        """Train on a corpus (words outside the vocabulary are skipped) for ``epochs``
        (default: the model's).  ``total_examples``/``total_words`` are accepted for
        gensim compatibility and not needed.  Returns ``(effective_words, raw_words)``:
        the words trained after subsampling, and the vocabulary words seen."""
        if self.wv is None:
            raise RuntimeError("build the vocabulary first: call build_vocab(...) before train(...)")
        epochs = self.epochs if epochs is None else _check_int("epochs", epochs, 1)
        start = self.alpha if start_alpha is None else _check_float("start_alpha", start_alpha, 0)
        end = self.min_alpha if end_alpha is None else _check_float("end_alpha", end_alpha, 0)
        if compute_loss is not None:
            self.compute_loss = bool(compute_loss)
        return self._train(_scan(corpus_iterable, corpus_file), epochs, start, end)

    def _stream(self, scan: _Scan) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The scanned corpus as vocabulary indices: (tokens, sentence offsets, chunks).
        Consumes ``scan.ids`` (mapped in place, then released) to bound peak memory."""
        lookup = self.wv.key_to_index
        remap = np.fromiter((lookup.get(k, -1) for k in scan.keys), dtype=np.int32,
                            count=len(scan.keys))
        tokens, scan.ids = scan.ids, None
        np.take(remap, tokens, out=tokens)
        keep = tokens >= 0
        sent = scan.sent
        if not keep.all():
            tokens = tokens[keep]
            lengths = np.diff(sent)
            kept = np.zeros(len(lengths), dtype=np.int64)
            full = lengths > 0
            kept[full] = np.add.reduceat(keep, sent[:-1][full], dtype=np.int64)
            sent = np.concatenate([[0], np.cumsum(kept)])
        del keep
        nsent = len(sent) - 1
        starts = np.searchsorted(sent[:-1], np.arange(0, len(tokens), CHUNK_WORDS))
        chunks = np.unique(np.concatenate([starts, [0, nsent]])).astype(np.int64)
        return tokens, sent, chunks

    def _train(self, scan: _Scan, epochs: int, start_alpha: float,
               end_alpha: float) -> Tuple[int, int]:
        if end_alpha > start_alpha:
            raise ValueError(f"min_alpha (end_alpha) must be <= alpha (start_alpha); received "
                             f"{end_alpha} > {start_alpha}")
        tokens, sent, chunks = self._stream(scan)
        nchunks = len(chunks) - 1
        per_epoch = len(tokens)
        total = per_epoch * epochs
        step = nchunks if not self.progress else max(16 * self.workers, nchunks // 20, 1)
        bar = _Progress(self.progress, total)
        kernels = _dispatch.kernels
        done = effective = 0
        self.epoch_losses = []
        for epoch in range(epochs):
            seed = (self.seed * 0x9E3779B97F4A7C15 + self._epochs_trained + 1) % 2 ** 64
            epoch_loss = 0.0
            for c0 in range(0, nchunks, step):
                loss, words, eff = kernels.word2vec_train(
                    self.wv.vectors, self.syn1neg, self.cum_table, self.sample_int, tokens, sent,
                    chunks, c0, min(c0 + step, nchunks), sg=self.sg, cbow_mean=self.cbow_mean,
                    window=self.window, negative=self.negative, alpha=start_alpha,
                    min_alpha=end_alpha, words_before=done, total_words=total, seed=seed,
                    compute_loss=self.compute_loss, threads=self.workers)
                done += words
                effective += eff
                epoch_loss += loss
                bar.update(epoch, epochs, done, epoch_loss if self.compute_loss else None)
            if self.compute_loss:
                self.epoch_losses.append(epoch_loss)
            self._epochs_trained += 1
        bar.close()
        self.wv.norms = None  # the similarity searches' cached norms are stale now
        self.corpus_total_words = per_epoch
        self.effective_words = effective
        return effective, done

    def get_latest_training_loss(self) -> float:
        """The loss of the last epoch trained (0.0 without ``compute_loss``).  Unlike
        gensim's running total, it is one epoch's sum, so epochs compare directly."""
        return self.epoch_losses[-1] if self.epoch_losses else 0.0

    # ------------------------------------------------------------------ files
    def save(self, path: PathLike) -> None:
        """Write the model (parameters, vocabulary, ``wv.vectors``, ``syn1neg``) to an
        ``.npz`` archive without pickle."""
        if self.wv is None:
            raise RuntimeError("nothing to save: the model has no vocabulary yet")
        header = {"format": FORMAT, "params": {p: getattr(self, p) for p in _PARAMS},
                  "epoch_losses": self.epoch_losses}
        counts = np.array([self.wv.get_vecattr(k, "count") for k in self.wv.index_to_key],
                          dtype=np.int64)
        np.savez(path, __fastnn__=np.array(json.dumps(header)),
                 keys=np.array(self.wv.index_to_key, dtype=str), counts=counts,
                 vectors=self.wv.vectors, syn1neg=self.syn1neg)

    @classmethod
    def load(cls, path: PathLike) -> "Word2Vec":
        """Read a model written by :meth:`save`; a clear error for any other file."""
        try:
            with np.load(path, allow_pickle=False) as data:
                header = json.loads(str(data["__fastnn__"]))
                arrays = {k: data[k] for k in ("keys", "counts", "vectors", "syn1neg")}
        except FileNotFoundError:
            raise
        except (OSError, ValueError, KeyError) as exc:
            raise ValueError(f"{os.fspath(path)!r} is not a fastnn Word2Vec file ({exc})") from None
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise ValueError(f"{os.fspath(path)!r} is not a fastnn Word2Vec file (format "
                             f"{header.get('format') if isinstance(header, dict) else None!r})")
        params = dict(header["params"])
        model = cls(progress=False, **params)
        vectors = np.ascontiguousarray(arrays["vectors"], dtype=np.float32)
        n = len(arrays["keys"])
        if vectors.shape != (n, model.vector_size) or arrays["syn1neg"].shape != vectors.shape \
                or arrays["counts"].shape != (n,) or n == 0:
            raise ValueError(f"{os.fspath(path)!r} is not a consistent fastnn Word2Vec file: "
                             f"{n} keys, vectors {vectors.shape}, syn1neg "
                             f"{arrays['syn1neg'].shape}, counts {arrays['counts'].shape}")
        model.wv = KeyedVectors.from_arrays([str(k) for k in arrays["keys"]], vectors,
                                            arrays["counts"].astype(np.int64))
        model.syn1neg = np.ascontiguousarray(arrays["syn1neg"], dtype=np.float32)
        model._set_tables(arrays["counts"].astype(np.int64))
        model.epoch_losses = [float(x) for x in header.get("epoch_losses", [])]
        return model
