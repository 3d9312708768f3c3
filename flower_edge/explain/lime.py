"""LIME (Ribeiro et al. 2016) through the `lime` package: which superpixels, switched
off together at random, best explain the class probability in a local linear model.

Like occlusion it needs only predictions, so it runs on a Keras model and on a TFLite
bundle alike (no TensorFlow). Superpixels come from scikit-image's SLIC, whose segment
count can be asked for, unlike LIME's default quickshift. Everything is seeded: the same
image, class and settings give the same weights. The pure function returns arrays;
pictures are drawn in `render.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from flower_edge.errors import FlowerEdgeError
from flower_edge.explain.settings import DEFAULT_SAMPLES, DEFAULT_SEGMENTS, TOP_SEGMENTS

PredictFn = Callable[[np.ndarray], np.ndarray]  # uint8 [N, H, W, 3] -> probabilities [N, C]
INSTALL = 'pip install "flower-edge[explain]"'
# Switched-off superpixels are painted mid-grey, as occlusion's patches are. LIME's own
# default (hide_color=None) paints each one its mean colour, which leaves a uniform
# superpixel (a petal, a red square) unchanged, so its evidence can never show.
HIDE = 128


@dataclass
class LimeExplanation:
    """LIME's answer for one image and class, as arrays."""

    segments: np.ndarray  # [H, W] int32 superpixel id, 0..S-1
    weights: np.ndarray  # [S] float32: each superpixel's weight in the local linear model
    class_index: int
    score: float  # R^2 of the local linear model on its weighted samples

    def heat(self) -> np.ndarray:
        """[H, W] float32: each pixel carries its superpixel's weight (signed)."""
        return self.weights[self.segments].astype(np.float32)

    def top(self, count: int = TOP_SEGMENTS) -> np.ndarray:
        """Ids of the `count` superpixels with the largest positive weight, strongest first."""
        order = np.argsort(-self.weights, kind="stable")[:count]
        return order[self.weights[order] > 0]

    def mask(self, count: int = TOP_SEGMENTS) -> np.ndarray:
        """[H, W] bool: pixels of the top superpixels (the evidence for the class)."""
        return np.isin(self.segments, self.top(count))


def import_lime():
    """lime's lime_image module, or a one-line error naming the extra that installs it."""
    try:
        import skimage.segmentation  # noqa: F401  (SLIC superpixels)
        from lime import lime_image
    except ImportError:
        raise FlowerEdgeError(f"LIME explanations need the lime and scikit-image packages: {INSTALL}") from None
    return lime_image


def slic_segments(image: np.ndarray, segments: int) -> np.ndarray:
    """SLIC superpixels numbered 0..S-1 without gaps (LIME expects exactly that)."""
    from skimage.segmentation import slic

    labels = slic(image, n_segments=segments, compactness=10, sigma=1, start_label=0)
    return np.unique(labels, return_inverse=True)[1].reshape(labels.shape).astype(np.int32)


def lime(predict: PredictFn, image: np.ndarray, class_index: int, samples: int = DEFAULT_SAMPLES,
         segments: int = DEFAULT_SEGMENTS, seed: int = 0, batch_size: int = 64,
         on_batch: Callable[[int], None] | None = None, hide: int | None = HIDE) -> LimeExplanation:
    """Explain `predict`'s probability of `class_index` on one HxWx3 uint8 image.

    `samples` perturbed copies (each superpixel kept or switched off, i.e. painted
    `hide` grey) go through `predict` in batches of `batch_size`; `on_batch(n)` is
    called after each (a progress bar's update). A fresh explainer per call, seeded,
    so the result depends only on the arguments.
    """
    lime_image = import_lime()
    image = np.asarray(image, dtype=np.uint8)
    labels = slic_segments(image, segments)

    def classify(batch: np.ndarray) -> np.ndarray:
        out = predict(np.asarray(batch, dtype=np.uint8))
        if on_batch is not None:
            on_batch(len(batch))
        return out

    explainer = lime_image.LimeImageExplainer(random_state=seed)
    with _quiet_tqdm(lime_image):
        found = explainer.explain_instance(image, classify, labels=(class_index,), top_labels=None,
                                           hide_color=hide, num_samples=samples, batch_size=batch_size,
                                           segmentation_fn=lambda _: labels, random_seed=seed)
    weights = np.zeros(int(labels.max()) + 1, np.float32)
    for segment, weight in found.local_exp[class_index]:
        weights[segment] = weight
    return LimeExplanation(labels, weights, int(class_index), float(found.score))


class _quiet_tqdm:
    """lime 0.2 draws its own tqdm bar on every call and has no switch for it; flower-edge
    shows one bar for the whole job instead, so lime's is swapped out while it runs."""

    def __init__(self, module):
        self.module = module

    def __enter__(self):
        self.saved = getattr(self.module, "tqdm", None)
        if self.saved is not None:
            self.module.tqdm = lambda items, *args, **kwargs: items

    def __exit__(self, *exc):
        if self.saved is not None:
            self.module.tqdm = self.saved


def for_display(explanation: LimeExplanation) -> np.ndarray:
    """Positive evidence only, scaled to [0, 1]: the heat a LIME overlay shows."""
    heat = np.clip(explanation.heat(), 0.0, None)
    peak = heat.max()
    return (heat / peak if peak > 0 else heat).astype(np.float32)


def top_overlap(a: LimeExplanation, b: LimeExplanation, count: int = TOP_SEGMENTS) -> float:
    """Share of the top `count` superpixels two explanations agree on (1.0 = same set)."""
    top_a, top_b = set(a.top(count).tolist()), set(b.top(count).tolist())
    if not top_a and not top_b:
        return 1.0
    return len(top_a & top_b) / max(len(top_a), len(top_b))
