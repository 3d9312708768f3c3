"""Mixup: train on convex blends of two photos and of their one-hot labels.

With a few hundred training photos the fine-tuned network memorises the training set
within a few epochs (docs/recipe-study.md); blending pairs is a label-aware
regulariser that the geometric augmentation in pipeline.augment_batch cannot give.
"""

from __future__ import annotations


def mixup_batch(images, labels, seed, alpha: float):
    """Blend each photo with its mirror in the batch (i with B-1-i), weight lam ~ Beta(a, a).

    `images` float32 [B,H,W,3], `labels` float32 one-hot [B,C], `seed` a stateless seed
    of shape [2]. Returns (images, labels) of the same shapes and dtypes; every label row
    still sums to 1.
    """
    from flower_edge.tfcompat import tf

    t = tf()
    n = t.shape(images)[0]
    # Beta(a, a) as g1 / (g1 + g2) with g1, g2 ~ Gamma(a): TF has no stateless Beta.
    g1 = t.random.stateless_gamma([n], seed=seed + 11, alpha=alpha)
    g2 = t.random.stateless_gamma([n], seed=seed + 12, alpha=alpha)
    lam = g1 / t.maximum(g1 + g2, 1e-12)
    other_x, other_y = t.reverse(images, axis=[0]), t.reverse(labels, axis=[0])
    mixed_x = lam[:, None, None, None] * images + (1.0 - lam[:, None, None, None]) * other_x
    mixed_y = lam[:, None] * labels + (1.0 - lam[:, None]) * other_y
    return mixed_x, mixed_y
