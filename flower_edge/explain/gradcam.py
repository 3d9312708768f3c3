"""Grad-CAM (Selvaraju et al. 2017) on a tf_keras classifier: a pure function.

The class score is the pre-softmax logit when the model has a `logits` layer
(flower-edge models do), because softmax gradients vanish once the model is
confident and would flatten the map.
"""

from __future__ import annotations

import numpy as np

from flower_edge.errors import UsageError


def score_model(model, layer_name: str | None):
    """A model returning (feature map of `layer_name` or the input, class scores)."""
    from flower_edge.models.build import LOGITS_LAYER
    from flower_edge.tfcompat import keras

    names = {layer.name for layer in model.layers}
    scores = model.get_layer(LOGITS_LAYER).output if LOGITS_LAYER in names else model.output
    if layer_name is None:
        return keras().Model(model.inputs, [model.inputs[0], scores])
    if layer_name not in names:
        raise UsageError(f"layer '{layer_name}' is not in model {model.name}; set the ModelSpec's "
                         f"gradcam_layer to one of its conv layers")
    return keras().Model(model.inputs, [model.get_layer(layer_name).output, scores])


def keras_scores(model, batch_size: int = 64):
    """uint8/float images [N, H, W, 3] -> class scores (logits) [N, C], via a tf.function."""
    from flower_edge.tfcompat import tf

    scorer = score_model(model, None)
    fn = tf().function(lambda x: scorer(x, training=False)[1], reduce_retracing=True)

    def scores(images: np.ndarray) -> np.ndarray:
        return np.concatenate([fn(np.asarray(images[i:i + batch_size], np.float32)).numpy()
                               for i in range(0, len(images), batch_size)])

    return scores


def class_indices(class_index, scores: np.ndarray) -> np.ndarray:
    """Per-image class: the given int / sequence, or each image's top class."""
    num_images, num_classes = scores.shape
    if class_index is None:
        return scores.argmax(axis=1)
    idx = np.broadcast_to(np.asarray(class_index, dtype=np.int64), (num_images,)).copy()
    bad = idx[(idx < 0) | (idx >= num_classes)]
    if bad.size:
        raise UsageError(f"--class {int(bad[0])} is out of range: the model has {num_classes} "
                         f"classes (0..{num_classes - 1})")
    return idx


def gradcam(model, images, layer_name: str, class_index=None) -> np.ndarray:
    """Grad-CAM maps [N, h, w] in [0, 1] at the resolution of `layer_name`.

    `images` are RGB 0..255 (uint8 or float), [N, H, W, 3]. `class_index` is None
    (each image's top class), an int, or one int per image. An all-zero map (no
    positive evidence, e.g. a constant image) stays zero instead of NaN.
    """
    from flower_edge.tfcompat import tf

    tf_ = tf()
    x = tf_.convert_to_tensor(np.asarray(images, dtype=np.float32))
    grad_model = score_model(model, layer_name)
    with tf_.GradientTape() as tape:
        features, scores = grad_model(x, training=False)
        idx = class_indices(class_index, scores.numpy())
        chosen = tf_.gather(scores, idx, axis=1, batch_dims=1)
    grads = tape.gradient(chosen, features)
    weights = tf_.reduce_mean(grads, axis=(1, 2), keepdims=True)
    cams = tf_.nn.relu(tf_.reduce_sum(weights * features, axis=-1)).numpy()
    return normalise(cams)


def normalise(maps: np.ndarray) -> np.ndarray:
    """Scale each map to [0, 1] by its max; a map with no positive value becomes zeros."""
    maps = np.nan_to_num(np.asarray(maps, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    peak = maps.reshape(len(maps), -1).max(axis=1)
    peak = np.where(peak > 0, peak, 1.0).reshape((-1,) + (1,) * (maps.ndim - 1))
    return np.clip(maps / peak, 0.0, 1.0)


def upsample(maps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of [N, h, w] maps to [N, H, W] (Pillow, no TF)."""
    from PIL import Image

    height, width = size
    out = [np.asarray(Image.fromarray(m.astype(np.float32), mode="F").resize((width, height), Image.BILINEAR))
           for m in maps]
    return np.stack(out).astype(np.float32)
