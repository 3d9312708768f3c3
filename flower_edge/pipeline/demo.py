"""`run_demo`: the built-in synthetic flowers through the whole pipeline, offline."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from flower_edge.pipeline.config import DEMO, DEMO_DATA, PipelineConfig
from flower_edge.pipeline.run import PipelineResult, run_pipeline


def demo_data(folder: Path, **overrides) -> Path:
    """OUT/data: the synthetic set, drawn once and reused while its marker says it matches."""
    import json

    from flower_edge.data.synthetic import MARKER, write_synthetic

    spec = {**DEMO_DATA, **overrides}
    marker = folder / MARKER
    if marker.is_file():
        meta = json.loads(marker.read_text(encoding="utf-8"))
        if all(meta.get(k) == spec[k] for k in ("seed", "size", "per_class")) and \
                len(meta.get("classes", [])) == spec["classes"]:
            return folder
    return write_synthetic(folder, show_progress=True, **spec)


def run_demo(out: str = "artifacts/demo", force: bool = False, cfg: PipelineConfig = DEMO,
             data: dict | None = None, echo: Callable[[str], None] | None = None) -> PipelineResult:
    """Draw (or reuse) OUT/data and run the pipeline into OUT/run.

    `cfg` and `data` (write_synthetic arguments) exist so tests can run a smaller demo.
    OUT itself must be new, empty or an earlier demo's (guard.py), as for `pipeline`.
    """
    from flower_edge.guard import NO_DATA, adding_to

    root = Path(out)
    with adding_to(root, "demo", "--out", data=NO_DATA):  # its data is OUT/data, made here
        folder = demo_data(root / "data", **(data or {}))
        cfg = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, path=str(folder)))
        return run_pipeline(cfg, str(root / "run"), force=force, echo=echo)
