"""Find unreadable images BEFORE training (Pillow only, no TF), and drop them with one warning."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from flower_edge.data.splits import SPLIT_NAMES, DataSplits
from flower_edge.errors import DataError
from flower_edge.runtime.transforms import unreadable_reason

# Decoding at a reduced JPEG scale (Pillow's draft mode) still reads every byte, so
# truncated files are caught, but it is several times faster on full-size photos.
_DRAFT = (64, 64)


@dataclass(frozen=True)
class ImageInfo:
    """What a readable image is: size (w, h), format and mode."""

    path: str
    width: int
    height: int
    format: str
    mode: str


def probe_image(path: str | os.PathLike) -> ImageInfo:
    """Fully decode an image with Pillow (fast draft mode); DataError says why it is unusable."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            info = ImageInfo(str(path), img.size[0], img.size[1], img.format or "?", img.mode)
            if min(img.size) < 2:
                raise DataError(f"image too small: {path} is {img.size[0]}x{img.size[1]} px; "
                                f"use images of at least 2x2 px")
            img.draft("RGB", _DRAFT)
            img.load()
            img.convert("RGB")
    except FileNotFoundError:
        raise DataError(f"image not found: {path} (check the path)") from None
    except DataError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise DataError(f"not a readable image: {path} ({unreadable_reason(exc, path)}); remove or replace "
                        f"the file") from None
    except Image.DecompressionBombError as exc:
        raise DataError(f"image too large: {path} ({exc})") from None
    return info


def scan_images(paths, show_progress: bool = False) -> tuple[list[str], list[tuple[str, str]]]:
    """Split `paths` into (readable, bad) where bad is [(path, reason)], in input order."""
    readable, bad = [], []
    items = list(paths)
    if show_progress and len(items) > 200:
        from flower_edge.progress import progress

        items = progress(items, "checking images", length=len(items))
    for path in items:
        try:
            probe_image(path)
            readable.append(str(path))
        except DataError as exc:
            bad.append((str(path), str(exc)))
    return readable, bad


def warn_unreadable(bad: list[tuple[str, str]], limit: int = 20) -> None:
    """ONE warning on stderr listing the skipped files (the first `limit` of them)."""
    if not bad:
        return
    names = ", ".join(Path(p).name for p, _ in bad[:limit])
    more = f" and {len(bad) - limit} more" if len(bad) > limit else ""
    print(f"warning: skipping {len(bad)} unreadable image(s): {names}{more} "
          f"(run `flower-edge data inspect` for the reasons)", file=sys.stderr)


def drop_unreadable(splits: DataSplits, warn: bool = True,
                    show_progress: bool = True) -> tuple[DataSplits, list[tuple[str, str]]]:
    """Scan every split, remove unreadable files, warn once; error if a split's class empties."""
    all_paths = [p for name in SPLIT_NAMES for p in splits.split(name).paths]
    _, bad = scan_images(all_paths, show_progress=show_progress)
    if not bad:
        return splits, []
    bad_set = {p for p, _ in bad}
    new = {}
    for name in SPLIT_NAMES:
        s = splits.split(name)
        keep = [(p, y) for p, y in zip(s.paths, s.labels) if p not in bad_set]
        new[name] = replace(s, paths=tuple(p for p, _ in keep), labels=tuple(y for _, y in keep))
    if not new["train"].paths:
        raise DataError(f"no readable training images in {splits.root} ({len(bad)} unreadable); "
                        f"run `flower-edge data inspect {splits.root}` to see why")
    if warn:
        warn_unreadable(bad)
    return replace(splits, **new), bad
