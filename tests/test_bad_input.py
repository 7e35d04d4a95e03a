"""Bad input (SPEC section 6): a clear TypeError/ValueError naming the argument, never a crash
or a silent wrong answer; nothing is written before the error."""
import numpy as np
import pytest

F32 = np.float32
X = np.ones((4, 3), F32)
G = np.ones((4, 3), F32)
LAB = np.array([0, 1, 2, 0])

UNARY = ["relu", "leaky_relu", "tanh", "sigmoid", "identity", "softmax", "log_softmax",
         "column_sum"]
BINARY = ["relu_backward", "leaky_relu_backward", "tanh_backward", "sigmoid_backward",
          "identity_backward"]


def ro(a):
    a = a.copy()
    a.flags.writeable = False
    return a


# ------------------------------------------------------------- wrong kind / dtype
@pytest.mark.parametrize("name", UNARY)
@pytest.mark.parametrize("bad, match", [
    ([[1.0, 2.0]], "x must be a numpy.ndarray.*received list"),
    (3.0, "x must be a numpy.ndarray.*received float"),
    (np.ones((2, 2), np.int64), "x must have dtype float32 or float64.*received dtype int64"),
    (np.ones((2, 2), np.float16), "received dtype float16"),
    (np.ones((2, 2), object), "received dtype object"),
    (np.ones((2, 2), np.complex128), "received dtype complex128"),
    (np.ones((2, 2), ">f8"), "native byte order.*received dtype >f8"),
])
def test_unary_wrong_type(kmod, name, bad, match):
    with pytest.raises(TypeError, match=match):
        getattr(kmod, name)(bad)


@pytest.mark.parametrize("name", BINARY)
def test_backward_bad_operands(kmod, name):
    f = getattr(kmod, name)
    with pytest.raises(TypeError, match="grad_output must be a numpy.ndarray"):
        f([1.0], X)
    with pytest.raises(TypeError, match="output must have the same dtype as grad_output "
                                        r"\(float32\); received dtype float64"):
        f(G, X.astype(np.float64))
    with pytest.raises(TypeError, match="output must have dtype.*int32"):
        f(G, X.astype(np.int32))
    with pytest.raises(ValueError, match=r"output must have the shape of grad_output \(4, 3\); "
                                         r"received shape \(3, 4\)"):
        f(G, X.T)


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "column_sum"])
@pytest.mark.parametrize("shape", [(5,), (2, 3, 4), ()])
def test_two_d_only(kmod, name, shape):
    with pytest.raises(ValueError, match=r"x must be 2-D; received a \d-D array"):
        getattr(kmod, name)(np.ones(shape, F32))


# -------------------------------------------------------------------------- out=
@pytest.mark.parametrize("name", ["relu", "tanh", "softmax", "identity"])
def test_bad_out(kmod, name):
    f = getattr(kmod, name)
    with pytest.raises(ValueError, match="out must be a writeable array"):
        f(X, out=ro(X))
    with pytest.raises(ValueError, match=r"out must have the shape of the result \(4, 3\); "
                                         r"received shape \(3, 4\)"):
        f(X, out=np.empty((3, 4), F32))
    with pytest.raises(TypeError, match=r"out must have the same dtype as the result "
                                        r"\(float32\); received dtype float64"):
        f(X, out=np.empty((4, 3)))
    with pytest.raises(TypeError, match="out must be a numpy.ndarray"):
        f(X, out=[[0.0] * 3] * 4)


@pytest.mark.parametrize("name", ["relu", "sigmoid", "softmax", "log_softmax"])
def test_out_partially_overlapping_input(kmod, name):
    buf = np.arange(20, dtype=F32).reshape(4, 5)
    before = buf.copy()
    with pytest.raises(ValueError, match="out must not overlap x"):
        getattr(kmod, name)(buf[:, :4], out=buf[:, 1:])
    assert np.array_equal(buf, before)
    with pytest.raises(ValueError, match="out must not overlap x"):
        getattr(kmod, name)(buf[:, :4], out=buf[:, :4].T.T[::-1])


