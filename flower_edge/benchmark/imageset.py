"""The images accuracy is scored on: a run's split, or a labelled folder shared by many
runs (`benchmark --eval-data DIR`), each with a fingerprint that says "same images".

The fingerprint is sha256 over the sorted lines `relative/path<TAB>class<TAB>sha256(file)`:
- paths relative to the set's root, so the same set copied elsewhere (another machine, a
  Pi, a colleague's checkout) fingerprints the same;
- the class, so a photo moved to another class folder (relabelled) changes it;
- each file's content hash, not its size: a re-encoded or edited photo can keep its size.
  The photos are decoded for scoring anyway, so reading their bytes once more is cheap
  next to the JPEG decode and resize (1,500 photos: well under a second).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from flower_edge.benchmark.rows import ImageSet
from flower_edge.errors import DataError, UsageError
from flower_edge.io import sha256_file


def fingerprint(paths: list[str], labels, classes: list[str], root: str | os.PathLike) -> str:
    """sha256 over the sorted `relpath<TAB>class<TAB>sha256` lines (see the module docstring)."""
    lines = sorted(f"{Path(os.path.relpath(p, root)).as_posix()}\t{classes[int(y)]}\t{sha256_file(p)}"
                   for p, y in zip(paths, labels))
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def subset(count: int, max_images: int, seed: int) -> np.ndarray:
    """Indices of a seeded subset of `count` items (all of them when max_images is 0)."""
    idx = np.arange(count)
    if 0 < max_images < count:
        idx = np.sort(np.random.default_rng(seed).permutation(count)[:max_images])
    return idx


def labelled_folder(folder: str | os.PathLike, classes: list[str], max_images: int = 0,
                    seed: int = 0) -> tuple[list[str], np.ndarray]:
    """(paths, labels) of a folder-per-class set whose class folders are the run's labels.

    Labels index `classes` (the run's labels.txt order), whatever order the folders sort
    in. Unreadable files are skipped with one warning, as training does."""
    from flower_edge.data.scan import scan_images, warn_unreadable
    from flower_edge.data.sources import class_dirs, list_images

    root = Path(folder)
    if not root.is_dir():
        raise DataError(f"--eval-data {folder} is not a folder; pass a folder with one sub-folder "
                        f"per class, e.g. ../shared/data/flowers5-eval")
    found = {d.name: d for d in class_dirs(root)}
    missing = [c for c in classes if c not in found]
    extra = sorted(set(found) - set(classes))
    if missing or extra:
        parts = ([f"no folder for {', '.join(missing)}"] if missing else []) + \
                ([f"folders not in the run's labels: {', '.join(extra)}"] if extra else [])
        raise UsageError(f"--eval-data {folder}: class folders must match the run's labels.txt "
                         f"({', '.join(classes)}): {'; '.join(parts)}; pass a set labelled with "
                         f"the same classes")
    pairs = [(str(p), label) for label, name in enumerate(classes) for p in list_images(found[name])]
    readable, bad = scan_images([p for p, _ in pairs], show_progress=True)
    warn_unreadable(bad)
    keep = set(readable)
    pairs = [(p, y) for p, y in pairs if p in keep]
    if not pairs:
        raise DataError(f"--eval-data {folder} holds no readable images (.jpg .jpeg .png .bmp .gif) "
                        f"in its class folders; add photos to score on")
    idx = subset(len(pairs), max_images, seed)
    return [pairs[i][0] for i in idx], np.asarray([pairs[i][1] for i in idx], dtype=np.int64)


def describe(kind: str, name: str, paths: list[str], labels, classes: list[str],
             root: str | os.PathLike) -> ImageSet:
    """The ImageSet record benchmark.json carries."""
    return ImageSet(kind=kind, name=name, images=len(paths),
                    fingerprint=fingerprint(paths, labels, classes, root))
