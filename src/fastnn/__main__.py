"""Command line: ``fastnn demo`` trains the lecture's network on the bundled digits;
``fastnn bench`` prints the speed table; ``fastnn config`` shows the build;
``fastnn word2vec`` trains word vectors on a text file (word2vec.c's options)."""
from __future__ import annotations

import argparse
import sys
import time
from typing import List, Optional

from fastnn._argtypes import picture_file, positive_float, positive_int, thread_count


def demo(args: argparse.Namespace) -> int:
    import fastnn
    from fastnn.datasets import load_digits, train_test_split

    if args.threads:
        fastnn.set_num_threads(args.threads)
    X, y = load_digits()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, seed=args.seed)
    model = fastnn.Sequential([
        fastnn.Dense(64, args.hidden, seed=args.seed),
        fastnn.ReLU(),
        fastnn.Dense(args.hidden, 10, seed=args.seed + 1),
    ])
    if args.optimizer == "adam":
        opt = fastnn.Adam(model.parameters(), lr=1e-2 if args.lr is None else args.lr)
    else:
        opt = fastnn.SGD(model.parameters(), lr=0.1 if args.lr is None else args.lr, momentum=0.9)
    print(f"fastnn {fastnn.__version__} demo: digits 8x8, {len(X_train)} train / {len(X_test)} "
          f"test, 64 -> {args.hidden} -> 10 (ReLU, softmax-CE, {opt!r}), "
          f"batch {args.batch_size}, {fastnn.get_num_threads()} thread(s), "
          f"{fastnn._dispatch.kernels.ISA} kernels")
    t0 = time.perf_counter()
    history = model.fit(X_train, y_train, loss=fastnn.SoftmaxCrossEntropy(), optimizer=opt,
                        epochs=args.epochs, batch_size=args.batch_size, seed=args.seed,
                        validation_data=(X_test, y_test), verbose=True)
    elapsed = time.perf_counter() - t0
    accuracy = float((model.predict(X_test) == y_test).mean())
    print(f"test accuracy: {accuracy:.2%}   training time: {elapsed:.3f} s "
          f"({elapsed / max(args.epochs, 1) * 1e3:.2f} ms/epoch)")
    if args.plot:
        from fastnn.plotting import save_figure

        save_figure(history.plot(), args.plot)
        print(f"learning curves written to {args.plot}")
    return 0


def config(args: argparse.Namespace) -> int:
    import fastnn

    fastnn.show_config()
    return 0


def word2vec(args: argparse.Namespace) -> int:
    import fastnn

    start = time.perf_counter()
    try:
        model = fastnn.Word2Vec(
            corpus_file=args.train, vector_size=args.size, window=args.window,
            negative=args.negative, sg=1 - args.cbow,
            workers=args.threads or fastnn.get_num_threads(), epochs=args.epochs,
            min_count=args.min_count, sample=args.sample,
            alpha=args.alpha if args.alpha is not None else 0.025, seed=args.seed,
            compute_loss=True, progress=not args.quiet)
        elapsed = time.perf_counter() - start
        model.wv.save_word2vec_format(args.output, binary=bool(args.binary))
    except (OSError, ValueError) as exc:
        print(f"fastnn word2vec: error: {exc}", file=sys.stderr)
        return 1
    words = model.corpus_total_words * model.epochs
    print(f"{len(model.wv.index_to_key)} words x {args.size} -> {args.output} "
          f"({'binary' if args.binary else 'text'}); {'CBOW' if args.cbow else 'skip-gram'}, "
          f"{model.workers} thread(s), {model.epochs} epochs of {model.corpus_total_words} words "
          f"in {elapsed:.2f} s ({words / elapsed / 1e3:.0f}k words/s); last epoch's loss "
          f"{model.get_latest_training_loss():.6g}")
    return 0


def bench(args: argparse.Namespace) -> int:
    from fastnn.bench import main as bench_main

    return bench_main(args)


def build_parser() -> argparse.ArgumentParser:
    """The ``fastnn`` parser; every option's help states its default."""
    import fastnn

    parser = argparse.ArgumentParser(prog="fastnn", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {fastnn.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="train 64 -> 32 -> 10 on the bundled digits")
    p.add_argument("--epochs", type=positive_int, default=30, help="epochs (default: %(default)s)")
    p.add_argument("--batch-size", type=positive_int, default=32,
                   help="minibatch size (default: %(default)s)")
    p.add_argument("--hidden", type=positive_int, default=32,
                   help="hidden units (default: %(default)s)")
    p.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd",
                   help="sgd (momentum 0.9) or adam (default: %(default)s)")
    p.add_argument("--lr", type=positive_float, default=None,
                   help="learning rate (default: 0.1 with sgd, 0.01 with adam)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the weights and the shuffling (default: %(default)s)")
    p.add_argument("--threads", type=thread_count, default=None,
                   help="kernel threads (default: fastnn's count, see fastnn config)")
    p.add_argument("--plot", type=picture_file, default=None, metavar="FILE.png",
                   help="also draw the learning curves, needs matplotlib (default: no picture)")
    p.set_defaults(func=demo)
    p = sub.add_parser("bench", help="the speed table against NumPy, PyTorch, scikit-learn")
    from fastnn.bench import add_arguments

    add_arguments(p)
    p.set_defaults(func=bench)
    p = sub.add_parser("word2vec", help="train word vectors on a text file (word2vec.c's options)",
                       description="Train word2vec vectors on --train (one sentence a line, "
                       "tokens separated by whitespace, .gz allowed) and write them to --output "
                       "in word2vec.c's text or binary format.")
    p.add_argument("--train", required=True, metavar="FILE", help="the training text (required, no default)")
    p.add_argument("--output", required=True, metavar="FILE", help="where to write the vectors (required, no default)")
    p.add_argument("--size", type=positive_int, default=100, help="vector size (default: %(default)s)")
    p.add_argument("--window", type=positive_int, default=5, help="max context half-width (default: %(default)s)")
    p.add_argument("--negative", type=positive_int, default=5, help="negative samples (default: %(default)s)")
    p.add_argument("--cbow", type=int, choices=[0, 1], default=1,
                   help="1: CBOW, 0: skip-gram (default: %(default)s, as word2vec.c)")
    p.add_argument("--threads", type=thread_count, default=None,
                   help="threads (default: fastnn's thread count)")
    p.add_argument("--epochs", "--iter", type=positive_int, default=5, help="passes (default: %(default)s)")
    p.add_argument("--binary", type=int, choices=[0, 1], default=0,
                   help="1: word2vec.c's binary format, 0: text (default: %(default)s)")
    p.add_argument("--min-count", type=positive_int, default=5, help="drop rarer words (default: %(default)s)")
    p.add_argument("--sample", type=float, default=1e-3, help="subsampling threshold (default: %(default)s)")
    p.add_argument("--alpha", type=positive_float, default=None, help="start learning rate (default: 0.025)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default: %(default)s)")
    p.add_argument("--quiet", action="store_true", help="no progress line on stderr (default: show it)")
    p.set_defaults(func=word2vec)
    p = sub.add_parser("config", help="show the kernel path, threads and build flags")
    p.set_defaults(func=config)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
