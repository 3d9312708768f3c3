"""Prediction-only maps (LIME, occlusion) for many images at once, with one progress bar:
what the deletion test and the benchmark score beside Grad-CAM."""

from __future__ import annotations

import numpy as np

from flower_edge.explain.settings import PREDICTION_MAPS, LimeSettings


def prediction_maps(method: str, predict, images: np.ndarray, classes, settings: LimeSettings = LimeSettings(),
                    label: str | None = None) -> np.ndarray:
    """[N, H, W] float32 maps of each image's evidence for its class (higher = more).

    LIME: each pixel carries its superpixel's weight; occlusion: the probability drop
    when a grey patch covers the pixel. `predict` maps uint8 images to probabilities.
    """
    from flower_edge.progress import bar

    if method not in PREDICTION_MAPS:
        raise ValueError(f"unknown prediction map {method!r} (one of {', '.join(PREDICTION_MAPS)})")
    per_image = settings.samples if method == "lime" else 1
    maps = []
    with bar(len(images) * per_image, label or f"{method} maps") as progress:
        for img, c in zip(images, classes):
            if method == "lime":
                from flower_edge.explain.lime import lime

                found = lime(predict, img, int(c), settings.samples, settings.segments, settings.seed,
                             on_batch=progress.update)
                maps.append(found.heat())
            else:
                from flower_edge.explain.occlusion import occlusion

                maps.append(occlusion(predict, img, int(c)))
                progress.update(1)
    return np.stack(maps).astype(np.float32) if maps else np.zeros((0, *images.shape[1:3]), np.float32)
