"""The model layer on SciPy sparse input: Dense, Sequential.fit (the compiled epoch
reads CSR minibatches itself), predict, predict_proba and evaluate, on each compiled path.
CSR and CSC matrices and arrays are used as CSR, never densified."""
import numpy as np
import pytest

import fastnn
from fastnn import _training
from _helpers import (LOSSES, NUMPY_TRAINING_TOL, OPTIMIZERS, assert_close,
                      assert_fit_bitwise_for_thread_counts, assert_fit_equals_manual_loop,
                      PythonLoop, forbid_densifying, mlp, targets)

sp = pytest.importorskip("scipy.sparse")

def sparse_data(n=150, d=60, density=0.08, dtype=np.float64, seed=0, fmt="csr"):
    """A random sparse X (with an empty row, unsorted indices and a duplicate entry)."""
    X = sp.random(n, d, density=density, format="csr", dtype=dtype, random_state=seed)
    X.data[:] = np.random.default_rng(seed).standard_normal(X.nnz)
    X = X.tolil()
    X[3, :] = 0
    X = X.tocsr()
    X.indices[X.indptr[5]:X.indptr[6]] = X.indices[X.indptr[5]:X.indptr[6]][::-1].copy()
    X.has_sorted_indices = False
    if X.indptr[8] - X.indptr[7] >= 2:
        X.indices[X.indptr[7] + 1] = X.indices[X.indptr[7]]  # a duplicate: both add up
    return X.asformat(fmt)


