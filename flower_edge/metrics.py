"""Classification metrics, numpy only: every stage scores with these (train's reports,
benchmark rows, quantize's checks, data review). One argument order everywhere: the truth
first (labels, or the reference model's probabilities), then the probabilities scored.
Results are data; rendering is elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

EPS = 1e-7  # probabilities are clipped to this before a log


def top_k_accuracy(labels: np.ndarray, probs: np.ndarray, k: int = 1) -> float:
    """Share of rows whose label is among the k highest probabilities; NaN with no rows."""
    labels = np.asarray(labels)
    if len(labels) == 0:
        return float("nan")
    k = min(k, probs.shape[1])
    top = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    return float(np.mean(np.any(top == labels[:, None], axis=1)))


def per_class_accuracy(labels: np.ndarray, probs: np.ndarray, num_classes: int) -> np.ndarray:
    """Top-1 accuracy (recall) per class; NaN for a class absent from `labels`."""
    labels, pred = np.asarray(labels), probs.argmax(axis=1)
    out = np.full(num_classes, np.nan)
    for c in range(num_classes):
        mask = labels == c
        if mask.any():
            out[c] = float(np.mean(pred[mask] == c))
    return out


def mean_class_accuracy(labels: np.ndarray, probs: np.ndarray) -> float:
    """Mean over the classes present of their top-1 accuracy (balanced accuracy)."""
    return float(np.nanmean(per_class_accuracy(labels, probs, probs.shape[1])))


def agreement(reference: np.ndarray, probs: np.ndarray) -> float:
    """Share of rows where both models pick the same top-1 class."""
    return float(np.mean(np.argmax(reference, axis=1) == np.argmax(probs, axis=1)))


def mean_kl(reference: np.ndarray, probs: np.ndarray) -> float:
    """Mean KL(reference || probs) in nats; probabilities are clipped to avoid log(0)."""
    p = np.clip(np.asarray(reference, np.float64), EPS, 1.0)
    q = np.clip(np.asarray(probs, np.float64), EPS, 1.0)
    p /= p.sum(axis=1, keepdims=True)
    q /= q.sum(axis=1, keepdims=True)
    return float(np.mean(np.sum(p * (np.log(p) - np.log(q)), axis=1)))


def confusion_matrix(labels: np.ndarray, pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Confusion counts, rows = true class, columns = predicted class."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(labels, int), np.asarray(pred, int)), 1)
    return matrix


def classification_metrics(labels: Sequence[int], probs: np.ndarray, classes: Sequence[str],
                           worst: int = 10) -> dict:
    """Top-1, top-5, mean per-class accuracy, confusion matrix, per-class P/R, worst classes."""
    labels = np.asarray(labels, dtype=int)
    probs = np.asarray(probs, dtype=np.float64)
    n = len(classes)
    pred = probs.argmax(axis=1) if len(labels) else np.zeros(0, int)
    cm = confusion_matrix(labels, pred, n)
    support, predicted, diag = cm.sum(axis=1), cm.sum(axis=0), np.diag(cm)
    recall = np.divide(diag, support, out=np.full(n, np.nan), where=support > 0)
    precision = np.divide(diag, predicted, out=np.full(n, np.nan), where=predicted > 0)
    per_class = [{"class": c, "support": int(support[i]), "precision": _num(precision[i]),
                  "recall": _num(recall[i])} for i, c in enumerate(classes)]
    present = [row for row in per_class if row["support"] > 0]
    ranked = sorted(present, key=lambda r: (r["recall"], r["class"]))
    return {
        "samples": len(labels),
        "top1": _num(top_k_accuracy(labels, probs, 1)),
        "top5": _num(top_k_accuracy(labels, probs, 5)),
        "mean_per_class_accuracy": _num(float(np.nanmean(recall)) if present else float("nan")),
        "confusion_matrix": cm.tolist(),
        "per_class": per_class,
        "worst_classes": [{"class": r["class"], "recall": r["recall"], "support": r["support"]}
                          for r in ranked[:worst]],
    }


def _num(value: float) -> float | None:
    """JSON-safe float: NaN (no samples) becomes None."""
    value = float(value)
    return None if np.isnan(value) else round(value, 6)
