"""fastnn: a small neural-network engine for the CPU with compiled kernels.

``fastnn.ops`` holds the compiled kernels, ``fastnn.reference`` their NumPy twins;
the layers, losses, optimizers and ``Sequential`` build networks from them.
"""
from __future__ import annotations

import sys

from . import _dispatch, ops, reference
from ._dispatch import get_num_threads, set_num_threads
from .datasets import load_digits
from .keyedvectors import KeyedVectors
from .layers import Dense, Dropout, Embedding, Identity, LeakyReLU, Parameter, ReLU, Sigmoid, Tanh
from .losses import MSE, BCEWithLogits, PoissonNLL, SoftmaxCrossEntropy
from .callbacks import Callback, EarlyStopping, History
from .model import Sequential
from .optim import SGD, Adam, AdamW, CosineAnnealingLR, ExponentialLR, StepLR
from .serialization import load
from .word2vec import Word2Vec
from .plotting import plot_embedding, plot_learning_curve

__version__ = "0.1.0"

__all__ = [
    "ops", "reference", "set_num_threads", "get_num_threads", "show_config", "__version__",
    "Dense", "Embedding", "ReLU", "LeakyReLU", "Tanh", "Sigmoid", "Identity", "Dropout", "Parameter",
    "Sequential", "History", "Callback", "EarlyStopping", "load", "load_digits",
    "SoftmaxCrossEntropy", "MSE", "BCEWithLogits", "PoissonNLL",
    "SGD", "Adam", "AdamW", "StepLR", "ExponentialLR", "CosineAnnealingLR", "KeyedVectors",
    "Word2Vec",
    "plot_embedding", "plot_learning_curve",
]


def show_config(file=None) -> dict:
    """Print (and return) the kernel path and why it was chosen, thread count (and where it came from), the
    thread bound, threadpoolctl's view and the build flags in use."""
    info = {
        "version": __version__,
        "isa": _dispatch.kernels.ISA,
        "isa_reason": _dispatch.isa_reason,
        "isa_available": sorted(_dispatch.modules),
        "threads": get_num_threads(),
        "threads_from": _dispatch.threads_source,
        "max_threads": _dispatch.max_threads(),
        "threadpoolctl": "registered" if _dispatch.threadpoolctl_registered else "not installed",
        "openmp": _dispatch.kernels.OPENMP,
        "build_flags": _dispatch.kernels.BUILD_FLAGS,
    }
    out = file or sys.stdout
    for key, value in info.items():
        print(f"{key:>14}: {value}", file=out)
    return info
