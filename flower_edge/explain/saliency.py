"""Gradient views of a tf_keras classifier: saliency and class activation maximisation."""

from __future__ import annotations

import numpy as np

from flower_edge.explain.gradcam import class_indices, normalise, score_model


def saliency(model, images, class_index=None) -> np.ndarray:
    """|d score / d input|, max over colour channels: [N, H, W] in [0, 1]."""
    from flower_edge.tfcompat import tf

    tf_ = tf()
    x = tf_.convert_to_tensor(np.asarray(images, dtype=np.float32))
    scorer = score_model(model, None)
    with tf_.GradientTape() as tape:
        tape.watch(x)
        _, scores = scorer(x, training=False)
        idx = class_indices(class_index, scores.numpy())
        chosen = tf_.gather(scores, idx, axis=1, batch_dims=1)
    grads = tape.gradient(chosen, x)
    return normalise(tf_.reduce_max(tf_.abs(grads), axis=-1).numpy())


def activation_max(model, class_index: int, steps: int = 150, lr: float = 0.2,
                   l2: float = 0.05, blur_every: int = 4, seed: int = 0) -> np.ndarray:
    """An input that maximises one class score: gradient ascent with an L2 penalty.

    The image is optimised in [-1, 1] (mapped to 0..255 for the model), starting
    from grey plus a little noise. Each step follows the normalised gradient of
    `score - l2 * mean(v**2)` under a small random shift (jitter); every
    `blur_every` steps a 3x3 smoothing pass runs. Jitter and smoothing keep the
    result from turning into high-frequency noise (Yosinski et al. 2015).
    Returns HxWx3 uint8.
    """
    from flower_edge.tfcompat import tf

    tf_ = tf()
    _, height, width, _ = model.inputs[0].shape
    scorer = score_model(model, None)
    class_indices(class_index, np.zeros((1, scorer.outputs[1].shape[-1])))  # range check
    rng = np.random.default_rng(seed)
    v = tf_.Variable(rng.normal(0.0, 0.05, (1, height, width, 3)).astype(np.float32))

    @tf_.function
    def step(dy, dx, smooth):
        with tf_.GradientTape() as tape:
            shifted = tf_.roll(v, shift=tf_.stack([dy, dx]), axis=[1, 2])
            _, scores = scorer((shifted + 1.0) * 127.5, training=False)
            objective = scores[0, class_index] - l2 * tf_.reduce_mean(tf_.square(v)) * 100.0
        grad = tape.gradient(objective, v)
        grad = grad / (tf_.sqrt(tf_.reduce_mean(tf_.square(grad))) + 1e-8)
        new = tf_.clip_by_value(v + lr * grad, -1.0, 1.0)
        if smooth:
            new = tf_.nn.avg_pool2d(new, 3, 1, "SAME")
        v.assign(new)

    for i in range(steps):
        dy, dx = (int(s) for s in rng.integers(-2, 3, size=2))
        step(tf_.constant(dy), tf_.constant(dx), bool(blur_every and (i + 1) % blur_every == 0))
    return np.clip((v.numpy()[0] + 1.0) * 127.5, 0, 255).astype(np.uint8)
