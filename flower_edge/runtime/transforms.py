"""The eval transform in Pillow + numpy: what the Pi runtime, training, calibration,
evaluation and explain all see (the TF training pipeline runs this same function).

Read the file, decode at the size needed (JPEG: libjpeg's DCT-domain downscale via
`Image.draft`; other formats: `reduce()` inside `resize`), turn it upright by its EXIF
orientation, resize so the shorter side equals the target (bilinear), center-crop.
"""

from __future__ import annotations

import os

import numpy as np

from flower_edge.errors import DataError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")

# Decode at least DRAFT x the resized size; None decodes every pixel. 2.0, by
# benchmarks/bench_draft_agreement.py on 12 MP and 1080p photos: 4x faster than the full
# decode at 12 MP with the same accuracy (within 0.4 pp); 1.0 (the smallest scale
# covering the target) is 5x faster but loses ~2 pp of accuracy: its extra blur.
DRAFT: float | None = 2.0
ORIENTATION = 0x0112  # the EXIF tag
# EXIF orientation -> Image.Transpose value, the table of ImageOps.exif_transpose. It is
# applied by hand after a scaled decode because the decoded region (box) must follow it.
_TRANSPOSE = {2: 0, 3: 3, 4: 1, 5: 5, 6: 4, 7: 6, 8: 2}
_SWAPS_AXES = (5, 6, 7, 8)


def size_hw(size) -> tuple[int, int]:
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


def resized_size(w: int, h: int, size) -> tuple[int, int]:
    """(new_w, new_h): a w x h image resized so its shorter side covers `size` (h, w)."""
    height, width = size_hw(size)
    scale = max(width / w, height / h)
    return max(width, round(w * scale)), max(height, round(h * scale))


def _map_box(box, method: int, w: int, h: int):
    """Where `box` of a w x h image lands after Image.transpose(method)."""
    point = {0: lambda x, y: (w - x, y), 1: lambda x, y: (x, h - y), 3: lambda x, y: (w - x, h - y),
             2: lambda x, y: (y, w - x), 4: lambda x, y: (h - y, x), 5: lambda x, y: (y, x),
             6: lambda x, y: (h - y, w - x)}[method]
    (ax, ay), (bx, by) = point(box[0], box[1]), point(box[2], box[3])
    return min(ax, bx), min(ay, by), max(ax, bx), max(ay, by)


def _flatten(img):
    """Any mode to RGB; transparency is composited on white (what a viewer shows)."""
    from PIL import Image

    if img.mode == "RGB":
        return img
    if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
        img = img.convert("RGBA")
        img = Image.alpha_composite(Image.new("RGBA", img.size, (255, 255, 255, 255)), img)
    return img.convert("RGB")


def _orientation(img) -> int:
    """The EXIF orientation (1 = upright); a damaged EXIF block reads as upright."""
    try:
        value = img.getexif().get(ORIENTATION, 1)
    except Exception:  # noqa: BLE001  (cameras write odd EXIF; the pixels are still good)
        return 1
    return value if value in _TRANSPOSE else 1


def _decode(path, size, draft):
    from PIL import Image

    with Image.open(path) as img:
        orientation = _orientation(img)
        swap = orientation in _SWAPS_AXES
        full = img.size[::-1] if swap else img.size
        box = None
        if size is not None and draft is not None and img.format in ("JPEG", "MPO") and min(full) >= 2:
            need = [max(1, round(v * draft)) for v in resized_size(*full, size)]
            scaled = img.draft(None, tuple(need[::-1] if swap else need))
            box = scaled[1] if scaled else None
        img.load()
        out = _flatten(img)
    method = _TRANSPOSE.get(orientation)
    if method is not None:
        box = _map_box(box, method, *out.size) if box is not None else None
        out = out.transpose(method)
    return out, full, box


def unreadable_reason(exc: BaseException, path) -> str:
    """Pillow's message without the path it repeats (the caller's message names the file)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    for name in {str(path), str(getattr(exc, "filename", "") or str(path))}:
        text = text.replace(f"'{name}'", "").replace(name, "")
    return text.strip(" :") or type(exc).__name__


def load_rgb(path: str | os.PathLike):
    """An image file as an upright RGB PIL image at full resolution; one-line DataError if unreadable."""
    return decode_image(path, None, None)[0]


def decode_image(path: str | os.PathLike, size=None, draft: float | None = DRAFT):
    """An image file as an upright RGB PIL image; one-line DataError if unreadable.

    With a target `size` (and `draft`), a JPEG is decoded at the smallest libjpeg scale
    (1/2, 1/4, 1/8) still >= draft x the resized size. Returns (image, full, box): the
    upright full-resolution size and the region of `image` that holds the whole photo
    (a scaled decode pads the last block), so `eval_transform` crops the same window.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        img, full, box = _decode(path, size, draft)
    except FileNotFoundError:
        raise DataError(f"image not found: {path} (check the path)") from None
    except Image.DecompressionBombError as exc:  # one bad file is skipped like any other
        raise DataError(f"image too large: {path} ({unreadable_reason(exc, path)}); use a smaller "
                        f"copy of it") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise DataError(f"not a readable image: {path} ({unreadable_reason(exc, path)}); remove or "
                        f"replace the file") from None
    if min(full) < 2:
        raise DataError(f"image too small: {path} is {full[0]}x{full[1]} px; use images of at least 2x2 px")
    return img, full, box


def eval_transform(img, size, draft: float | None = DRAFT, full=None, box=None) -> np.ndarray:
    """Resize the shorter side to the target (bilinear), center-crop: HxWx3 uint8.

    `full`/`box` come from `decode_image` after a scaled decode; with `draft`, a large image
    is first shrunk by an integer factor (box average, Image.reduce) down to no less
    than draft x the resized size.
    """
    from PIL import Image

    height, width = size_hw(size)
    new_w, new_h = resized_size(*(full or img.size), size)
    img = img.resize((new_w, new_h), Image.BILINEAR, box=box, reducing_gap=draft)
    left, top = (new_w - width) // 2, (new_h - height) // 2
    return np.asarray(img.crop((left, top, left + width, top + height)), dtype=np.uint8)


def load_for_model(path: str | os.PathLike, size, draft: float | None = DRAFT) -> np.ndarray:
    """Read an image file, upright, and apply the eval transform: HxWx3 uint8."""
    img, full, box = decode_image(path, size, draft)
    return eval_transform(img, size, draft, full, box)
