"""word2vec: fastnn against gensim on one corpus, same settings, same threads.

Each training runs in a fresh process (its peak memory is its own: ``ru_maxrss`` right
after training, before the evaluators are imported) and reports wall time including the
vocabulary pass, words/s, and the quality of its vectors: Spearman on WordSim-353 and
SimLex-999 and the accuracy on word2vec's analogy questions (gensim's copies of the files
in ``gensim/test/test_data``), all through gensim's evaluators so both peers are scored
by the same code.  Runs are interleaved (each round: every thread count, fastnn then
gensim) and the table shows medians of the times and, over ``--seeds``, mean +- standard
deviation of the quality (one seed: its value); besides wall time, words per CPU second
of the training process (user + system), which a busy machine disturbs less.  The
thread-count ratios are given as the ratio of the medians and as the median (and range)
of the ratios within each round.  Settings: ``vector_size=100, window=5, min_count=5,
negative=5, sample=1e-3`` (``fastnn.bench.W2V_SETTINGS``).

    python benchmarks/bench_word2vec.py --corpus FILE[.gz] [--copies 5] [--threads 1 2]
        [--epochs 5] [--runs 3] [--sg 1 0] [--seeds 1 2 3]

``--copies N`` trains on N concatenated copies of the corpus (the issue's target is
measured on about 4.8 M words).  Needs gensim (``pip install gensim``).
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

DEFAULT_CORPUS = "/work/shared/data/dictionary_corpus.txt.gz"


def child(peer: str, path: str, sg: int, threads: int, epochs: int, seed: int) -> dict:
    """Train once in this process, note the peak memory so far (training only: gensim's
    evaluators are imported afterwards), then score the vectors."""
    import resource

    import numpy as np

    from fastnn.bench import train_word2vec

    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    model = train_word2vec(peer, path, sg=sg, workers=threads, epochs=epochs, seed=seed)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    rss_mb = after.ru_maxrss / 1024  # KiB on Linux
    from gensim.models import KeyedVectors as GensimKV
    from gensim.test.utils import datapath

    kv = GensimKV(vector_size=model.wv.vector_size)
    kv.add_vectors([str(k) for k in model.wv.index_to_key], np.asarray(model.wv.vectors))
    ws = kv.evaluate_word_pairs(datapath("wordsim353.tsv"))[1][0]
    sl = kv.evaluate_word_pairs(datapath("simlex999.txt"))[1][0]
    analogy = kv.evaluate_word_analogies(datapath("questions-words.txt"))[0]
    return {"peer": peer, "seconds": seconds, "cpu_seconds": cpu, "max_rss_mb": rss_mb,
            "vocab": len(model.wv.index_to_key), "wordsim": ws, "simlex": sl,
            "analogy": 100 * analogy}


def run_child(peer, path, words, sg, threads, epochs, seed) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", peer, "--corpus", path,
                           "--sg", str(sg), "--threads", str(threads), "--epochs", str(epochs),
                           "--seeds", str(seed)],
                          stdout=subprocess.PIPE, text=True, check=True)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["words_per_s"] = words * epochs / result["seconds"]  # the corpus' words, both peers
    result["words_per_cpu_s"] = words * epochs / result["cpu_seconds"]
    print(f"  run: {'sg' if sg else 'cbow'} {threads} thread(s) {peer} seed {seed}: wall "
          f"{result['seconds']:.2f} s, CPU {result['cpu_seconds']:.2f} s, WS353 "
          f"{result['wordsim']:.3f}, SL999 {result['simlex']:.3f}, analogy "
          f"{result['analogy']:.2f}%, load {open('/proc/loadavg').read().split()[0]}",
          flush=True)
    return result


def plain_corpus(source: str, copies: int, folder: str) -> tuple:
    """``copies`` concatenated copies of ``source`` as one uncompressed file (gensim's
    corpus_file reads plain text only), and its word count."""
    path = os.path.join(folder, f"corpus_x{copies}.txt")
    opener = gzip.open if source.endswith(".gz") else open
    with opener(source, "rb") as src, open(path, "wb") as dst:
        shutil.copyfileobj(src, dst)
        if copies > 1:
            dst.flush()
            one = dst.tell()
            with open(path, "rb") as again:
                for _ in range(copies - 1):
                    again.seek(0)
                    dst.write(again.read(one))
    with open(path, "rb") as fh:
        words = sum(len(line.split()) for line in fh)
    return path, words


QUALITY = ("wordsim", "simlex", "analogy")


def summary(results: list) -> dict:
    """Medians of the times; mean and standard deviation over the seeds of the quality
    (each seed's runs give the same vectors when seeded runs are reproducible, so the
    first run of each seed stands for it)."""
    out = {k: statistics.median(r[k] for r in results) for k in results[0]
           if k not in QUALITY + ("peer", "seed")}
    first = list({r["seed"]: r for r in reversed(results)}.values())
    for k in QUALITY:
        values = [r[k] for r in first]
        out[k] = statistics.fmean(values)
        out[k + "_std"] = statistics.stdev(values) if len(values) > 1 else 0.0
    return out


def _round_ratios(runs: dict, threads: int, base: int, peer: str) -> str:
    """The words/s of ``threads`` over ``base`` threads within each round (the two runs
    minutes apart at most): their median and range, as text (none for ``base`` itself)."""
    if threads == base:
        return ""
    ratios = [a["words_per_s"] / b["words_per_s"]
              for a, b in zip(runs[threads][peer], runs[base][peer])]
    return (f" (within rounds: median {statistics.median(ratios):.2f}x, "
            f"{min(ratios):.2f}-{max(ratios):.2f}x)")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", default=DEFAULT_CORPUS)
    p.add_argument("--copies", type=int, default=1)
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--sg", type=int, nargs="+", default=[1, 0])
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--runs", type=int, default=3, help="runs per seed")
    p.add_argument("--seeds", type=int, nargs="+", default=[1])
    p.add_argument("--child", choices=["fastnn", "gensim"], help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.corpus, args.sg[0], args.threads[0],
                               args.epochs, args.seeds[0])))
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-w2v-") as folder:
        path, words = plain_corpus(args.corpus, args.copies, folder)
        print(f"corpus: {args.corpus} x{args.copies} = {words:,} words; epochs {args.epochs}; "
              f"seeds {args.seeds}, {args.runs} interleaved run(s) each: medians of the "
              f"times, mean +- std over the seeds of the quality; load average before: "
              f"{open('/proc/loadavg').read().split()[:3]}")
        header = (f"{'model':<10}{'thr':>4}{'peer':>8}{'wall s':>9}{'k words/s':>11}{'k w/CPU s':>11}"
                  f"{'WS353':>14}{'SL999':>14}{'analogy%':>14}{'RSS MB':>8}{'vocab':>8}")
        print(header, flush=True)
        for sg in args.sg:
            # every round runs each thread count and peer in turn, so a machine whose
            # speed drifts over minutes moves all of them alike
            runs = {threads: {"fastnn": [], "gensim": []} for threads in args.threads}
            for seed in args.seeds:
                for _ in range(args.runs):
                    for threads in args.threads:
                        for peer in runs[threads]:
                            r = run_child(peer, path, words, sg, threads, args.epochs, seed)
                            runs[threads][peer].append(dict(r, seed=seed))
            base = {peer: summary(rs) for peer, rs in runs[args.threads[0]].items()}
            for threads in args.threads:
                med = {peer: summary(rs) for peer, rs in runs[threads].items()}
                for peer, m in med.items():
                    quality = "".join(f"{m[k]:.{digits}f}+-{m[k + '_std']:.{digits}f}".rjust(14)
                                      for k, digits in zip(QUALITY, (3, 3, 2)))
                    print(f"{'sg' if sg else 'cbow':<10}{threads:>4}{peer:>8}{m['seconds']:>9.2f}"
                          f"{m['words_per_s'] / 1e3:>11.0f}{m['words_per_cpu_s'] / 1e3:>11.0f}"
                          f"{quality}{m['max_rss_mb']:>8.0f}{m['vocab']:>8.0f}")
                f, g = med["fastnn"], med["gensim"]
                print(f"  -> fastnn/gensim words/s {f['words_per_s'] / g['words_per_s']:.2f}x "
                      f"(per CPU second {f['words_per_cpu_s'] / g['words_per_cpu_s']:.2f}x); "
                      f"fastnn {threads} vs {args.threads[0]} thread(s) "
                      f"{f['words_per_s'] / base['fastnn']['words_per_s']:.2f}x"
                      f"{_round_ratios(runs, threads, args.threads[0], 'fastnn')}, gensim "
                      f"{g['words_per_s'] / base['gensim']['words_per_s']:.2f}x"
                      f"{_round_ratios(runs, threads, args.threads[0], 'gensim')}; quality "
                      f"fastnn - gensim (means): WS353 {f['wordsim'] - g['wordsim']:+.3f}, SL999 "
                      f"{f['simlex'] - g['simlex']:+.3f}, analogy "
                      f"{f['analogy'] - g['analogy']:+.2f} points; load "
                      f"{open('/proc/loadavg').read().split()[:3]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
