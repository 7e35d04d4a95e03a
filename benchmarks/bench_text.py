"""Word vectors and bags of embeddings against their peers (float32, medians).

table: PYTHONPATH=src python benchmarks/bench_text.py [--repeat N] [--threads N]

- ``embedding_bag`` forward + backward against the NumPy reference and, when torch is
  installed, ``torch.nn.functional.embedding_bag`` with a sparse gradient;
- ``KeyedVectors.most_similar`` and ``evaluate_word_analogies`` against gensim's
  ``KeyedVectors`` (when gensim is installed) on the same random vectors; the analogy
  questions are the first ``--questions`` lines of gensim's questions-words.txt, whose
  words are all put in the vocabulary.
"""
import argparse
import itertools
import os
import tempfile

import numpy as np

import fastnn
from fastnn import ops, reference

from bench_elementwise import median_times

DOCS, LENGTH, VOCAB, DIM = 4096, 40, 50_000, 100


def bag_inputs(seed=0):
    rng = np.random.default_rng(seed)
    weight = rng.standard_normal((VOCAB, DIM)).astype(np.float32)
    ids = rng.integers(0, VOCAB, (DOCS, LENGTH))
    ids[rng.random(ids.shape) < 0.2] = -1
    grad = rng.standard_normal((DOCS, DIM)).astype(np.float32)
    return weight, ids, grad


def bag_fastnn(mod, weight, ids, grad):
    mod.embedding_bag(weight, ids)
    return mod.embedding_bag_backward(grad, ids, len(weight))


def bag_torch(weight, ids, grad):
    """torch's EmbeddingBag with its sparse gradient: flat ids and offsets, as it takes them."""
    import torch

    table = torch.from_numpy(weight).requires_grad_(True)
    keep = ids >= 0
    flat = torch.from_numpy(ids[keep])
    offsets = torch.from_numpy(np.r_[0, np.cumsum(keep.sum(1))[:-1]])
    out = torch.nn.functional.embedding_bag(flat, table, offsets, mode="mean", sparse=True)
    out.backward(torch.from_numpy(grad))
    return table.grad.coalesce()


def vectors(n, questions, folder, seed=0):
    """An analogy file of the first ``questions`` lines of gensim's questions-words.txt
    in ``folder``, ``n`` random keys (the file's words first) and float32 vectors."""
    import gensim

    source = os.path.join(os.path.dirname(gensim.__file__), "test", "test_data",
                          "questions-words.txt")
    with open(source, encoding="utf8") as fh:
        lines = list(itertools.islice(fh, questions))
    path = os.path.join(folder, "questions.txt")
    with open(path, "w", encoding="utf8") as fh:
        fh.writelines(lines)
    words = [w for line in lines if not line.startswith(":") for w in line.split()]
    keys = list(dict.fromkeys(words))
    keys += [f"filler{i}" for i in range(n - len(keys))]
    rng = np.random.default_rng(seed)
    return path, keys, rng.standard_normal((len(keys), DIM)).astype(np.float32)


def row(name, times):
    cells = "".join(f"{t * 1e3:>12.2f}" if t is not None else f"{'-':>12}" for t in times)
    ratios = "".join(f"{t / times[0]:>9.2f}" if t is not None else f"{'-':>9}"
                     for t in times[1:])
    print(f"{name:<44}{cells}{ratios}")


def table(repeat, threads, questions):
    fastnn.set_num_threads(threads)
    try:
        import torch
        torch.set_num_threads(threads)
    except ImportError:
        torch = None
    load = open("/proc/loadavg").read().split()[:3] if os.path.exists("/proc/loadavg") else "?"
    print(f"fastnn ISA={fastnn._dispatch.kernels.ISA}, {threads} thread(s), medians of {repeat} "
          f"interleaved timings, load average {' '.join(load)}; ratio = peer / fastnn")
    print(f"{'workload':<44}{'fastnn ms':>12}{'peer ms':>12}{'ratio':>9}")
    weight, ids, grad = bag_inputs()
    t = median_times([lambda: bag_fastnn(ops, weight, ids, grad),
                      lambda: bag_fastnn(reference, weight, ids, grad)], repeat)
    row(f"embedding_bag fwd+bwd {DOCS}x{LENGTH}, {VOCAB}x{DIM} vs numpy", t)
    if torch is not None:
        t = median_times([lambda: bag_fastnn(ops, weight, ids, grad),
                          lambda: bag_torch(weight, ids, grad)], repeat)
        row(f"embedding_bag fwd+bwd {DOCS}x{LENGTH}, {VOCAB}x{DIM} vs torch", t)
    try:
        from gensim.models import KeyedVectors as GensimKeyedVectors
    except ImportError:
        print("gensim is not installed: no KeyedVectors rows")
        return
    with tempfile.TemporaryDirectory() as folder:
        path, keys, vecs = vectors(100_000, questions, folder)
        ours = fastnn.KeyedVectors.from_arrays(keys, vecs)
        theirs = GensimKeyedVectors(DIM)
        theirs.add_vectors(keys, vecs)
        ours.fill_norms()
        theirs.fill_norms()
        query = dict(positive=keys[1:3], negative=keys[:1], topn=10)
        t = median_times([lambda: ours.most_similar(**query),
                          lambda: theirs.most_similar(**query)], repeat)
        row(f"most_similar, {len(keys)}x{DIM} vs gensim", t)
        t = median_times([lambda: ours.evaluate_word_analogies(path, restrict_vocab=30_000),
                          lambda: theirs.evaluate_word_analogies(path, restrict_vocab=30_000)],
                         max(3, repeat // 3))
        row(f"evaluate_word_analogies {questions} lines, 30k vs gensim", t)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--questions", type=int, default=2000,
                        help="lines of questions-words.txt (19,558 in all)")
    args = parser.parse_args()
    table(args.repeat, args.threads, args.questions)
