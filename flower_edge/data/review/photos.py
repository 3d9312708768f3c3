"""The photos of a data folder as review sees them: path, class, and the run's split."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from flower_edge.data.splits import SPLIT_NAMES
from flower_edge.errors import UsageError


@dataclass(frozen=True)
class Photos:
    """Every readable photo of DATA, sorted by path; labels index `classes`."""

    root: str
    classes: tuple[str, ...]
    paths: tuple[str, ...]  # absolute
    labels: tuple[int, ...]
    splits: tuple[str, ...]  # the run's split of each photo ("" without a run, or not in it)
    unreadable: tuple[tuple[str, str], ...] = ()

    def rel(self, i: int) -> str:
        return os.path.relpath(self.paths[i], self.root)


def list_photos(data: str, run: str | None = None, source: str | None = None) -> Photos:
    """All photos of `data` (every split of its layout), with the run's split when given."""
    from flower_edge.data.scan import scan_images
    from flower_edge.data.sources import load_data

    splits = load_data(data, source, 0, (0.8, 0.1, 0.1))
    rows = sorted((p, y) for name in SPLIT_NAMES for p, y in zip(splits.split(name).paths,
                                                                  splits.split(name).labels))
    readable, bad = scan_images([p for p, _ in rows], show_progress=True)
    keep = set(readable)
    rows = [(p, y) for p, y in rows if p in keep]
    if not rows:
        raise UsageError(f"{data} has no readable photos; pass a folder with one sub-folder per class")
    membership = run_membership(run, splits.root) if run else {}
    return Photos(root=str(splits.root), classes=tuple(splits.classes),
                  paths=tuple(p for p, _ in rows), labels=tuple(int(y) for _, y in rows),
                  splits=tuple(membership.get(os.path.realpath(p), "") for p, _ in rows),
                  unreadable=tuple(bad))


def run_membership(run: str, root: str) -> dict[str, str]:
    """realpath -> split name of the run's split (the one its epoch was chosen on)."""
    from flower_edge.data.splits import DataSplits
    from flower_edge.rundir import RunDir

    path = RunDir(Path(run)).chosen_split()
    if not path.is_file():
        return {}
    splits = DataSplits.load(path)
    return {os.path.realpath(p): name for name in SPLIT_NAMES for p in splits.split(name).paths}


def sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
