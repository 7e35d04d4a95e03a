"""Compiled kernels: NumPy arrays in, NumPy arrays out.

Every name here is the function of the kernel module that ``fastnn._dispatch``
selected for this CPU (AVX-512, AVX2/FMA or portable).  Each one validates its arguments with
the GIL held, then runs a compiled loop with the GIL released.  ``fastnn.reference``
holds the pure-NumPy twin of each function.
"""
from ._dispatch import kernels as _k

__all__ = []

# Matrix products (gemm.pxi).
__all__ += ["gemm", "matmul", "linear"]

# Sparse (CSR) rows times a dense weight (sparse.pxi).
__all__ += ["sparse_linear", "sparse_linear_backward"]


# Activations, softmax, losses and optimizer steps (activations.pxi, losses.pxi, optim.pxi).
__all__ += ["relu", "leaky_relu", "tanh", "sigmoid", "identity",
            "relu_backward", "leaky_relu_backward", "tanh_backward", "sigmoid_backward",
            "identity_backward", "softmax", "log_softmax", "softmax_cross_entropy", "mse",
            "bce_with_logits", "poisson_nll", "column_sum", "sgd_step", "adam_step"]

# Inverted dropout, masks from a counter-based hash (dropout.pxi).
__all__ += ["dropout", "dropout_backward"]

# Bags of embeddings (embedding.pxi).
__all__ += ["embedding_bag", "embedding_bag_backward"]


def _bind(module) -> None:
    """Make every name here the function of kernel ``module`` (``_dispatch.use``)."""
    globals().update({name: getattr(module, name) for name in __all__})


_bind(_k)