def test_backward_out_overlapping_output(kmod):
    y = np.ones(10, F32)
    with pytest.raises(ValueError, match="out must not overlap output"):
        kmod.relu_backward(np.ones(9, F32), y[1:], out=y[:9])


def test_column_sum_bad_out(kmod):
    with pytest.raises(ValueError, match=r"out must have shape \(3,\); received shape \(4,\)"):
        kmod.column_sum(X, out=np.empty(4, F32))
    with pytest.raises(TypeError, match="out must have the same dtype as x"):
        kmod.column_sum(X, out=np.empty(3))
    with pytest.raises(ValueError, match="out must be a writeable array"):
        kmod.column_sum(X, out=ro(np.empty(3, F32)))
    with pytest.raises(ValueError, match="out must not overlap x"):
        kmod.column_sum(X, out=X[0])


# ---------------------------------------------------------------- cross-entropy
@pytest.mark.parametrize("targets, exc, match", [
    (np.array([0, 1, 3, 0]), ValueError, r"class indices in \[0, 3\); received 3 at index 2"),
    (np.array([0, -1, 2, 0]), ValueError, r"received -1 at index 1"),
    (np.array([0, 1, 2, 2**63 + 5], np.uint64), ValueError, r"received .*9223372036854775813"),
    (np.array([0, 1, 2, 200], np.uint8), ValueError, r"received .*200 at index 3"),
    (np.array([0.0, 1.0, 2.0, 0.0]), TypeError, "integer class indices; received dtype float64"),
    (np.array([True, False, True, False]), TypeError, "received dtype bool"),
    (np.array([0, 1, 2]), ValueError, r"targets must have shape \(4,\).*received shape \(3,\)"),
    ([0, 1, 2, 0], TypeError, "targets must be a numpy.ndarray; received list"),
    (np.ones((4, 3)), TypeError, r"targets must have the same dtype as logits \(float32\)"),
    (np.ones((4, 2), F32), ValueError, r"targets must have the shape of logits \(4, 3\)"),
    (np.ones((4, 3), np.int64), TypeError, "targets must have dtype float32 or float64"),
    (np.ones((4, 3, 1), F32), ValueError, r"targets must be class indices.*shape \(4, 3, 1\)"),
])
def test_cross_entropy_bad_targets(kmod, targets, exc, match):
    out = np.full((4, 3), 7.0, F32)
    with pytest.raises(exc, match=match):
        kmod.softmax_cross_entropy(X, targets, out=out)
    assert (out == 7.0).all()          # nothing was written


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(reduction="avg"), ValueError,
     "reduction must be 'mean', 'sum' or 'none'; received 'avg'"),
    (dict(reduction=None), TypeError, r"reduction must be .*; received None \(NoneType\)"),
    (dict(reduction=2), TypeError, r"reduction must be .*; received 2 \(int\)"),
    (dict(label_smoothing=-0.1), ValueError,
     r"label_smoothing must be a real number in \[0, 1\]; received -0.1"),
    (dict(label_smoothing=1.5), ValueError, "received 1.5"),
    (dict(label_smoothing=float("nan")), ValueError, "received nan"),
    (dict(label_smoothing="0.1"), TypeError,
     r"label_smoothing must be a real number; received '0.1' \(str\)"),
    (dict(out=ro(X)), ValueError, "out must be a writeable array"),
    (dict(out=np.empty((4, 3))), TypeError, "out must have the same dtype"),
    (dict(out=np.empty((3, 4), F32)), ValueError, "out must have the shape of the result"),
])
def test_cross_entropy_bad_options(kmod, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        kmod.softmax_cross_entropy(X, LAB, **kwargs)


def test_cross_entropy_bad_logits(kmod):
    with pytest.raises(ValueError, match=r"logits must be 2-D; received a 1-D array"):
        kmod.softmax_cross_entropy(np.ones(4, F32), LAB)
    with pytest.raises(TypeError, match="logits must have dtype float32 or float64"):
        kmod.softmax_cross_entropy(np.ones((4, 3), np.int32), LAB)
    with pytest.raises(ValueError, match=r"at least one class.*\(4, 0\)"):
        kmod.softmax_cross_entropy(np.ones((4, 0), F32), np.zeros(4, np.int64))


def test_cross_entropy_out_overlap(kmod):
    probs = np.full((4, 3), 1 / 3, F32)
    with pytest.raises(ValueError, match="out must not overlap targets"):
        kmod.softmax_cross_entropy(X, probs, out=probs)
    buf = np.ones((5, 3), F32)
    with pytest.raises(ValueError, match=r"out must not overlap logits \(it may only be logits"):
        kmod.softmax_cross_entropy(buf[:4], LAB, out=buf[1:])


# -------------------------------------------------------------------- mse / bce
@pytest.mark.parametrize("name, first", [("mse", "pred"), ("bce_with_logits", "logits")])
def test_pointwise_losses_bad_input(kmod, name, first):
    f = getattr(kmod, name)
    with pytest.raises(TypeError, match=f"{first} must be a numpy.ndarray"):
        f([1.0], X)
    with pytest.raises(TypeError, match=f"target must have the same dtype as {first}"):
        f(X, G.astype(np.float64))
    with pytest.raises(TypeError, match="target must have dtype float32 or float64"):
        f(X, G.astype(np.int64))
    with pytest.raises(ValueError, match=rf"target must have the shape of {first} \(4, 3\); "
                                         r"received shape \(12,\)"):
        f(X, G.ravel())
    with pytest.raises(ValueError, match="reduction must be"):
        f(X, G, reduction="mean ")
    with pytest.raises(ValueError, match="out must be a writeable"):
        f(X, G, out=ro(X))
    buf = np.ones(13, F32)
    with pytest.raises(ValueError, match="out must not overlap target"):
        f(np.ones(12, F32), buf[1:], out=buf[:12])


# -------------------------------------------------------------------- optimizers
P = np.ones(6, F32)


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(lr=-1.0), ValueError, r"^lr must be a finite real number >= 0; received -1.0$"),
    (dict(lr=float("nan")), ValueError, "lr must be a finite real number; received nan"),
    (dict(lr=float("inf")), ValueError, "lr must be a finite real number; received inf"),
    (dict(lr=0.1, momentum=-0.5), ValueError, "momentum must be a finite real number >= 0; "
                                              "received -0.5"),
    (dict(lr=0.1, momentum=float("nan")), ValueError, "momentum must be .*; received nan"),
    (dict(lr=0.1, weight_decay=-1e-3), ValueError, "weight_decay must be .* >= 0; received -0.001"),
    (dict(lr=0.1, weight_decay=float("inf")), ValueError, "weight_decay must be .*; received inf"),
    (dict(lr=0.1, nesterov=True), ValueError, "nesterov requires momentum > 0"),
    (dict(lr=0.1, momentum=0.9), ValueError,
     r"velocity is required when momentum > 0 \(momentum=0.9\); received None"),
    (dict(lr=0.1, momentum=0.9, velocity=np.zeros(5, F32)), ValueError,
     r"velocity must have the shape of param \(6,\); received shape \(5,\)"),
    (dict(lr=0.1, momentum=0.9, velocity=np.zeros(6)), TypeError,
     r"velocity must have the same dtype as param \(float32\)"),
    (dict(lr=0.1, momentum=0.9, velocity=ro(np.zeros(6, F32))), ValueError,
     "velocity must be a writeable array"),
    (dict(lr="0.1"), TypeError, r"lr must be a real number; received '0.1' \(str\)"),
    (dict(lr=0.1, momentum=[0.9]), TypeError, r"momentum must be a real number; received \[0.9\]"),
])
def test_sgd_bad_arguments(kmod, kwargs, exc, match):
    p = P.copy()
    with pytest.raises(exc, match=match):
        kmod.sgd_step(p, np.ones(6, F32), **kwargs)
    assert (p == 1).all()


