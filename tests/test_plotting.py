"""fastnn.plotting: the PCA against NumPy's SVD (always), and the pictures rendered under
Agg to PNG files in a temporary folder (skipped without matplotlib, the plot extra):
file header and size, points drawn, axis labels, legend entries, curves' data."""
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastnn
from fastnn import ops
from fastnn.plotting import pca, plot_history, save_figure
from _helpers import drawn_points, legend_texts, png_size

#: PCA scores against the float64 SVD, relative to the largest singular value
PCA_TOL = {np.dtype(np.float32): 2e-4, np.dtype(np.float64): 1e-10}


def spectrum_data(rng, n, d, dtype, rank=None):
    """Rows with a known, well separated spectrum (singular values 8, 4, 2, ...) plus an
    offset, so the principal directions are unique and the centring matters."""
    r = min(n - 1, d) if rank is None else rank
    u = np.linalg.qr(rng.standard_normal((n, n)))[0][:, :r]
    u -= u.mean(axis=0)                      # centred columns: the spectrum survives centring
    u /= np.linalg.norm(u, axis=0)
    v = np.linalg.qr(rng.standard_normal((d, d)))[0][:, :r]
    s = 8.0 * 0.5 ** np.arange(r)
    return ((u * s) @ v.T + rng.standard_normal(d)).astype(dtype)


def svd_scores(x, k):
    xc = x.astype(np.float64) - x.astype(np.float64).mean(axis=0)
    u, s, _ = np.linalg.svd(xc, full_matrices=False)
    return u[:, :k] * s[:k], s[:k] ** 2 / (s ** 2).sum()


def assert_scores_match(scores, x, k):
    """Equal to the SVD's ``U S`` up to the sign of each column (a column without variance
    must be zero); returns the SVD's explained-variance ratios."""
    expected, ratio = svd_scores(x, k)
    tol = PCA_TOL[np.dtype(x.dtype)] * max(np.abs(expected).max(), 1.0)
    flat = np.abs(expected).max(axis=0) <= tol
    signs = np.where(flat, 1.0, np.sign((scores * expected).sum(axis=0)))
    assert np.all(signs != 0)
    np.testing.assert_allclose(scores * signs, expected, rtol=0, atol=tol)
    return ratio


# ------------------------------------------------------------------ pca
@pytest.mark.parametrize("n, d", [(2, 2), (3, 7), (7, 3), (13, 13), (31, 5), (5, 97),
                                  (300, 40), (40, 300)])
@pytest.mark.parametrize("k", [1, 2])
def test_pca_matches_numpy_svd(n, d, k, dtype):
    x = spectrum_data(np.random.default_rng(n * 1000 + d), n, d, dtype)
    scores, ratio = pca(x, k)
    assert scores.dtype == dtype and scores.shape == (n, k)
    expected_ratio = assert_scores_match(scores, x, k)
    np.testing.assert_allclose(ratio, expected_ratio, rtol=PCA_TOL[np.dtype(dtype)],
                               atol=PCA_TOL[np.dtype(dtype)])


@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 60), d=st.integers(2, 60), k=st.integers(1, 3),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2 ** 16),
       view=st.sampled_from(["contiguous", "transposed", "strided"]))
def test_pca_property(n, d, k, dtype, seed, view):
    rng = np.random.default_rng(seed)
    if view == "transposed":                 # a Fortran-ordered view of the same rows
        x = np.asfortranarray(spectrum_data(rng, n, d, dtype))
        assert not x.flags.c_contiguous or min(n, d) == 1
    elif view == "strided":                  # every other row and column of a bigger array
        big = np.zeros((2 * n, 2 * d), dtype)
        big[::2, ::2] = spectrum_data(rng, n, d, dtype)
        x = big[::2, ::2]
    else:
        x = spectrum_data(rng, n, d, dtype)
    k = min(k, n - 1, d)
    scores, ratio = pca(x, k)
    assert_scores_match(scores, x, k)
    assert np.all(ratio >= 0) and ratio.sum() <= 1 + 1e-6
    assert np.all(np.diff(ratio) <= 1e-6)                      # largest variance first
    peak = scores[np.abs(scores).argmax(axis=0), np.arange(k)]  # the sign convention
    assert np.all(peak > 0)


