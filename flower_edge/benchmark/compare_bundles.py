"""Bundles in `flower-edge compare`: a bundle folder, or someone else's bare .tflite
classifier with TFLite metadata (a MediaPipe Model Maker export), set beside runs.

A run brings its report/benchmark.json. A bundle has no report, so compare scores it
here, TF-free, on the runs' own photo set: the same folder and, when the runs scored a
seeded subset (--max-images), the same subset; the fingerprint check in compare.py then
proves the photos are the same. With only bundles, --eval-data names the folder.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from flower_edge.benchmark.config import BenchmarkConfig
from flower_edge.errors import UsageError


def eval_folder(benches: dict[str, dict], eval_data: str | os.PathLike | None) -> tuple[str, int]:
    """(folder, max_images) to score bundles on: --eval-data, else the runs' folder."""
    sets = [b.get("image_set") or {} for b in benches.values()]
    count = max((s.get("images", 0) for s in sets), default=0)  # the runs' subset size (checked later)
    if eval_data is not None:
        return str(eval_data), count
    folders = {s.get("name") for s in sets if s.get("kind") == "folder"}
    if not sets:
        raise UsageError("compare scores a BUNDLE on labelled photos: pass --eval-data DIR (one "
                         "sub-folder per class, named as the bundle's labels)")
    if len(folders) != 1 or any(s.get("kind") != "folder" for s in sets):
        raise UsageError("the runs were not all scored on one --eval-data folder, so a BUNDLE cannot be "
                         "scored on the same photos: re-run 'flower-edge benchmark RUN --eval-data DIR' on "
                         "each run, or pass --eval-data DIR")
    folder = folders.pop()
    if not Path(folder).is_dir():
        raise UsageError(f"the runs were scored on {folder}, which is not a folder here: pass "
                         f"--eval-data DIR (the same photos) to score the BUNDLE on")
    return folder, count


def bundle_benchmarks(bundles: dict[str, Path], run_benches: dict[str, dict],
                      eval_data: str | os.PathLike | None, threads: int) -> dict[str, dict]:
    """{name: benchmark.json-shaped dict} for each bundle, scored here and timed at `threads`."""
    from flower_edge.benchmark.target import benchmark_bundle

    if not bundles:
        return {}
    folder, count = eval_folder(run_benches, eval_data)
    cfg = replace(BenchmarkConfig(), eval_data=folder, threads=(threads,), max_images=count)
    return {name: benchmark_bundle(path, cfg).as_benchmark() for name, path in bundles.items()}
