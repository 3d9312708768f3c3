"""The eval transform in Pillow + numpy: the one the Pi runtime uses.

Resize so the shorter side equals the target, then center-crop. The TF pipeline
(`flower_edge.data.pipeline`) implements the same transform with tf.image ops;
a test checks the two agree on real photos.
"""

from __future__ import annotations

import os

import numpy as np

from flower_edge.errors import DataError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")


def load_rgb(path: str | os.PathLike):
    """Open any supported image as an RGB PIL image, with a one-line error if unreadable."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.load()
            if img.mode != "RGB":
                if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
                    img = img.convert("RGBA")
                    background = Image.new("RGBA", img.size, (255, 255, 255, 255))
                    img = Image.alpha_composite(background, img)
                img = img.convert("RGB")
            else:
                img = img.copy()
    except FileNotFoundError:
        raise DataError(f"image not found: {path} (check the path)") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise DataError(f"not a readable image: {path} ({exc}); remove or replace the file") from None
    if min(img.size) < 2:
        raise DataError(f"image too small: {path} is {img.size[0]}x{img.size[1]} px; use images of at least 2x2 px")
    return img


def eval_transform(img, size: int | tuple[int, int]) -> np.ndarray:
    """Resize the shorter side to the target, center-crop; return HxWx3 uint8."""
    from PIL import Image

    height, width = (size, size) if isinstance(size, int) else size
    w, h = img.size
    scale = max(width / w, height / h)
    new_w, new_h = max(width, round(w * scale)), max(height, round(h * scale))
    img = img.resize((new_w, new_h), Image.BILINEAR)
    left, top = (new_w - width) // 2, (new_h - height) // 2
    img = img.crop((left, top, left + width, top + height))
    return np.asarray(img, dtype=np.uint8)


def load_for_model(path: str | os.PathLike, size: int | tuple[int, int]) -> np.ndarray:
    """Read an image file and apply the eval transform: HxWx3 uint8."""
    return eval_transform(load_rgb(path), size)
