"""tf.data input pipelines: decode, eval transform, train augmentation, cache, prefetch.

Images come out as float32 RGB 0..255 (the model's own preprocessing layers scale
them). Decoding and the eval transform are the Pi runtime's own Pillow function
(`flower_edge.runtime.transforms.load_for_model`, run through tf.numpy_function), so
training, calibration, evaluation and the runtime see identical pixels.
TensorFlow is imported lazily, via flower_edge.tfcompat.
"""

from __future__ import annotations

import math
import os

import numpy as np

from flower_edge.data.scan import probe_image, scan_images, warn_unreadable
from flower_edge.runtime.transforms import load_for_model, size_hw

__all__ = ["make_dataset", "eval_images", "scan_images", "AUGMENT"]

# The augmentation of published flower-classification studies.
AUGMENT = {"zoom": (0.8, 1.2), "rotation_deg": 20.0, "brightness": (0.7, 1.3), "hflip": True}


def _decode_eval(path, height, width) -> np.ndarray:
    """The runtime's own Pillow decode + eval transform, for tf.numpy_function."""
    path = path.decode() if isinstance(path, bytes) else str(path)
    return load_for_model(path, (int(height), int(width)))


def decode_eval(path, image_size):
    """A path tensor to the model's HxWx3 uint8 input, via runtime.transforms.load_for_model.

    Training sees exactly the pixels the Pi runtime sees: the same scaled JPEG decode,
    EXIF orientation, resize and crop. Pillow releases the GIL while it decodes and
    resizes, so tf.data's parallel map still uses every core.
    """
    from flower_edge.tfcompat import tf

    t = tf()
    height, width = size_hw(image_size)
    image = t.numpy_function(_decode_eval, [path, height, width], t.uint8, stateful=False)
    image.set_shape([height, width, 3])
    return image


def augment_batch(images, seed, zoom=None):
    """Random zoom 0.8-1.2, h-flip, rotation +-20 deg (one affine warp), brightness 0.7-1.3.

    `images` float32 [B,H,W,3] 0..255; `seed` a stateless seed, shape [2]; `zoom` a
    (low, high) range in place of AUGMENT's (above 1 crops in, below 1 shows more).
    """
    from flower_edge.tfcompat import tf

    t = tf()
    n = t.shape(images)[0]
    h, w = t.cast(t.shape(images)[1], t.float32), t.cast(t.shape(images)[2], t.float32)

    def draw(k, low, high):
        return t.random.stateless_uniform([n], seed=seed + k, minval=low, maxval=high)

    zoom = draw(1, *(zoom or AUGMENT["zoom"]))
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


def _readable(paths) -> tuple[list[str], list[tuple[str, str]]]:
    """Header-only check of every file (fast): which to keep, and why the others go."""
    from PIL import Image

    keep, bad = [], []
    for p in paths:
        try:
            with Image.open(p) as img:
                size = img.size
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
    return keep, bad


def _decoded(paths, labels, load, cache):
    """(dataset of `load(path, label)` over the readable files, how many there are).

    Files whose header cannot be read are dropped with one warning; a decode error
    mid-epoch drops its sample (logged) instead of ending training."""
    from flower_edge.tfcompat import tf

    t = tf()
    label_of = dict(zip(map(str, paths), labels))
    keep, bad = _readable(paths)
    warn_unreadable(bad)
    ys = [label_of[p] for p in keep]
    ds = t.data.Dataset.from_tensor_slices((t.constant(keep, t.string), t.constant(ys, t.int32)))
    # Our map functions are graph-safe already; autograph would only trip over
    # tfcompat's os.environ calls.
    ds = ds.map(t.autograph.experimental.do_not_convert(load), num_parallel_calls=t.data.AUTOTUNE,
                deterministic=True).ignore_errors(log_warning=True)
    return (ds.cache() if cache else ds), len(keep)


