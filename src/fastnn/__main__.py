"""Command line: ``fastnn demo`` trains the lecture's network on the bundled digits;
``fastnn bench`` prints the speed table; ``fastnn config`` shows the build."""
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
    p = sub.add_parser("config", help="show the kernel path, threads and build flags")
    p.set_defaults(func=config)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
