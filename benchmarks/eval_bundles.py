#!/usr/bin/env python
"""Float and int8 top-1 and their agreement on a labelled folder, from a run's bundles.

Scores the run's `export/fp32` (the float model) and `export/int8` bundles on every
photo of a folder-per-class set with the code of `flower-edge benchmark BUNDLE
--eval-data DIR` (the same photos, the same decode), and prints one line per run. Use an
evaluation set that no training or calibration saw (flowers5-eval):

    python benchmarks/eval_bundles.py artifacts/mnv2-224 artifacts/mnv2-224-new \
        --images ../shared/data/flowers5-eval

For one bundle's top-1, top-5, latency and size use the command itself:
`flower-edge benchmark RUN/export/int8 --eval-data DIR`; for a run's every bundle against
its Keras model, `flower-edge benchmark RUN --eval-data DIR`. This script adds what the
command does not: `--tta flip` (test-time augmentation, as `predict --tta flip`) and
several runs on one line each. `--variants fp32,fp16,dynamic,int8` prints each bundle's
top-1, agreement with the first and size.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from common import float_int8, top1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path, help="run folders with export/fp32 and export/int8")
    ap.add_argument("--images", type=Path, default=Path("../shared/data/flowers5-eval"),
                    help="a labelled folder (one sub-folder per class) no training or calibration saw")
    ap.add_argument("--threads", type=int, default=2, help="interpreter threads")
    ap.add_argument("--variants", default="fp32,int8",
                    help="comma-separated export/ bundles; fp32 must come first (the float reference)")
    ap.add_argument("--tta", choices=["none", "flip"], default="none",
                    help="test-time augmentation, as 'flower-edge predict --tta'")
    args = ap.parse_args()
    variants = args.variants.split(",")
    for run in args.runs:
        if variants == ["fp32", "int8"]:
            r = float_int8(run, args.images, args.threads, args.tta)
            print(f"{run.name}: {r['images']} photos, float top-1 {r['float_top1']:.2%}, "
                  f"int8 top-1 {r['int8_top1']:.2%}, int8 agrees with float {r['agreement']:.2%}")
            continue
        tops = {v: top1(run / "export" / v, args.images, args.threads, args.tta) for v in variants}
        for v, (top, truth) in tops.items():
            size = (run / "export" / v / "model.tflite").stat().st_size / 1e6
            print(f"{run.name} {v}: {len(truth)} photos, top-1 {np.mean(top == truth):.2%}, agrees with "
                  f"{variants[0]} {np.mean(top == tops[variants[0]][0]):.2%}, {size:.2f} MB")


if __name__ == "__main__":
    main()
