"""Pictures of training and of embedding spaces (model layer; matplotlib is the ``plot``
extra and is imported on first use, with the headless Agg backend when there is no display).

- :func:`plot_history` draws per-epoch curves: losses against the left axis, scores
  (accuracy, R²) against a right-hand axis, one legend. ``History.plot`` and
  :func:`plot_learning_curve` (scikit-learn style estimators) call it.
- :func:`plot_embedding` draws vectors projected to the plane (``fastnn.projection``:
  PCA through the compiled GEMM, or t-SNE), coloured by label or annotated with words.
- :func:`save_figure` writes a figure as an image of an exact size in pixels.
"""
from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any, Mapping, Optional, Sequence, Tuple

import numpy as np

from .projection import float_matrix, pca, tsne

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_history", "plot_learning_curve", "plot_embedding", "save_figure",
           "require_matplotlib"]

INSTALL_HINT = 'pip install "fastnn[plot]"'


def require_matplotlib():
    """``matplotlib.pyplot``, imported now; the Agg backend is chosen first when there is
    no display and neither ``MPLBACKEND`` nor an earlier import has chosen one.

    Raises ImportError naming the ``plot`` extra when matplotlib is not installed."""
    try:
        import matplotlib
    except ImportError as exc:
        raise ImportError(f"fastnn's plots need matplotlib: {INSTALL_HINT}") from exc
    if "matplotlib.pyplot" not in sys.modules and not os.environ.get("MPLBACKEND") \
            and _headless():
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _headless() -> bool:
    if sys.platform in ("darwin", "win32"):
        return False
    return not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _new_axes(ax: Optional["Axes"], figsize: Tuple[float, float]) -> "Axes":
    if ax is not None:
        return ax
    _, ax = require_matplotlib().subplots(figsize=figsize, layout="constrained")
    return ax


# ------------------------------------------------------------------ curves per epoch
def plot_history(logs: Mapping[str, Sequence[float]], *, epochs: Optional[Sequence[int]] = None,
                 metrics: Optional[Sequence[str]] = None,
                 ax: Optional["Axes"] = None) -> "Axes":
    """Draw per-epoch curves and return the axes.

    ``logs`` maps names to one value per epoch (``History.history``); ``metrics`` picks
    some of them (default: all but ``time`` and ``l2``). Names ending in ``loss`` go against
    the left axis, the others (accuracy, scores) against a twin axis on the right; ``val_``
    names are labelled "validation ...". ``epochs`` are the x values (default 1, 2, ...)."""
    names = [k for k in logs if k not in ("time", "l2")] if metrics is None else list(metrics)
    missing = [k for k in names if k not in logs]
    if missing:
        raise ValueError(f"metrics {missing} are not in the logs; available: {sorted(logs)}")
    names = [k for k in names if len(logs[k])]
    if not names:
        raise ValueError("nothing to plot: no metric has a value (train for an epoch first)")
    longest = max(len(logs[k]) for k in names)
    x = np.arange(1, longest + 1) if epochs is None else np.asarray(epochs)
    if len(x) < longest:
        raise ValueError(f"epochs has {len(x)} values but a metric has {longest}")
    losses = [k for k in names if k.endswith("loss")]
    scores = [k for k in names if k not in losses]
    ax = _new_axes(ax, (7.0, 4.5))
    score_ax = ax.twinx() if losses and scores else ax
    lines = []
    for i, name in enumerate(names):
        target = ax if name in losses else score_ax
        values = np.asarray(logs[name], dtype=float)
        style = "--" if name.startswith("val_") else "-"
        lines += target.plot(x[:len(values)], values, style, color=f"C{i}",
                             marker="o" if len(values) == 1 else None, label=_curve_label(name))
    ax.set_xlabel("epoch")
    if losses:
        ax.set_ylabel("loss")
    if scores:
        score_ax.set_ylabel(" / ".join(dict.fromkeys(_bare(k) for k in scores)))
    ax.legend(lines, [line.get_label() for line in lines], loc="lower center",
              bbox_to_anchor=(0.5, 1.0), ncol=min(len(lines), 4), frameon=False)
    ax.grid(True, alpha=0.3)
    return ax


def _bare(name: str) -> str:
    return name[4:] if name.startswith("val_") else name


def _curve_label(name: str) -> str:
    kind = "validation" if name.startswith("val_") else "training"
    return f"{kind} {_bare(name).replace('_', ' ')}"


