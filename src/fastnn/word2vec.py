"""``Word2Vec``: skip-gram and CBOW with negative sampling, with gensim's names and
defaults, trained by the compiled kernel (``word2vec_train`` in the kernel layer).

The pipeline:

1. *Count* the corpus once: ``corpus_file`` is read in blocks of bytes and tokenised and
   counted in C by all threads (never held as Python objects); ``sentences`` go through a
   ``collections.Counter`` (counted in C, no Python loop per token).  Either gives the
   distinct tokens in order of first appearance and their counts; the corpus itself is
   not kept.
2. *Vocabulary*: words with ``count >= min_count`` (raised, as gensim does, so that at
   most ``max_final_vocab`` words stay), sorted by count (ties by first appearance);
   per word the subsampling threshold (word2vec.c's formula, as gensim) and the
   cumulative unigram^ns_exponent table of the negative draws.
3. *Train*, epoch by epoch, streaming the corpus again each epoch in batches: a block of
   ``BLOCK_BYTES`` of the file tokenised in C by all threads (``VocabCounter.tokenize``
   over a table of the vocabulary) or ``BATCH_WORDS`` words of ``sentences`` mapped to
   vocabulary indices, dropped words removed, into a bounded int32 buffer grouped in
   chunks of about ``CHUNK_WORDS`` words.  Threads take chunks and update the vectors
   without locks (Hogwild), except the output rows of syn1: with ``workers > 1`` each
   thread trains up to ``PRIVATE_ROW_BYTES`` of them (the most frequent words') in a
   private copy, the copies merged after each round of a few chunks a thread (written by
   all threads, they made 2 threads slower than one), and ``PRIVATE_CONTEXT_ROW_BYTES``
   of syn0's most frequent rows likewise, added to syn0 every chunk a thread trains
   (skip-gram) or every 4 (CBOW, whose chunks train ~4 times faster) and at the end of
   a call (about 5% faster a word on 2 threads); the learning rate falls linearly
   from ``alpha`` to ``min_alpha`` over all words of all epochs (their number known from
   the count).
"""
from __future__ import annotations

import gzip
import json
import math
import os
import sys
import time
from array import array
from collections import Counter
from typing import Callable, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _dispatch
from .keyedvectors import KeyedVectors

__all__ = ["Word2Vec"]

FORMAT = "fastnn.Word2Vec/1"
#: words per chunk of the token stream: the unit of work of one thread, with its own
#: random stream (so the random decisions do not depend on the thread count)
CHUNK_WORDS = 4096
#: bytes read from a corpus file per block (the training buffers hold one block's ids)
BLOCK_BYTES = 1 << 22
#: bytes per thread (workers > 1) for the private copy of syn1's most frequent rows
#: (8 MiB: 20,971 rows at vector_size 100; 16 MiB, all of a 40,000-word vocabulary, merged
#: twice the bytes a round and was 3-5% slower on 2 threads, 4 MiB slower on a Zen 4)
PRIVATE_ROW_BYTES = 8 << 20
#: bytes per thread (workers > 1) for the private copy of syn0's most frequent rows, synced
#: every chunk (skip-gram) or every 4 chunks (CBOW) (1 MiB: 2,621 rows at vector_size 100)
PRIVATE_CONTEXT_ROW_BYTES = 1 << 20
#: words of ``sentences`` turned into ids at a time while training
BATCH_WORDS = 1 << 18
_CUM_DOMAIN = 2 ** 31 - 1
_PARAMS = ("vector_size", "window", "min_count", "max_final_vocab", "sample", "sg",
           "cbow_mean", "negative", "ns_exponent", "alpha", "min_alpha", "epochs", "workers",
           "seed", "compute_loss")

PathLike = Union[str, "os.PathLike[str]"]
#: a batch of the corpus: vocabulary indices (int32) and sentence offsets (int64)
Batch = Tuple[np.ndarray, np.ndarray]


