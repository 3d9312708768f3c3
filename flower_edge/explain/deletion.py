"""The deletion test: does blurring what an explanation points at hurt more than
blurring random regions? A quantitative check that the maps are not just pretty pictures.

Grad-CAM is always scored; other maps (LIME, occlusion) can be scored beside it on the
same images, with the same blur and the same share of pixels, so the table says which
explanation is the most faithful by this measure. The random baseline draws a noise
map at Grad-CAM's own resolution and upsamples it the same way, so its masks are
blobs of Grad-CAM's size; scattered single pixels would be an easy baseline, since
blurring them barely changes a photo. Ties inside a map (a LIME superpixel, a flat
region) are broken by the same kind of blobs, scaled far below any real difference.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from flower_edge.explain.gradcam import upsample

MIN_IMAGES = 50


@dataclass
class MethodScore:
    """One explanation's result in the deletion test."""

    method: str  # "gradcam", "lime", "occlusion", ... or "random"
    drop: float  # mean drop of the class score (logit) when its top pixels are blurred
    ratio: float | None  # drop / random's drop (None when random's drop <= 0)
    wins: float | None  # share of images where its drop beats random's (None for random itself)


@dataclass
class DeletionResult:
    """The deletion test: blur each explanation's top-ranked pixels vs random ones.

    The top-level fields are Grad-CAM's (its pass/fail check); `methods` holds every
    map scored, random included, most faithful (largest drop) first."""

    images: int
    fraction: float
    gradcam_drop: float  # mean drop of the class score (logit)
    random_drop: float
    ratio: float | None  # gradcam_drop / random_drop (None when random_drop <= 0)
    wins: float  # share of images where Grad-CAM's drop beats random's
    passed: bool
    note: str = ""
    methods: list[MethodScore] = field(default_factory=list)
    most_faithful: str = "gradcam"

    def score(self, method: str) -> MethodScore | None:
        return next((m for m in self.methods if m.method == method), None)


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
                  random_draws: int = 3, others: Mapping[str, np.ndarray] | None = None) -> DeletionResult:
    """Compare the class-score drop of each map's top pixels vs random blobs.

    `score` maps uint8 images to class scores [N, C]: the logits Grad-CAM explains
    (see `gradcam.keras_scores`); probabilities saturate and make the test noisy.
    `cams` are Grad-CAM maps [N, h, w]; `others` maps a method name to its maps
    [N, h', w'] (any resolution; higher = more evidence for the class). The class
    is each image's top class. The random drop is averaged over `random_draws` masks
    per image. Passed when Grad-CAM's mean drop beats random's over at least 50 images.
    """
    images = np.asarray(images, dtype=np.uint8)
    size = images.shape[1:3]
    rng = np.random.default_rng(seed)
    blobs = cams.shape
    blurred = np.stack([blur(img) for img in images])
    base = score(images)
    rows, classes = np.arange(len(images)), base.argmax(axis=1)
    start = base[rows, classes]

    def drop(ranks: np.ndarray) -> np.ndarray:
        return start - score(_blur_top(images, blurred, ranks, fraction))[rows, classes]

    # Grad-CAM and random draw from `rng` as they did before other maps were scored; each
    # other map breaks its ties with its own generator, so adding one changes neither.
    cam_drop = drop(_ranks(cams, size, rng, blobs))
    rand_drop = np.zeros(len(images))
    for _ in range(random_draws):
        rand_drop += drop(upsample(rng.uniform(0, 1, blobs).astype(np.float32), size))
    drops = {name: drop(_ranks(maps, size, np.random.default_rng([seed, k + 1]), blobs))
             for k, (name, maps) in enumerate((others or {}).items())}
    return summarise(cam_drop, rand_drop / random_draws, fraction, drops)


def _ranks(maps: np.ndarray, size: tuple[int, int], rng, blobs: tuple) -> np.ndarray:
    """Maps at image size, ties broken by smooth noise far below each map's own range."""
    maps = np.nan_to_num(np.asarray(maps, dtype=np.float32))
    full = maps if maps.shape[1:] == tuple(size) else upsample(maps, size)
    spread = np.ptp(full.reshape(len(full), -1), axis=1).astype(np.float64)
    scale = np.where(spread > 0, spread, 1.0)[:, None, None] * 1e-6
    return full + scale * upsample(rng.uniform(0, 1, blobs).astype(np.float32), size)


def _blur_top(images, blurred, ranks, fraction: float) -> np.ndarray:
    """Each image with its `fraction` highest-ranked pixels replaced by the blurred image's."""
    out = images.copy()
    for i in range(len(images)):
        mask = top_mask(ranks[i], fraction)
        out[i][mask] = blurred[i][mask]
    return out


def summarise(cam_drop: np.ndarray, rand_drop: np.ndarray, fraction: float,
              others: Mapping[str, np.ndarray] | None = None) -> DeletionResult:
    """Turn per-image drops (Grad-CAM's, random's, other maps') into the result and verdict."""
    r = float(np.mean(rand_drop))
    scores = [_method_score(name, d, rand_drop) for name, d in {"gradcam": cam_drop, **(others or {})}.items()]
    scores.append(MethodScore("random", r, None, None))
    scores.sort(key=lambda m: -m.drop)
    cam = scores[[m.method for m in scores].index("gradcam")]
    enough = len(cam_drop) >= MIN_IMAGES
    passed = bool(enough and cam.drop > r)
    note = "" if enough else f"only {len(cam_drop)} images (< {MIN_IMAGES}): too few to count as a pass"
    return DeletionResult(images=len(cam_drop), fraction=fraction, gradcam_drop=cam.drop, random_drop=r,
                          ratio=cam.ratio, wins=cam.wins, passed=passed, note=note, methods=scores,
                          most_faithful=scores[0].method)


def _method_score(name: str, drop: np.ndarray, rand_drop: np.ndarray) -> MethodScore:
    mean, r = float(np.mean(drop)), float(np.mean(rand_drop))
    return MethodScore(name, mean, mean / r if r > 1e-9 else None, float(np.mean(drop > rand_drop)))
