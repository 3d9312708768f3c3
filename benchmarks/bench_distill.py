#!/usr/bin/env python
"""Students trained alone and distilled from a teacher: float/int8 top-1, agreement, latency.

For each student, two runs of the same recipe: `flower-edge train` (alone) and
`flower-edge distill --teacher T` (distilled). Each is quantized (`--fp32 --int8`)
and scored through the TF-free runtime on an evaluation set no run trained or
calibrated on (flowers5-eval); int8 latency is the median of batch-1 invokes.

    python benchmarks/bench_distill.py --teacher artifacts/mnv2-224-new \\
        --weights ../shared/weights/mobilenet_v2_imagenet_from_tflite_notop.h5 \\
        --images ../shared/data/flowers5-eval --out artifacts/kd

Runs that already hold export/int8 are reused and only scored again (--retrain trains
them again); "train s" is the run's own time, from its history.csv.
Writes OUT/bench_distill.json and .md and prints the table and the goals:
distilled >= alone + 2 pp for each student; each distilled int8 within 1 pp of its float.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

from common import cli, float_int8

from flower_edge.runtime.latency import measure_latency


def students(weights: str) -> dict[str, list[str]]:
    """Student name -> the flags both of its runs share."""
    return {
        "a-mnv2-96": ["--backbone", "mobilenet_v2", "--image-size", "96", "--weights", weights],
        "b-mnv2_035-96-scratch": ["--backbone", "mobilenet_v2_035", "--image-size", "96", "--weights", "none",
                                  "--epochs", "60", "--lr", "0.002"],
    }


def run(cmd: list[str], log: Path) -> None:
    with log.open("a") as out:
        out.write("$ " + " ".join(cmd) + "\n")
        out.flush()
        subprocess.run(cmd, check=True, stdout=out, stderr=subprocess.STDOUT)


def train_and_quantize(name: str, flags: list[str], teacher: str | None, args) -> dict:
    folder = args.out / name
    log = args.out / f"{name}.log"
    if args.retrain or not (folder / "export" / "int8" / "model.tflite").is_file():
        verb = ["distill", "--teacher", teacher] if teacher else ["train", "--data", str(args.data)]
        run(cli(*verb, *flags, "--out", folder, "--force"), log)
        run(cli("quantize", folder, "--fp32", "--int8"), log)
    return {"run": name, "train_s": train_seconds(folder), **score(folder, args)}


def train_seconds(folder: Path) -> float:
    """The run's own training time: the sum of history.csv's per-epoch seconds."""
    import csv

    with (folder / "history.csv").open() as f:
        return sum(float(row["seconds"]) for row in csv.DictReader(f))


def score(folder: Path, args) -> dict:
    latency = measure_latency(folder / "export" / "int8", threads=2, runs=args.runs, warmup=10)
    return {**float_int8(folder, args.images), "int8_ms": latency.median_ms,
            "int8_mb": (folder / "export" / "int8" / "model.tflite").stat().st_size / 1e6}


def table(rows: list[dict]) -> str:
    lines = ["| run | float top-1 | int8 top-1 | agreement | int8 ms (2 threads) | int8 MB | train s |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        train = f"{r['train_s']:.0f}" if r.get("train_s") else ""
        lines.append(f"| {r['run']} | {r['float_top1']:.2%} | {r['int8_top1']:.2%} | {r['agreement']:.2%} | "
                     f"{r['int8_ms']:.2f} | {r['int8_mb']:.2f} | {train} |")
    return "\n".join(lines)


def goals(pairs: dict[str, tuple[dict, dict]]) -> list[str]:
    out = []
    for name, (alone, kd) in pairs.items():
        gain = (kd["float_top1"] - alone["float_top1"]) * 100
        gain8 = (kd["int8_top1"] - alone["int8_top1"]) * 100
        gap = (kd["float_top1"] - kd["int8_top1"]) * 100
        out.append(f"{name}: distilled - alone = {gain:+.2f} pp float, {gain8:+.2f} pp int8 "
                   f"({'met' if gain >= 2 else 'MISSED'} >= +2); distilled int8 {gap:+.2f} pp below float "
                   f"({'met' if abs(gap) <= 1 else 'MISSED'} within 1)")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--teacher", type=Path, required=True)
    ap.add_argument("--weights", required=True, help="notop .h5 of MobileNetV2 for student (a)")
    ap.add_argument("--data", type=Path, default=Path("../shared/data/flowers5"))
    ap.add_argument("--images", type=Path, default=Path("../shared/data/flowers5-eval"))
    ap.add_argument("--out", type=Path, default=Path("artifacts/kd"))
    ap.add_argument("--only", action="append", help="student name(s) to run (default: all)")
    ap.add_argument("--distill-flags", default="", help="extra flags for the distilled runs, e.g. '--alpha 0'")
    ap.add_argument("--student-flags", default="", help="extra flags for both runs, e.g. '--finetune-epochs 30'")
    ap.add_argument("--runs", type=int, default=200, help="timed invokes per latency")
    ap.add_argument("--retrain", action="store_true")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    teacher = {"run": f"teacher ({args.teacher.name})", "train_s": train_seconds(args.teacher),
               **score(args.teacher, args)}
    rows, pairs = [teacher], {}
    for name, flags in students(args.weights).items():
        if args.only and name not in args.only:
            continue
        flags = flags + args.student_flags.split()
        alone = train_and_quantize(f"{name}-alone", flags, None, args)
        kd = train_and_quantize(f"{name}-kd", flags + args.distill_flags.split(), str(args.teacher), args)
        rows += [alone, kd]
        pairs[name] = (alone, kd)
        print(table(rows), flush=True)
    lines = goals(pairs)
    text = f"# Distillation on {teacher['images']} evaluation photos\n\n{table(rows)}\n\n" + \
        "\n".join(f"- {g}" for g in lines) + "\n"
    (args.out / "bench_distill.md").write_text(text)
    (args.out / "bench_distill.json").write_text(json.dumps({"rows": rows, "goals": lines}, indent=2))
    print("\n" + "\n".join(lines))


if __name__ == "__main__":
    main()
