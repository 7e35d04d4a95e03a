"""Data sets bundled with fastnn (no download at run time)."""
from __future__ import annotations

from importlib import resources
from typing import List, Tuple

import numpy as np

__all__ = ["load_digits", "train_test_split", "make_documents"]


def load_digits(*, dtype=np.float32) -> Tuple[np.ndarray, np.ndarray]:
    """The 1,797 8x8 handwritten digits of the UCI "Optical Recognition of Handwritten
    Digits" data set (its test part, as shipped by scikit-learn).

    Returns ``X`` of shape ``(1797, 64)`` scaled to [0, 1] and ``y`` (int64 labels 0-9).
    """
    with resources.files("fastnn").joinpath("data/digits.npz").open("rb") as fh:
        with np.load(fh, allow_pickle=False) as data:
            images, target = data["images"], data["target"]
    return (images / 16.0).astype(dtype), target.astype(np.int64)


def train_test_split(X: np.ndarray, y: np.ndarray, *, test_size: float = 0.25,
                     seed: int = 0) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shuffle with ``seed`` and split into ``X_train, X_test, y_train, y_test``."""
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must be in (0, 1); received: {test_size}")
    if len(X) != len(y):
        raise ValueError(f"X and y have different lengths: {len(X)} and {len(y)}")
    order = np.random.default_rng(seed).permutation(len(X))
    n_test = max(1, int(round(test_size * len(X))))
    test, train = order[:n_test], order[n_test:]
    return X[train], X[test], y[train], y[test]


def make_documents(n_documents: int = 30_000, *, n_terms: int = 20_000, n_classes: int = 10,
                   words: int = 13, topic_terms: int = 400, topic_share: float = 0.2,
                   seed: int = 0) -> Tuple[List[str], np.ndarray]:
    """Short synthetic text documents with a topic label each, for text-classification
    benchmarks (TF-IDF features are sparse; nothing is downloaded).

    Terms are the strings ``"t0"`` ... over ``n_terms`` ids.  Each document draws
    ``words`` terms: with probability ``topic_share`` from its class's own
    ``topic_terms`` terms, else from a background distribution shared by every class
    (both Zipf-like, weight ``1 / (rank + 10)``).  The same ``seed`` gives the same
    documents.  Returns ``(documents, labels)``.
    """
    rng = np.random.default_rng(seed)
    zipf = 1.0 / (np.arange(n_terms) + 10.0)
    background = zipf / zipf.sum()
    topics = np.stack([rng.permutation(n_terms)[:topic_terms] for _ in range(n_classes)])
    topic_p = zipf[:topic_terms] / zipf[:topic_terms].sum()
    labels = rng.integers(n_classes, size=n_documents)
    from_topic = rng.random((n_documents, words)) < topic_share
    own = topics[labels[:, None], rng.choice(topic_terms, (n_documents, words), p=topic_p)]
    ids = np.where(from_topic, own, rng.choice(n_terms, (n_documents, words), p=background))
    vocabulary = np.array([f"t{t}" for t in range(n_terms)], dtype=object)
    return [" ".join(row) for row in vocabulary[ids]], labels.astype(np.int64)