def test_sgd_bad_arrays(kmod):
    with pytest.raises(ValueError, match="param must be a writeable array"):
        kmod.sgd_step(ro(P), P, lr=0.1)
    with pytest.raises(TypeError, match="param must have dtype"):
        kmod.sgd_step(np.ones(6, np.int64), P, lr=0.1)
    with pytest.raises(TypeError, match="grad must have the same dtype as param"):
        kmod.sgd_step(P.copy(), np.ones(6), lr=0.1)
    with pytest.raises(ValueError, match="grad must have the shape of param"):
        kmod.sgd_step(P.copy(), np.ones(7, F32), lr=0.1)
    p = P.copy()
    with pytest.raises(ValueError, match="param must not overlap grad"):
        kmod.sgd_step(p, p, lr=0.1)
    with pytest.raises(ValueError, match="velocity must not overlap param"):
        kmod.sgd_step(p, P, lr=0.1, momentum=0.9, velocity=p)
    with pytest.raises(TypeError, match="param must be a numpy.ndarray"):
        kmod.sgd_step([1.0], P, lr=0.1)


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(step=0), ValueError, "step must be an integer >= 1; received 0"),
    (dict(step=1.0), TypeError, r"step must be an integer >= 1; received 1.0"),
    (dict(step=True), TypeError, "received True"),
    (dict(lr=-0.1), ValueError, "lr must be a finite real number >= 0; received -0.1"),
    (dict(lr=float("inf")), ValueError, "lr must be a finite real number; received inf"),
    (dict(beta1=1.0), ValueError, r"beta1 must be a real number in \[0, 1\); received 1.0"),
    (dict(beta1=-0.1), ValueError, "beta1 must be .*; received -0.1"),
    (dict(beta2=1.5), ValueError, r"beta2 must be a real number in \[0, 1\); received 1.5"),
    (dict(beta2=float("nan")), ValueError, "beta2 must be .*; received nan"),
    (dict(eps=-1e-8), ValueError, "eps must be a finite real number >= 0; received -1e-08"),
    (dict(eps=float("inf")), ValueError, "eps must be a finite real number; received inf"),
    (dict(weight_decay=-1.0), ValueError, "weight_decay must be .* >= 0; received -1.0"),
    (dict(weight_decay=float("inf")), ValueError, "weight_decay must be .*; received inf"),
    (dict(eps="1e-8"), TypeError, r"eps must be a real number; received '1e-8' \(str\)"),
])
def test_adam_bad_hyperparameters(kmod, kwargs, exc, match):
    args = dict(step=1, lr=0.01)
    args.update(kwargs)
    p, m, v = P.copy(), np.zeros(6, F32), np.zeros(6, F32)
    with pytest.raises(exc, match=match):
        kmod.adam_step(p, P, m, v, **args)
    assert (p == 1).all() and (m == 0).all() and (v == 0).all()


