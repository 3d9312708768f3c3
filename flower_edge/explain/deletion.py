"""The deletion test: does blurring what Grad-CAM points at hurt more than blurring
random regions? A quantitative check that the maps are not just pretty pictures.

The random baseline draws a noise map at Grad-CAM's own resolution and upsamples
it the same way, so both masks are made of blobs of the same size; scattered
single pixels would be an easy baseline, since blurring them barely changes a photo.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from flower_edge.benchmark.rows import DeletionResult
from flower_edge.explain.gradcam import upsample

MIN_IMAGES = 50


def blur(image: np.ndarray, radius: float | None = None) -> np.ndarray:
    """A strong Gaussian blur of an HxWx3 uint8 image (Pillow)."""
    from PIL import Image, ImageFilter

    radius = radius or max(2.0, min(image.shape[:2]) / 16)
    return np.asarray(Image.fromarray(image).filter(ImageFilter.GaussianBlur(radius)), dtype=np.uint8)


def top_mask(score: np.ndarray, fraction: float) -> np.ndarray:
    """Boolean mask of the `fraction` highest-scoring pixels (ties broken by order)."""
    flat = score.ravel()
    count = max(1, round(fraction * flat.size))
    mask = np.zeros(flat.size, dtype=bool)
    mask[np.argsort(-flat, kind="stable")[:count]] = True
    return mask.reshape(score.shape)


def deletion_test(score: Callable[[np.ndarray], np.ndarray], images: np.ndarray,
                  cams: np.ndarray, fraction: float = 0.2, seed: int = 0,
                  random_draws: int = 3) -> DeletionResult:
    """Compare the class-score drop of Grad-CAM's top pixels vs random blobs.

    `score` maps uint8 images to class scores [N, C]: the logits Grad-CAM explains
    (see `gradcam.keras_scores`); probabilities saturate and make the test noisy.
    `cams` are Grad-CAM maps [N, h, w]; the class is each image's top class. The
    random drop is averaged over `random_draws` masks per image. Passed when
    Grad-CAM's mean drop beats random's over at least 50 images.
    """
    images = np.asarray(images, dtype=np.uint8)
    size = images.shape[1:3]
    rng = np.random.default_rng(seed)
    # A tiny jitter breaks ties in flat (e.g. all-zero) maps without favouring any region.
    ranks = upsample(cams + rng.uniform(0, 1e-6, cams.shape), size)
    blurred = np.stack([blur(img) for img in images])
    base = score(images)
    rows, classes = np.arange(len(images)), base.argmax(axis=1)
    start = base[rows, classes]
    cam_drop = start - score(_blur_top(images, blurred, ranks, fraction))[rows, classes]
    rand_drop = np.zeros(len(images))
    for _ in range(random_draws):
        noise = upsample(rng.uniform(0, 1, cams.shape).astype(np.float32), size)
        rand_drop += start - score(_blur_top(images, blurred, noise, fraction))[rows, classes]
    return summarise(cam_drop, rand_drop / random_draws, fraction)


def _blur_top(images, blurred, ranks, fraction: float) -> np.ndarray:
    """Each image with its `fraction` highest-ranked pixels replaced by the blurred image's."""
    out = images.copy()
    for i in range(len(images)):
        mask = top_mask(ranks[i], fraction)
        out[i][mask] = blurred[i][mask]
    return out


def summarise(cam_drop: np.ndarray, rand_drop: np.ndarray, fraction: float) -> DeletionResult:
    """Turn per-image drops into the reported result and verdict."""
    g, r = float(np.mean(cam_drop)), float(np.mean(rand_drop))
    ratio = g / r if r > 1e-9 else None
    enough = len(cam_drop) >= MIN_IMAGES
    passed = bool(enough and g > r)
    note = "" if enough else f"only {len(cam_drop)} images (< {MIN_IMAGES}): too few to count as a pass"
    return DeletionResult(images=len(cam_drop), fraction=fraction, gradcam_drop=g, random_drop=r,
                          ratio=ratio, wins=float(np.mean(cam_drop > rand_drop)), passed=passed,
                          note=note)
