"""Bags of embeddings: the ``embedding_bag`` kernels against the NumPy reference (shapes,
padding, repeated ids, finite differences, threads, bad input), the ``Embedding`` layer
in ``Sequential`` (fit, freezing, ``from_keyed_vectors``, save/load), and the lazy
row-sparse updates of SGD, Adam and AdamW against NumPy (and PyTorch's SparseAdam when
torch is installed)."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastnn
from fastnn import reference
from fastnn.layers import Parameter, RowGradient

from _helpers import TOL, assert_close, rand
from conftest import DTYPES

MODES = ["mean", "sum"]
# (documents, length, dim, num_embeddings): empty, single, odd, prime, larger than a block
SHAPES = [(0, 3, 4, 5), (3, 0, 4, 5), (1, 1, 1, 1), (7, 5, 3, 11), (13, 9, 17, 7),
          (131, 6, 130, 50), (300, 3, 8, 1000)]


def token_ids(rng, n, length, num_embeddings, padding_idx=-1, pad_fraction=0.3):
    ids = rng.integers(0, num_embeddings, (n, length))
    ids[rng.random((n, length)) < pad_fraction] = padding_idx
    return ids


# ---------------------------------------------------------------------- kernels
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_embedding_bag_against_reference(kmod, dtype, mode, shape):
    n, length, dim, vocab = shape
    rng = np.random.default_rng(n + length + dim)
    weight = rand(rng, (vocab, dim), dtype)
    ids = token_ids(rng, n, length, vocab)
    out = kmod.embedding_bag(weight, ids, mode=mode)
    assert out.shape == (n, dim) and out.dtype == dtype
    assert_close(out, reference.embedding_bag(weight, ids, mode=mode), dtype, scale=length)
    grad = rand(rng, (n, dim), dtype)
    rows, values = kmod.embedding_bag_backward(grad, ids, vocab, mode=mode)
    ref_rows, ref_values = reference.embedding_bag_backward(grad, ids, vocab, mode=mode)
    np.testing.assert_array_equal(rows, ref_rows)
    assert values.shape == (len(rows), dim) and values.dtype == dtype
    assert_close(values, ref_values, dtype, scale=n)


@pytest.mark.parametrize("mode", MODES)
def test_embedding_bag_ids_forms_and_padding(kmod, dtype, mode):
    rng = np.random.default_rng(1)
    weight = rand(rng, (9, 5), dtype)
    ids = token_ids(rng, 20, 7, 9)
    expected = reference.embedding_bag(weight, ids, mode=mode)
    for form in (ids.astype(np.int32), ids.astype(np.int16), np.asfortranarray(ids),
                 ids.T.copy().T, np.repeat(ids, 2, axis=1)[:, ::2]):
        assert_close(kmod.embedding_bag(weight, form, mode=mode), expected, dtype, scale=7)
    # padding_idx may be a real row, which is then left out
    ids0 = np.where(ids < 0, 0, ids)
    assert_close(kmod.embedding_bag(weight, ids0, mode=mode, padding_idx=0),
                 reference.embedding_bag(weight, ids0, mode=mode, padding_idx=0), dtype, scale=7)
    out = np.full((20, 5), np.nan, dtype)
    assert kmod.embedding_bag(weight, ids, mode=mode, out=out) is out
    assert_close(out, expected, dtype, scale=7)


def test_embedding_bag_exact_cases(kmod, dtype):
    weight = np.arange(12, dtype=dtype).reshape(4, 3)
    ids = np.array([[1, 1, -1], [-1, -1, -1], [0, 3, 2]])
    np.testing.assert_array_equal(kmod.embedding_bag(weight, ids, mode="sum"),
                                  [[6, 8, 10], [0, 0, 0], [15, 18, 21]])
    np.testing.assert_array_equal(kmod.embedding_bag(weight, ids, mode="mean"),
                                  [[3, 4, 5], [0, 0, 0], [5, 6, 7]])
    grad = np.array([[1, 2, 3], [9, 9, 9], [6, 6, 6]], dtype)
    rows, values = kmod.embedding_bag_backward(grad, ids, 4, mode="mean")
    np.testing.assert_array_equal(rows, [0, 1, 2, 3])
    np.testing.assert_array_equal(values, [[2, 2, 2], [1, 2, 3], [2, 2, 2], [2, 2, 2]])
    rows, values = kmod.embedding_bag_backward(grad, ids, 4, mode="sum")
    np.testing.assert_array_equal(values, [[6, 6, 6], [2, 4, 6], [6, 6, 6], [6, 6, 6]])
    rows, values = kmod.embedding_bag_backward(grad, np.full((3, 2), -1), 4)
    assert rows.shape == (0,) and values.shape == (0, 3)


@pytest.mark.parametrize("mode", MODES)
def test_embedding_bag_finite_differences(mode):
    rng = np.random.default_rng(3)
    weight = rng.standard_normal((6, 4))
    ids = np.array([[0, 2, 2, -1], [5, -1, -1, -1], [1, 0, 3, 2], [-1, -1, -1, -1]])
    probe = rng.standard_normal((4, 4))  # loss = sum(out * probe): grad_output = probe
    rows, values = fastnn.ops.embedding_bag_backward(probe, ids, 6, mode=mode)
    dense = np.zeros_like(weight)
    dense[rows] = values
    eps = 1e-6
    for r in range(6):
        for k in range(4):
            step = np.zeros_like(weight)
            step[r, k] = eps
            plus = np.sum(fastnn.ops.embedding_bag(weight + step, ids, mode=mode) * probe)
            minus = np.sum(fastnn.ops.embedding_bag(weight - step, ids, mode=mode) * probe)
            assert dense[r, k] == pytest.approx((plus - minus) / (2 * eps), abs=1e-7)
    assert 4 not in rows  # an unused row has no gradient entry


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 40), length=st.integers(0, 12), dim=st.integers(1, 40),
       vocab=st.integers(1, 30), seed=st.integers(0, 2**16), mean=st.booleans(),
       float64=st.booleans(), pad_fraction=st.floats(0, 1))
def test_embedding_bag_property(n, length, dim, vocab, seed, mean, float64, pad_fraction):
    dtype = np.float64 if float64 else np.float32
    mode = "mean" if mean else "sum"
    rng = np.random.default_rng(seed)
    weight = rand(rng, (vocab, dim), dtype)
    ids = token_ids(rng, n, length, vocab, pad_fraction=pad_fraction)
    assert_close(fastnn.ops.embedding_bag(weight, ids, mode=mode),
                 reference.embedding_bag(weight, ids, mode=mode), dtype, scale=max(length, 1))
    grad = rand(rng, (n, dim), dtype)
    rows, values = fastnn.ops.embedding_bag_backward(grad, ids, vocab, mode=mode)
    ref_rows, ref_values = reference.embedding_bag_backward(grad, ids, vocab, mode=mode)
    np.testing.assert_array_equal(rows, ref_rows)
    assert_close(values, ref_values, dtype, scale=max(n, 1))


def test_embedding_bag_threads_bitwise(kmod):
    rng = np.random.default_rng(4)
    weight = rand(rng, (500, 64), np.float32)
    ids = token_ids(rng, 3000, 20, 500)
    with fastnn.set_num_threads(1):
        one = kmod.embedding_bag(weight, ids)
    with fastnn.set_num_threads(2):
        two = kmod.embedding_bag(weight, ids)
    np.testing.assert_array_equal(one, two)


@pytest.mark.parametrize("call, error, match", [
    (lambda w, i: fastnn.ops.embedding_bag(w.astype(np.int64), i), TypeError, "weight"),
    (lambda w, i: fastnn.ops.embedding_bag(w[0], i), ValueError, "weight must be 2-D"),
    (lambda w, i: fastnn.ops.embedding_bag(w, i.astype(np.float32)), TypeError, "integers"),
    (lambda w, i: fastnn.ops.embedding_bag(w, i.tolist()), TypeError, "integers"),
    (lambda w, i: fastnn.ops.embedding_bag(w, i[0]), ValueError, "ids must be 2-D"),
    (lambda w, i: fastnn.ops.embedding_bag(w, i + 10), ValueError, r"\[0, 10\) or padding_idx"),
    (lambda w, i: fastnn.ops.embedding_bag(w, i - 5), ValueError, "received -"),
    (lambda w, i: fastnn.ops.embedding_bag(w, i, mode="max"), ValueError, "mode"),
    (lambda w, i: fastnn.ops.embedding_bag(w, i, out=np.empty((3, 3), np.float32)), ValueError,
     "out must be"),
    (lambda w, i: fastnn.ops.embedding_bag(w, i, out=np.empty((4, 3), np.float64)), ValueError,
     "dtype float32"),
    (lambda w, i: fastnn.ops.embedding_bag(w, i, out=w[:4]), ValueError, "overlap"),
    (lambda w, i: fastnn.ops.embedding_bag_backward(np.ones((3, 3), np.float32), i, 10),
     ValueError, "one row per document"),
    (lambda w, i: fastnn.ops.embedding_bag_backward(np.ones(4, np.float32), i, 10),
     ValueError, "grad_output must be 2-D"),
    (lambda w, i: fastnn.ops.embedding_bag_backward(np.ones((4, 3), np.float32), i, 5),
     ValueError, r"\[0, 5\)"),
    (lambda w, i: fastnn.ops.embedding_bag_backward(np.ones((4, 3), np.float32), i, -1),
     ValueError, "num_embeddings"),
    (lambda w, i: fastnn.ops.embedding_bag_backward(np.ones((4, 3), np.float32), i, 10,
                                                    mode="min"), ValueError, "mode"),
])
def test_embedding_bag_bad_input(call, error, match):
    weight = np.ones((10, 3), np.float32)
    ids = np.array([[1, 2], [9, -1], [-1, -1], [0, 0]])
    readonly = np.empty((4, 3), np.float32)
    readonly.flags.writeable = False
    with pytest.raises(error, match=match):
        call(weight, ids)
    with pytest.raises(ValueError, match="writeable"):
        fastnn.ops.embedding_bag(weight, ids, out=readonly)


# ------------------------------------------------------------------------ layer
def text_data(n=240, length=8, vocab=40, seed=0):
    """Documents of random tokens; the class is whether token 1 or token 2 occurs more."""
    rng = np.random.default_rng(seed)
    ids = token_ids(rng, n, length, vocab, pad_fraction=0.2)
    y = ((ids == 1).sum(1) > (ids == 2).sum(1)).astype(np.int64)
    return ids, y


def bag_model(vocab=40, dim=6, dtype=np.float64, mode="mean", freeze=False):
    return fastnn.Sequential([
        fastnn.Embedding(vocab, dim, mode=mode, dtype=dtype, seed=0, freeze=freeze),
        fastnn.Dense(dim, 8, dtype=dtype, seed=1), fastnn.ReLU(),
        fastnn.Dense(8, 2, dtype=dtype, seed=2)])


@pytest.mark.parametrize("mode", MODES)
def test_layer_forward_backward(dtype, mode):
    layer = fastnn.Embedding(15, 4, mode=mode, dtype=dtype, seed=3)
    assert layer.weight.dtype == dtype and layer.out_features == 4
    ids = token_ids(np.random.default_rng(0), 6, 5, 15)
    out = layer.forward(ids)
    assert_close(out, reference.embedding_bag(layer.weight, ids, mode=mode), dtype, scale=5)
    grad = rand(np.random.default_rng(1), (6, 4), dtype)
    assert layer.backward(grad) is None
    rows, values = reference.embedding_bag_backward(grad, ids, 15, mode=mode)
    np.testing.assert_array_equal(layer.grad_weight.rows, rows)
    assert_close(layer.grad_weight.values, values, dtype, scale=6)
    [param] = layer.parameters()
    assert param.value is layer.weight and param.grad is layer.grad_weight
    assert "mode=" in repr(layer)
    np.testing.assert_array_equal(fastnn.Embedding(15, 4, seed=3).weight,
                                  fastnn.Embedding(15, 4, seed=3).weight)
    with pytest.raises(RuntimeError, match="before forward"):
        fastnn.Embedding(3, 2).backward(np.ones((1, 2), np.float32))


def test_layer_bad_arguments():
    for kwargs, error in [(dict(num_embeddings=0, embedding_dim=2), ValueError),
                          (dict(num_embeddings=3, embedding_dim=2.0), TypeError),
                          (dict(num_embeddings=3, embedding_dim=2, mode="max"), ValueError),
                          (dict(num_embeddings=3, embedding_dim=2, padding_idx=0.5), TypeError),
                          (dict(num_embeddings=3, embedding_dim=2, dtype=np.int32), TypeError)]:
        with pytest.raises(error):
            fastnn.Embedding(**kwargs)


def test_pad():
    ids = fastnn.Embedding.pad([[3, 1], [], [4, 1, 5]])
    np.testing.assert_array_equal(ids, [[3, 1, -1], [-1, -1, -1], [4, 1, 5]])
    np.testing.assert_array_equal(fastnn.Embedding.pad([[3, 1], [4, 1, 5]], length=2, padding_idx=0),
                                  [[3, 1], [4, 1]])
    assert fastnn.Embedding.pad([]).shape == (0, 0)


def test_sequential_with_embedding_fit_equals_manual_loop():
    ids, y = text_data()
    a, b = bag_model(), bag_model()
    loss_a, loss_b = fastnn.SoftmaxCrossEntropy(), fastnn.SoftmaxCrossEntropy()
    opt_a = fastnn.Adam(a.parameters(), lr=0.05)
    opt_b = fastnn.Adam(b.parameters(), lr=0.05)
    history = a.fit(ids, y, loss=loss_a, optimizer=opt_a, epochs=3, batch_size=16, seed=4,
                    verbose=False)
    order_rng = np.random.default_rng(4)
    for epoch in range(3):
        order, total = order_rng.permutation(len(ids)), 0.0
        for start in range(0, len(ids), 16):
            idx = order[start:start + 16]
            total += b.train_batch(ids[idx], y[idx], loss_b, opt_b) * len(idx)
        assert history.loss[epoch] == pytest.approx(total / len(ids), rel=1e-12)
    for pa, pb in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(pa.value, pb.value)
    assert history.loss[-1] < history.loss[0]
    assert a.evaluate(ids, y)["accuracy"] > 0.8
    assert a.predict(ids[:5]).shape == (5,) and a.predict_proba(ids[:5]).shape == (5, 2)


def test_frozen_embedding_stays_fixed():
    ids, y = text_data()
    model = bag_model(freeze=True)
    table = model.layers[0].weight.copy()
    assert len(model.parameters()) == 4  # the two Dense layers only
    model.fit(ids, y, loss=fastnn.SoftmaxCrossEntropy(),
              optimizer=fastnn.SGD(model.parameters(), lr=0.1), epochs=2, verbose=False)
    np.testing.assert_array_equal(model.layers[0].weight, table)
    model.layers[0].freeze = False
    opt = fastnn.SGD(model.parameters(), lr=0.1)
    model.train_batch(ids[:10], y[:10], fastnn.SoftmaxCrossEntropy(), opt)
    changed = np.flatnonzero((model.layers[0].weight != table).any(axis=1))
    np.testing.assert_array_equal(changed, np.unique(ids[:10][ids[:10] >= 0]))


def test_sequential_with_embedding_bad_input():
    model = bag_model()
    ids, y = text_data(20)
    opt = fastnn.SGD(model.parameters(), lr=0.1)
    before = model.layers[0].weight.copy()
    bad = ids.copy()
    bad[-1, -1] = 40
    for X, error, match in [(ids.astype(float), TypeError, "integer token ids"),
                            (ids[0], ValueError, "2-D"), (bad, ValueError, r"\[0, 40\)"),
                            (ids[:0], ValueError, "empty"), (list(ids), TypeError, "ndarray")]:
        with pytest.raises(error, match=match):
            model.fit(X, y[:len(X)] if isinstance(X, np.ndarray) and X.ndim == 2 else y,
                      loss=fastnn.SoftmaxCrossEntropy(), optimizer=opt, verbose=False)
    np.testing.assert_array_equal(model.layers[0].weight, before)
    with pytest.raises(ValueError, match="first layer"):
        fastnn.Sequential([fastnn.Dense(3, 3), fastnn.Embedding(3, 3)])
    with pytest.raises(ValueError, match="do not chain"):
        fastnn.Sequential([fastnn.Embedding(10, 4), fastnn.Dense(5, 2)])
    with pytest.raises(ValueError, match="share a dtype"):
        fastnn.Sequential([fastnn.Embedding(10, 4), fastnn.Dense(4, 2, dtype=np.float64)])


@pytest.mark.parametrize("freeze", [False, True])
def test_save_load_with_embedding(tmp_path, freeze):
    ids, y = text_data(60)
    model = bag_model(mode="sum", freeze=freeze)
    model.fit(ids, y, loss=fastnn.SoftmaxCrossEntropy(),
              optimizer=fastnn.Adam(model.parameters(), lr=0.01), epochs=1, verbose=False)
    model.save(tmp_path / "m.npz")
    back = fastnn.load(tmp_path / "m.npz")
    assert back.layers[0].config() == model.layers[0].config()
    np.testing.assert_array_equal(back.layers[0].weight, model.layers[0].weight)
    np.testing.assert_array_equal(back.predict_proba(ids), model.predict_proba(ids))


def test_from_keyed_vectors():
    rng = np.random.default_rng(0)
    kv = fastnn.KeyedVectors.from_arrays(["the", "cat", "sat"],
                                         rng.standard_normal((3, 5)).astype(np.float32) * 3)
    vocabulary = ["sat", "dog", "the", "mat"]
    layer = fastnn.Embedding.from_keyed_vectors(kv, vocabulary, seed=1, mode="sum")
    assert layer.num_embeddings == 4 and layer.embedding_dim == 5 and layer.mode == "sum"
    np.testing.assert_array_equal(layer.known, [True, False, True, False])
    np.testing.assert_array_equal(layer.weight[[0, 2]], kv[["sat", "the"]])
    assert layer.weight.dtype == np.float32 and not layer.freeze
    np.testing.assert_array_equal(  # the same seed draws the same unknown rows
        layer.weight, fastnn.Embedding.from_keyed_vectors(kv, vocabulary, seed=1).weight)
    unknown = fastnn.Embedding.from_keyed_vectors(kv, [f"u{i}" for i in range(2000)], seed=2)
    assert unknown.weight.std() == pytest.approx(kv.vectors.std(), rel=0.1)
    frozen = fastnn.Embedding.from_keyed_vectors(kv, vocabulary, freeze=True)
    assert frozen.freeze and frozen.parameters() == []
    with pytest.raises(ValueError, match="empty"):
        fastnn.Embedding.from_keyed_vectors(kv, [])


# ------------------------------------------------------------- sparse updates
def sparse_param(dtype, seed=0, vocab=12, dim=5):
    rng = np.random.default_rng(seed)
    value = rand(rng, (vocab, dim), dtype)
    return value, RowGradient.empty(dim, dtype)


def gradient_steps(dtype, steps=6, vocab=12, dim=5, seed=1):
    """A fixed sequence of row gradients (some rows never touched, some steps empty)."""
    rng = np.random.default_rng(seed)
    out = []
    for step in range(steps):
        rows = np.unique(rng.integers(0, vocab - 2, 4)) if step != 2 else np.empty(0, np.intp)
        out.append((rows.astype(np.intp), rand(rng, (len(rows), dim), dtype)))
    return out


def run_sparse(optimizer_cls, dtype, **kwargs):
    value, grad = sparse_param(dtype)
    opt = optimizer_cls([Parameter("table", value, grad)], **kwargs)
    for rows, values in gradient_steps(dtype):
        opt.zero_grad()
        assert len(grad.rows) == 0
        grad.rows, grad.values = rows, values
        opt.step()
    return value


def test_sparse_sgd_equals_dense_sgd(dtype):
    value, _ = sparse_param(dtype)
    for rows, values in gradient_steps(dtype):
        dense = np.zeros_like(value)
        dense[rows] = values
        fastnn.ops.sgd_step(value, dense, lr=0.1)
    np.testing.assert_array_equal(run_sparse(fastnn.SGD, dtype, lr=0.1), value)


def lazy_reference(dtype, kind, lr, momentum=0.0, weight_decay=0.0, betas=(0.9, 0.999), eps=1e-8):
    """NumPy lazy updates: each step touches only the rows of its gradient."""
    value, _ = sparse_param(dtype)
    value = value.astype(np.float64)
    m, v = np.zeros_like(value), np.zeros_like(value)
    for t, (rows, g) in enumerate(gradient_steps(dtype), 1):
        g = g.astype(np.float64)
        w = value[rows]
        if kind == "sgd":
            g = g + weight_decay * w
            m[rows] = momentum * m[rows] + g
            w = w - lr * m[rows]
        else:
            if kind == "adamw":
                w = w * (1 - lr * weight_decay)
            else:
                g = g + weight_decay * w
            m[rows] = betas[0] * m[rows] + (1 - betas[0]) * g
            v[rows] = betas[1] * v[rows] + (1 - betas[1]) * g * g
            m_hat = m[rows] / (1 - betas[0] ** t)
            v_hat = v[rows] / (1 - betas[1] ** t)
            w = w - lr * m_hat / (np.sqrt(v_hat) + eps)
        value[rows] = w
    return value


@pytest.mark.parametrize("name, cls, kwargs", [
    ("sgd", fastnn.SGD, dict(lr=0.1, momentum=0.9, weight_decay=0.01)),
    ("adam", fastnn.Adam, dict(lr=0.05, weight_decay=0.01)),
    ("adamw", fastnn.AdamW, dict(lr=0.05, weight_decay=0.1)),
])
def test_lazy_sparse_updates_against_numpy(dtype, name, cls, kwargs):
    ours = run_sparse(cls, dtype, **kwargs)
    expected = lazy_reference(dtype, name, **kwargs)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(ours, expected, rtol=rtol, atol=rtol)
    untouched = sparse_param(dtype)[0]
    np.testing.assert_array_equal(ours[-2:], untouched[-2:])  # rows never in a gradient


def test_sparse_adam_matches_torch_sparse_adam():
    torch = pytest.importorskip("torch")
    # SparseAdam adds eps to sqrt(v) where Adam adds it to sqrt(v_hat): a tiny eps for both
    ours = run_sparse(fastnn.Adam, np.float64, lr=0.05, eps=1e-30)
    value, _ = sparse_param(np.float64)
    table = torch.tensor(value, requires_grad=True)
    opt = torch.optim.SparseAdam([table], lr=0.05, eps=1e-30)
    for rows, values in gradient_steps(np.float64):  # an empty gradient still counts a step
        opt.zero_grad()
        table.grad = torch.sparse_coo_tensor(torch.tensor(rows, dtype=torch.long)[None, :],
                                             torch.tensor(values), table.shape,
                                             check_invariants=True)
        opt.step()
    np.testing.assert_allclose(ours, table.detach().numpy(), rtol=1e-12, atol=1e-12)


def test_row_gradient_checks():
    value = np.zeros((4, 3), np.float32)
    with pytest.raises(ValueError, match="differ"):
        fastnn.SGD([Parameter("t", value, RowGradient.empty(2, np.float32))], lr=0.1)
    with pytest.raises(ValueError, match="differ"):
        fastnn.SGD([Parameter("t", value, RowGradient.empty(3, np.float64))], lr=0.1)


def test_embedding_bag_takes_a_table_in_any_layout(kmod):
    """A strided, Fortran-ordered or unaligned table is read through an aligned copy (an
    unaligned one was once read in place, misaligned loads)."""
    rng = np.random.default_rng(3)
    weight = rng.standard_normal((10, 6)).astype(np.float32)
    ids = rng.integers(-1, 10, (4, 5))
    expected = kmod.embedding_bag(weight, ids)
    raw = np.zeros(weight.nbytes + 1, np.uint8)
    unaligned = raw[1:].view(np.float32).reshape(weight.shape)
    unaligned[...] = weight
    wide = np.zeros((10, 12), np.float32)
    wide[:, ::2] = weight
    for table in (np.asfortranarray(weight), unaligned, wide[:, ::2]):
        np.testing.assert_array_equal(kmod.embedding_bag(table, ids), expected)
