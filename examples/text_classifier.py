"""Word vectors feeding a network: train word2vec on a corpus, then a text classifier
(``Embedding`` -> ``Dense``, the fastText recipe) that starts from those vectors, and
compare it with the same classifier started from random vectors.

The labels come from the corpus itself: a document (a line) that contains exactly one
of the topic keywords is labelled with it, and the keyword is removed from its text, so
the classifier must recognise the topic from the other words.  Only ``--labelled``
documents are used for training, the rest for testing: with so few labelled examples,
the words the training documents never show are where the pre-trained vectors help.

    python examples/text_classifier.py                  # a generated corpus, a few seconds
    python examples/text_classifier.py --corpus ../shared/data/dictionary_corpus.txt.gz \\
        --keywords unix,language,network,game,god,money --labelled 300
"""
import argparse
import gzip
from typing import List, Sequence, Tuple

import numpy as np

import fastnn

Corpus = List[List[str]]


def generated_corpus(n_docs: int = 4000, seed: int = 0) -> Tuple[Corpus, List[str]]:
    """Documents of 12 words on one of 4 topics: 8 words of the topic (200 each, the
    first being the topic's keyword, drawn with Zipf-like frequencies), 4 common words."""
    rng = np.random.default_rng(seed)
    topics = [[f"t{t}w{i}" for i in range(200)] for t in range(4)]
    common = [f"c{i}" for i in range(100)]
    weights = 1.0 / np.arange(1, 201) ** 0.5
    docs = []
    for _ in range(n_docs):
        words = topics[rng.integers(len(topics))]
        doc = [words[i] for i in rng.choice(200, size=8, p=weights / weights.sum())]
        doc += [common[i] for i in rng.integers(0, len(common), 4)]
        docs.append([doc[i] for i in rng.permutation(len(doc))])
    return docs, [words[0] for words in topics]


def read_corpus(path: str) -> Corpus:
    """One document a line, tokens split on whitespace (a .gz file is decompressed)."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf8") as fh:
        return [line.split() for line in fh if line.strip()]


def labelled_documents(corpus: Corpus, keywords: Sequence[str]) -> Tuple[Corpus, np.ndarray]:
    """The documents holding exactly one keyword, without it, and the keyword's index."""
    index = {word: k for k, word in enumerate(keywords)}
    docs, labels = [], []
    for doc in corpus:
        found = {index[w] for w in doc if w in index}
        rest = [w for w in doc if w not in index]
        if len(found) == 1 and rest:
            docs.append(rest)
            labels.append(found.pop())
    return docs, np.array(labels, dtype=np.int64)


def classifier(embedding: fastnn.Embedding, n_classes: int) -> fastnn.Sequential:
    return fastnn.Sequential([embedding, fastnn.Dense(embedding.embedding_dim, n_classes,
                                                      init="glorot", seed=1)])


def accuracy(embedding: fastnn.Embedding, n_classes: int, train, test, epochs: int) -> float:
    model = classifier(embedding, n_classes)
    model.fit(*train, loss=fastnn.SoftmaxCrossEntropy(),
              optimizer=fastnn.Adam(model.parameters(), lr=0.02), epochs=epochs,
              batch_size=16, seed=0, verbose=False)
    return model.evaluate(*test)["accuracy"]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", help="a text file, one document a line (default: generated)")
    parser.add_argument("--keywords", help="comma-separated topic keywords (the labels)")
    parser.add_argument("--labelled", type=int, default=40, help="training documents")
    parser.add_argument("--size", type=int, default=50, help="vector size")
    parser.add_argument("--w2v-epochs", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=30, help="classifier epochs")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    if args.corpus:
        corpus, keywords = read_corpus(args.corpus), None
    else:
        corpus, keywords = generated_corpus(seed=args.seed)
    if args.keywords:
        keywords = args.keywords.split(",")
    if not keywords:
        parser.error("--keywords is required with --corpus")

    w2v = fastnn.Word2Vec(corpus, vector_size=args.size, window=5, min_count=2, sg=1,
                          epochs=args.w2v_epochs, workers=args.threads, seed=args.seed,
                          progress=False)
    wv = w2v.wv
    print(f"word2vec: {len(wv)} words of {sum(map(len, corpus))} tokens, "
          f"{len(corpus)} documents")
    for word in keywords[:3]:
        if word in wv:
            print(f"  nearest to {word!r}: {', '.join(k for k, _ in wv.most_similar(word, topn=5))}")

    docs, labels = labelled_documents(corpus, keywords)
    order = np.random.default_rng(args.seed).permutation(len(docs))
    docs, labels = [docs[i] for i in order], labels[order]
    n_train = min(args.labelled, len(docs) // 2)
    if n_train < len(keywords):
        raise SystemExit(f"only {len(docs)} documents hold exactly one keyword: too few")
    vocabulary = sorted({w for doc in docs for w in doc})
    token_id = {w: i for i, w in enumerate(vocabulary)}
    ids = fastnn.Embedding.pad([[token_id[w] for w in doc] for doc in docs])
    train = (ids[:n_train], labels[:n_train])
    test = (ids[n_train:], labels[n_train:])
    print(f"classifier: {len(keywords)} classes, {n_train} labelled documents for training, "
          f"{len(docs) - n_train} for testing, {len(vocabulary)} distinct words")

    k = len(keywords)
    start = {
        "random vectors, trained": fastnn.Embedding(len(vocabulary), args.size, seed=2),
        "word2vec vectors, frozen": fastnn.Embedding.from_keyed_vectors(
            wv, vocabulary, freeze=True, seed=2),
        "word2vec vectors, fine-tuned": fastnn.Embedding.from_keyed_vectors(
            wv, vocabulary, seed=2),
    }
    known = start["word2vec vectors, frozen"].known.mean()
    print(f"  {known:.0%} of its words have a word2vec vector (the others start random)")
    for name, embedding in start.items():
        print(f"  test accuracy, {name:<29} {accuracy(embedding, k, train, test, args.epochs):.3f}")


if __name__ == "__main__":
    main()
