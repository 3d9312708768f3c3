"""tf.data input pipelines: decode, eval transform, train augmentation, cache, prefetch.

Images come out as float32 RGB 0..255 (the model's own preprocessing layers scale
them). The eval transform equals the Pillow one in `transforms.py` (resize shorter
side, bilinear + antialias, center crop): mean abs difference <= EVAL_TOLERANCE.
TensorFlow is imported lazily, via flower_edge.tfcompat.
"""

from __future__ import annotations

import math
import os

import numpy as np

from flower_edge.data.scan import TF_NATIVE, probe_image, scan_images, warn_unreadable
from flower_edge.data.transforms import load_for_model, load_rgb

__all__ = ["make_dataset", "eval_images", "scan_images", "EVAL_TOLERANCE", "AUGMENT"]

# Mean absolute pixel difference (0..255 scale) allowed between the TF and Pillow
# eval transforms (per image); measured 0.16-0.25 on the flowers5 photos at 64-224 px,
# never more than 1 level on any pixel: decoding is identical, only resampling differs.
EVAL_TOLERANCE = 0.5
# The augmentation of published flower-classification studies.
AUGMENT = {"zoom": (0.8, 1.2), "rotation_deg": 20.0, "brightness": (0.7, 1.3), "hflip": True}


def _size(image_size) -> tuple[int, int]:
    return (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)


def _pillow_decode(path) -> np.ndarray:
    """Decode what tf.io cannot do identically (CMYK, palette, alpha, 16-bit, other formats)."""
    path = path.decode() if isinstance(path, bytes) else str(path)
    return np.asarray(load_rgb(path), dtype=np.uint8)


def decode_rgb(path, tf_native):
    """A path tensor to HxWx3 uint8 RGB: tf.io for plain RGB/gray JPEG/PNG/BMP, else Pillow."""
    from flower_edge.tfcompat import tf

    t = tf()

    def native():
        data = t.io.read_file(path)
        # decode_image uses libjpeg's fast integer DCT, ~1 level off Pillow on average;
        # the accurate DCT matches Pillow's decoder (what the Pi runtime sees).
        return t.cond(
            t.io.is_jpeg(data),
            lambda: t.io.decode_jpeg(data, channels=3, dct_method="INTEGER_ACCURATE"),
            lambda: t.io.decode_image(data, channels=3, dtype=t.uint8, expand_animations=False))

    def pillow():
        return t.numpy_function(_pillow_decode, [path], t.uint8, stateful=False)

    image = t.cond(tf_native, native, pillow)
    image.set_shape([None, None, 3])
    return image


def eval_transform_tf(image, image_size):
    """Resize the shorter side (bilinear, antialias) and center-crop; float32 0..255.

    The sizes are computed exactly as transforms.eval_transform does (float64, round
    half to even), so both paths crop the same window.
    """
    from flower_edge.tfcompat import tf

    t = tf()
    height, width = _size(image_size)
    shape = t.cast(t.shape(image)[:2], t.float64)
    h, w = shape[0], shape[1]
    scale = t.maximum(width / w, height / h)
    new_h = t.maximum(height, t.cast(t.round(h * scale), t.int32))
    new_w = t.maximum(width, t.cast(t.round(w * scale), t.int32))
    resized = t.image.resize(image, t.stack([new_h, new_w]), method="bilinear", antialias=True)
    top, left = (new_h - height) // 2, (new_w - width) // 2
    return resized[top:top + height, left:left + width, :]


def augment_batch(images, seed):
    """Random zoom 0.8-1.2, h-flip, rotation +-20 deg (one affine warp), brightness 0.7-1.3.

    `images` float32 [B,H,W,3] 0..255; `seed` a stateless seed, shape [2].
    """
    from flower_edge.tfcompat import tf

    t = tf()
    n = t.shape(images)[0]
    h, w = t.cast(t.shape(images)[1], t.float32), t.cast(t.shape(images)[2], t.float32)

    def draw(k, low, high):
        return t.random.stateless_uniform([n], seed=seed + k, minval=low, maxval=high)

    zoom = draw(1, *AUGMENT["zoom"])
    theta = draw(2, -1.0, 1.0) * (AUGMENT["rotation_deg"] * math.pi / 180.0)
    flip = t.where(draw(3, 0.0, 1.0) < 0.5, -1.0, 1.0) if AUGMENT["hflip"] else t.ones([n])
    bright = draw(4, *AUGMENT["brightness"])
    # Output pixel (x, y) samples input center + R(theta) * diag(flip, 1) * (x-c, y-c) / zoom.
    cx, cy = (w - 1.0) / 2.0, (h - 1.0) / 2.0
    a0, a1 = t.cos(theta) * flip / zoom, -t.sin(theta) / zoom
    b0, b1 = t.sin(theta) * flip / zoom, t.cos(theta) / zoom
    a2, b2 = cx - a0 * cx - a1 * cy, cy - b0 * cx - b1 * cy
    zeros = t.zeros_like(a0)
    transforms = t.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)
    warped = t.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=transforms, output_shape=t.shape(images)[1:3],
        fill_value=0.0, interpolation="BILINEAR", fill_mode="REFLECT")
    return t.clip_by_value(warped * bright[:, None, None, None], 0.0, 255.0)


