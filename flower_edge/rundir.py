"""The run directory: one place that names every file the stages share."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from flower_edge.errors import FlowerEdgeError
from flower_edge.variants import KINDS

DEFAULT_ROOT = Path("artifacts")


@dataclass(frozen=True)
class RunDir:
    """Paths inside `artifacts/<run>/` (or `ROOT/NAME`)."""

    path: Path

    @property
    def model(self) -> Path:
        return self.path / "model.keras"

    @property
    def labels(self) -> Path:
        return self.path / "labels.txt"

    @property
    def config(self) -> Path:
        return self.path / "config.toml"

    @property
    def split(self) -> Path:
        return self.path / "split.json"

    @property
    def history(self) -> Path:
        return self.path / "history.csv"

    @property
    def metrics(self) -> Path:
        return self.path / "metrics.json"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def logs(self) -> Path:
        return self.path / "logs"

    @property
    def export(self) -> Path:
        return self.path / "export"

    @property
    def report(self) -> Path:
        return self.path / "report"

    @property
    def selection(self) -> RunDir:
        """A refit run's first pass (train/refit.py): a run folder of its own."""
        return RunDir(self.path / "selection")

    def chosen_split(self) -> Path:
        """The split the run's epochs were chosen on: the first pass's in a refit run."""
        first = self.selection.split
        return first if first.is_file() else self.split

    def bundle(self, variant: str) -> Path:
        return self.export / variant

    def bundles(self) -> list[Path]:
        """Every exported bundle (a folder with a manifest), largest precision first."""
        if not self.export.is_dir():
            return []
        found = [p for p in self.export.iterdir() if (p / "manifest.json").is_file()]
        return sorted(found, key=lambda p: _variant_rank(p.name))

    def read_labels(self) -> list[str]:
        return read_labels(self.labels)

    def require_model(self) -> RunDir:
        """Raise a one-line error unless this looks like a finished training run."""
        if not self.path.is_dir():
            raise FlowerEdgeError(f"run directory not found: {self.path} (pass a folder written by 'flower-edge train')")
        if not self.model.is_file():
            raise FlowerEdgeError(f"no model.keras in {self.path}: train first with 'flower-edge train --out ...' or pass a finished run")
        return self


def _variant_rank(name: str) -> tuple[int, str]:
    """fp32, fp16, dynamic, int8, then int8-* derivatives, then anything else."""
    base = name.split("-")[0]
    rank = KINDS.index(base) if base in KINDS else len(KINDS)
    return rank, name


def read_labels(path: str | os.PathLike) -> list[str]:
    """One class name per line, in output order."""
    text = Path(path).read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip()]