def test_pca_goes_through_the_compiled_gemm(monkeypatch):
    calls = []
    gemm = ops.gemm

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return gemm(*args, **kwargs)

    monkeypatch.setattr(ops, "gemm", spy)
    rng = np.random.default_rng(0)
    pca(spectrum_data(rng, 20, 5, np.float64))       # covariance (5 x 5)
    pca(spectrum_data(rng, 5, 20, np.float64))       # Gram matrix (5 x 5)
    assert {"trans_a": True} in calls and {"trans_b": True} in calls


def test_pca_edge_cases():
    x = np.ones((6, 4))                              # no variance at all
    scores, ratio = pca(x, 2)
    assert np.all(scores == 0) and np.all(ratio == 0)
    scores, ratio = pca(np.array([[1.0, 2.0]]), 1)   # one vector
    assert scores.shape == (1, 1) and scores[0, 0] == 0
    ints = np.arange(12).reshape(4, 3) ** 2          # integers become float64
    assert pca(ints, 2)[0].dtype == np.float64
    assert_scores_match(pca(ints, 2)[0], ints.astype(np.float64), 2)


@pytest.mark.parametrize("vectors, k, error, match", [
    (np.zeros(5), 2, ValueError, r"2-D .*\(5,\)"),
    (np.zeros((2, 3, 4)), 2, ValueError, r"2-D .*\(2, 3, 4\)"),
    (np.zeros((0, 4)), 2, ValueError, r"empty; .*\(0, 4\)"),
    (np.zeros((3, 0)), 1, ValueError, r"empty; .*\(3, 0\)"),
    (np.array([[1.0, np.nan], [0.0, 1.0]]), 1, ValueError, "NaN"),
    (np.array([[1.0, np.inf], [0.0, 1.0]]), 1, ValueError, "infinity"),
    (np.array([["a", "b"], ["c", "d"]]), 1, TypeError, "real numbers"),
    (np.ones((3, 3), complex), 1, TypeError, "complex"),
    (np.ones((5, 3)), 4, ValueError, r"\[1, 3\] .*received: 4"),
    (np.ones((2, 9)), 3, ValueError, r"\[1, 2\]"),
    (np.ones((5, 3)), 0, ValueError, "received: 0"),
    (np.ones((5, 3)), 1.0, ValueError, "received: 1.0"),
    (np.ones((5, 3)), True, ValueError, "received: True"),
])
def test_pca_bad_input(vectors, k, error, match):
    with pytest.raises(error, match=match):
        pca(vectors, k)


# ------------------------------------------------------------------ pictures
@pytest.fixture
def plt():
    pytest.importorskip("matplotlib", reason="the pictures need matplotlib (the plot extra)")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot

    yield matplotlib.pyplot
    matplotlib.pyplot.close("all")


def trained_history(validation=True, epochs=6):
    X, y = fastnn.load_digits()
    model = fastnn.Sequential([fastnn.Dense(64, 16, seed=0), fastnn.ReLU(),
                               fastnn.Dense(16, 10, seed=1)])
    return model.fit(X[:400], y[:400], loss=fastnn.SoftmaxCrossEntropy(),
                     optimizer=fastnn.Adam(model.parameters(), lr=1e-2), epochs=epochs,
                     validation_data=(X[400:600], y[400:600]) if validation else None,
                     seed=0, verbose=False)


def curves(ax):
    """``{legend label: (x, y)}`` of every line on ``ax`` and its twin axes."""
    lines = [line for a in ax.figure.axes for line in a.get_lines()]
    return {line.get_label(): (np.asarray(line.get_xdata()), np.asarray(line.get_ydata()))
            for line in lines}


