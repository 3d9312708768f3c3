"""The split contract every stage reads: classes plus train/val/test file lists."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from flower_edge.errors import DataError
from flower_edge.io import atomic_write_json

SplitName = Literal["train", "val", "test"]  # benchmark --split reads it
SPLIT_NAMES: tuple[str, ...] = get_args(SplitName)


@dataclass(frozen=True)
class Split:
    """One split: absolute image paths and integer labels (indices into classes)."""

    name: str
    paths: tuple[str, ...]
    labels: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.paths)


@dataclass(frozen=True)
class DataSplits:
    """A dataset resolved into its three splits, with sorted, stable class names."""

    source: str
    root: str
    classes: tuple[str, ...]
    train: Split
    val: Split
    test: Split
    seed: int = 0

    def split(self, name: str) -> Split:
        if name not in SPLIT_NAMES:
            raise DataError(f"unknown split '{name}' (use one of {', '.join(SPLIT_NAMES)})")
        return getattr(self, name)

    def counts(self) -> dict[str, int]:
        return {name: len(self.split(name)) for name in SPLIT_NAMES}

    def to_json(self) -> dict:
        """Paths are stored relative to `root`, so a moved dataset can be re-rooted."""
        root = Path(self.root)
        out = {"source": self.source, "root": str(root), "seed": self.seed,
               "classes": list(self.classes), "splits": {}}
        for name in SPLIT_NAMES:
            s = self.split(name)
            out["splits"][name] = [[os.path.relpath(p, root), int(y)] for p, y in zip(s.paths, s.labels)]
        return out

    def save(self, path: str | os.PathLike) -> None:
        atomic_write_json(path, self.to_json())

    @classmethod
    def from_json(cls, data: dict, root: str | None = None) -> DataSplits:
        base = Path(root or data["root"])
        splits = {}
        for name in SPLIT_NAMES:
            rows = data["splits"].get(name, [])
            splits[name] = Split(name, tuple(str(base / p) for p, _ in rows), tuple(int(y) for _, y in rows))
        return cls(source=data["source"], root=str(base), classes=tuple(data["classes"]),
                   seed=int(data.get("seed", 0)), **splits)

    @classmethod
    def load(cls, path: str | os.PathLike, root: str | None = None) -> DataSplits:
        """Read split.json; `root` re-roots the relative paths (data moved)."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DataError(f"cannot read split file {path}: {exc}") from None
        return cls.from_json(data, root)