def test_adam_bad_state(kmod):
    p = P.copy()
    z = np.zeros(6, F32)
    with pytest.raises(ValueError, match="m is required; received None"):
        kmod.adam_step(p, P, None, z, step=1, lr=0.1)
    with pytest.raises(ValueError, match="v must be a writeable array"):
        kmod.adam_step(p, P, z.copy(), ro(z), step=1, lr=0.1)
    with pytest.raises(TypeError, match=r"m must have the same dtype as param \(float32\); "
                                        "received dtype float64"):
        kmod.adam_step(p, P, np.zeros(6), z, step=1, lr=0.1)
    with pytest.raises(ValueError, match="v must have the shape of param"):
        kmod.adam_step(p, P, z.copy(), np.zeros((6, 1), F32), step=1, lr=0.1)
    m = np.zeros(12, F32)
    with pytest.raises(ValueError, match="v must not overlap m"):
        kmod.adam_step(p, P, m[:6], m[3:9], step=1, lr=0.1)
    assert (p == 1).all()


# --------------------------------------------------------------------- TrainPlan
def plan_args(kmod, **change):
    """TrainPlan arguments for a 5 -> 8 (ReLU) -> 3 network on 20 rows, with `change`."""
    rng = np.random.default_rng(0)
    params = [np.zeros(s) for s in [(5, 8), (8,), (8, 3), (3,)]]
    args = dict(X=rng.standard_normal((20, 5)), y=rng.integers(0, 3, 20), batch=8, params=params,
                grads=[np.zeros_like(p) for p in params], state1=None, state2=None,
                w_index=[0, 2], b_index=[1, 3], acts=[kmod.ACTIVATION_CODES["relu"], 0],
                slopes=[0.0, 0.0], loss_kind=kmod.LOSS_CODES["softmax_cross_entropy"],
                smoothing=0.0)
    args.update(change)
    return args


