"""Colour augmentation beyond pipeline.augment_batch's brightness: contrast and saturation.

The RandAugment-style colour ops of the recipe study (docs/recipe-study.md). Hue stays
untouched on purpose: a flower's hue is much of its class (a yellow tulip vs a red one
is still a tulip, but a dandelion turned purple is not a dandelion any more).
"""

from __future__ import annotations


def color_jitter(images, seed, strength: float):
    """Per image, contrast and saturation each scaled by a factor drawn from [1-s, 1+s].

    `images` float32 [B,H,W,3] 0..255, `seed` a stateless seed of shape [2]. Contrast
    stretches about the image's mean, saturation about each pixel's grey value.
    """
    from flower_edge.tfcompat import tf

    t = tf()
    n = t.shape(images)[0]
    low, high = max(0.0, 1.0 - strength), 1.0 + strength
    contrast = t.random.stateless_uniform([n, 1, 1, 1], seed=seed + 21, minval=low, maxval=high)
    saturation = t.random.stateless_uniform([n, 1, 1, 1], seed=seed + 22, minval=low, maxval=high)
    mean = t.reduce_mean(images, axis=[1, 2, 3], keepdims=True)
    x = mean + (images - mean) * contrast
    grey = t.reduce_mean(x, axis=3, keepdims=True)
    x = grey + (x - grey) * saturation
    return t.clip_by_value(x, 0.0, 255.0)