@pytest.mark.parametrize("opt_name", ["adam", "momentum", "sgd"])
@pytest.mark.parametrize("loss_name", ["ce", "mse", "bce"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batch_size", [1, 32])
def test_fit_equals_manual_loop(opt_name, loss_name, dtype, batch_size, on_each_isa):
    rng = np.random.default_rng(2)
    n, epochs, seed = 151 if batch_size > 1 else 41, 3, 7
    X = sparse_data(n, 60, dtype=dtype)
    y = targets(LOSSES[loss_name]().kernel, rng, n, 4, dtype)
    # with minibatches of 32, also the last minibatch's gradients: X[batch].T @ dz exactly
    assert_fit_equals_manual_loop([60, 24, 4], fastnn.Tanh, opt_name, loss_name, X, y, dtype,
                                  epochs=epochs, batch_size=batch_size, seed=seed,
                                  grads=batch_size > 1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fit_on_sparse_equals_fit_on_dense(dtype, on_each_isa):
    X = sparse_data(200, 50, dtype=dtype, seed=1)
    y = np.random.default_rng(1).integers(0, 3, 200)
    runs = []
    for data in (X, X.toarray()):
        model = mlp([50, 16, 3], dtype=dtype)
        hist = model.fit(data, y, loss="cross_entropy",
                         optimizer=fastnn.Adam(model.parameters(), lr=1e-2), epochs=3,
                         batch_size=16, seed=0, verbose=False)
        runs.append((hist.loss, model))
    assert_close(runs[0][0], runs[1][0], dtype, scale=0, tol=NUMPY_TRAINING_TOL)
    for pa, pb in zip(runs[0][1].parameters(), runs[1][1].parameters()):
        assert_close(pa.value, pb.value, dtype, tol=NUMPY_TRAINING_TOL)


@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("kind", ["matrix", "array"])
def test_predict_and_evaluate_accept_sparse_without_densifying(fmt, kind, on_each_isa):
    X = sparse_data(120, 40, seed=2)
    y = np.random.default_rng(2).integers(0, 3, 120)
    dense = X.toarray()
    Xs = (sp.csr_matrix if kind == "matrix" else sp.csr_array)(X).asformat(fmt)
    model = mlp([40, 12, 3])
    reference = model.fit(dense, y, loss="cross_entropy", optimizer=fastnn.SGD(
        model.parameters(), lr=0.1), epochs=2, batch_size=16, seed=0, verbose=False)
    expected = (model.predict(dense), model.predict_proba(dense), model.evaluate(dense, y))
    twin = mlp([40, 12, 3])
    with pytest.MonkeyPatch.context() as mp:
        forbid_densifying(mp)
        hist = twin.fit(Xs, y, loss="cross_entropy", optimizer=fastnn.SGD(
            twin.parameters(), lr=0.1), epochs=2, batch_size=16, seed=0, verbose=False,
            validation_data=(Xs, y))
        got = (twin.predict(Xs), twin.predict_proba(Xs), twin.evaluate(Xs, y))
    assert_close(hist.loss, reference.loss, np.float64, scale=0, tol=NUMPY_TRAINING_TOL)
    np.testing.assert_array_equal(got[0], expected[0])
    assert_close(got[1], expected[1], np.float64, tol=NUMPY_TRAINING_TOL)
    assert got[2]["accuracy"] == expected[2]["accuracy"]
    assert hist.val_accuracy[-1] == got[2]["accuracy"]


def test_dense_layer_on_csr(on_each_isa, dtype):
    X = sparse_data(30, 20, dtype=dtype, seed=3)
    layer = fastnn.Dense(20, 7, dtype=dtype, seed=0)
    twin = fastnn.Dense(20, 7, dtype=dtype, seed=0)
    out, ref = layer.forward(X), twin.forward(X.toarray())
    assert_close(out, ref, dtype, scale=4)
    g = np.random.default_rng(3).standard_normal(out.shape).astype(dtype)
    assert_close(layer.backward(g), twin.backward(g), dtype, scale=4)
    assert_close(layer.grad_weight, twin.grad_weight, dtype, scale=30)
    assert_close(layer.grad_bias, twin.grad_bias, dtype, scale=30)


def test_int64_indices_train_like_int32(on_each_isa):
    X = sparse_data(90, 30, seed=4)
    wide = X.copy()
    wide.indices, wide.indptr = X.indices.astype(np.int64), X.indptr.astype(np.int64)
    y = np.random.default_rng(4).integers(0, 3, 90)
    weights = []
    for data in (X, wide):
        model = mlp([30, 8, 3])
        model.fit(data, y, loss="cross_entropy", optimizer=fastnn.Adam(model.parameters()),
                  epochs=2, batch_size=10, seed=0, verbose=False)
        weights.append([p.value for p in model.parameters()])
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)


def test_sparse_fit_is_bitwise_identical_for_every_thread_count():
    X = sparse_data(700, 3000, density=0.01, dtype=np.float32, seed=5)
    y = np.random.default_rng(5).integers(0, 10, 700)
    assert_fit_bitwise_for_thread_counts(X, y, [3000, 256, 10])


def test_bad_sparse_input_is_rejected_and_keeps_weights():
    model = mlp([20, 6, 3])
    opt = fastnn.SGD(model.parameters(), lr=0.1)
    before = [p.value.copy() for p in model.parameters()]
    X = sparse_data(30, 20, seed=6)
    y = np.zeros(30, np.int64)
    bad = X.copy()
    bad.data[2] = np.nan
    with pytest.raises(ValueError, match="X contains NaN or infinity"):
        model.fit(bad, y, loss="cross_entropy", optimizer=opt, verbose=False)
    with pytest.raises(TypeError, match="X must be a CSR or CSC sparse matrix; received format 'coo'"):
        model.fit(X.tocoo(), y, loss="cross_entropy", optimizer=opt, verbose=False)
    with pytest.raises(ValueError, match="X has 21 features but the model expects 20"):
        model.predict(sp.random(3, 21, format="csr"))
    out_of_range = X.copy()
    out_of_range.indices[0] = 20
    with pytest.raises(ValueError, match=r"X.indices must hold column indices in \[0, 20\)"):
        model.fit(out_of_range, y, loss="cross_entropy", optimizer=opt, verbose=False)
    for p, old in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.value, old)
    dropout_first = fastnn.Sequential([fastnn.Dropout(0.1), fastnn.Dense(20, 3, dtype=np.float64)])
    with pytest.raises(TypeError, match="sparse X needs a Dense first layer"):
        dropout_first.predict(X)


def test_compiled_epoch_takes_csr():
    X = sparse_data(40, 20, seed=7)
    y = np.zeros(40, np.int64)
    model = mlp([20, 6, 3])
    runner = _training.compiled_runner(model, fastnn.SoftmaxCrossEntropy(),
                                       fastnn.SGD(model.parameters(), lr=0.1), X, y, 8)
    assert runner is not None and runner(np.arange(40), None) > 0


def test_the_compiled_epoch_keeps_its_own_copy_of_the_sparse_structure():
    """Issue 11, item 1 for CSR input: a callback that spoils the caller's X.indices (or
    X.indptr) after an epoch must not make the next epochs read outside W."""
    X = sparse_data(60, 20, seed=3)
    y = np.random.default_rng(3).integers(0, 3, 60)
    runs = []
    for matrix in (X.copy(), X):

        class Spoil:
            def on_epoch_end(self, epoch, logs, model, matrix=matrix):
                if matrix is X:
                    matrix.indices[:] = 10**6
                    matrix.indptr[1:] = matrix.indptr[-1] * 4

        model = mlp([20, 6, 3])
        hist = model.fit(matrix, y, loss="cross_entropy",
                         optimizer=fastnn.SGD(model.parameters(), lr=0.1), epochs=3,
                         batch_size=8, seed=0, verbose=False, callbacks=[Spoil()])
        runs.append((hist.loss, [p.value.copy() for p in model.parameters()]))
    assert (X.indices == 10**6).all()
    assert runs[0][0] == runs[1][0]
    for a, b in zip(runs[0][1], runs[1][1]):
        np.testing.assert_array_equal(a, b)


def test_python_epoch_on_csr_equals_dense():
    """A network the compiled epoch does not run (PythonLoop inside) trains on CSR rows in
    the Python loop, with the numbers of the dense matrix."""
    X = sparse_data(80, 30, seed=8)
    y = np.random.default_rng(8).integers(0, 3, 80)
    weights = []
    for data in (X, sp.csr_array(X), X.toarray()):
        model = fastnn.Sequential([fastnn.Dense(30, 8, dtype=np.float64, seed=0), fastnn.ReLU(),
                                   PythonLoop(), fastnn.Dense(8, 3, dtype=np.float64, seed=1)])
        assert _training.compiled_layers(model) is None
        model.fit(data, y, loss="cross_entropy", optimizer=fastnn.Adam(model.parameters()),
                  epochs=2, batch_size=16, seed=0, verbose=False)
        weights.append([p.value for p in model.parameters()])
    for sparse_run in weights[:2]:
        for a, b in zip(sparse_run, weights[2]):
            assert_close(a, b, np.float64, tol=NUMPY_TRAINING_TOL)