def replaced(items, i, value):
    return items[:i] + [value] + items[i + 1:]


def ro_like(shape):
    return ro(np.zeros(shape))


@pytest.mark.parametrize("change, exc, match", [
    (lambda a: dict(X=np.asfortranarray(a["X"])), ValueError, r"X must be C-contiguous; received strides"),
    (lambda a: dict(X=a["X"].astype(np.int32)), TypeError, "X must have dtype float32 or float64"),
    (lambda a: dict(X=a["X"][:0]), ValueError, r"X must have at least one row; received shape \(0, 5\)"),
    (lambda a: dict(params=replaced(a["params"], 2, np.zeros((8, 3), F32))), ValueError,
     r"params\[2\] must be a writeable, aligned, C-contiguous array of dtype float64 and shape \(8, 3\); "
     r"received an array of dtype float32 and shape \(8, 3\)"),
    (lambda a: dict(grads=replaced(a["grads"], 0, ro_like((5, 8)))), ValueError,
     r"grads\[0\] must be a writeable, .*; received a read-only array"),
    (lambda a: dict(grads=replaced(a["grads"], 1, np.zeros(7))), ValueError,
     r"grads\[1\] must be .* and length 8; received an array of dtype float64 and length 7"),
    (lambda a: dict(params=replaced(a["params"], 1, np.zeros(7)),
                    grads=replaced(a["grads"], 1, np.zeros(7))), ValueError,
     r"params\[1\] \(the bias of layer 0\) must have shape \(8,\); received shape \(7,\)"),
    (lambda a: dict(y=np.where(np.arange(20) == 4, 3, a["y"])), ValueError,
     r"y must hold class labels in \[0, 3\); received 3 at index 4"),
    (lambda a: dict(y=a["y"].astype(np.int32)), ValueError,
     r"y \(class labels\) must be an aligned, C-contiguous array of dtype int64 and length 20; "
     r"received an array of dtype int32 and length 20"),
    (lambda a: dict(acts=[99, 0]), ValueError, r"acts\[0\] must be one of the ACTIVATION_CODES"),
    (lambda a: dict(slopes=[0.0]), ValueError,
     r"b_index, acts and slopes must have one entry per layer \(2\)"),
    (lambda a: dict(loss_kind=7), ValueError, "loss_kind must be one of the LOSS_CODES"),
])
def test_train_plan_bad_arrays(kmod, change, exc, match):
    args = plan_args(kmod)
    with pytest.raises(exc, match=match):
        kmod.TrainPlan(**plan_args(kmod, **change(args)))


def test_train_plan_bad_runs(kmod):
    args = plan_args(kmod)
    plan = kmod.TrainPlan(**args)
    order = np.arange(20)
    with pytest.raises(ValueError, match=r"decay must have shape \(4,\); received shape \(3,\)"):
        plan.run_sgd(order, 0, 3, 0.1, 0.0, False, np.zeros(3))
    with pytest.raises(ValueError, match=r"state1\[0\] \(the velocity of params\[0\]\) is required"):
        plan.run_sgd(order, 0, 3, 0.1, 0.9, False, np.zeros(4))
    with pytest.raises(ValueError, match=r"state1\[0\] and state2\[0\] \(Adam's m and v"):
        plan.run_adam(order, 0, 3, 0, 1e-3, 0.9, 0.999, 1e-8, np.zeros(4), False)
    with pytest.raises(ValueError, match=r"first and count must select minibatches within the "
                                         r"epoch's 3 \(both >= 0\); received first=2, count=2"):
        plan.run_sgd(order, 2, 2, 0.1, 0.0, False, np.zeros(4))
    with pytest.raises(ValueError, match="order must be an aligned, C-contiguous array of dtype int64 and "
                                         "length 20; received a non-contiguous array"):
        plan.run_sgd(np.arange(40)[::2], 0, 3, 0.1, 0.0, False, np.zeros(4))
    with pytest.raises(ValueError, match=r"order must hold row indices of X in \[0, 20\); "
                                         r"received -3 at index 9, outside that range"):
        plan.run_sgd(np.where(order == 9, -3, order), 0, 3, 0.1, 0.0, False, np.zeros(4))
    for sq_norms, received in [(np.zeros(3), "length 3"), (np.zeros(4, np.float32), "float32"),
                               (np.zeros(4)[None], "shape"), ([0.0] * 4, "numpy.ndarray")]:
        with pytest.raises((TypeError, ValueError), match=f"sq_norms must be .*{received}"):
            plan.run_sgd(order, 0, 3, 0.1, 0.0, False, np.ones(4), sq_norms)
    read_only = np.zeros(4)
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match="sq_norms must be a writeable, .*read-only"):
        plan.run_sgd(order, 0, 3, 0.1, 0.0, False, np.ones(4), read_only)
    assert all((p == 0).all() for p in args["params"])  # nothing ran


