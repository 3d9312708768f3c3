#!/usr/bin/env python
"""Planted-noise benchmark of `flower-edge data review`, at full size.

Copies a folder-per-class set (flowers5) into OUT/data, flips FLIP of its labels at random
(seeded: the photo moves to another class folder), plants an exact copy of a training
photo into the test split of a split file (OUT/run/split.json, 80/20) and one drawing from
`flower-edge data synth` (not a photo), then runs `flower-edge data review` on it and
prints: the share of flipped photos among the worst 10% of label-issue scores, and whether
the planted copy (as leakage) and the drawing (as an outlier) were flagged, with the
wall time and load average.

    python benchmarks/bench_review_noise.py --data ../shared/data/flowers5 \
        --weights ../shared/weights/mobilenet_v2_imagenet_from_tflite_notop.h5 --out artifacts/review-noise
"""

from __future__ import annotations

import argparse
import csv
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
from common import cli, load_average


def plant(src: Path, out: Path, flip: float, seed: int) -> dict:
    from flower_edge.data.splits import DataSplits, Split
    from flower_edge.data.synthetic import write_synthetic

    root = out / "data"
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(src, root)
    rng = np.random.default_rng(seed)
    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    photos = sorted(p for p in root.rglob("*") if p.is_file())
    flipped = []
    for i in rng.choice(len(photos), int(round(flip * len(photos))), replace=False):
        wrong = rng.choice([c for c in classes if c != photos[i].parent.name])
        photos[i].rename(root / wrong / photos[i].name)
        flipped.append(f"{wrong}/{photos[i].name}")
    original = sorted((root / classes[0]).iterdir())[0]
    copy = original.with_name(f"copy-{original.name}")
    shutil.copy2(original, copy)
    synth = write_synthetic(out / "synth", classes=2, per_class=1, size=128, seed=seed)
    shutil.copy2(sorted(Path(synth).rglob("*.png"))[0], root / classes[1] / "drawing.png")
    files = sorted(str(p) for p in root.rglob("*") if p.is_file())
    order = [files[i] for i in rng.permutation(len(files))]
    test = [str(copy)] + [f for f in order if f not in (str(copy), str(original))][:len(files) // 5]
    train = [f for f in files if f not in set(test)]
    label = {f: classes.index(Path(f).parent.name) for f in files}
    (out / "run").mkdir()
    DataSplits("folder", str(root), tuple(classes), Split("train", tuple(train), tuple(label[f] for f in train)),
               Split("val", (), ()), Split("test", tuple(test), tuple(label[f] for f in test))
               ).save(out / "run" / "split.json")
    return {"flipped": flipped, "copy": f"{classes[0]}/{copy.name}", "drawing": f"{classes[1]}/drawing.png"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data/flowers5"))
    ap.add_argument("--weights", type=Path,
                    default=Path("../shared/weights/mobilenet_v2_imagenet_from_tflite_notop.h5"))
    ap.add_argument("--out", type=Path, default=Path("artifacts/review-noise"))
    ap.add_argument("--flip", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    planted = plant(args.data, args.out, args.flip, args.seed)
    load = load_average()
    t0 = time.perf_counter()
    subprocess.run(cli("data", "review", args.out / "data", "--run", args.out / "run", "--weights", args.weights,
                       "--out", args.out / "review"), check=True)
    seconds = time.perf_counter() - t0
    with open(args.out / "review" / "review.csv", newline="") as fh:
        rows = {r["path"]: r for r in csv.DictReader(fh)}
    ranked = sorted(rows.values(), key=lambda r: float(r["label_score"]))
    top = {r["path"] for r in ranked[:len(ranked) // 10]}
    found = sum(p in top for p in planted["flipped"])
    print(f"{len(rows)} photos, {len(planted['flipped'])} labels flipped (seed {args.seed}): "
          f"{found} ({found / len(planted['flipped']):.0%}) in the worst 10% of label-issue scores")
    print(f"planted copy across the split flagged: {rows[planted['copy']]['flags'] or 'no'}; "
          f"drawing flagged: {rows[planted['drawing']]['flags'] or 'no'}")
    print(f"data review took {seconds:.1f}s; load before {load}, after "
          f"{load_average()}")


if __name__ == "__main__":
    main()
