#!/usr/bin/env python
"""The default run against `--refit` and `--refit all`, per seed, scored on a held-out folder.

For each seed: trains the default recipe once (`flower-edge train --seed S`), then derives
both refits from that same first pass (`train.trainer.derive_refit`, exactly what
`train --refit [all]` trains after its first pass), so three models cost one first pass and
two refits. Each is exported with `flower-edge quantize --fp32 --int8` (int8 calibrates on
the run's own training photos: the refit's for a refit) and its bundles run through the
TF-free runtime on every photo of the eval folder. Prints float top-1, int8 top-1, int8<->float
agreement and training wall time (a refit's = its first pass + its own retraining), per
seed and as the mean over seeds, with the load average. Results: OUT/bench_refit.json.

    python benchmarks/bench_refit.py --seeds 0 1 2 --out artifacts/26-refit
    python benchmarks/bench_refit.py --out artifacts/26-warmup --train-args '--warmup-epochs 1'
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from common import cli, float_int8, load_average

MODES = {"default": None, "--refit": "val", "--refit all": "all"}


def _timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def first_pass(seed: int, args) -> tuple[Path, dict]:
    root = args.out / f"seed{seed}"
    run = root / "default"
    load = load_average()
    if (run / "model.keras").is_file() and args.keep:
        return run, json.loads((root / "default.json").read_text())
    seconds = _timed(cli("train", "--data", args.data, "--backbone", "mobilenet_v2", "--weights", args.weights,
                         "--seed", seed, "--out", run, "--force", *args.train_args))
    row = {"run": str(run), "train_s": round(seconds, 1), "load_before": load}
    (root / "default.json").write_text(json.dumps(row) + "\n")
    return run, row


def refit(first: Path, mode: str, first_row: dict) -> dict:
    name = "refit" if mode == "val" else "refit-all"
    load = load_average()
    seconds = _timed([sys.executable, __file__, "--derive", str(first), mode, str(first.parent / name)])
    return {"run": str(first.parent / name), "refit_s": round(seconds, 1),
            "train_s": round(first_row["train_s"] + seconds, 1), "load_before": load}


def quantize_and_score(row: dict, images: Path) -> dict:
    subprocess.run(cli("quantize", row["run"], "--fp32", "--int8"), check=True, stdout=subprocess.DEVNULL)
    row.update(float_int8(row["run"], images))
    return row


def print_table(results: dict, seeds: list[int], n: int) -> None:
    print(f"{n} eval photos; per seed and mean of seeds {seeds}")
    print(f"{'recipe':<14}{'seed':>5}{'float':>8}{'int8':>8}{'agree':>8}{'train s':>9}  load before")
    for label in MODES:
        rows = [results[str(s)][label] for s in seeds if label in results.get(str(s), {})]
        for s, r in zip(seeds, rows):
            print(f"{label:<14}{s:>5}{r['float_top1']:>8.2%}{r['int8_top1']:>8.2%}"
                  f"{r['agreement']:>8.2%}{r['train_s']:>9.1f}  {r['load_before']}")
        if rows:
            mean = {k: float(np.mean([r[k] for r in rows])) for k in
                    ("float_top1", "int8_top1", "agreement", "train_s")}
            print(f"{label:<14}{'mean':>5}{mean['float_top1']:>8.2%}{mean['int8_top1']:>8.2%}"
                  f"{mean['agreement']:>8.2%}{mean['train_s']:>9.1f}  ({len(rows)} seeds)")


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--derive":  # one refit, in its own process
        from flower_edge.train.trainer import derive_refit

        _, _, first, mode, out = sys.argv
        derive_refit(first, mode, out, force=True)
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data/flowers5"))
    ap.add_argument("--weights", type=Path,
                    default=Path("../shared/weights/mobilenet_v2_imagenet_from_tflite_notop.h5"))
    ap.add_argument("--eval", type=Path, default=Path("../shared/data/flowers5-eval"))
    ap.add_argument("--out", type=Path, default=Path("artifacts/bench-refit"))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--keep", action="store_true", help="reuse a first pass already in OUT")
    ap.add_argument("--train-args", type=shlex.split, default=[], metavar="'FLAGS'",
                    help="more `train` flags for every seed, e.g. --train-args '--warmup-epochs 1'")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    results: dict = {}
    out_json = args.out / "bench_refit.json"
    for seed in args.seeds:
        first, first_row = first_pass(seed, args)
        rows = {"default": first_row}
        for label, mode in MODES.items():
            if mode:
                rows[label] = refit(first, mode, first_row)
        for label, row in rows.items():
            quantize_and_score(row, args.eval)
            print(f"seed {seed} {label}: {row}", flush=True)
        results[str(seed)] = rows
        photos = rows["default"]["images"]
        out_json.write_text(json.dumps({"eval_photos": photos, "train_args": args.train_args, "seeds": results},
                                       indent=2) + "\n")
    print_table(results, args.seeds, photos)
    print(f"load at the end: {load_average()}")


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main()