def _native_flags(paths) -> tuple[list[str], list[bool], list[tuple[str, str]]]:
    """Header-only check of every file (fast): which to keep and which decoder each needs."""
    from PIL import Image

    keep, flags, bad = [], [], []
    for p in paths:
        try:
            with Image.open(p) as img:
                fmt, mode, size = img.format, img.mode, img.size
        except Exception as exc:  # noqa: BLE001  (any failure here means unusable)
            try:
                probe_image(p)
                reason = f"not readable ({exc})"
            except Exception as why:  # noqa: BLE001
                reason = str(why)
            bad.append((str(p), reason))
            continue
        if min(size) < 2:
            bad.append((str(p), f"image too small: {p} is {size[0]}x{size[1]} px"))
            continue
        keep.append(str(p))
        flags.append(mode in TF_NATIVE.get(fmt, ()))
    return keep, flags, bad


def make_dataset(paths, labels=None, image_size=224, batch_size=32, training=False,
                 num_classes=None, seed=0, cache=True, one_hot=True, augment=None):
    """Batches of (float32 [B,H,W,3] 0..255, labels) for training or evaluation.

    `paths` may be a Split (then labels come from it). Files whose header cannot be read
    are skipped with one warning; decode errors mid-epoch drop the sample (logged), never
    crash. `training` shuffles (reshuffled each epoch, from `seed`) and, unless
    `augment` is False, augments.
    """
    from flower_edge.tfcompat import tf

    t = tf()
    if labels is None and hasattr(paths, "labels"):
        paths, labels = paths.paths, paths.labels
    labels = [int(y) for y in labels]
    if len(labels) != len(paths):
        raise ValueError(f"{len(paths)} paths but {len(labels)} labels")
    if one_hot and not num_classes:
        num_classes = max(labels, default=0) + 1
    label_of = dict(zip(map(str, paths), labels))
    keep, flags, bad = _native_flags(paths)
    warn_unreadable(bad)
    ys = [label_of[p] for p in keep]
    size = _size(image_size)

    def load(path, native, y):
        image = eval_transform_tf(decode_rgb(path, native), size)
        image = t.cast(t.clip_by_value(t.round(image), 0, 255), t.uint8)  # cache compactly
        return image, (t.one_hot(y, num_classes, dtype=t.float32) if one_hot else y)

    ds = t.data.Dataset.from_tensor_slices((t.constant(keep, t.string), t.constant(flags, t.bool),
                                            t.constant(ys, t.int32)))
    # Our map functions are graph-safe already (explicit t.cond); autograph would only
    # trip over tfcompat's os.environ calls.
    load = t.autograph.experimental.do_not_convert(load)
    ds = ds.map(load, num_parallel_calls=t.data.AUTOTUNE, deterministic=True).ignore_errors(
        log_warning=True)
    if cache:
        ds = ds.cache()
    if training:
        ds = ds.shuffle(min(max(len(keep), 1), 4096), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size).map(t.autograph.experimental.do_not_convert(
        lambda x, y: (t.cast(x, t.float32), y)))
    if training and augment is not False:
        seeds = t.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
        ds = t.data.Dataset.zip((ds, seeds)).map(
            t.autograph.experimental.do_not_convert(lambda xy, s: (augment_batch(xy[0], s), xy[1])),
            num_parallel_calls=t.data.AUTOTUNE)
    return ds.prefetch(t.data.AUTOTUNE)


def eval_images(paths, size, label: str | None = None) -> np.ndarray:
    """The Pillow eval transform over many files: uint8 [N,H,W,3] (calibration, evaluation).

    With a `label`, a progress bar shows it.
    """
    paths = list(paths)
    items = paths
    if label:
        from flower_edge.progress import progress

        items = progress(paths, label, length=len(paths))
    h, w = _size(size)
    out = np.empty((len(paths), h, w, 3), dtype=np.uint8)
    for i, p in enumerate(items):
        out[i] = load_for_model(os.fspath(p), (h, w))
    return out
