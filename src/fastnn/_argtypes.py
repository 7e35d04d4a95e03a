"""argparse types shared by the command line (``__main__``) and ``fastnn bench``."""
from __future__ import annotations

import argparse
import os

__all__ = ["positive_int", "positive_float", "thread_count", "picture_file"]


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not 0.0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def thread_count(text: str) -> int:
    """argparse type: a thread count fastnn accepts, 1 to 4 per online CPU."""
    from ._dispatch import max_threads

    value = positive_int(text)
    if value > max_threads():
        raise argparse.ArgumentTypeError(f"expected at most {max_threads()} threads (4 per "
                                         f"online CPU), got {text!r}")
    return value


def picture_file(text: str) -> str:
    """argparse type: where to write a picture (``--plot FILE.png``): its folder exists and
    matplotlib imports, so a long run does not end in an error."""
    from .plotting import require_matplotlib

    folder = os.path.dirname(os.path.abspath(text))
    if not os.path.isdir(folder):
        raise argparse.ArgumentTypeError(f"no folder {folder!r} to write {text!r} in")
    try:
        require_matplotlib()
    except ImportError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text
