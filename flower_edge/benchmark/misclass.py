"""Misclassification analysis: worst classes, most-confused pairs, the nearest
training images (by penultimate-layer embedding) of a few misclassified images, and
Grad-CAM beside LIME for the same images (what made the model pick the wrong class)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from flower_edge import metrics
from flower_edge.benchmark.rows import Misclassification

MAX_TRAIN_IMAGES = 2000  # enough neighbours to be telling, bounded time on a CPU


def worst_and_confused(labels: np.ndarray, pred: np.ndarray, classes: list[str], top: int = 5):
    """([(class, accuracy, support)], [(true, predicted, count)]), worst / most frequent first."""
    matrix = metrics.confusion_matrix(labels, pred, len(classes))
    support = matrix.sum(axis=1)
    present = [c for c in range(len(classes)) if support[c] > 0]
    accuracy = {c: matrix[c, c] / support[c] for c in present}
    worst = sorted(present, key=lambda c: (accuracy[c], -support[c]))[:top]
    off = matrix.copy()
    np.fill_diagonal(off, 0)
    pairs = [divmod(int(i), len(classes)) for i in np.argsort(-off, axis=None, kind="stable")[:top]]
    return ([(classes[c], float(accuracy[c]), int(support[c])) for c in worst],
            [(classes[t], classes[p], int(off[t, p])) for t, p in pairs if off[t, p] > 0])


def nearest(query: np.ndarray, bank: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and cosine similarities of the k nearest rows of `bank` for each query row."""
    q = query / (np.linalg.norm(query, axis=1, keepdims=True) + 1e-12)
    b = bank / (np.linalg.norm(bank, axis=1, keepdims=True) + 1e-12)
    sims = q @ b.T
    order = np.argsort(-sims, axis=1)[:, :k]
    return order, np.take_along_axis(sims, order, axis=1)


def embed(model, images: np.ndarray, batch: int = 64) -> np.ndarray:
    """Penultimate-layer (head_gap) embeddings of uint8 images."""
    from flower_edge.models.build import EMBEDDING_LAYER
    from flower_edge.tfcompat import keras, tf

    sub = keras().Model(model.inputs, model.get_layer(EMBEDDING_LAYER).output)
    fn = tf().function(lambda x: sub(x, training=False), reduce_retracing=True)
    return np.concatenate([fn(np.asarray(images[i:i + batch], np.float32)).numpy()
                           for i in range(0, len(images), batch)])


def analyse(loaded, data, probs: np.ndarray, png: Path, cfg, predict=None) -> Misclassification:
    """The analysis as data; writes `png` (neighbours) and, given `predict` (uint8 images ->
    probabilities, for LIME), `<png>_explained.png` when there are misclassified images."""
    pred = probs.argmax(axis=1)
    worst, pairs = worst_and_confused(data.labels, pred, data.classes)
    wrong = np.flatnonzero(pred != data.labels)
    result = Misclassification(worst_classes=worst, confused_pairs=pairs, errors=len(wrong))
    count = min(cfg.misclassified_examples, len(wrong))
    if count == 0:
        return result
    wrong = wrong[np.argsort(-probs[wrong].max(axis=1))][:count]  # confident mistakes first
    if cfg.neighbours > 0:
        _neighbour_png(loaded, data, probs, wrong, png, cfg)
        result.image = png.name
    if predict is not None:
        explained = png.with_name(f"{png.stem}_explained.png")
        _explained_png(loaded, data, probs, wrong, explained, predict, cfg)
        result.explained = explained.name
    return result


def _explained_png(loaded, data, probs, wrong, png: Path, predict, cfg) -> None:
    """Per misclassified image: Grad-CAM and LIME for the class it wrongly predicted."""
    from flower_edge.explain.gradcam import gradcam
    from flower_edge.explain.lime import for_display, lime
    from flower_edge.explain.render import outline, overlay, save_grid
    from flower_edge.progress import bar

    images = data.at(loaded.size)[wrong]
    guesses = probs[wrong].argmax(axis=1)
    cams = gradcam(loaded.model, images, loaded.spec.gradcam_layer, guesses)
    rows = []
    with bar(len(wrong) * cfg.lime_samples, "LIME on misclassified images") as progress:
        for i, img, cam, guess in zip(wrong, images, cams, guesses):
            found = lime(predict, img, int(guess), cfg.lime_samples, cfg.lime_segments, cfg.seed,
                         on_batch=progress.update)
            truth, name = data.classes[data.labels[i]], data.classes[int(guess)]
            rows.append([(f"true {truth}\npred {name} ({probs[i].max():.2f})", img),
                         (f"Grad-CAM: {name}", overlay(img, cam)),
                         (f"LIME: {name}", overlay(img, for_display(found))),
                         ("LIME top superpixels", outline(img, found.mask()))])
    save_grid(png, rows, "Misclassified test images: Grad-CAM and LIME for the predicted class")


def _neighbour_png(loaded, data, probs, wrong, png: Path, cfg) -> None:
    from flower_edge.data.pipeline import eval_images
    from flower_edge.data.splits import DataSplits
    from flower_edge.explain.render import save_grid

    train = DataSplits.load(loaded.run.split).train
    keep = np.arange(len(train))
    if len(keep) > MAX_TRAIN_IMAGES:
        keep = np.sort(np.random.default_rng(cfg.seed).permutation(len(train))[:MAX_TRAIN_IMAGES])
    bank_images = eval_images([train.paths[i] for i in keep], loaded.size, "embedding train images")
    images = data.at(loaded.size)
    idx, sims = nearest(embed(loaded.model, images[wrong]), embed(loaded.model, bank_images), cfg.neighbours)
    rows = []
    for r, i in enumerate(wrong):
        truth, guess = data.classes[data.labels[i]], data.classes[int(probs[i].argmax())]
        row = [(f"true {truth}\npred {guess} ({probs[i].max():.2f})", images[i])]
        for j, s in zip(idx[r], sims[r]):
            row.append((f"train: {data.classes[train.labels[keep[j]]]}\ncos {s:.2f}", bank_images[j]))
        rows.append(row)
    save_grid(png, rows, "Misclassified test images and their nearest training images (head_gap embedding)")
