#!/usr/bin/env python
"""Float and int8 top-1 and their agreement on a labelled folder, from a run's bundles.

Runs the run's `export/fp32` (the float model) and `export/int8` bundles through the
TF-free runtime, exactly as `flower-edge predict` does, on every photo of a
folder-per-class set, and prints one line per run. Use an evaluation set that no
training or calibration saw (flowers5-eval):

    python benchmarks/eval_bundles.py artifacts/mnv2-224 artifacts/mnv2-224-new \
        --images ../shared/data/flowers5-eval

`--tta flip` scores with test-time augmentation (as `predict --tta flip`); `--variants
fp32,fp16,dynamic,int8` prints each bundle's top-1, agreement with fp32 and size.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from flower_edge.runtime.files import expand_inputs
from flower_edge.runtime.predictor import Predictor


def top1(bundle: Path, paths: list[Path], threads: int, workers: int, tta: str = "none") -> np.ndarray:
    predictor = Predictor(bundle, threads=threads, tta=tta)
    return np.array([row.top[0][0] if row.ok else "" for row in
                     predictor.predict_iter(paths, top_k=1, workers=workers)])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path, help="run folders with export/fp32 and export/int8")
    ap.add_argument("--images", type=Path, default=Path("../shared/data/flowers5-eval"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--variants", default="fp32,int8",
                    help="comma-separated export/ bundles; fp32 must come first (the float reference)")
    ap.add_argument("--tta", choices=["none", "flip"], default="none",
                    help="test-time augmentation, as 'flower-edge predict --tta'")
    args = ap.parse_args()
    paths = expand_inputs([args.images])
    truth = np.array([p.parent.name for p in paths])
    variants = args.variants.split(",")
    for run in args.runs:
        tops = {v: top1(run / "export" / v, paths, args.threads, args.workers, args.tta) for v in variants}
        if variants == ["fp32", "int8"]:
            fp32, int8 = tops["fp32"], tops["int8"]
            print(f"{run.name}: {len(truth)} photos, float top-1 {np.mean(fp32 == truth):.2%}, "
                  f"int8 top-1 {np.mean(int8 == truth):.2%}, int8 agrees with float {np.mean(fp32 == int8):.2%}")
            continue
        for v, top in tops.items():
            size = (run / "export" / v / "model.tflite").stat().st_size / 1e6
            print(f"{run.name} {v}: {len(truth)} photos, top-1 {np.mean(top == truth):.2%}, agrees with "
                  f"{variants[0]} {np.mean(top == tops[variants[0]]):.2%}, {size:.2f} MB")


if __name__ == "__main__":
    main()
