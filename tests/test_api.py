"""The public contract: every compiled kernel has a NumPy twin with the same signature."""
import inspect

import pytest

import fastnn
from fastnn import ops, reference

SPEC_OPS = ["gemm", "matmul", "linear", "relu", "leaky_relu", "tanh", "sigmoid", "identity",
            "relu_backward", "leaky_relu_backward", "tanh_backward", "sigmoid_backward",
            "identity_backward", "softmax", "log_softmax", "softmax_cross_entropy", "mse",
            "bce_with_logits", "sgd_step", "adam_step"]


def test_spec_names_exist():
    assert set(SPEC_OPS) <= set(ops.__all__)
    for name in ops.__all__:
        assert callable(getattr(ops, name)), name
        assert hasattr(reference, name), f"reference.{name} is missing"


@pytest.mark.parametrize("name", sorted(set(SPEC_OPS) | {"column_sum"}))
def test_kernel_and_reference_signatures_agree(name):
    compiled = inspect.signature(getattr(ops, name))
    twin = inspect.signature(getattr(reference, name))
    assert list(compiled.parameters) == list(twin.parameters)
    for p in compiled.parameters.values():
        assert p.kind == twin.parameters[p.name].kind, (name, p.name)


def test_model_layer_names():
    for name in ["Dense", "ReLU", "LeakyReLU", "Tanh", "Sigmoid", "Identity", "Dropout",
                 "Sequential", "SoftmaxCrossEntropy", "MSE", "BCEWithLogits", "SGD", "Adam",
                 "AdamW", "load", "set_num_threads", "get_num_threads"]:
        assert hasattr(fastnn, name), name
