"""Accuracy and agreement metrics on probability matrices (pure numpy)."""

from __future__ import annotations

import numpy as np

EPS = 1e-7


def topk_accuracy(probs: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Share of rows whose label is among the k highest probabilities."""
    k = min(k, probs.shape[1])
    top = np.argsort(-probs, axis=1)[:, :k]
    return float(np.mean(np.any(top == labels[:, None], axis=1)))


def per_class_accuracy(probs: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Top-1 accuracy per class; NaN for a class absent from `labels`."""
    pred = probs.argmax(axis=1)
    out = np.full(num_classes, np.nan)
    for c in range(num_classes):
        mask = labels == c
        if mask.any():
            out[c] = float(np.mean(pred[mask] == c))
    return out


def mean_class_accuracy(probs: np.ndarray, labels: np.ndarray) -> float:
    """Mean over the classes present of their top-1 accuracy (balanced accuracy)."""
    return float(np.nanmean(per_class_accuracy(probs, labels, probs.shape[1])))


def agreement(reference: np.ndarray, probs: np.ndarray) -> float:
    """Share of images where both models pick the same top-1 class."""
    return float(np.mean(reference.argmax(axis=1) == probs.argmax(axis=1)))


def mean_kl(reference: np.ndarray, probs: np.ndarray) -> float:
    """Mean KL(reference || probs) in nats; probabilities are clipped to avoid log(0)."""
    p = np.clip(reference.astype(np.float64), EPS, 1.0)
    q = np.clip(probs.astype(np.float64), EPS, 1.0)
    p /= p.sum(axis=1, keepdims=True)
    q /= q.sum(axis=1, keepdims=True)
    return float(np.mean(np.sum(p * (np.log(p) - np.log(q)), axis=1)))


def confusion(labels: np.ndarray, pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Confusion counts, rows = true class, columns = predicted class."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (labels, pred), 1)
    return matrix
