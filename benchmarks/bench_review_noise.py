#!/usr/bin/env python
"""Planted-noise benchmark of `flower-edge data review`, at full size.

Per seed S: copies a folder-per-class set (flowers5) into OUT/seedS/data, flips FLIP of
its labels at random (seeded: the photo moves to another class folder), plants an exact
copy of a training photo into the test split of a split file (OUT/seedS/run/split.json,
80/20) and one drawing from `flower-edge data synth` (not a photo), then runs
`flower-edge data review` on it and prints: the share of flipped photos among the worst
10% of label-issue scores, and whether the planted copy (as leakage) and the drawing (as
an outlier) were flagged, with the wall time and load average; at the end, the share
over all seeds (one seed's 25 flips move it by 4 points a photo).

`--train-run` instead trains the default recipe on the noisy copy and reviews with that
run's own fine-tuned backbone (`data review --run RUN`, no --weights), printing the share
of flipped photos found among those the run trained on and among those it did not.

    python benchmarks/bench_review_noise.py --data ../shared/data/flowers5 \\
        --weights ../shared/weights/mobilenet_v2_imagenet_from_tflite_notop.h5 --out artifacts/review-noise \\
        --seeds 0 1 2 3 4 [--train-run]
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


def one_seed(args, seed: int) -> tuple[int, int]:
    """Plant, (train,) review and print one seed's findings; returns (found, flipped)."""
    out = args.out / f"seed{seed}"
    planted = plant(args.data, out, args.flip, seed)
    embed = ["--run", out / "run", "--weights", args.weights]
    if args.train_run:
        shutil.rmtree(out / "run")
        subprocess.run(cli("train", "--data", out / "data", "--backbone", "mobilenet_v2", "--weights",
                           args.weights, "--seed", seed, "--out", out / "run"),
                       check=True, stdout=subprocess.DEVNULL)
        embed = ["--run", out / "run"]
    load = load_average()
    t0 = time.perf_counter()
    subprocess.run(cli("data", "review", out / "data", *embed, "--out", out / "review"),
                   check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - t0
    with open(out / "review" / "review.csv", newline="") as fh:
        rows = {r["path"]: r for r in csv.DictReader(fh)}
    ranked = sorted(rows.values(), key=lambda r: float(r["label_score"]))
    top = {r["path"] for r in ranked[:len(ranked) // 10]}
    found = sum(p in top for p in planted["flipped"])
    print(f"{len(rows)} photos, {len(planted['flipped'])} labels flipped (seed {seed}): "
          f"{found} ({found / len(planted['flipped']):.0%}) in the worst 10% of label-issue scores")
    for split in ("train", "val", "test"):
        flips = [p for p in planted["flipped"] if rows[p]["split"] == split]
        if flips:
            print(f"  flipped photos in the {split} split: {sum(p in top for p in flips)} of {len(flips)} found")
    print(f"  planted copy across the split flagged: {rows[planted['copy']]['flags'] or 'no'}; "
          f"drawing flagged: {rows[planted['drawing']]['flags'] or 'no'}")
    print(f"  data review took {seconds:.1f}s; load before {load}, after {load_average()}", flush=True)
    return found, len(planted["flipped"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data/flowers5"))
    ap.add_argument("--weights", type=Path,
                    default=Path("../shared/weights/mobilenet_v2_imagenet_from_tflite_notop.h5"))
    ap.add_argument("--out", type=Path, default=Path("artifacts/review-noise"))
    ap.add_argument("--flip", type=float, default=0.05)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0], help="one planted copy per seed")
    ap.add_argument("--train-run", action="store_true",
                    help="train the default recipe on the noisy copy and review with its backbone")
    args = ap.parse_args()
    counts = [one_seed(args, seed) for seed in args.seeds]
    found, flipped = (sum(c) for c in zip(*counts))
    print(f"seeds {args.seeds}: {found} of {flipped} flipped photos ({found / flipped:.1%}) in the worst 10%")


if __name__ == "__main__":
    main()