@pytest.mark.parametrize("kwargs, match", [
    (dict(lr=float("nan")), "lr must be a finite real number >= 0; received nan"),
    (dict(lr=-1.0), "lr must be a finite real number >= 0; received -1.0"),
    (dict(momentum=-5.0), "momentum must be a finite real number >= 0; received -5.0"),
    (dict(decay=np.array([0.0, 0.0, -1.0, 0.0])), "decay must hold finite weight decays >= 0"),
    (dict(decay=np.array([0.0, np.nan, 0.0, 0.0])), "decay must hold finite weight decays >= 0"),
])
def test_train_plan_checks_sgd_hyperparameters(kmod, kwargs, match):
    args = plan_args(kmod)
    plan = kmod.TrainPlan(**args)
    run = dict(lr=0.1, momentum=0.0, nesterov=False, decay=np.zeros(4))
    run.update(kwargs)
    with pytest.raises(ValueError, match=match):
        plan.run_sgd(np.arange(20), 0, 3, **run)
    assert all((p == 0).all() for p in args["params"])


@pytest.mark.parametrize("kwargs, match", [
    (dict(beta1=2.0), r"beta1 must be a real number in \[0, 1\); received 2.0"),
    (dict(eps=-1.0), "eps must be a finite real number >= 0; received -1.0"),
    (dict(lr=float("inf")), "lr must be a finite real number >= 0; received inf"),
    (dict(step=-1), r"step must be >= 0 \(the steps already taken\); received -1"),
])
def test_train_plan_checks_adam_hyperparameters(kmod, kwargs, match):
    params = [np.zeros(s) for s in [(5, 8), (8,), (8, 3), (3,)]]
    states = [[np.zeros_like(p) for p in params] for _ in range(2)]
    args = plan_args(kmod, params=params, state1=states[0], state2=states[1])
    plan = kmod.TrainPlan(**args)
    run = dict(step=0, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, decay=np.zeros(4),
               decoupled=False)
    run.update(kwargs)
    with pytest.raises(ValueError, match=match):
        plan.run_adam(np.arange(20), 0, 3, **run)
    assert all((p == 0).all() for p in params)


# --------------------------------------------- issue 11: each reproducer, and its siblings
@pytest.mark.parametrize("dtype", [">i8", ">i4", "<i8", ">u2"])
def test_cross_entropy_labels_in_any_byte_order(kmod, dtype):
    logits = np.arange(10, dtype=F32).reshape(2, 5) / 7
    labels = np.array([2, 4], dtype)
    loss, grad = kmod.softmax_cross_entropy(logits, labels)
    ref_loss, ref_grad = kmod.softmax_cross_entropy(logits, labels.astype(np.int64))
    assert loss == ref_loss
    np.testing.assert_array_equal(grad, ref_grad)
    with pytest.raises(ValueError, match=r"targets must hold class indices in \[0, 5\); "
                                         r"received 5 at index 1"):
        kmod.softmax_cross_entropy(logits, np.array([2, 5], dtype))


@pytest.mark.parametrize("name", BINARY)
def test_backward_without_output_is_an_error(kmod, name):
    """``*_backward(grad, None)`` once returned the forward activation of grad."""
    with pytest.raises(TypeError, match="output must be a numpy.ndarray of float32 or float64; received NoneType"):
        getattr(kmod, name)(G, None)