class _Corpus:
    """A corpus given by ``path`` (a text file) or ``sentences`` (re-iterable), checked."""

    def __init__(self, sentences, path: Optional[PathLike]):
        if (sentences is None) == (path is None):
            raise ValueError("give exactly one of sentences (corpus_iterable) and corpus_file; "
                             f"received {'both' if path is not None else 'neither'}")
        if path is not None:
            path = os.fspath(path)
            if not os.path.isfile(path):
                raise FileNotFoundError(f"corpus_file must be an existing file; received {path!r}")
        elif isinstance(sentences, (str, bytes)) or not isinstance(sentences, Iterable):
            raise TypeError("sentences must be an iterable of token lists; received "
                            f"{type(sentences).__name__}")
        elif iter(sentences) is sentences:
            raise TypeError("sentences must be re-iterable (a list, or an object whose "
                            "__iter__ starts over), since every epoch reads it again; received "
                            f"a one-shot {type(sentences).__name__}")
        self.sentences, self.path = sentences, path

    def where(self) -> str:
        return f"corpus_file {self.path!r}" if self.path is not None else "sentences"

    def count(self, threads: int) -> Tuple[List[str], np.ndarray]:
        """The distinct tokens in order of first appearance and their counts (a file
        counted on ``threads`` threads)."""
        keys, counts = (self._count_file(threads) if self.path is not None
                        else self._count_sentences())
        if counts.sum() == 0:
            raise ValueError(f"the corpus is empty: {self.where()} holds no token")
        return keys, counts

    def _count_file(self, threads: int) -> Tuple[List[str], np.ndarray]:
        counter = _dispatch.kernels.VocabCounter()
        _read_text(self.path, lambda data, final: counter.feed(data, final, threads))
        raw_keys, counts = counter.vocabulary()
        try:
            keys = [k.decode("utf-8") for k in raw_keys]
        except UnicodeDecodeError as exc:
            raise ValueError(f"corpus_file must be UTF-8 text; {self.path!r} is not "
                             f"({exc})") from None
        return keys, counts

    def _count_sentences(self) -> Tuple[List[str], np.ndarray]:
        counter: Counter = Counter()
        for i, sentence in enumerate(self.sentences):
            if isinstance(sentence, (str, bytes)) or not isinstance(sentence, Iterable):
                raise TypeError(f"sentences must be an iterable of token lists; sentence {i} "
                                f"is a {type(sentence).__name__}: {str(sentence)[:50]!r}")
            try:
                counter.update(sentence)
            except TypeError:
                bad = next(t for t in sentence if not isinstance(t, str))
                raise TypeError(f"tokens must be strings; sentence {i} holds {bad!r} "
                                f"({type(bad).__name__})") from None
        for key in counter:
            if not isinstance(key, str):
                raise TypeError(f"tokens must be strings; received {key!r} "
                                f"({type(key).__name__})")
        if "" in counter:
            raise ValueError("tokens must be non-empty strings; received ''")
        return list(counter), np.fromiter(counter.values(), dtype=np.int64, count=len(counter))

    def batches(self, wv: KeyedVectors, threads: int, train: Callable[[Batch], None]) -> None:
        """Stream the corpus as batches of vocabulary indices to ``train``, in order
        (the arrays of a batch are reused for the next one)."""
        if self.path is not None:
            _file_batches(self.path, wv, threads, train)
        else:
            _sentence_batches(self.sentences, wv.key_to_index, train)


def _read_text(path: str, take: Callable[[memoryview, bool], int]) -> None:
    """Feed the file (``.gz`` allowed) block by block to ``take(data, final)``, which
    returns the bytes it consumed: the rest starts the next block.  One buffer of
    ``BLOCK_BYTES`` is reused (doubled only while a single token fills it)."""
    opener = gzip.open if path.endswith(".gz") else open
    buf = bytearray(BLOCK_BYTES)
    kept = 0
    with opener(path, "rb") as fh:
        while True:
            if kept == len(buf):
                buf.extend(bytes(len(buf)))
            with memoryview(buf) as view:
                n = kept
                while n < len(buf):
                    got = fh.readinto(view[n:])
                    if not got:
                        break
                    n += got
                if n == kept:
                    take(view[:kept], True)
                    return
                used = take(view[:n], False)
            buf[:n - used] = buf[used:n]
            kept = n - used


def _file_batches(path: str, wv: KeyedVectors, threads: int,
                  train: Callable[[Batch], None]) -> None:
    table = _dispatch.kernels.VocabCounter()
    table.add([k.encode("utf-8") for k in wv.index_to_key])  # ids = vocabulary indices
    tokens = sent = np.empty(0, np.int32)

    def take(data: memoryview, final: bool) -> int:
        nonlocal tokens, sent
        need = table.room(len(data))
        if len(tokens) < need:  # the first block, or a token longer than a block
            tokens, sent = np.empty(need, np.int32), np.empty(need, np.int64)
        used, ntokens, nsent = table.tokenize(data, final, threads, tokens, sent)
        if nsent:
            train((tokens[:ntokens], sent[:nsent + 1]))
        return used

    _read_text(path, take)


class _Index(dict):
    """Token -> vocabulary index, -1 for a token outside the vocabulary."""

    def __missing__(self, key) -> int:
        return -1


def _sentence_batches(sentences: Iterable, key_to_index: dict,
                      train: Callable[[Batch], None]) -> None:
    index = _Index(key_to_index).__getitem__
    ids, lengths = array("i"), array("q")
    for sentence in sentences:
        before = len(ids)
        ids.extend(map(index, sentence))
        lengths.append(len(ids) - before)
        if len(ids) >= BATCH_WORDS:
            train(_id_batch(ids, lengths))
            ids, lengths = array("i"), array("q")
    if len(ids):
        train(_id_batch(ids, lengths))


