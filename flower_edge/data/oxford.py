"""The Oxford 102 Category Flower Dataset in its published layout.

`jpg/image_%05d.jpg`, `imagelabels.mat` (labels 1..102) and `setid.mat` (trnid,
valid, tstid: 1020/1020/6149 one-based image ids).

Class order: index i is official class id i+1, named from the bundled
`oxford102_names.json`. We keep the id order rather than sorting the names
alphabetically because the ids ARE the dataset's stable, published order: it is
what papers, TFDS (`oxford_flowers102`) and pretrained Oxford-102 heads use, so
label k means the same flower everywhere; a name sort would silently remap them.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path

from flower_edge.data.splits import DataSplits, Split
from flower_edge.errors import DataError

SPLIT_KEYS = {"train": "trnid", "val": "valid", "test": "tstid"}
NUM_CLASSES = 102


@lru_cache(maxsize=1)
def oxford102_names() -> tuple[str, ...]:
    """The 102 common names; position i is official class id i+1."""
    text = resources.files("flower_edge.data").joinpath("oxford102_names.json").read_text("utf-8")
    return tuple(json.loads(text))


def read_mat(path: Path, keys: tuple[str, ...]) -> dict:
    """Load named 1-D integer arrays from a MATLAB file, with one-line errors."""
    try:
        import scipy.io
    except ImportError:
        raise DataError("reading Oxford 102 .mat files needs scipy: pip install scipy "
                        "(or pip install 'flower-edge[train]')") from None
    if not path.is_file():
        raise DataError(f"missing {path.name} in {path.parent}: download it with "
                        f"`flower-edge data fetch oxford102 --out {path.parent}`")
    try:
        mat = scipy.io.loadmat(str(path))
    except Exception as exc:  # noqa: BLE001  (scipy raises many types for a bad file)
        raise DataError(f"{path} is not a readable MATLAB file ({type(exc).__name__}); "
                        f"re-download it with `flower-edge data fetch oxford102`") from None
    missing = [k for k in keys if k not in mat]
    if missing:
        found = sorted(k for k in mat if not k.startswith("__"))
        raise DataError(f"{path.name} lacks key(s) {', '.join(missing)} (found: "
                        f"{', '.join(found) or 'none'}); it is not the official Oxford 102 file, "
                        f"re-download it with `flower-edge data fetch oxford102`")
    return {k: mat[k].reshape(-1).astype(int) for k in keys}


def load_oxford102(root: Path, seed: int = 0) -> DataSplits:
    """The official Oxford 102 split with labels 0..101 (= imagelabels.mat - 1)."""
    root = Path(root)
    labels = read_mat(root / "imagelabels.mat", ("labels",))["labels"]
    ids = read_mat(root / "setid.mat", tuple(SPLIT_KEYS.values()))
    if labels.min() < 1 or labels.max() > NUM_CLASSES:
        raise DataError(f"imagelabels.mat has labels outside 1..{NUM_CLASSES}; re-download it with "
                        f"`flower-edge data fetch oxford102`")
    splits = {}
    for split, key in SPLIT_KEYS.items():
        index = ids[key]
        if index.min() < 1 or index.max() > len(labels):
            raise DataError(f"setid.mat '{key}' refers to images outside 1..{len(labels)}; "
                            f"imagelabels.mat and setid.mat do not match, re-download both")
        paths = tuple(str(root / "jpg" / f"image_{i:05d}.jpg") for i in index)
        splits[split] = Split(split, paths, tuple(int(labels[i - 1]) - 1 for i in index))
    first_missing = next((p for s in splits.values() for p in s.paths if not Path(p).is_file()), None)
    if first_missing is not None:
        raise DataError(f"Oxford 102 image missing: {first_missing}; extract 102flowers.tgz into "
                        f"{root} (or run `flower-edge data fetch oxford102 --out {root}`)")
    return DataSplits(source="oxford102", root=str(root), classes=oxford102_names(), seed=seed,
                      **splits)
