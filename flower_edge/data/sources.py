"""Resolve a dataset path into `DataSplits`: auto-detects oxford102, synthetic or folder.

No TensorFlow here; `scipy` is imported lazily, only for Oxford's .mat files.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Literal, get_args

from flower_edge.data.splits import DataSplits, Split
from flower_edge.errors import DataError, UsageError
from flower_edge.runtime.transforms import IMAGE_EXTENSIONS

# A dataset's layout; None (not a member) = detect it. The CLI's --source choices come from here.
Source = Literal["folder", "oxford102", "synthetic"]
SOURCES = get_args(Source)
SYNTHETIC_MARKER = "synthetic.json"
# Accepted names for the validation folder of a pre-split dataset, in preference order.
VAL_DIRS = ("valid", "val", "validation")


def is_image_file(path: Path) -> bool:
    """True for a visible file with a supported image extension (case-insensitive)."""
    return path.is_file() and not path.name.startswith(".") and path.suffix.lower() in IMAGE_EXTENSIONS


def class_dirs(path: Path) -> list[Path]:
    """Visible sub-folders of `path`, sorted by name (the stable class order)."""
    return sorted((p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")),
                  key=lambda p: p.name)


def list_images(folder: Path) -> list[Path]:
    """Every image file under `folder` (recursively), in a stable sorted order."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found.extend(Path(dirpath) / f for f in filenames
                     if not f.startswith(".") and Path(f).suffix.lower() in IMAGE_EXTENSIONS)
    return sorted(found)


def detect_source(path: str | os.PathLike) -> str:
    """Name the source a dataset folder looks like: oxford102, synthetic or folder."""
    root = _existing_dir(path)
    if (root / "imagelabels.mat").exists() or (root / "setid.mat").exists():
        return "oxford102"
    if (root / "jpg").is_dir() and (root / "jpg" / "image_00001.jpg").exists():
        return "oxford102"
    if (root / SYNTHETIC_MARKER).is_file():
        return "synthetic"
    return "folder"


def load_data(path: str | os.PathLike, source: str | None = None, seed: int = 0,
              fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)) -> DataSplits:
    """Read a dataset into train/val/test splits.

    `source` None auto-detects. Folder sets with train/ valid|val/ test/ are used as
    given; otherwise a stratified split is drawn from `seed` (same seed, same split).
    """
    root = _existing_dir(path)
    source = source or detect_source(root)
    if source not in SOURCES:
        raise UsageError(f"unknown data source '{source}'; use one of {', '.join(SOURCES)}")
    if source == "oxford102":
        from flower_edge.data.oxford import load_oxford102

        return load_oxford102(root, seed=seed)
    fractions = check_fractions(fractions)
    presplit = _presplit_dirs(root)
    if presplit is not None:
        return _load_presplit(root, presplit, source, seed)
    classes, per_class = _scan_class_folders(root)
    return _stratified(root, source, classes, per_class, seed, fractions)


def check_fractions(fractions) -> tuple[float, float, float]:
    """Validate train/val/test fractions: three non-negative numbers summing to 1."""
    try:
        values = tuple(float(f) for f in fractions)
    except (TypeError, ValueError):
        values = ()
    if len(values) != 3 or min(values) < 0 or values[0] <= 0 or abs(sum(values) - 1) > 1e-6:
        raise UsageError(f"split fractions must be three numbers train,val,test >= 0 summing to 1 "
                         f"with train > 0 (got {fractions}); e.g. 0.8,0.1,0.1")
    return values


def _existing_dir(path) -> Path:
    root = Path(path).expanduser()
    if not root.exists():
        raise DataError(f"data path does not exist: {root} (check the path, or make a test set "
                        f"with `flower-edge data synth DIR`)")
    if not root.is_dir():
        raise DataError(f"data path is a file, not a folder: {root} (point it at the folder "
                        f"holding one sub-folder per class)")
    return Path(os.path.abspath(root))


