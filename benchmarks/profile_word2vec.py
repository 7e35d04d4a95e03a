"""Where the time of a fastnn word2vec run goes, on 1 and on 2 threads.

Each run (a fresh process, ``Word2Vec(corpus_file=...)`` with the benchmark's settings,
``fastnn.bench.W2V_SETTINGS``) notes the process CPU seconds of its phases: the
vocabulary count (``VocabCounter.feed``), the per-epoch tokenisation
(``VocabCounter.tokenize``), the training (``word2vec_train``) and the rest (Python:
reading the file, the vocabulary tables, the chunking), which runs on one thread.  CPU
time is disturbed far less by a busy machine than wall time, so from the medians it
prints the training CPU per word on each thread count, the serial share of the 1-thread
run, and the 2-thread wall ratio Amdahl's law implies: the 1-thread CPU over the serial
CPU plus the 2-thread run's parallel CPU halved (what an idle 2-core machine would show,
the 2-thread run's extra CPU per word included).  The runs set ``OMP_WAIT_POLICY=passive``
so that threads waiting at a barrier sleep rather than spin: their CPU is then the work.

    python benchmarks/profile_word2vec.py [--corpus FILE[.gz]] [--copies 5] [--sg 1 0]
        [--epochs 1] [--runs 3]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from bench_word2vec import DEFAULT_CORPUS, plain_corpus

PHASES = ("count", "tokenize", "train")


def child(path: str, sg: int, threads: int, epochs: int) -> dict:
    """One run in this process: CPU seconds per phase, and the wall time."""
    from fastnn import _dispatch
    from fastnn.bench import W2V_SETTINGS
    from fastnn.word2vec import Word2Vec

    kernels = _dispatch.kernels
    cpu = dict.fromkeys(PHASES, 0.0)

    def timed(phase, call):
        def run(*args, **kwargs):
            start = time.process_time()
            try:
                return call(*args, **kwargs)
            finally:
                cpu[phase] += time.process_time() - start
        return run

    class Counter:
        """A VocabCounter whose counting and tokenising are timed."""

        room = staticmethod(kernels.VocabCounter.room)

        def __init__(self):
            self.inner = kernels.VocabCounter()
            self.feed = timed("count", self.inner.feed)
            self.tokenize = timed("tokenize", self.inner.tokenize)

        def __getattr__(self, name):
            return getattr(self.inner, name)

    class Kernels:
        VocabCounter = Counter
        word2vec_train = staticmethod(timed("train", kernels.word2vec_train))

        def __getattr__(self, name):
            return getattr(kernels, name)

    _dispatch.kernels = Kernels()
    start, start_cpu = time.perf_counter(), time.process_time()
    model = Word2Vec(corpus_file=path, sg=sg, workers=threads, epochs=epochs, seed=1,
                     progress=False, **W2V_SETTINGS)
    wall, total = time.perf_counter() - start, time.process_time() - start_cpu
    return dict(cpu, other=total - sum(cpu.values()), wall=wall,
                words=model.corpus_total_words * epochs)


def run_child(path: str, sg: int, threads: int, epochs: int) -> dict:
    env = dict(os.environ, OMP_WAIT_POLICY="passive")
    proc = subprocess.run([sys.executable, __file__, "--child", "--corpus", path, "--sg", str(sg),
                           "--threads", str(threads), "--epochs", str(epochs)],
                          stdout=subprocess.PIPE, text=True, check=True, env=env)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", default=DEFAULT_CORPUS)
    p.add_argument("--copies", type=int, default=5)
    p.add_argument("--sg", type=int, nargs="+", default=[1, 0])
    p.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.corpus, args.sg[0], args.threads, args.epochs)))
        return 0
    with tempfile.TemporaryDirectory(prefix="profile-w2v-") as folder:
        path, words = plain_corpus(args.corpus, args.copies, folder)
        print(f"corpus: {args.corpus} x{args.copies} = {words:,} words; epochs {args.epochs}; "
              f"medians of {args.runs} interleaved runs; CPU seconds per phase")
        print(f"{'model':<6}{'thr':>4}" + "".join(f"{h:>10}" for h in PHASES + ("other", "wall"))
              + f"{'train ns/word':>15}")
        for sg in args.sg:
            runs = {1: [], 2: []}
            for _ in range(args.runs):
                for threads in runs:
                    runs[threads].append(run_child(path, sg, threads, args.epochs))
            med = {t: {k: statistics.median(r[k] for r in rs) for k in rs[0]}
                   for t, rs in runs.items()}
            for threads, m in med.items():
                print(f"{'sg' if sg else 'cbow':<6}{threads:>4}"
                      + "".join(f"{m[h]:>10.3f}" for h in PHASES + ("other", "wall"))
                      + f"{m['train'] / m['words'] * 1e9:>15.1f}")
            one, two = med[1], med[2]
            t1 = sum(one[h] for h in PHASES + ("other",))
            serial = one["other"]
            ideal = t1 / (serial + (t1 - serial) / 2)
            implied = t1 / (two["other"] + sum(two[h] for h in PHASES) / 2)
            print(f"  -> serial share {serial / t1:.1%} of the 1-thread CPU; 2 threads use "
                  f"{two['train'] / one['train']:.3f}x the training CPU of 1; implied 2-thread "
                  f"wall ratio {implied:.2f}x (no extra CPU: {ideal:.2f}x); measured wall ratio "
                  f"{one['wall'] / two['wall']:.2f}x at load "
                  f"{open('/proc/loadavg').read().split()[:3]}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