@pytest.mark.parametrize("call, exc, match", [
    (lambda k: k.leaky_relu(X, float("nan")), ValueError,
     "negative_slope must be a finite real number; received nan"),
    (lambda k: k.leaky_relu(X, "0.1"), TypeError,
     r"negative_slope must be a real number; received '0.1' \(str\)"),
    (lambda k: k.leaky_relu_backward(G, X, float("inf")), ValueError,
     "negative_slope must be a finite real number; received inf"),
    (lambda k: k.gemm(X, X.T, alpha="2"), TypeError, r"alpha must be a real number; received '2'"),
    (lambda k: k.gemm(X, X.T, alpha=float("nan")), ValueError,
     "alpha must be a finite real number; received nan"),
    (lambda k: k.gemm(X, X.T, beta=float("inf"), out=np.zeros((4, 4), F32)), ValueError,
     "beta must be a finite real number; received inf"),
    (lambda k: k.mse(X, X, reduction=0), TypeError, r"reduction must be .*received 0 \(int\)"),
    (lambda k: k.bce_with_logits(X, X, reduction=b"sum"), TypeError,
     r"reduction must be .*received b'sum' \(bytes\)"),
    (lambda k: k.set_num_threads(2**31), None, None),
    (lambda k: k.set_num_threads(-(2**70)), None, None),
    (lambda k: k.set_num_threads(2.0), TypeError, "n must be an integer; received 2.0"),
    (lambda k: k.peak_gflops(seconds=float("nan")), ValueError,
     r"seconds must be a real number in \[0, 3600\]; received nan"),
])
def test_scalar_arguments_are_named(kmod, call, exc, match):
    if exc is None:  # clamped, never a crash or an OverflowError
        before = kmod.get_num_threads()
        try:
            call(kmod)
            assert 1 <= kmod.get_num_threads() <= kmod.max_threads()
        finally:
            kmod.set_num_threads(before)
        return
    with pytest.raises(exc, match=match):
        call(kmod)


def test_linear_refuses_a_byte_swapped_bias(kmod):
    w = np.ones((3, 2), F32)
    with pytest.raises(TypeError, match=r"bias must have dtype .*received dtype >f4"):
        kmod.linear(X, w, np.ones(2, ">f4"))


@pytest.mark.parametrize("call, exc, match", [
    (lambda k, w, ids: k.embedding_bag(w, ids, mode=1), TypeError,
     r"mode must be 'mean' or 'sum'; received 1 \(int\)"),
    (lambda k, w, ids: k.embedding_bag(w, ids, padding_idx="0"), TypeError,
     r"padding_idx must be an integer; received '0' \(str\)"),
    (lambda k, w, ids: k.embedding_bag(w, ids, padding_idx=2**70), ValueError,
     "padding_idx must fit a signed 64-bit integer"),
    (lambda k, w, ids: k.embedding_bag(w, np.array([[1, 2**64 - 1]], np.uint64)), ValueError,
     r"ids must hold token ids in \[0, 5\); received 18446744073709551615"),
    (lambda k, w, ids: k.embedding_bag_backward(np.ones((2, 3), F32), ids, 5.0), TypeError,
     r"num_embeddings must be an integer; received 5.0"),
    (lambda k, w, ids: k.embedding_bag_backward(np.ones((2, 3), F32), ids, 5, mode=None),
     TypeError, "mode must be 'mean' or 'sum'; received None"),
    (lambda k, w, ids: k.embedding_bag_backward(np.ones((2, 3), F32), ids, 5, padding_idx=1.0),
     TypeError, "padding_idx must be an integer; received 1.0"),
])
def test_embedding_bag_scalars_are_named(kmod, call, exc, match):
    """The siblings of issue 11's item 12 in the embedding kernels (an unsigned id above
    the intp range once wrapped to -1, the padding id, and was skipped silently)."""
    w, ids = np.ones((5, 3), F32), np.array([[0, 1], [4, -1]])
    with pytest.raises(exc, match=match):
        call(kmod, w, ids)
