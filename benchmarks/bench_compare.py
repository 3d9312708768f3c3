#!/usr/bin/env python
"""Benchmark runs on one common image set, then `flower-edge compare` them under budgets.

Each run gets `flower-edge benchmark RUN --eval-data IMAGES --no-explain` (every bundle in
its export/, the Keras model too), unless its report/benchmark.json was already scored
on the same image set (--rebench to redo it). Then one `compare` over all of them:

    python benchmarks/bench_compare.py artifacts/mnv2-224-new artifacts/kd/a-mnv2-96-kd \\
        --images ../shared/data/flowers5-eval --budget-ms 2 --budget-mb 1.5 --out artifacts/compare
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

from common import cli


def scored_on(run: Path, images: Path) -> bool:
    """Whether the run's benchmark.json was already scored on exactly these images."""
    from flower_edge.benchmark.imageset import fingerprint, labelled_folder

    report = run / "report" / "benchmark.json"
    if not report.is_file():
        return False
    classes = (run / "labels.txt").read_text().split()
    paths, labels = labelled_folder(images, classes)
    image_set = json.loads(report.read_text()).get("image_set") or {}
    return image_set.get("fingerprint") == fingerprint(paths, labels, classes, images)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--images", type=Path, default=Path("../shared/data/flowers5-eval"))
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts to time")
    ap.add_argument("--runs-per-thread", default="100")
    ap.add_argument("--budget-ms", default="2")
    ap.add_argument("--budget-mb", default="1.5")
    ap.add_argument("--compare-threads", default="1")
    ap.add_argument("--out", type=Path, default=Path("artifacts/compare"))
    ap.add_argument("--rebench", action="store_true")
    args = ap.parse_args()
    for run in args.runs:
        if args.rebench or not scored_on(run, args.images):
            print(f"benchmark {run} ...", flush=True)
            threads = [flag for n in args.threads.split(",") for flag in ("--threads", n)]
            subprocess.run(cli("benchmark", run, "--eval-data", args.images, "--no-explain", *threads,
                               "--runs", args.runs_per_thread), check=True, stdout=subprocess.DEVNULL)
    subprocess.run(cli("compare", *args.runs, "--budget-ms", args.budget_ms, "--budget-mb", args.budget_mb,
                       "--threads", args.compare_threads, "--out", args.out), check=True)


if __name__ == "__main__":
    main()
