"""The synthetic text data set of the sparse-input benchmarks."""
import numpy as np

from fastnn.datasets import make_documents


def test_make_documents_is_deterministic_and_shaped():
    docs, labels = make_documents(500, n_terms=1000, n_classes=4, words=7, seed=3)
    again, labels_again = make_documents(500, n_terms=1000, n_classes=4, words=7, seed=3)
    other, _ = make_documents(500, n_terms=1000, n_classes=4, words=7, seed=4)
    assert docs == again and np.array_equal(labels, labels_again) and docs != other
    assert len(docs) == 500 and labels.shape == (500,) and labels.dtype == np.int64
    assert set(labels) == {0, 1, 2, 3}
    terms = [doc.split() for doc in docs]
    assert all(len(t) == 7 for t in terms)
    assert all(0 <= int(w[1:]) < 1000 and w[0] == "t" for t in terms for w in t)


def test_topic_terms_tell_the_classes_apart():
    """With every term drawn from the class's own topic, two classes share few terms."""
    docs, labels = make_documents(400, n_terms=5000, n_classes=2, topic_terms=50,
                                  topic_share=1.0, seed=0)
    vocab = [{w for d, c in zip(docs, labels) if c == k for w in d.split()} for k in (0, 1)]
    assert len(vocab[0]) <= 50 and len(vocab[1]) <= 50
    assert len(vocab[0] & vocab[1]) < 10
