"""PNG rendering of training results (matplotlib, Agg). Inputs are plain data."""

from __future__ import annotations

import io
import os
from collections.abc import Sequence

import numpy as np

from flower_edge.io import atomic_write_bytes


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | os.PathLike) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    _plt().close(fig)
    atomic_write_bytes(path, buf.getvalue())


def plot_curves(rows: Sequence[dict], path: str | os.PathLike, phase2_start: int | None = None) -> None:
    """Loss and accuracy per epoch, train vs val; a dashed line where fine-tuning starts."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    epochs = [int(r["epoch"]) + 1 for r in rows]
    for ax, key, title in ((axes[0], "loss", "loss"), (axes[1], "accuracy", "top-1 accuracy")):
        for prefix, style in (("", "-"), ("val_", "--")):
            values = [_f(r.get(prefix + key)) for r in rows]
            if any(v is not None for v in values):
                ax.plot(epochs, [np.nan if v is None else v for v in values], style, marker="o",
                        markersize=3, label=("val" if prefix else "train"))
        if phase2_start is not None and 0 < phase2_start < len(rows):
            ax.axvline(phase2_start + 0.5, color="grey", linestyle=":", label="fine-tune starts")
        ax.set_xlabel("epoch")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend()
    _save(fig, path)


def plot_confusion(matrix: Sequence[Sequence[int]], classes: Sequence[str], path: str | os.PathLike,
                   title: str = "confusion (test)") -> None:
    """Row-normalised confusion matrix; counts written in cells for small class counts."""
    plt = _plt()
    cm = np.asarray(matrix, dtype=float)
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    n = len(classes)
    side = min(24.0, max(4.0, 0.25 * n + 2))
    fig, ax = plt.subplots(figsize=(side, side))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(im, ax=ax, fraction=0.046)
    if n <= 30:
        ax.set_xticks(range(n), classes, rotation=90, fontsize=8)
        ax.set_yticks(range(n), classes, fontsize=8)
        for i in range(n):
            for j in range(n):
                if cm[i, j]:
                    ax.text(j, i, int(cm[i, j]), ha="center", va="center", fontsize=7,
                            color="white" if norm[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    _save(fig, path)


def plot_predictions(images: np.ndarray, true: Sequence[int], probs: np.ndarray,
                     classes: Sequence[str], path: str | os.PathLike, cols: int = 4) -> None:
    """A grid of images titled 'pred (p) / true', green when right, red when wrong."""
    plt = _plt()
    n = len(images)
    rows = max(1, -(-n // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 2.4, rows * 2.6))
    for ax in np.atleast_1d(axes).ravel():
        ax.axis("off")
    for ax, img, y, p in zip(np.atleast_1d(axes).ravel(), images, true, probs):
        pred = int(np.argmax(p))
        ax.imshow(img)
        ax.set_title(f"{classes[pred]} ({p[pred]:.2f})\ntrue: {classes[y]}", fontsize=8,
                     color="green" if pred == y else "red")
    _save(fig, path)


def plot_lr_find(lrs: Sequence[float], losses: Sequence[float], suggested: float | None,
                 path: str | os.PathLike) -> None:
    """Loss vs learning rate (log x), with the suggested LR marked."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(lrs, losses)
    ax.set_xscale("log")
    if suggested:
        ax.axvline(suggested, color="red", linestyle="--", label=f"suggested {suggested:.2g}")
        ax.legend()
    ax.set_xlabel("learning rate")
    ax.set_ylabel("smoothed loss")
    ax.set_title("LR range test")
    ax.grid(alpha=0.3)
    _save(fig, path)


def _f(value) -> float | None:
    try:
        return None if value in (None, "") else float(value)
    except (TypeError, ValueError):
        return None
