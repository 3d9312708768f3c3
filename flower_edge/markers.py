"""What flower-edge made: the `.flower-edge` marker every output folder carries (kind and
version), and how folders made before markers existed are still recognised by their
contents. guard.py decides from these what a command may replace.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from flower_edge.errors import UsageError

MARKER = ".flower-edge"
# What `train`/`pipeline` write at the top of a run: a folder holding only these (and
# config.toml + split.json) is a run made before runs carried the marker.
RUN_ENTRIES = frozenset({
    MARKER, "model.keras", "labels.txt", "config.toml", "split.json", "history.csv", "metrics.json",
    "checkpoints", "logs", "export", "report", ".stages", "curves.png", "confusion.png",
    "predictions.png", "lr_find.png", "lr_find.csv", "lr_find.json", "backup"})


def write_marker(folder: Path, kind: str) -> None:
    """Mark `folder` as flower-edge's (the first file written into it)."""
    from flower_edge import __version__
    from flower_edge.io import atomic_write_json

    atomic_write_json(Path(folder) / MARKER, {"tool": "flower-edge", "kind": kind,
                                              "version": __version__})


def read_marker(folder: Path) -> dict | None:
    try:
        data = json.loads((Path(folder) / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("tool") == "flower-edge" else None


def is_kind(folder: Path, kind: str) -> bool:
    """True for a folder flower-edge made as `kind` (folders made before markers existed
    count when their contents are exactly what flower-edge writes there)."""
    marker = read_marker(folder)
    if marker is not None:
        return marker.get("kind") == kind
    legacy = _LEGACY.get(kind)
    if legacy is None:
        return False
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return False
    return legacy(entries)


def run_or_bundle(path: str | os.PathLike) -> str:
    """"bundle" or "run", for a command's RUN_OR_BUNDLE: a bundle folder by its marker (or,
    made before markers, by its manifest), a .tflite (a bundle's own, or a bare classifier
    with TFLite metadata); any other folder is a run, whose own checks name what it lacks."""
    path = Path(path)
    if path.is_file():
        if path.suffix.lower() == ".tflite" or path.name == "manifest.json":
            return "bundle"
        raise UsageError(f"{path} is a file, not a run or a bundle: pass a run folder (from 'flower-edge "
                         f"train'), a bundle folder (from 'flower-edge quantize') or a .tflite")
    if is_kind(path, "bundle") or (path / "manifest.json").is_file():
        return "bundle"
    return "run"


def is_model_temp(name: str) -> bool:
    """evaluate.save_model's temp file, left behind only by a kill."""
    return name.startswith(".model.") and name.endswith(".keras")


def _legacy_run(entries: list[Path]) -> bool:
    """Only what `train` writes, and its commit file: every run made before markers
    finished an epoch (a run that did not was removed), so checkpoints/state.json names
    a phase and an epoch. A user's own config.toml + split.json + model.keras is not a run."""
    names = {p.name for p in entries if not is_model_temp(p.name)}
    if not ({"config.toml", "split.json", "checkpoints"} <= names and names <= RUN_ENTRIES):
        return False
    folder = next(p for p in entries if p.name == "checkpoints")
    try:
        state = json.loads((folder / "state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(state, dict) and {"epoch", "phase", "checkpoint"} <= state.keys()


def _legacy_export(entries: list[Path]) -> bool:
    """RUN/export before markers: bundles and quantize's own reports, nothing else."""
    own = {"quantize.json", "quantize.md", "quantize.toml", "convert.log", "debug"}
    return all(p.name in own or (p.is_dir() and is_kind(p, "bundle")) for p in entries)


def _legacy_bundle(entries: list[Path]) -> bool:
    names = {p.name for p in entries}
    return "manifest.json" in names and names <= {"manifest.json", "model.tflite", "labels.txt"}


def _legacy_synthetic(entries: list[Path]) -> bool:
    """synthetic.json and class folders holding only `data synth`'s own <class>_NNNN.png."""
    def own_pictures(folder: Path) -> bool:
        pattern = re.compile(rf"{re.escape(folder.name)}_\d{{4}}\.png")
        return all(f.is_file() and pattern.fullmatch(f.name) for f in folder.iterdir())

    return any(p.name == "synthetic.json" for p in entries) and all(
        p.is_dir() and own_pictures(p) for p in entries if p.name != "synthetic.json")


def _legacy_demo(entries: list[Path]) -> bool:
    """`demo --out` before markers: its synthetic data/ and its run/, nothing else."""
    kinds = {"data": "synthetic", "run": "run"}
    return all(p.name in kinds and is_kind(p, kinds[p.name]) for p in entries)


def _legacy_pictures(entries: list[Path]) -> bool:
    return all(p.is_file() and p.suffix == ".png" for p in entries)


_LEGACY = {"run": _legacy_run, "bundle": _legacy_bundle, "synthetic": _legacy_synthetic,
           "gradcam": _legacy_pictures, "export": _legacy_export, "demo": _legacy_demo}
