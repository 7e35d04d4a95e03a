"""An autoencoder, as in the lecture: squeeze the 64 pixels of a digit through 16 numbers
and back, trained with MSE to reproduce its input.  The 16-number code is an embedding:
digits of the same class land close together.

    python examples/autoencoder.py [--plot codes.png]

With ``--plot`` the codes of the test digits are drawn in the plane of their two
principal components, one colour per digit (needs matplotlib: pip install "fastnn[plot]").
"""
import argparse
from typing import List, Optional

import numpy as np

import fastnn
from fastnn._argtypes import picture_file
from fastnn.datasets import load_digits, train_test_split


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--plot", type=picture_file, default=None, metavar="FILE.png",
                        help="draw the 16-number codes of the test digits (PCA)")
    args = parser.parse_args(argv)

    X, y = load_digits()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, seed=0)
    encoder = [fastnn.Dense(64, 16, init="glorot", seed=0), fastnn.Tanh()]
    decoder = [fastnn.Dense(16, 64, init="glorot", seed=1), fastnn.Sigmoid()]
    model = fastnn.Sequential(encoder + decoder)
    history = model.fit(X_train, X_train, loss=fastnn.MSE(),
                        optimizer=fastnn.Adam(model.parameters(), lr=3e-3),
                        epochs=60, batch_size=32, seed=0, verbose=False,
                        validation_data=(X_test, X_test))
    print(f"reconstruction MSE: first epoch {history.loss[0]:.4f}, last {history.loss[-1]:.4f}, "
          f"test {history.val_loss[-1]:.4f} (predicting the mean image: "
          f"{np.mean((X_test - X_train.mean(axis=0)) ** 2):.4f})")

    code = fastnn.Sequential(encoder).forward(X_test, training=False)
    # nearest neighbour in code space: how often is it the same digit?
    dist = ((code[:, None, :] - code[None, :, :]) ** 2).sum(axis=-1)
    np.fill_diagonal(dist, np.inf)
    same = (y_test[dist.argmin(axis=1)] == y_test).mean()
    print(f"16-number codes: the nearest test digit has the same label {same:.1%} of the time")

    if args.plot:
        from fastnn.plotting import save_figure

        ax = fastnn.plot_embedding(code, y_test)
        ax.set_title(f"autoencoder codes of the {len(code)} test digits (16 numbers, PCA)")
        save_figure(ax, args.plot, size=(700, 560))
        print(f"codes drawn in {args.plot}")


if __name__ == "__main__":
    main()