def _id_batch(ids: array, lengths: array) -> Batch:
    """Sentences of ids (-1: not in the vocabulary) as a batch: unknown words removed,
    empty sentences left out, sentences longer than W2V_MAX_SENTENCE split."""
    tokens = np.frombuffer(ids, dtype=np.int32)
    lengths_a = np.frombuffer(lengths, dtype=np.int64)
    keep = tokens >= 0
    starts = np.concatenate([[0], np.cumsum(lengths_a)[:-1]]).astype(np.int64)
    full = lengths_a > 0
    kept = np.zeros(len(lengths_a), dtype=np.int64)
    kept[full] = np.add.reduceat(keep, starts[full], dtype=np.int64)
    return tokens[keep], _split_long(kept[kept > 0])


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
    the context (CBOW), and ``u`` are the output vectors (``syn1neg``).  Skip-gram draws
    the negatives for each (context, centre) pair, CBOW once per centre word.

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
            corpus = _Corpus(sentences, corpus_file)
            self._build_vocab(*corpus.count(self.workers))
            self._train(corpus, self.epochs, self.alpha, self.min_alpha,
                        self.corpus_total_words)

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
        self._build_vocab(*_Corpus(corpus_iterable, corpus_file).count(self.workers))

    def _build_vocab(self, all_keys: List[str], counts: np.ndarray) -> None:
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
        keys = [all_keys[i] for i in order]
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
        self.corpus_total_words = int(vocab_counts.sum())

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
        corpus = _Corpus(corpus_iterable, corpus_file)
        words = [0]

        def count(batch: Batch) -> None:
            words[0] += len(batch[0])

        corpus.batches(self.wv, self.workers, count)  # the schedule needs the total
        return self._train(corpus, epochs, start, end, words[0])

    def _train(self, corpus: _Corpus, epochs: int, start_alpha: float, end_alpha: float,
               per_epoch: int) -> Tuple[int, int]:
        """Train ``epochs`` passes over ``corpus`` (``per_epoch`` vocabulary words each)."""
        if end_alpha > start_alpha:
            raise ValueError(f"min_alpha (end_alpha) must be <= alpha (start_alpha); received "
                             f"{end_alpha} > {start_alpha}")
        total = per_epoch * epochs
        # with a progress bar, ~20 kernel calls an epoch (the chunks' seeds do not change)
        step = max(16 * self.workers, per_epoch // CHUNK_WORDS // 20) if self.progress else 2 ** 62
        bar = _Progress(self.progress, total)
        kernels = _dispatch.kernels
        copies = self._thread_rows(PRIVATE_ROW_BYTES)
        context_copies = self._thread_rows(PRIVATE_CONTEXT_ROW_BYTES, 2)
        done = effective = 0
        synced = False  # the copies hold syn1's rows (after the first kernel call)
        epoch_loss = 0.0
        epoch = batch_index = 0
        self.epoch_losses = []

        def train(batch: Batch) -> None:
            nonlocal done, effective, epoch_loss, batch_index, synced
            tokens, sent = batch
            nsent = len(sent) - 1
            if nsent == 0:
                return
            # chunk boundaries: the first sentence starting at or after each multiple of
            # CHUNK_WORDS, repeats dropped (np.unique would import numpy.ma,
            # tens of ms on the first call)
            starts = np.searchsorted(sent[:-1], np.arange(0, len(tokens), CHUNK_WORDS))
            chunks = np.concatenate([starts, [nsent]]).astype(np.int64)
            chunks = chunks[np.concatenate([[True], chunks[1:] != chunks[:-1]])]
            nchunks = len(chunks) - 1
            # each batch of each epoch its own seed; its chunk c the stream (seed, c)
            seed = (self.seed * 0x9E3779B97F4A7C15 + self._epochs_trained + 1
                    + batch_index * 0xD1B54A32D192ED03) % 2 ** 64
            batch_index += 1
            for c0 in range(0, nchunks, step):
                loss, words, eff = kernels.word2vec_train(
                    self.wv.vectors, self.syn1neg, self.cum_table, self.sample_int, tokens, sent,
                    chunks, c0, min(c0 + step, nchunks),
                    sg=self.sg, cbow_mean=self.cbow_mean, window=self.window,
                    negative=self.negative, alpha=start_alpha, min_alpha=end_alpha,
                    words_before=done, total_words=total, seed=seed,
                    compute_loss=self.compute_loss, threads=self.workers, copies=copies,
                    synced=synced, context_copies=context_copies)
                synced = True  # a call leaves the copies equal to syn1's rows
                done += words
                effective += eff
                epoch_loss += loss
                bar.update(epoch, epochs, done, epoch_loss if self.compute_loss else None)

        for epoch in range(epochs):
            epoch_loss, batch_index = 0.0, 0
            corpus.batches(self.wv, self.workers, train)
            if self.compute_loss:
                self.epoch_losses.append(epoch_loss)
            self._epochs_trained += 1
        bar.close()
        self.wv.norms = None  # the similarity searches' cached norms are stale now
        self.corpus_total_words = per_epoch
        self.effective_words = effective
        return effective, done

    def _thread_rows(self, nbytes: int, *per_thread: int) -> Optional[np.ndarray]:
        """A buffer for each thread's private copies of the first ``nbytes`` of rows (at
        most the vocabulary): ``(workers, *per_thread, rows, vector_size)`` float32, or
        None on one thread."""
        if self.workers == 1:
            return None
        rows = min(len(self.wv.index_to_key), nbytes // (4 * self.vector_size))
        return np.empty((self.workers, *per_thread, rows, self.vector_size), np.float32)

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
