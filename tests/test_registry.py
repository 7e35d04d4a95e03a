"""The table of codes, walked entry by entry.

Activation and loss codes are defined once, in ``_kernels/csrc/fnn.h``, and exported by
every compiled module as ``ACTIVATION_CODES`` / ``LOSS_CODES`` (name in ``fastnn.ops``
-> code).  Each test here is parametrized over those dictionaries, so a new entry is
tested without being named: its kernels against the NumPy reference, its fused GEMM
epilogue, its layer or loss class, and the compiled epoch against the manual loop.
"""
import numpy as np
import pytest

import fastnn
from fastnn import _dispatch, _training, layers, losses
from fastnn import reference as R

from _helpers import TARGETS, TRAINING_TOL, assert_close, manual_fit, targets

ACTIVATIONS = sorted(_dispatch.kernels.ACTIVATION_CODES)
LOSSES = sorted(_dispatch.kernels.LOSS_CODES)


def test_codes_are_distinct_and_the_same_in_every_compiled_path():
    for codes in (_dispatch.kernels.ACTIVATION_CODES, _dispatch.kernels.LOSS_CODES):
        assert len(set(codes.values())) == len(codes)
        assert all(isinstance(code, int) for code in codes.values())
    for mod in _dispatch.modules.values():
        assert mod.ACTIVATION_CODES == _dispatch.kernels.ACTIVATION_CODES
        assert mod.LOSS_CODES == _dispatch.kernels.LOSS_CODES


# ------------------------------------------------------------------ activations
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_entry_is_complete(name):
    for module in (fastnn.ops, R):
        assert callable(getattr(module, name)) and callable(getattr(module, name + "_backward"))
    assert layers.ACTIVATION_LAYERS[name].kernel == name


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_matches_reference(name, kmod, dtype):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((37, 19)) * 3).astype(dtype)
    y = getattr(kmod, name)(x)
    assert_close(y, getattr(R, name)(x), dtype)
    g = rng.standard_normal(x.shape).astype(dtype)
    assert_close(getattr(kmod, name + "_backward")(g, y), getattr(R, name + "_backward")(g, y),
                 dtype)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_linear_fuses_activation(name, kmod, dtype):
    rng = np.random.default_rng(1)
    x, w, b = (rng.standard_normal(s).astype(dtype) for s in ((23, 31), (31, 17), (17,)))
    assert_close(kmod.linear(x, w, b, activation=name), R.linear(x, w, b, activation=name),
                 dtype, scale=10)


# ----------------------------------------------------------------------- losses
@pytest.mark.parametrize("name", LOSSES)
def test_loss_entry_is_complete(name):
    assert callable(getattr(fastnn.ops, name)) and callable(getattr(R, name))
    assert name in TARGETS, f"add a target generator for the loss {name!r} to _helpers.TARGETS"
    assert [cls for cls in losses.LOSS_CLASSES if cls.kernel == name]


@pytest.mark.parametrize("cls", losses.LOSS_CLASSES, ids=lambda cls: cls.__name__)
def test_loss_class_has_its_compiled_code(cls):
    assert cls().compiled_args()[0] == _dispatch.kernels.LOSS_CODES[cls.kernel]


@pytest.mark.parametrize("name", LOSSES)
def test_loss_matches_reference(name, kmod, dtype):
    rng = np.random.default_rng(2)
    logits = rng.standard_normal((29, 7)).astype(dtype)
    t = targets(name, rng, 29, 7, dtype)
    loss, grad = getattr(kmod, name)(logits, t)
    ref_loss, ref_grad = getattr(R, name)(logits, t)
    assert loss == pytest.approx(ref_loss, rel=1e-5 if dtype == np.float32 else 1e-12)
    assert_close(grad, ref_grad, dtype)


# ------------------------------------------------ the compiled epoch, per entry
def _loss_for(name):
    return next(cls for cls in losses.LOSS_CLASSES if cls.kernel == name)()


def _fit_against_manual(act_name, loss_name, dtype=np.float64):
    rng = np.random.default_rng(3)
    n, batch, epochs, seed = 90, 16, 2, 5
    X = rng.standard_normal((n, 6)).astype(dtype)
    y = targets(loss_name, rng, n, 3, dtype)

    def net():
        return fastnn.Sequential([fastnn.Dense(6, 8, dtype=dtype, seed=0, init="glorot"),
                                  layers.ACTIVATION_LAYERS[act_name](),
                                  fastnn.Dense(8, 3, dtype=dtype, seed=1, init="glorot")])

    a, b = net(), net()
    assert _training.compiled_layers(a) is not None, "this network must run compiled"
    hist = a.fit(X, y, loss=_loss_for(loss_name), optimizer=fastnn.SGD(a.parameters(), lr=0.1),
                 epochs=epochs, batch_size=batch, seed=seed, verbose=False)
    manual = manual_fit(b, _loss_for(loss_name), fastnn.SGD(b.parameters(), lr=0.1), X, y,
                        epochs=epochs, batch_size=batch, seed=seed)
    assert_close(hist.loss, manual, dtype, scale=0, tol=TRAINING_TOL)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert_close(pa.value, pb.value, dtype, tol=TRAINING_TOL)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_compiled_epoch_runs_each_activation(name):
    _fit_against_manual(name, "softmax_cross_entropy")


@pytest.mark.parametrize("name", LOSSES)
def test_compiled_epoch_runs_each_loss(name):
    _fit_against_manual("tanh", name)
