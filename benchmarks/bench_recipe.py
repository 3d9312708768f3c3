#!/usr/bin/env python
"""The old default recipe against the new one (or a candidate), side by side, on the eval set.

Trains both (through `flower-edge train`, one after the other), exports each with
`flower-edge quantize --fp32 --int8`, runs both bundles through the TF-free runtime
on every photo of a held-out folder and prints, per recipe: float top-1, int8 top-1,
int8<->float agreement, training seconds on this machine, and the ratio of the two
training times measured in this one run. The new default is also scored with
`--tta flip`, with the per-image cost of the second invoke.

    python benchmarks/bench_recipe.py --data ../shared/data/flowers5 \
        --weights ../shared/weights/mobilenet_v2_imagenet_from_tflite_notop.h5 \
        --eval ../shared/data/flowers5-eval --out artifacts/bench-recipe

`--new KEY=VALUE` (repeatable) measures a candidate recipe instead of today's defaults,
e.g. `--new swa_epochs=8` or `--new data.batch_size=16`. Training time depends on what else the machine runs: the
load average is printed beside it. Accuracy does not. Results go to OUT/bench_recipe.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from pathlib import Path

import numpy as np
from common import cli, float_int8, load_average, photos, write_toml

# The keys the recipe study changed (docs/recipe-study.md), at their values before it:
# `--config` with these reproduces the old default exactly.
OLD_DEFAULT = {"data": {"fractions": [0.7, 0.15, 0.15], "batch_size": 32},
               "train": {"head_epochs": 10, "finetune_epochs": 15, "zoom": [0.8, 1.2], "mixup": 0.0,
                         "swa_epochs": 0, "color": 0.0, "finetune_lr": 1e-4, "label_smoothing": 0.0,
                         "layer_lr_ratio": 1.0}}


def _overrides(pairs: list[str]) -> dict:
    """--new KEY=VALUE pairs (TOML values) as recipe tables: a bare key is [train]'s,
    a dotted one names its table (data.batch_size=16)."""
    import tomllib

    try:
        flat = tomllib.loads("\n".join(pairs))
    except tomllib.TOMLDecodeError as exc:
        raise SystemExit(f"error: --new takes KEY=VALUE with a TOML value, e.g. swa_epochs=8 ({exc})") from None
    tables = {k: v for k, v in flat.items() if isinstance(v, dict)}
    train = {k: v for k, v in flat.items() if not isinstance(v, dict)}
    return {**tables, "train": {**tables.get("train", {}), **train}} if train else tables


def train(name: str, recipe: Path | None, args) -> dict:
    run = args.out / name
    cmd = cli("train", "--data", args.data, "--backbone", "mobilenet_v2", "--weights", args.weights,
              "--out", run, "--force", *(["--config", recipe] if recipe else []))
    load = load_average()
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - t0
    subprocess.run(cli("quantize", run, "--fp32", "--int8"), check=True, stdout=subprocess.DEVNULL)
    return {"run": str(run), "train_s": round(seconds, 1), "load_before": load, "load_after": load_average()}


def tta_cost(bundle: Path, image: np.ndarray, runs: int = 200) -> float:
    """Median seconds of invoke_one with --tta flip over plain, measured here, as a ratio."""
    from flower_edge.runtime.latency import time_invokes
    from flower_edge.runtime.predictor import Predictor

    plain, flip = (Predictor(bundle, threads=2, tta=t) for t in ("none", "flip"))
    return float(np.median(time_invokes(flip, image, runs, 10)) /
                 np.median(time_invokes(plain, image, runs, 10)))


def print_tta_cost(run: Path, eval_dir: Path) -> None:
    from flower_edge.runtime.predictor import Predictor

    photo = photos(eval_dir, limit=1)[0]
    for variant in ("fp32", "int8"):
        bundle = run / "export" / variant
        image = Predictor(bundle).preprocess(photo)
        print(f"{variant}: --tta flip takes {tta_cost(bundle, image):.2f}x the time of one plain "
              f"invoke_one (median of 200, 2 threads; load {load_average()})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data/flowers5"))
    ap.add_argument("--weights", type=Path,
                    default=Path("../shared/weights/mobilenet_v2_imagenet_from_tflite_notop.h5"))
    ap.add_argument("--eval", type=Path, default=Path("../shared/data/flowers5-eval"))
    ap.add_argument("--out", type=Path, default=Path("artifacts/bench-recipe"))
    ap.add_argument("--new", action="append", default=[], metavar="KEY=VALUE",
                    help="a [train] key of the candidate recipe (repeatable); none: today's defaults")
    ap.add_argument("--tta-cost", type=Path, metavar="RUN",
                    help="only measure what --tta flip costs on RUN's fp32 and int8 bundles, and stop")
    args = ap.parse_args()
    if args.tta_cost:
        return print_tta_cost(args.tta_cost, args.eval)
    args.out.mkdir(parents=True, exist_ok=True)
    from flower_edge.runtime.predictor import Predictor

    new = _overrides(args.new)
    label = "new default" if not new else "candidate " + " ".join(args.new)
    rows = {"old default": train("recipe-old", write_toml(args.out / "old_default.toml", OLD_DEFAULT), args),
            label: train("recipe-new", write_toml(args.out / "new.toml", new) if new else None, args)}
    for row in rows.values():
        row.update(float_int8(row["run"], args.eval))
    new = Path(rows[label]["run"])
    flip = float_int8(new, args.eval, tta="flip")
    int8 = Predictor(new / "export" / "int8")
    image = int8.preprocess(photos(args.eval, limit=1)[0])
    flip["cost_int8"] = tta_cost(new / "export" / "int8", image)
    flip["cost_fp32"] = tta_cost(new / "export" / "fp32", image)
    rows[label + " + tta flip"] = flip
    print(f"{flip['images']} eval photos ({args.eval})")
    width = max(len(n) for n in rows) + 2
    print(f"{'recipe':<{width}}{'float':>8}{'int8':>8}{'agree':>8}{'train s':>9}  load (1/5/15 min)")
    for name, r in rows.items():
        secs = f"{r['train_s']:>9.1f}  {r['load_before']}" if "train_s" in r else f"{'-':>9}"
        print(f"{name:<{width}}{r['float_top1']:>8.2%}{r['int8_top1']:>8.2%}{r['agreement']:>8.2%}{secs}")
    ratio = rows[label]["train_s"] / rows["old default"]["train_s"]
    print(f"training time {label} / old default, measured in this run: {ratio:.2f}x")
    print(f"--tta flip costs {flip['cost_int8']:.2f}x an int8 invoke, {flip['cost_fp32']:.2f}x fp32")
    (args.out / "bench_recipe.json").write_text(json.dumps(
        {"eval_photos": flip["images"], "rows": rows, "train_time_ratio": ratio}, indent=2) + "\n")


if __name__ == "__main__":
    main()
