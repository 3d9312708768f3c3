"""report/index.md (+ index.html): one page that ties a run together.

Every picture is copied into or already lives under report/ and is linked
relative, so the report folder can be zipped and shared on its own. A missing
piece (no exports, no benchmark yet) is said in the page, never a crash.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from flower_edge.guard import adding_to, public_path, run_data
from flower_edge.io import atomic_write_text
from flower_edge.report import sections
from flower_edge.report.html import to_html
from flower_edge.rundir import RunDir

TRAINING_PICTURES = ("curves.png", "confusion.png", "predictions.png")


def build_report(run_dir: str | os.PathLike) -> Path:
    """Write RUN_DIR/report/index.md and index.html; returns the index.md path."""
    run = RunDir(Path(run_dir))
    run.require_model()
    with adding_to(run.report, "report", "report folder", inside_run=run.path,
                   data=run_data(run.path)):
        return _build(run, run.report)


def _build(run: RunDir, report: Path) -> Path:
    pictures = _copy_training_pictures(run)
    bench = _read_json(report / "benchmark.json")
    parts = [
        sections.header(run, _read_json(run.metrics)),
        sections.data_summary(run),
        sections.training(run, _read_json(run.metrics), pictures),
        sections.exports(run, _read_json(run.export / "quantize.json")),
        sections.benchmark(run, bench),
        sections.explanations(run, bench),
    ]
    text = "\n".join(parts).rstrip() + "\n"
    atomic_write_text(report / "index.md", text)
    atomic_write_text(report / "index.html", to_html(text, title=f"flower-edge report: {public_path(run.path).name}"))
    return report / "index.md"


def _copy_training_pictures(run: RunDir) -> dict[str, str]:
    """Copy train's PNGs into report/training/; returns {name: link relative to report/}."""
    out = {}
    for name in TRAINING_PICTURES:
        src = run.path / name
        if src.is_file():
            dest = run.report / "training" / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)
            out[name] = f"training/{name}"
    return out


def _read_json(path: Path) -> dict | None:
    """The file's JSON, or None when it is missing or unreadable (the page says so)."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
