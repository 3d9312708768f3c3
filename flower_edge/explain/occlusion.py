"""Occlusion sensitivity (Zeiler & Fergus 2014): needs only predictions, so it runs
on a Keras model and on a TFLite bundle alike (no gradients, no TensorFlow)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

PredictFn = Callable[[np.ndarray], np.ndarray]  # uint8 [N, H, W, 3] -> probabilities [N, C]


def occlusion(predict: PredictFn, image: np.ndarray, class_index: int,
              patch: int | None = None, stride: int | None = None, fill: int = 128,
              batch_size: int = 64) -> np.ndarray:
    """Drop of class probability when a grey patch covers each pixel: [H, W] float32.

    Each pixel's value is the mean drop over the patches covering it. Positive =
    the region supports the class. `patch` defaults to 1/8 of the image side and
    `stride` to half the patch.
    """
    image = np.asarray(image, dtype=np.uint8)
    height, width = image.shape[:2]
    patch = patch or max(2, min(height, width) // 8)
    stride = stride or max(1, patch // 2)
    boxes = [(top, left) for top in _starts(height, patch, stride) for left in _starts(width, patch, stride)]
    base = float(predict(image[None])[0, class_index])
    drops = []
    for start in range(0, len(boxes), batch_size):
        chunk = boxes[start:start + batch_size]
        batch = np.repeat(image[None], len(chunk), axis=0)
        for i, (top, left) in enumerate(chunk):
            batch[i, top:top + patch, left:left + patch] = fill
        drops.extend(base - predict(batch)[:, class_index])
    total = np.zeros((height, width), np.float64)
    count = np.zeros((height, width), np.float64)
    for (top, left), drop in zip(boxes, drops):
        total[top:top + patch, left:left + patch] += drop
        count[top:top + patch, left:left + patch] += 1
    return (total / np.maximum(count, 1)).astype(np.float32)


def _starts(length: int, patch: int, stride: int) -> list[int]:
    """Patch offsets that cover the whole side, the last one flush with the edge."""
    starts = list(range(0, max(1, length - patch + 1), stride))
    if starts[-1] + patch < length:
        starts.append(length - patch)
    return starts


def keras_predict(model, batch_size: int = 64) -> PredictFn:
    """A PredictFn for a tf_keras model (a compiled tf.function, much faster than predict)."""
    from flower_edge.tfcompat import tf

    fn = tf().function(lambda x: model(x, training=False), reduce_retracing=True)

    def predict(images: np.ndarray) -> np.ndarray:
        out = [fn(np.asarray(images[i:i + batch_size], np.float32)).numpy()
               for i in range(0, len(images), batch_size)]
        return np.concatenate(out).astype(np.float32)

    return predict


def for_display(occ: np.ndarray) -> np.ndarray:
    """Positive evidence only, scaled to [0, 1] (a map with none becomes zeros)."""
    occ = np.clip(np.nan_to_num(occ), 0.0, None)
    peak = occ.max()
    return (occ / peak if peak > 0 else occ).astype(np.float32)