def test_history_plot(plt, tmp_path):
    history = trained_history()
    ax = history.plot()
    assert ax.get_xlabel() == "epoch" and ax.get_ylabel() == "loss"
    assert legend_texts(ax) == ["training loss", "validation loss", "validation accuracy"]
    twin = [a for a in ax.figure.axes if a is not ax]
    assert len(twin) == 1 and twin[0].get_ylabel() == "accuracy"
    drawn = curves(ax)
    for label, key in [("training loss", "loss"), ("validation loss", "val_loss"),
                       ("validation accuracy", "val_accuracy")]:
        x, y = drawn[label]
        np.testing.assert_array_equal(x, np.arange(1, 7))
        np.testing.assert_allclose(y, history.history[key])
    path = tmp_path / "history.png"
    save_figure(ax, str(path), size=(640, 360))
    assert png_size(path) == (640, 360)
    assert not plt.get_fignums()                    # save_figure closed it


def test_history_plot_choices(plt):
    history = trained_history(validation=False, epochs=3)
    ax = history.plot()
    assert legend_texts(ax) == ["training loss"] and len(ax.figure.axes) == 1
    history = trained_history(epochs=2)
    _, mine = plt.subplots()
    ax = history.plot(ax=mine, metrics=["val_accuracy"])
    assert ax is mine and legend_texts(ax) == ["validation accuracy"]
    assert ax.get_ylabel() == "accuracy" and len(ax.figure.axes) == 1
    with pytest.raises(ValueError, match=r"\['acc'\] .*available: \['loss', 'time', 'val_acc"):
        history.plot(metrics=["acc"])
    with pytest.raises(ValueError, match="nothing to plot"):
        fastnn.History().plot()


def test_history_plot_after_early_stopping(plt):
    X, y = fastnn.load_digits()
    model = fastnn.Sequential([fastnn.Dense(64, 10, seed=0)])
    stop = fastnn.EarlyStopping(monitor="loss", patience=1, min_delta=10.0)
    history = model.fit(X[:200], y[:200], loss=fastnn.SoftmaxCrossEntropy(),
                        optimizer=fastnn.SGD(model.parameters(), lr=0.1), epochs=50,
                        callbacks=[stop], verbose=False)
    x, y_drawn = curves(history.plot())["training loss"]
    assert len(history.loss) < 50
    np.testing.assert_array_equal(x, np.arange(1, len(history.loss) + 1))
    np.testing.assert_allclose(y_drawn, history.loss)


def test_plot_history_checks_epochs(plt):
    ax = plot_history({"loss": [3.0, 2.0], "val_R²": [0.1, 0.5]}, epochs=[5, 10])
    assert legend_texts(ax) == ["training loss", "validation R²"]
    assert [a.get_ylabel() for a in ax.figure.axes] == ["loss", "R²"]
    np.testing.assert_array_equal(curves(ax)["validation R²"][0], [5, 10])
    with pytest.raises(ValueError, match="epochs has 1 values but a metric has 2"):
        plot_history({"loss": [3.0, 2.0]}, epochs=[1])


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_plot_learning_curve_of_estimators(plt, tmp_path, kind):
    pytest.importorskip("sklearn")
    from fastnn.sklearn import MLPClassifier, MLPRegressor

    X, y = fastnn.load_digits()
    est, score = ((MLPClassifier, "validation accuracy") if kind == "classifier"
                  else (MLPRegressor, "validation R²"))
    est = est(hidden_layer_sizes=(16,), max_iter=8, early_stopping=True, n_iter_no_change=50,
              random_state=0).fit(X[:500], y[:500])
    ax = fastnn.plot_learning_curve(est)
    assert legend_texts(ax) == ["training loss", score]
    drawn = curves(ax)
    np.testing.assert_allclose(drawn["training loss"][1], est.loss_curve_)
    np.testing.assert_allclose(drawn[score][1], est.validation_scores_)
    path = tmp_path / "curve.png"
    save_figure(ax, str(path))
    assert png_size(path) == (800, 500)