def plot_learning_curve(estimator: Any, ax: Optional["Axes"] = None) -> "Axes":
    """The learning curves of a fitted scikit-learn style MLP (``fastnn.sklearn``'s or
    scikit-learn's own): ``loss_curve_`` and, with ``early_stopping``,
    ``validation_scores_`` (accuracy for a classifier, R² for a regressor)."""
    curve = getattr(estimator, "loss_curve_", None)
    if curve is None:
        raise ValueError(f"{type(estimator).__name__} has no loss_curve_: fit it first "
                         f"(the 'sgd' and 'adam' solvers record one)")
    logs = {"loss": curve}
    scores = getattr(estimator, "validation_scores_", None)
    if scores:
        from sklearn.base import is_classifier

        logs["val_accuracy" if is_classifier(estimator) else "val_R²"] = scores
    return plot_history(logs, ax=ax)


# ------------------------------------------------------------------ embeddings
def plot_embedding(vectors: Any, labels: Optional[Sequence] = None, *,
                   method: Optional[str] = "pca", annotate: Optional[Sequence[str]] = None,
                   ax: Optional["Axes"] = None) -> "Axes":
    """Draw vectors ``(n, d)`` as points in the plane and return the axes.

    ``method="pca"`` projects them on their two principal components
    (:func:`fastnn.projection.pca`), ``method="tsne"`` embeds them with t-SNE
    (:func:`fastnn.projection.tsne`, default settings; call it yourself for others), and
    ``method=None`` takes vectors that already have two columns as they are. With
    ``labels`` (one per vector) the points are coloured by label, one legend entry each;
    ``annotate`` (one text per vector, e.g. the words) writes each text beside its point."""
    if method == "pca":
        x = float_matrix(vectors, "vectors")
        if x.shape[0] < 2 or x.shape[1] < 2:
            raise ValueError(f"a PCA picture needs at least 2 vectors of at least 2 "
                             f"dimensions; received shape {x.shape}")
        points, ratio = pca(x, 2)
        axis_names = [f"PC{i + 1} ({r:.0%} of the variance)" for i, r in enumerate(ratio)]
    elif method == "tsne":
        points = tsne(vectors, 2)
        axis_names = ["t-SNE 1", "t-SNE 2"]
    elif method is None:
        points = float_matrix(vectors, "vectors")
        if points.shape[1] != 2:
            raise ValueError(f"method=None draws 2-column vectors as they are; received "
                             f"shape {points.shape}")
        axis_names = ["dimension 1", "dimension 2"]
    else:
        raise ValueError(f"method must be 'pca', 'tsne' or None; received: {method!r}")
    n = len(points)
    if labels is not None:
        labels = np.asarray(labels)
        if labels.shape != (n,):
            raise ValueError(f"labels must have one entry per vector ({n}); received shape "
                             f"{labels.shape}")
    if annotate is not None and len(annotate) != n:
        raise ValueError(f"annotate must have one text per vector ({n}); received "
                         f"{len(annotate)}")
    plt = require_matplotlib()
    ax = _new_axes(ax, (7.0, 6.0))
    size = 12 if n > 200 else 30
    if labels is None:
        ax.scatter(points[:, 0], points[:, 1], s=size, alpha=0.7)
    else:
        # numbers in order; other labels (words) in the order they first appear
        groups = np.unique(labels) if labels.dtype.kind in "biuf" else \
            list(dict.fromkeys(labels.tolist()))
        cmap = plt.get_cmap("tab10" if len(groups) <= 10 else "tab20")
        for i, group in enumerate(groups):
            mask = labels == group
            ax.scatter(points[mask, 0], points[mask, 1], s=size, alpha=0.7,
                       color=cmap(i % cmap.N), label=str(group))
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0,
                  markerscale=1.5, fontsize="small")
    if annotate is not None:
        for (px, py), text in zip(points, annotate):
            ax.annotate(str(text), (px, py), xytext=(3, 3), textcoords="offset points",
                        fontsize=8)
    ax.set_xlabel(axis_names[0])
    ax.set_ylabel(axis_names[1])
    return ax


def save_figure(ax: "Axes", path: str, *, size: Tuple[int, int] = (800, 500)) -> None:
    """Write the figure of ``ax`` to ``path`` (format from the extension) at ``size``
    pixels (width, height), then close it."""
    width, height = size
    if width < 1 or height < 1:
        raise ValueError(f"size must be positive (width, height) in pixels; received {size}")
    fig = ax.figure
    dpi = 100
    fig.set_size_inches(width / dpi, height / dpi)
    if fig.get_layout_engine() is None:
        fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    require_matplotlib().close(fig)
