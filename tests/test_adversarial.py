"""Adversarial property tests (issue 11): arrays of every dtype, byte order, memory layout,
alignment and writeability, aliasing ``out=``, NaN/inf and empty arrays, through every
kernel of ``fastnn.ops`` and the model's entry points.  Each call either returns what
the NumPy reference returns on clean copies of the inputs, or raises a TypeError or
ValueError that names one of the arguments; the inputs are never changed (nor ``out``
when the call is refused)."""
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastnn
from fastnn import reference as R

from _helpers import assert_close

# the reference computes on whatever it gets (complex, NaN casts): its warnings are noise here
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning",
                                        "ignore::numpy.exceptions.ComplexWarning")
SETTINGS = settings(max_examples=30, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
FLOATS = [np.dtype(np.float32), np.dtype(np.float64)]
#: every kind of array a caller may pass: the kernels' own dtypes in both byte orders,
#: and dtypes they do not take
DTYPES = FLOATS + [np.dtype(">f4"), np.dtype(">f8"), np.dtype(np.float16),
                   np.dtype(np.int64), np.dtype(np.int32), np.dtype(np.bool_),
                   np.dtype(np.complex64), np.dtype(object)]
LAYOUTS = ["C", "F", "transposed", "strided", "reversed", "unaligned", "readonly"]


def _values(rng: np.random.Generator, shape, special: bool) -> np.ndarray:
    x = rng.standard_normal(shape) * 2
    if special and x.size:
        flat = x.reshape(-1)
        flat[rng.integers(0, x.size, 1 + x.size // 4)] = rng.choice([np.nan, np.inf, -np.inf])
    return x


def _layout(values: np.ndarray, dtype: np.dtype, layout: str) -> np.ndarray:
    """``values`` (2-D, or 1-D) as an array of ``dtype`` in memory ``layout``."""
    typed = values.astype(dtype)
    if layout == "C":
        return np.ascontiguousarray(typed)
    if layout == "F":
        return np.asfortranarray(typed)
    if layout == "transposed":
        return np.ascontiguousarray(typed.T).T
    if layout == "strided":
        big = np.zeros(tuple(2 * s for s in typed.shape), dtype)
        view = big[tuple(slice(None, None, 2) for _ in typed.shape)]
        view[...] = typed
        return view
    if layout == "reversed":
        rev = np.ascontiguousarray(typed[tuple(slice(None, None, -1) for _ in typed.shape)])
        return rev[tuple(slice(None, None, -1) for _ in typed.shape)]
    if layout == "unaligned" and dtype.itemsize > 1 and dtype != np.dtype(object):
        raw = np.zeros(typed.nbytes + dtype.itemsize, np.uint8)
        view = raw[1:1 + typed.nbytes].view(dtype).reshape(typed.shape)
        view[...] = typed
        return view
    if layout == "readonly":
        typed = np.ascontiguousarray(typed)
        typed.flags.writeable = False
    return typed


@st.composite
def arrays(draw, shape, dtypes=DTYPES, layouts=LAYOUTS, special=None):
    """An array of ``shape`` with values drawn from a normal distribution (NaN and
    infinities sometimes), one of ``dtypes``, laid out as one of ``layouts``."""
    seed = draw(st.integers(0, 2**32 - 1))
    special = draw(st.booleans()) if special is None else special
    values = _values(np.random.default_rng(seed), shape, special and draw(st.integers(0, 4)) == 0)
    return _layout(values, draw(st.sampled_from(dtypes)), draw(st.sampled_from(layouts)))


shapes = st.tuples(st.integers(0, 6), st.integers(0, 7))


def snapshot(*arrays_):
    return [np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in arrays_]


def assert_unchanged(before, after):
    for old, new in zip(before, after):
        if isinstance(old, np.ndarray):
            assert old.dtype == new.dtype and old.shape == new.shape
            if old.dtype != np.dtype(object):
                np.testing.assert_array_equal(old, new)


def assert_names_an_argument(exc: Exception, names):
    message = str(exc)
    assert any(re.search(rf"(^|[^\w.]){re.escape(n)}(\W|$)", message) for n in names), (
        f"{type(exc).__name__} does not name any of {names}: {message}")


def native(a):
    """A clean copy the reference computes on."""
    return np.array(a, dtype=a.dtype.newbyteorder("=")) if isinstance(a, np.ndarray) else a


def _clean(*arrays_) -> bool:
    """All native-endian float32/float64 of one dtype: the kernels must accept them."""
    dts = {a.dtype for a in arrays_ if isinstance(a, np.ndarray)}
    return len(dts) == 1 and dts.pop() in FLOATS


def check_call(kernel, reference, args: dict, names, *, out=None, writes=(), updates=(),
               must_accept=False, tol_scale=1.0):
    """Run ``kernel(**args)``; compare with ``reference`` on clean copies or require a
    named TypeError/ValueError, and the inputs unchanged.  ``writes``: arguments the
    kernel may change (``out`` aliasing them); ``updates``: arguments both update in
    place (optimizer steps), compared after the call."""
    inputs = {k: v for k, v in args.items() if k not in writes and k != "out"}
    before = snapshot(*inputs.values())
    out_before = snapshot(*(args[k] for k in writes), out)
    expected = None
    try:
        with np.errstate(all="ignore"):
            clean = {k: native(v) for k, v in args.items()}
            if out is not None:
                clean["out"] = np.array(out, copy=True)
            expected = reference(**clean)
    except Exception:  # inputs the reference cannot take: the kernel must refuse them
        pass
    try:
        with np.errstate(all="ignore"):
            result = kernel(**args)
    except (TypeError, ValueError) as exc:
        assert not must_accept, f"refused valid input: {exc}"
        assert_names_an_argument(exc, names)
        assert_unchanged(out_before, snapshot(*(args[k] for k in writes), out))
    else:
        if expected is None:  # the reference cannot reduce over nothing: an empty result
            parts = result if isinstance(result, tuple) else (result,)
            assert all(np.size(r) == 0 for r in parts if isinstance(r, np.ndarray)), (
                "accepted input the reference cannot take")
        else:
            _compare(result, expected, tol_scale, clean, updates, args)
        if out is not None and not isinstance(result, tuple):
            assert result is out
    assert_unchanged(before, list(inputs.values()))


def _compare(result, expected, tol_scale, clean, updates, args):
    for name in updates:  # in-place kernels: compare the updated buffers
        assert_close(args[name], clean[name], args[name].dtype, scale=tol_scale)
    pairs = zip(result, expected) if isinstance(result, tuple) else [(result, expected)]
    for got, want in pairs:
        if isinstance(got, np.ndarray):
            assert got.shape == np.shape(want)
            if got.size:
                rtol, atol = {4: (2e-5, 1e-6), 8: (1e-12, 1e-14)}[got.dtype.itemsize]
                np.testing.assert_allclose(got, want, rtol=rtol * tol_scale,
                                           atol=atol * tol_scale * 10, equal_nan=True)
        else:
            np.testing.assert_allclose(got, want, rtol=1e-4, equal_nan=True)


def _out_like(draw, like: np.ndarray, inputs):
    """None, a fresh array in any layout, one of the inputs (in place), or a view of an
    input's memory in another order (overlapping without being the same view)."""
    kind = draw(st.sampled_from(["none", "fresh", "input", "overlap"]))
    if kind == "none":
        return None
    if kind == "fresh":
        return draw(arrays(like.shape, dtypes=[like.dtype] + DTYPES[:2], special=False))
    source = draw(st.sampled_from(list(inputs)))
    if kind == "input" or source.ndim != 2 or source.shape[0] < 2:
        return source
    return source[::-1]  # the same memory in another order: overlapping, not in place


# --------------------------------------------------------------- elementwise kernels
UNARY = ["relu", "leaky_relu", "tanh", "sigmoid", "identity", "softmax", "log_softmax",
         "column_sum"]
BACKWARD = ["relu_backward", "leaky_relu_backward", "tanh_backward", "sigmoid_backward",
            "identity_backward"]


@SETTINGS
@given(data=st.data(), name=st.sampled_from(UNARY), shape=shapes)
def test_unary_kernels(data, name, shape):
    x = data.draw(arrays(shape))
    out = None
    if name != "column_sum" and data.draw(st.booleans()):
        out = _out_like(data.draw, x, [x])
    args = {"x": x, **({"out": out} if out is not None else {})}
    check_call(getattr(fastnn.ops, name), getattr(R, name), args, ["x", "out"], out=out,
               writes=("x",) if out is x else (), must_accept=out is None and _clean(x))


@SETTINGS
@given(data=st.data(), name=st.sampled_from(BACKWARD), shape=shapes)
def test_backward_kernels(data, name, shape):
    g = data.draw(arrays(shape))
    y = data.draw(st.one_of(arrays(shape, dtypes=[g.dtype]), arrays(shape), st.none()))
    out = _out_like(data.draw, g, [g] + [y] * (y is not None)) if data.draw(st.booleans()) else None
    args = {"grad_output": g, "output": y, **({"out": out} if out is not None else {})}
    writes = tuple(k for k, v in (("grad_output", g), ("output", y)) if v is out)
    check_call(getattr(fastnn.ops, name), getattr(R, name), args, ["grad_output", "output", "out"],
               out=out, writes=writes, must_accept=out is None and y is not None and _clean(g, y))


# ------------------------------------------------------------------------ products
@SETTINGS
@given(data=st.data(), m=st.integers(0, 6), k=st.integers(0, 6), n=st.integers(0, 6),
       trans_a=st.booleans(), trans_b=st.booleans(),
       alpha=st.sampled_from([1.0, -0.5, 0.0, 2, np.float32(1.5), float("nan"), "2"]),
       beta=st.sampled_from([0.0, 0.5, 1, float("inf")]))
def test_gemm(data, m, k, n, trans_a, trans_b, alpha, beta):
    a = data.draw(arrays((k, m) if trans_a else (m, k)))
    b = data.draw(arrays((n, k) if trans_b else (k, n),
                         dtypes=[a.dtype] if data.draw(st.booleans()) else DTYPES))
    out = _out_like(data.draw, np.empty((m, n), a.dtype), [a, b])
    if out is not None and out.shape != (m, n):
        out = data.draw(arrays((m, n), special=False))
    args = dict(a=a, b=b, trans_a=trans_a, trans_b=trans_b, alpha=alpha, beta=beta,
                **({"out": out} if out is not None else {}))
    valid_scalars = not isinstance(alpha, str) and np.isfinite(alpha) and np.isfinite(beta)
    check_call(fastnn.ops.gemm, R.gemm, args, ["a", "b", "a.T", "b.T", "out", "alpha", "beta"],
               out=out, must_accept=out is None and beta == 0 and valid_scalars and _clean(a, b),
               tol_scale=10)


@SETTINGS
@given(data=st.data(), m=st.integers(0, 5), k=st.integers(0, 6), n=st.integers(0, 5),
       activation=st.sampled_from([None, "relu", "tanh", "sigmoid", "leaky_relu", "identity",
                                   "softmax", 3]))
def test_linear(data, m, k, n, activation):
    x = data.draw(arrays((m, k)))
    w = data.draw(arrays((k, n), dtypes=[x.dtype] if data.draw(st.booleans()) else DTYPES))
    bias = data.draw(st.one_of(st.none(), arrays((n,), dtypes=[x.dtype, np.dtype(">f8")])))
    args = dict(x=x, weight=w, bias=bias, activation=activation)
    check_call(fastnn.ops.linear, R.linear, args, ["x", "weight", "bias", "activation"],
               must_accept=(activation not in ("softmax", 3) and _clean(x, w)
                            and (bias is None or _clean(x, bias))), tol_scale=10)


# -------------------------------------------------------------------------- losses
LABEL_DTYPES = [np.dtype(t) for t in ("<i8", ">i8", "<i4", ">i4", "u2", ">u8", "i1")]


@SETTINGS
@given(data=st.data(), n=st.integers(0, 6), c=st.integers(0, 6),
       reduction=st.sampled_from(["mean", "sum", "none", "avg", None]),
       smoothing=st.sampled_from([0.0, 0.1, 1.0, 1.5, float("nan"), "0.1"]))
def test_softmax_cross_entropy(data, n, c, reduction, smoothing):
    logits = data.draw(arrays((n, c)))
    if data.draw(st.booleans()):
        rng = np.random.default_rng(data.draw(st.integers(0, 1000)))
        targets = rng.integers(-1, max(c, 1) + 1, n).astype(data.draw(st.sampled_from(LABEL_DTYPES)))
    else:
        targets = data.draw(arrays((n, c), dtypes=[logits.dtype] + DTYPES))
    args = dict(logits=logits, targets=targets, reduction=reduction, label_smoothing=smoothing)
    labels_ok = targets.ndim == 1 and targets.size and 0 <= targets.min() and targets.max() < c
    check_call(fastnn.ops.softmax_cross_entropy, R.softmax_cross_entropy, args,
               ["logits", "targets", "reduction", "label_smoothing"],
               must_accept=(reduction in ("mean", "sum", "none") and smoothing in (0.0, 0.1, 1.0)
                            and _clean(logits) and c > 0 and n > 0 and bool(labels_ok)
                            and np.isfinite(logits).all()))


@SETTINGS
@given(data=st.data(), name=st.sampled_from(["mse", "bce_with_logits"]), shape=shapes,
       reduction=st.sampled_from(["mean", "sum", "none", "total", 0]))
def test_pointwise_losses(data, name, shape, reduction):
    first = "pred" if name == "mse" else "logits"
    a = data.draw(arrays(shape))
    t = data.draw(arrays(shape, dtypes=[a.dtype] if data.draw(st.booleans()) else DTYPES))
    args = {first: a, "target": t, "reduction": reduction}
    check_call(getattr(fastnn.ops, name), getattr(R, name), args, [first, "target", "reduction"],
               must_accept=reduction in ("mean", "sum", "none") and _clean(a, t) and a.size > 0)


# ---------------------------------------------------------------------- optimizers
@SETTINGS
@given(data=st.data(), shape=shapes, momentum=st.sampled_from([0.0, 0.9, -1.0, float("nan")]),
       lr=st.sampled_from([0.1, 0.0, -0.1, float("inf"), "0.1"]),
       weight_decay=st.sampled_from([0.0, 1e-2, float("inf")]))
def test_sgd_step(data, shape, momentum, lr, weight_decay):
    param = data.draw(arrays(shape, special=False))
    grad = data.draw(arrays(shape, dtypes=[param.dtype] if data.draw(st.booleans()) else DTYPES))
    velocity = data.draw(arrays(shape, dtypes=[param.dtype], special=False)) if momentum else None
    args = dict(param=param, grad=grad, lr=lr, momentum=momentum, velocity=velocity,
                weight_decay=weight_decay)
    valid = (lr in (0.1, 0.0) and momentum in (0.0, 0.9) and weight_decay != float("inf")
             and param.flags.writeable and (velocity is None or velocity.flags.writeable))
    check_call(fastnn.ops.sgd_step, R.sgd_step, args,
               ["param", "grad", "lr", "momentum", "velocity", "weight_decay"],
               writes=("param", "velocity") if momentum else ("param",),
               updates=("param", "velocity") if momentum else ("param",),
               must_accept=valid and _clean(param, grad))


@SETTINGS
@given(data=st.data(), shape=shapes, step=st.sampled_from([1, 7, 0, 2.0]),
       beta1=st.sampled_from([0.9, 1.0, float("nan")]), eps=st.sampled_from([1e-8, -1.0, float("inf")]))
def test_adam_step(data, shape, step, beta1, eps):
    param = data.draw(arrays(shape, special=False))
    grad = data.draw(arrays(shape, dtypes=[param.dtype] if data.draw(st.booleans()) else DTYPES))
    m = data.draw(arrays(shape, dtypes=[param.dtype], special=False))
    v = np.abs(data.draw(arrays(shape, dtypes=[param.dtype], layouts=["C", "F", "strided"],
                                special=False)))
    args = dict(param=param, grad=grad, m=m, v=v, step=step, lr=1e-2, beta1=beta1, eps=eps)
    valid = (step in (1, 7) and beta1 == 0.9 and eps == 1e-8 and param.flags.writeable
             and m.flags.writeable)
    check_call(fastnn.ops.adam_step, R.adam_step, args,
               ["param", "grad", "m", "v", "step", "beta1", "eps"], writes=("param", "m", "v"),
               updates=("param", "m", "v"), must_accept=valid and _clean(param, grad))


# ---------------------------------------------------------------------- the model
def _model(dtype, seed=0):
    return fastnn.Sequential([fastnn.Dense(4, 5, dtype=dtype, seed=seed), fastnn.Tanh(),
                              fastnn.Dense(5, 3, dtype=dtype, seed=seed + 1)])


MODEL_DTYPES = DTYPES[:-2] + [np.dtype(np.uint8)]


@SETTINGS
@given(data=st.data(), dtype=st.sampled_from(FLOATS), n=st.integers(0, 5),
       width=st.sampled_from([4, 4, 3]))
def test_dense_and_sequential_forward(data, dtype, n, width):
    x = data.draw(arrays((n, width)))
    model = _model(dtype)
    dense = model.layers[0]
    check_call(lambda x: dense.forward(x), lambda x: R.linear(x, dense.weight, dense.bias),
               {"x": x}, ["x", "weight", "bias"], must_accept=width == 4 and x.dtype == dtype)
    expected = lambda x: R.linear(R.tanh(R.linear(x, dense.weight, dense.bias)),  # noqa: E731
                                  model.layers[2].weight, model.layers[2].bias)
    check_call(lambda x: model.forward(x, training=False), expected, {"x": x},
               ["x", "weight", "bias"], must_accept=width == 4 and x.dtype == dtype, tol_scale=10)


@SETTINGS
@given(data=st.data(), dtype=st.sampled_from(FLOATS), n=st.integers(0, 12),
       width=st.sampled_from([4, 4, 4, 5]))
def test_predict_and_fit(data, dtype, n, width):
    """predict and fit take any numeric X in any layout (converted once) or refuse it by
    name; fit on such an X trains exactly as on its clean float copy."""
    X = data.draw(arrays((n, width), dtypes=MODEL_DTYPES))
    labels = np.random.default_rng(n).integers(0, 3, n)
    y = _layout(labels[:, None].astype(float), data.draw(st.sampled_from(LABEL_DTYPES)),
                data.draw(st.sampled_from(LAYOUTS)))[:, 0]
    ok = width == 4 and n > 0 and X.dtype.kind in "biuf" and np.isfinite(X.astype(float)).all()
    before = snapshot(X, y)
    model, twin = _model(dtype), _model(dtype)
    try:
        predicted = model.predict(X)
    except (TypeError, ValueError) as exc:
        assert not ok, exc
        assert_names_an_argument(exc, ["X"])
    else:
        assert ok
        np.testing.assert_array_equal(predicted, twin.predict(np.array(X, dtype=dtype)))
    try:
        hist = model.fit(X, y, loss="cross_entropy", epochs=2, batch_size=4, seed=0,
                         optimizer=fastnn.Adam(model.parameters(), lr=1e-2), verbose=False)
    except (TypeError, ValueError) as exc:
        assert not ok, exc
        assert_names_an_argument(exc, ["X", "y"])
        for p, q in zip(model.parameters(), twin.parameters()):
            np.testing.assert_array_equal(p.value, q.value)
    else:
        assert ok
        clean = twin.fit(np.array(X, dtype=dtype), np.array(y, dtype=np.int64),
                         loss="cross_entropy", epochs=2, batch_size=4, seed=0,
                         optimizer=fastnn.Adam(twin.parameters(), lr=1e-2), verbose=False)
        assert hist.loss == clean.loss
        for p, q in zip(model.parameters(), twin.parameters()):
            np.testing.assert_array_equal(p.value, q.value)
    assert_unchanged(before, [X, y])


@SETTINGS
@given(data=st.data(), loss_name=st.sampled_from(["ce", "mse", "bce"]), n=st.integers(0, 5))
def test_losses_as_layers(data, loss_name, n):
    loss = {"ce": fastnn.SoftmaxCrossEntropy(0.1), "mse": fastnn.MSE(),
            "bce": fastnn.BCEWithLogits()}[loss_name]
    outputs = data.draw(arrays((n, 3)))
    targets = data.draw(arrays((n, 3), dtypes=[outputs.dtype] + DTYPES, special=False))
    kernel = getattr(R, loss.kernel)
    check_call(lambda outputs, targets: loss.forward(outputs, targets),
               lambda outputs, targets: kernel(outputs, targets, **loss._kwargs())[0],
               {"outputs": outputs, "targets": targets},
               ["logits", "pred", "target", "targets"],
               must_accept=_clean(outputs, targets) and n > 0 and loss_name == "mse")


@SETTINGS
@given(data=st.data(), dtype=st.sampled_from(FLOATS), opt=st.sampled_from(["sgd", "adam"]))
def test_optimizers_on_adversarial_gradients(data, dtype, opt):
    """Gradients as a caller may leave them (NaN, inf): a step computes what the
    reference computes; a read-only or foreign parameter pair is refused by name."""
    value = data.draw(arrays((3, 4), dtypes=[dtype], special=False))
    grad = data.draw(arrays((3, 4), dtypes=[dtype] + DTYPES))
    try:
        optimizer = (fastnn.SGD([(value, grad)], lr=0.1, momentum=0.5) if opt == "sgd"
                     else fastnn.Adam([(value, grad)], lr=0.1))
    except (TypeError, ValueError) as exc:
        assert_names_an_argument(exc, ["params", "param0", "value", "grad"])
        return
    reference_value = np.array(value, copy=True)
    state = [np.zeros_like(reference_value) for _ in range(2)]
    before = snapshot(grad)
    try:
        optimizer.step()
    except (TypeError, ValueError) as exc:
        assert_names_an_argument(exc, ["param", "grad", "velocity", "m", "v"])
        return
    if opt == "sgd":
        R.sgd_step(reference_value, native(grad), lr=0.1, momentum=0.5, velocity=state[0])
    else:
        R.adam_step(reference_value, native(grad), state[0], state[1], step=1, lr=0.1)
    assert_close(value, reference_value, dtype)
    assert_unchanged(before, [grad])


@SETTINGS
@given(data=st.data(), dtype=st.sampled_from(FLOATS))
def test_save_load_roundtrip_of_any_weights(data, dtype, tmp_path_factory):
    """Weights of every value (NaN and infinities included) come back bit for bit."""
    model = _model(dtype)
    for p in model.parameters():
        p.value[...] = data.draw(arrays(p.value.shape, dtypes=[dtype], layouts=["C"], special=True))
    path = tmp_path_factory.mktemp("adv") / "m"
    model.save(path)
    loaded = fastnn.load(path)
    for p, q in zip(model.parameters(), loaded.parameters()):
        np.testing.assert_array_equal(p.value.view(np.uint8), q.value.view(np.uint8))


@pytest.mark.parametrize("bad", [0, -3, 2.5, "4", None, True])
def test_model_sizes_are_checked(bad):
    with pytest.raises((TypeError, ValueError), match="in_features"):
        fastnn.Dense(bad, 3)


@SETTINGS
@given(data=st.data(), v=st.integers(1, 6), d=st.integers(0, 4), n=st.integers(0, 4),
       length=st.integers(0, 4), mode=st.sampled_from(["mean", "sum", "max", 1]),
       padding_idx=st.sampled_from([-1, 0, "0", 2**70]))
def test_embedding_bag(data, v, d, n, length, mode, padding_idx):
    weight = data.draw(arrays((v, d)))
    rng = np.random.default_rng(data.draw(st.integers(0, 1000)))
    ids = _layout(rng.integers(-2, v + 1, (n, length)).astype(float),
                  data.draw(st.sampled_from(LABEL_DTYPES)), data.draw(st.sampled_from(LAYOUTS)))
    signed = ids.astype(np.int64)
    valid_ids = bool(((signed == padding_idx) | ((signed >= 0) & (signed < v))).all()) \
        if isinstance(padding_idx, int) and padding_idx < 2**63 else False
    check_call(fastnn.ops.embedding_bag, R.embedding_bag,
               dict(weight=weight, ids=ids, mode=mode, padding_idx=padding_idx),
               ["weight", "ids", "mode", "padding_idx"],
               must_accept=(valid_ids and mode in ("mean", "sum") and _clean(weight)
                            and weight.flags.c_contiguous and weight.flags.aligned
                            and ids.dtype.kind == "i"))
