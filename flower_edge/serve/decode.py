"""Turn an uploaded file into the model's input, refusing what a server must not decode.

The header is read first (Pillow opens lazily), so a decompression bomb or a 1x1
image is refused before any pixel is decoded. The decode itself is the runtime's
own (`load_for_model`), so an upload gets exactly the pixels `predict` would.
"""

from __future__ import annotations

import io

import numpy as np

from flower_edge.errors import DataError, FlowerEdgeError


class Rejected(FlowerEdgeError):
    """An upload the server refuses, with the HTTP status to answer."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class _Upload(io.BytesIO):
    """An in-memory file that reads as its upload name in error messages."""

    def __init__(self, data: bytes, name: str):
        super().__init__(data)
        self.name = name

    def __str__(self) -> str:
        return self.name


def decode_upload(data: bytes, name: str, size: tuple[int, int], max_pixels: int,
                  draft: float | None = None) -> np.ndarray:
    """The model's HxWx3 uint8 input from an uploaded file, or Rejected (415/413/422/400).

    `draft`: the Predictor's own (decode JPEGs at the size needed), so the pixels match `predict`."""
    from PIL import Image, UnidentifiedImageError

    from flower_edge.runtime.transforms import load_for_model

    if not data:
        raise Rejected(400, "empty body; send an image as multipart field 'image' or as the raw body")
    upload = _Upload(data, name)
    try:
        with Image.open(upload) as img:
            width, height = img.size
    except Image.DecompressionBombError as exc:
        raise Rejected(413, f"{name}: {exc}") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise Rejected(415, f"{name} is not an image Pillow can read; send a JPEG, PNG, BMP, GIF or WebP") \
            from None
    if width * height > max_pixels:
        raise Rejected(413, f"{name} is {width}x{height} px ({width * height / 1e6:.1f} MP), over this "
                            f"server's limit of {max_pixels / 1e6:.1f} MP; send a smaller photo or "
                            f"raise --max-megapixels")
    if min(width, height) < 2:
        raise Rejected(422, f"{name} is {width}x{height} px; send an image of at least 2x2 px")
    upload.seek(0)
    try:
        return load_for_model(upload, size, draft)
    except Image.DecompressionBombError as exc:
        raise Rejected(413, f"{name}: {exc}") from None
    except DataError:
        raise Rejected(400, f"{name} is truncated or corrupt (its pixels do not decode); send the "
                            f"whole file again") from None
