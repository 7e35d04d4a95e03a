"""argparse types shared by the command line (``__main__``) and ``fastnn bench``."""
from __future__ import annotations

import argparse

__all__ = ["positive_int", "positive_float", "thread_count"]


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
