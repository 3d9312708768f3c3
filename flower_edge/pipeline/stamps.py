"""Up-to-date checks for pipeline stages: a stamp per stage records a fingerprint
of the stage's config and input files; a stage whose stamp matches and whose
outputs exist is skipped."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Iterable

from flower_edge.io import atomic_write_json

STAMP_DIR = ".stages"


def file_token(path: Path) -> str:
    """A cheap identity of a file or folder tree: names, sizes and mtimes."""
    path = Path(path)
    if path.is_file():
        st = path.stat()
        return f"{path.name}:{st.st_size}:{st.st_mtime_ns}"
    if path.is_dir():
        parts = []
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(files):
                full = Path(root) / name
                st = full.stat()
                parts.append(f"{full.relative_to(path)}:{st.st_size}:{st.st_mtime_ns}")
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()
    return f"{path.name}:missing"


def fingerprint(config: dict, inputs: Iterable[Path]) -> str:
    """sha256 over the stage's config and the identity of each input."""
    digest = hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode())
    for path in inputs:
        digest.update(file_token(Path(path)).encode())
    return digest.hexdigest()


def _stamp(run: Path, stage: str) -> Path:
    return Path(run) / STAMP_DIR / f"{stage}.json"


def is_fresh(run: Path, stage: str, fp: str, outputs: Iterable[Path]) -> bool:
    """True when the stage last finished with this fingerprint and its outputs exist."""
    stamp = _stamp(run, stage)
    try:
        recorded = json.loads(stamp.read_text())["fingerprint"]
    except (OSError, ValueError, KeyError):
        return False
    return recorded == fp and all(Path(p).exists() for p in outputs)


def mark_done(run: Path, stage: str, fp: str) -> None:
    """Record that the stage finished with this fingerprint."""
    atomic_write_json(_stamp(run, stage), {"stage": stage, "fingerprint": fp})


def clear(run: Path, stage: str) -> None:
    """Forget a stage's stamp (it reruns next time)."""
    _stamp(run, stage).unlink(missing_ok=True)
