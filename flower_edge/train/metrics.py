"""Classification metrics as pure numpy: results are data, rendering is elsewhere."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Rows are true classes, columns predicted classes."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(y_true, int), np.asarray(y_pred, int)), 1)
    return matrix


def top_k_accuracy(y_true: np.ndarray, probs: np.ndarray, k: int) -> float:
    """Share of samples whose true class is among the k highest probabilities."""
    if len(y_true) == 0:
        return float("nan")
    k = min(k, probs.shape[1])
    top = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    return float(np.mean(np.any(top == np.asarray(y_true)[:, None], axis=1)))


def classification_metrics(y_true: Sequence[int], probs: np.ndarray, classes: Sequence[str],
                           worst: int = 10) -> dict:
    """Top-1, top-5, mean per-class accuracy, confusion matrix, per-class P/R, worst classes."""
    y_true = np.asarray(y_true, dtype=int)
    probs = np.asarray(probs, dtype=np.float64)
    n = len(classes)
    y_pred = probs.argmax(axis=1) if len(y_true) else np.zeros(0, int)
    cm = confusion_matrix(y_true, y_pred, n)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    diag = np.diag(cm)
    recall = np.divide(diag, support, out=np.full(n, np.nan), where=support > 0)
    precision = np.divide(diag, predicted, out=np.full(n, np.nan), where=predicted > 0)
    per_class = [{"class": c, "support": int(support[i]), "precision": _num(precision[i]),
                  "recall": _num(recall[i])} for i, c in enumerate(classes)]
    present = [row for row in per_class if row["support"] > 0]
    ranked = sorted(present, key=lambda r: (r["recall"], r["class"]))
    return {
        "samples": len(y_true),
        "top1": _num(float(np.mean(y_pred == y_true)) if len(y_true) else float("nan")),
        "top5": _num(top_k_accuracy(y_true, probs, 5)),
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
