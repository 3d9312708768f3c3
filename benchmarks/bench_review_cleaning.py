#!/usr/bin/env python
"""Does cleaning help? The default recipe on a folder as it is, against the same folder
with `data review`'s worst label issues quarantined, scored on a held-out folder.

Copies DATA into OUT/data, runs `flower-edge data review` on the copy, marks the TOP worst
photos flagged as likely label errors (lowest label score) with `quarantine` in a copy of
review.csv, moves them out with `data review --quarantine --approve`, then trains the
default recipe (`flower-edge train --seed S`) on the cleaned copy per seed, exports
fp32 + int8 and scores both on every photo of EVAL. The as-is runs come from
`bench_refit.py`'s OUT (`--as-is DIR`: DIR/seedS/default, already exported) or are
trained here on DATA. Prints float top-1, int8 top-1 and agreement per seed and the mean,
with the load average. Results: OUT/bench_review_cleaning.json.

    python benchmarks/bench_review_cleaning.py --seeds 0 1 2 --top 25 \
        --as-is artifacts/26-refit --out artifacts/26-cleaning
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
from common import cli, float_int8, load_average


def clean_copy(args) -> list[dict]:
    """OUT/data without the TOP worst label issues; returns the quarantined rows."""
    data, review = args.out / "data", args.out / "review"
    shutil.rmtree(args.out / "quarantine", ignore_errors=True)
    shutil.rmtree(data, ignore_errors=True)
    shutil.copytree(args.data, data)
    subprocess.run(cli("data", "review", data, "--weights", args.weights, "--out", review), check=True)
    with open(review / "review.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    worst = sorted((r for r in rows if "label" in r["flags"].split(";")),
                   key=lambda r: float(r["label_score"]))[:args.top]
    chosen = {r["path"] for r in worst}
    for r in rows:
        r["action"] = "quarantine" if r["path"] in chosen else ""
    with open(args.out / "approve.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    subprocess.run(cli("data", "review", data, "--quarantine", args.out / "quarantine",
                       "--approve", args.out / "approve.csv"), check=True)
    return [{k: r[k] for k in ("path", "label", "suggested_label", "label_score")} for r in worst]


def trained(data: Path, run: Path, seed: int, weights: Path) -> dict:
    if not (run / "export" / "int8").is_dir():
        subprocess.run(cli("train", "--data", data, "--backbone", "mobilenet_v2", "--weights", weights,
                           "--seed", seed, "--out", run, "--force"), check=True, stdout=subprocess.DEVNULL)
        subprocess.run(cli("quantize", run, "--fp32", "--int8"), check=True, stdout=subprocess.DEVNULL)
    return {"run": str(run)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data/flowers5"))
    ap.add_argument("--weights", type=Path,
                    default=Path("../shared/weights/mobilenet_v2_imagenet_from_tflite_notop.h5"))
    ap.add_argument("--eval", type=Path, default=Path("../shared/data/flowers5-eval"))
    ap.add_argument("--out", type=Path, default=Path("artifacts/review-cleaning"))
    ap.add_argument("--as-is", type=Path, help="bench_refit.py's OUT: reuse its default runs")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--top", type=int, default=25, help="how many of the worst label issues to quarantine")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"load before: {load_average()}", flush=True)
    removed = clean_copy(args)
    results = {"quarantined": removed, "seeds": {}}
    for seed in args.seeds:
        as_is = (args.as_is / f"seed{seed}" / "default") if args.as_is else args.out / f"as-is-seed{seed}"
        rows = {"as is": trained(args.data, as_is, seed, args.weights),
                "cleaned": trained(args.out / "data", args.out / f"cleaned-seed{seed}", seed, args.weights)}
        for label, row in rows.items():
            row.update(float_int8(row["run"], args.eval))
            print(f"seed {seed} {label}: {row}", flush=True)
        results["seeds"][str(seed)] = rows
        (args.out / "bench_review_cleaning.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"{len(removed)} worst label issues quarantined; {rows['as is']['images']} eval photos")
    print(f"{'data':<10}{'seed':>5}{'float':>8}{'int8':>8}{'agree':>8}")
    for label in ("as is", "cleaned"):
        per = [results["seeds"][str(s)][label] for s in args.seeds]
        for s, r in zip(args.seeds, per):
            print(f"{label:<10}{s:>5}{r['float_top1']:>8.2%}{r['int8_top1']:>8.2%}{r['agreement']:>8.2%}")
        print(f"{label:<10}{'mean':>5}" + "".join(
            f"{np.mean([r[k] for r in per]):>8.2%}" for k in ("float_top1", "int8_top1", "agreement")))
    print(f"load at the end: {load_average()}")


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main()