def _scan_class_folders(root: Path) -> tuple[list[str], list[list[Path]]]:
    """Sorted class names and their image files; one-line errors for unusable layouts."""
    dirs = class_dirs(root)
    if not dirs:
        loose = [p for p in root.iterdir() if is_image_file(p)]
        hint = f" ({len(loose)} loose images found: move them into class sub-folders)" if loose else ""
        raise DataError(f"no class folders in {root}{hint}; expected one sub-folder per class, "
                        f"e.g. {root}/daisy/*.jpg")
    per_class = [list_images(d) for d in dirs]
    if not any(per_class):
        raise DataError(f"no images (.jpg .jpeg .png .bmp .gif) under {root}; put images in "
                        f"one sub-folder per class")
    for d, images in zip(dirs, per_class):
        if not images:
            raise DataError(f"class folder '{d.name}' in {root} has no images; add images "
                            f"(.jpg .jpeg .png .bmp .gif) or remove the folder")
    if len(dirs) == 1:
        raise DataError(f"only one class folder ('{dirs[0].name}') in {root}; a classifier needs "
                        f"at least 2 (if {dirs[0].name}/ holds the class folders, point at it instead)")
    return [d.name for d in dirs], per_class


def _count(n: int, frac: float) -> int:
    # Any non-zero fraction gets at least one image once a class has 3+, so small
    # classes still appear in every split.
    k = round(n * frac)
    return max(k, 1) if (frac > 0 and n >= 3) else k


def _stratified(root, source, classes, per_class, seed, fractions) -> DataSplits:
    rows = {"train": [], "val": [], "test": []}
    for label, (name, images) in enumerate(zip(classes, per_class)):
        order = sorted(images)
        # A per-class string seed keeps each class's split independent of the others,
        # so adding a class does not reshuffle the rest. str seeds hash with sha512:
        # stable across Python versions and platforms.
        random.Random(f"{seed}:{name}").shuffle(order)
        n_val, n_test = _count(len(order), fractions[1]), _count(len(order), fractions[2])
        if len(order) - n_val - n_test < 1:
            n_val, n_test = 0, 0
        cuts = {"test": order[:n_test], "val": order[n_test:n_test + n_val],
                "train": order[n_test + n_val:]}
        for split, paths in cuts.items():
            rows[split].extend((str(p), label) for p in sorted(paths))
    return _make(source, root, classes, rows, seed)


def _make(source, root, classes, rows, seed) -> DataSplits:
    splits = {name: Split(name, tuple(p for p, _ in r), tuple(y for _, y in r))
              for name, r in rows.items()}
    return DataSplits(source=source, root=str(root), classes=tuple(classes), seed=seed, **splits)


def _presplit_dirs(root: Path) -> dict[str, Path] | None:
    """{'train','val','test'} folders when the dataset is already split, else None."""
    train, test = root / "train", root / "test"
    val = next((root / v for v in VAL_DIRS if (root / v).is_dir()), None)
    present = [p for p in (train, val, test) if p is not None and p.is_dir()]
    if not present:
        return None
    if len(present) < 3:
        missing = [n for n, p in (("train/", train), ("valid/ or val/", val), ("test/", test))
                   if p is None or not p.is_dir()]
        raise DataError(f"{root} looks pre-split but lacks {' and '.join(missing)}; add the missing "
                        f"split folder(s), or use one folder per class to split automatically")
    return {"train": train, "val": val, "test": test}


def _load_presplit(root: Path, dirs: dict[str, Path], source: str, seed: int) -> DataSplits:
    classes, train_images = _scan_class_folders(dirs["train"])
    index = {c: i for i, c in enumerate(classes)}
    rows = {"train": [(str(p), i) for i, imgs in enumerate(train_images) for p in imgs]}
    for split in ("val", "test"):
        rows[split] = []
        for d in class_dirs(dirs[split]):
            if d.name not in index:
                raise DataError(f"class '{d.name}' is in {dirs[split].name}/ but not in train/; "
                                f"add training images for it or remove the folder")
            rows[split].extend((str(p), index[d.name]) for p in list_images(d))
    return _make(source, root, classes, rows, seed)