def test_plot_learning_curve_of_scikit_learn_and_unfitted(plt):
    pytest.importorskip("sklearn")
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    X, y = fastnn.load_digits()
    est = MLPClassifier(hidden_layer_sizes=(8,), max_iter=4, random_state=0)
    with pytest.raises(ValueError, match="MLPClassifier has no loss_curve_: fit it first"):
        fastnn.plot_learning_curve(est)
    with pytest.warns(ConvergenceWarning):
        est.fit(X[:300], y[:300])
    ax = fastnn.plot_learning_curve(est)
    assert legend_texts(ax) == ["training loss"]
    np.testing.assert_allclose(curves(ax)["training loss"][1], est.loss_curve_)


@pytest.mark.parametrize("n, d", [(2, 2), (17, 5), (5, 40), (300, 64)])
def test_plot_embedding_by_label(plt, tmp_path, n, d, dtype):
    rng = np.random.default_rng(n)
    x = spectrum_data(rng, n, d, dtype)
    labels = rng.integers(0, 4, n)
    ax = fastnn.plot_embedding(x, labels)
    groups = np.unique(labels)
    assert legend_texts(ax) == [str(g) for g in groups]
    assert [len(c.get_offsets()) for c in ax.collections] == [(labels == g).sum() for g in groups]
    scores, ratio = pca(x, 2)
    order = np.concatenate([np.flatnonzero(labels == g) for g in groups])
    np.testing.assert_allclose(drawn_points(ax), scores[order], rtol=1e-6, atol=1e-6)
    assert ax.get_xlabel() == f"PC1 ({ratio[0]:.0%} of the variance)"
    assert ax.get_ylabel() == f"PC2 ({ratio[1]:.0%} of the variance)"
    path = tmp_path / "embedding.png"
    save_figure(ax, str(path), size=(333, 271))
    assert png_size(path) == (333, 271)


def test_plot_embedding_words(plt):
    rng = np.random.default_rng(1)
    words = ["king", "queen", "man", "woman", "paris", "france", "rome"]
    groups = ["royal", "royal", "people", "people", "place", "place", "place"]
    x = spectrum_data(rng, 7, 12, np.float32)
    ax = fastnn.plot_embedding(x, annotate=words)
    assert len(drawn_points(ax)) == 7 and ax.get_legend() is None
    assert [t.get_text() for t in ax.texts] == words
    np.testing.assert_allclose(np.array([t.xy for t in ax.texts]), pca(x)[0], rtol=1e-6)
    ax = fastnn.plot_embedding(x, groups, annotate=words)
    assert legend_texts(ax) == ["royal", "people", "place"]   # first appearance, not sorted
    assert len(drawn_points(ax)) == 7 and len(ax.texts) == 7


def test_plot_embedding_without_projection(plt):
    x = np.array([[0.0, 1.0], [2.0, 3.0], [-1.0, 0.5]])
    ax = fastnn.plot_embedding(x, method=None)
    np.testing.assert_array_equal(drawn_points(ax), x)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("dimension 1", "dimension 2")


@pytest.mark.parametrize("kwargs, match", [
    ({"vectors": np.ones((1, 5))}, r"at least 2 vectors .*\(1, 5\)"),
    ({"vectors": np.ones((5, 1))}, r"at least 2 dimensions.*\(5, 1\)"),
    ({"vectors": np.ones((4, 3)), "method": None}, r"2-column .*\(4, 3\)"),
    ({"vectors": np.ones((4, 3)), "method": "tsne"}, "'pca' or None; received: 'tsne'"),
    ({"vectors": np.ones((4, 3)), "labels": [1, 2, 3]}, r"one entry per vector \(4\).*\(3,\)"),
    ({"vectors": np.ones((4, 3)), "annotate": ["a"]}, r"one text per vector \(4\); received 1"),
])
def test_plot_embedding_bad_input(plt, kwargs, match):
    with pytest.raises(ValueError, match=match):
        fastnn.plot_embedding(**kwargs)