def make_dataset(paths, labels=None, image_size=224, batch_size=32, training=False,
                 num_classes=None, seed=0, cache=True, one_hot=True, augment=None, zoom=None,
                 mixup=0.0, color=0.0):
    """Batches of (float32 [B,H,W,3] 0..255, labels) for training or evaluation.

    `paths` may be a Split (then labels come from it). Files whose header cannot be read
    are skipped with one warning; decode errors mid-epoch drop the sample (logged), never
    crash. `training` shuffles (reshuffled each epoch, from `seed`) and, unless
    `augment` is False, augments (`zoom`: see augment_batch; `color` > 0: the strength of
    data.photometric.color_jitter; `mixup` > 0: Beta alpha of data.mixing.mixup_batch,
    one-hot labels only).
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
    size = size_hw(image_size)

    def load(path, y):
        image = decode_eval(path, size)  # uint8: caches compactly
        return image, (t.one_hot(y, num_classes, dtype=t.float32) if one_hot else y)

    ds, kept = _decoded(paths, labels, load, cache)
    if training:
        ds = ds.shuffle(min(max(kept, 1), 4096), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size).map(t.autograph.experimental.do_not_convert(
        lambda x, y: (t.cast(x, t.float32), y)))
    if training and augment is not False:
        seeds = t.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
        ds = t.data.Dataset.zip((ds, seeds)).map(
            t.autograph.experimental.do_not_convert(lambda xy, s: (augment_batch(xy[0], s, zoom), xy[1])),
            num_parallel_calls=t.data.AUTOTUNE)
    if training and augment is not False and color > 0:
        from flower_edge.data.photometric import color_jitter

        seeds = t.data.Dataset.random(seed=seed + 2, rerandomize_each_iteration=True).batch(2)
        ds = t.data.Dataset.zip((ds, seeds)).map(t.autograph.experimental.do_not_convert(
            lambda xy, s: (color_jitter(xy[0], s, color), xy[1])), num_parallel_calls=t.data.AUTOTUNE)
    if training and mixup > 0 and one_hot:
        from flower_edge.data.mixing import mixup_batch

        seeds = t.data.Dataset.random(seed=seed + 1, rerandomize_each_iteration=True).batch(2)
        ds = t.data.Dataset.zip((ds, seeds)).map(t.autograph.experimental.do_not_convert(
            lambda xy, s: mixup_batch(xy[0], xy[1], s, mixup)), num_parallel_calls=t.data.AUTOTUNE)
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
    h, w = size_hw(size)
    out = np.empty((len(paths), h, w, 3), dtype=np.uint8)
    for i, p in enumerate(items):
        out[i] = load_for_model(os.fspath(p), (h, w))
    return out


def make_view_pairs(paths, labels, sizes, batch_size=32, num_classes=None, seed=0, cache=True,
                    augment=True, zoom=None, mixup=0.0, color=0.0):
    """Training batches of ((float32 view at sizes[0], float32 view at sizes[1]), one-hot).

    Both sizes are decoded by the runtime's own loader from the same file, and one
    augmentation draw warps both: `augment_batch` (zoom, rotation and flip about the
    centre), `color_jitter` and `mixup_batch` are size-free and seeded, so the two are the
    same view at two resolutions, mixed with the same partner. Distillation
    feeds the first to the student and the second to the teacher. A label below 0 means
    unlabeled: its one-hot row is all zeros.
    """
    from flower_edge.tfcompat import tf

    t = tf()
    a, b = size_hw(sizes[0]), size_hw(sizes[1])

    def load(path, y):
        return (decode_eval(path, a), decode_eval(path, b)), t.one_hot(y, num_classes, dtype=t.float32)

    ds, kept = _decoded(paths, [int(y) for y in labels], load, cache)
    ds = ds.shuffle(min(max(kept, 1), 4096), seed=seed, reshuffle_each_iteration=True).batch(batch_size)
    seeds = t.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)

    def warp(xy, s):
        (x1, x2), y = xy
        x1, x2 = t.cast(x1, t.float32), t.cast(x2, t.float32)
        if augment:
            x1, x2 = augment_batch(x1, s, zoom), augment_batch(x2, s, zoom)
        if augment and color > 0:
            from flower_edge.data.photometric import color_jitter

            x1, x2 = color_jitter(x1, s, color), color_jitter(x2, s, color)
        if mixup > 0:
            from flower_edge.data.mixing import mixup_batch

            (x1, y), (x2, _) = mixup_batch(x1, y, s, mixup), mixup_batch(x2, y, s, mixup)
        return (x1, x2), y

    return t.data.Dataset.zip((ds, seeds)).map(t.autograph.experimental.do_not_convert(warp),
                                                num_parallel_calls=t.data.AUTOTUNE)
