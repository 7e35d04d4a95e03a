"""The public contract: every public name resolves, every compiled kernel has a NumPy
twin with the same signature, and ``ops.pyi`` states the compiled signatures exactly."""
import ast
import inspect
import pathlib

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


@pytest.mark.parametrize("name", sorted(set(SPEC_OPS) | {"column_sum", "sparse_linear",
                                                        "sparse_linear_backward", "dropout",
                                                        "dropout_backward"}))
def test_kernel_and_reference_signatures_agree(name):
    compiled = inspect.signature(getattr(ops, name))
    twin = inspect.signature(getattr(reference, name))
    assert list(compiled.parameters) == list(twin.parameters)
    for p in compiled.parameters.values():
        assert p.kind == twin.parameters[p.name].kind, (name, p.name)


def test_model_layer_names():
    for name in ["Dense", "ReLU", "LeakyReLU", "Tanh", "Sigmoid", "Identity", "Dropout",
                 "Sequential", "SoftmaxCrossEntropy", "MSE", "BCEWithLogits", "PoissonNLL", "SGD", "Adam",
                 "AdamW", "load", "set_num_threads", "get_num_threads", "Embedding",
                 "KeyedVectors"]:
        assert hasattr(fastnn, name), name


def test_public_names_resolve():
    for name in fastnn.__all__:
        assert hasattr(fastnn, name), name
    for name in ops.__all__:
        assert callable(getattr(ops, name)), name


# ------------------------------------------------------------------ ops.pyi
STUB = pathlib.Path(ops.__file__).with_name("ops.pyi")
_P = inspect.Parameter


def _parameters(args: ast.arguments) -> list:
    """``(name, kind, default)`` of each parameter of a parsed ``def``."""
    positional = args.posonlyargs + args.args
    defaults = [_P.empty] * (len(positional) - len(args.defaults))
    defaults += [ast.literal_eval(d) for d in args.defaults]
    out = [(a.arg, _P.POSITIONAL_ONLY if i < len(args.posonlyargs) else _P.POSITIONAL_OR_KEYWORD,
            default) for i, (a, default) in enumerate(zip(positional, defaults))]
    if args.vararg:
        out.append((args.vararg.arg, _P.VAR_POSITIONAL, _P.empty))
    out += [(a.arg, _P.KEYWORD_ONLY, _P.empty if d is None else ast.literal_eval(d))
            for a, d in zip(args.kwonlyargs, args.kw_defaults)]
    if args.kwarg:
        out.append((args.kwarg.arg, _P.VAR_KEYWORD, _P.empty))
    return out


def _split_top_level(text: str) -> list:
    """``text`` split at the commas outside brackets and quotes."""
    parts, depth, quote, start = [], 0, None, 0
    for i, ch in enumerate(text):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    return parts + [text[start:]]


def _compiled_parameters(fn) -> list:
    """The parameters of a compiled function, read from the signature Cython embeds as
    the first line of its docstring (``gemm(a, b, *, bool trans_a=False, ...)``: C types
    dropped); this needs no ``binding`` or ``__text_signature__``."""
    line = fn.__doc__.lstrip().splitlines()[0]
    assert line.startswith(fn.__name__ + "("), line
    inner = line[len(fn.__name__) + 1:]
    depth, end = 1, 0
    while depth:
        depth += {"(": 1, ")": -1}.get(inner[end], 0)
        end += 1
    params = []
    for part in _split_top_level(inner[:end - 1]):
        name, eq, default = part.strip().partition("=")
        params.append(name.split()[-1] + eq + default)
    tree = ast.parse(f"def {fn.__name__}({', '.join(params)}): pass")
    return _parameters(tree.body[0].args)


def _stub() -> ast.Module:
    return ast.parse(STUB.read_text())


def test_stub_names_are_the_ops():
    tree = _stub()
    functions = [node.name for node in tree.body if isinstance(node, ast.FunctionDef)]
    assert sorted(functions) == sorted(ops.__all__)
    assigned = [target.id for node in tree.body if isinstance(node, (ast.Assign, ast.AnnAssign))
                for target in (node.targets if isinstance(node, ast.Assign) else [node.target])]
    assert all(name.startswith("_") for name in assigned), assigned  # helpers only


@pytest.mark.parametrize("name", sorted(ops.__all__))
def test_stub_signature_matches_the_compiled_function(name, kmod):
    stub = next(node for node in _stub().body
                if isinstance(node, ast.FunctionDef) and node.name == name)
    expected = _parameters(stub.args)
    fn = getattr(kmod, name)
    assert _compiled_parameters(fn) == expected
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # a build without binding=True: the docstring suffices
        return
    assert [(p.name, p.kind, p.default) for p in signature.parameters.values()] == expected