@pytest.mark.parametrize("size", [(800, 500), (641, 517), (120, 90)])
def test_save_figure_size(plt, tmp_path, size):
    _, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    path = tmp_path / "line.png"
    save_figure(ax, str(path), size=size)
    assert png_size(path) == size
    with pytest.raises(ValueError, match=r"size must be positive .*\(0, 10\)"):
        save_figure(ax, str(path), size=(0, 10))


def test_missing_matplotlib_names_the_extra(monkeypatch):
    history = fastnn.History()
    history.append(0, {"loss": 1.0})
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r'pip install "fastnn\[plot\]"'):
        history.plot()
    with pytest.raises(ImportError, match=r'pip install "fastnn\[plot\]"'):
        fastnn.plot_embedding(np.eye(3))


@pytest.mark.parametrize("backend, expected", [(None, "agg"), ("svg", "svg")])
def test_headless_backend(backend, expected):
    pytest.importorskip("matplotlib", reason="the pictures need matplotlib (the plot extra)")
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "MPLBACKEND")}
    if backend:
        env["MPLBACKEND"] = backend
    code = ("import fastnn, matplotlib; fastnn.plot_embedding([[0, 1], [1, 0], [2, 2]]); "
            "print(matplotlib.get_backend())")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().lower() == expected


def clustered_words(dtype=np.float32):
    """Three tight clusters of five words (``a0..a4``, ``b0..b4``, ``c0..c4``) in 20-D."""
    rng = np.random.default_rng(3)
    centres = rng.standard_normal((3, 20)) * 5
    keys = [f"{c}{i}" for c in "abc" for i in range(5)]
    vectors = np.repeat(centres, 5, axis=0) + rng.standard_normal((15, 20)) * 0.1
    return fastnn.KeyedVectors.from_arrays(keys, vectors.astype(dtype))


def test_keyed_vectors_plot_words_and_neighbours(plt, tmp_path, dtype):
    kv = clustered_words(dtype)
    ax = kv.plot(["b0", "a0"], topn=4)
    assert legend_texts(ax) == ["b0", "a0"]
    assert [len(c.get_offsets()) for c in ax.collections] == [5, 5]
    drawn = {t.get_text(): t.xy for t in ax.texts}
    assert sorted(drawn) == [f"{c}{i}" for c in "ab" for i in range(5)]
    unit = kv[list(drawn)] / np.linalg.norm(kv[list(drawn)], axis=1, keepdims=True)
    np.testing.assert_allclose(np.array(list(drawn.values())), pca(unit)[0], rtol=1e-5,
                               atol=1e-6)
    path = tmp_path / "words.png"
    save_figure(ax, str(path), size=(500, 400))
    assert png_size(path) == (500, 400)


def test_keyed_vectors_plot_shared_neighbours_and_plain_words(plt):
    kv = clustered_words()
    ax = kv.plot(["a0", "a1", 10], topn=4)      # a1 is a query itself; row 10 is c0
    assert legend_texts(ax) == ["a0", "a1", "c0"]
    assert [len(c.get_offsets()) for c in ax.collections] == [4, 1, 5]
    ax = kv.plot(["a0", "b0", "c0", "a0"])      # no neighbours: the words, once, no legend
    assert ax.get_legend() is None and [t.get_text() for t in ax.texts] == ["a0", "b0", "c0"]
    assert len(drawn_points(ax)) == 3
    with pytest.raises(KeyError, match="'zz' not present"):
        kv.plot(["a0", "zz"])
    with pytest.raises(TypeError, match="list of keys; received: str"):
        kv.plot("a0")
    with pytest.raises(ValueError, match="topn must be a non-negative integer; received: -1"):
        kv.plot(["a0"], topn=-1)
    with pytest.raises(ValueError, match=r"at least 2 vectors"):
        kv.plot(["a0"])
