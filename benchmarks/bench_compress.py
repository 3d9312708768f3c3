#!/usr/bin/env python
"""Pruning and clustering of a trained run: eval top-1, agreement, size, gzip size, latency.

Copies RUN (model, labels, split; not its export/) to OUT, exports fp32, int8 and the
pruned/clustered variants there with `flower-edge quantize`, then scores every bundle
on a labelled folder no training or calibration saw, through the TF-free runtime as
`flower-edge predict` does, and times it (median ms, batch 1). Writes
artifacts/bench_compress.{json,md}:

    python benchmarks/bench_compress.py artifacts/mnv2-224-new --images ../shared/data/flowers5-eval
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from common import cli, load_average, top1

from flower_edge.io import gzip_size


def quantize(src: Path, dest: Path, args) -> float:
    if not (dest / "model.keras").is_file():
        shutil.copytree(src, dest, ignore=shutil.ignore_patterns("export", "checkpoints", "logs", "report"))
    plain = [] if (dest / "export" / "int8" / "manifest.json").is_file() else ["--fp32", "--int8"]
    cmd = cli("quantize", dest, *plain, "--prune", args.prune, "--cluster", args.cluster)
    if args.config:
        cmd += ["--config", args.config]
    print("$", " ".join(cmd), flush=True)
    start = time.time()
    subprocess.run(cmd, check=True)
    return time.time() - start


def score(export: Path, images: Path, threads: int, runs: int) -> tuple[list[dict], int]:
    """A row per bundle of export/ scored on the labelled folder `images`; and the photo count."""
    from flower_edge.benchmark.bundle import bench_bundle

    rows, preds = [], {}
    variants = sorted(p.name for p in export.iterdir() if (p / "manifest.json").is_file())
    for variant in sorted(variants, key=lambda v: (v.split("-", 1)[1:] or [""], v)):
        bundle = export / variant
        preds[variant], truth = top1(bundle, images, threads)
        bench = bench_bundle(bundle, (threads,), runs=runs, warmup=10)
        manifest = json.loads((bundle / "manifest.json").read_text())
        comp = manifest.get("quantization", {}).get("compression", {})
        rows.append({"variant": variant, "top1": float(np.mean(preds[variant] == truth)),
                     "size_mb": (bundle / "model.tflite").stat().st_size / 1e6,
                     "gzip_mb": gzip_size(bundle / "model.tflite") / 1e6,
                     "latency_ms": bench.latency[0].median_ms, "sparsity": comp.get("sparsity"),
                     "max_unique_per_channel": comp.get("max_unique_per_channel"),
                     "sparse_stored_kernels": comp.get("sparse_stored"), "load": load_average()})
        print(f"  {variant}: top-1 {rows[-1]['top1']:.2%}, {rows[-1]['gzip_mb']:.2f} MB gzip, "
              f"{rows[-1]['latency_ms']:.2f} ms (load {load_average()})", flush=True)
    for row in rows:  # each int8 against its own float (int8-pruned75 vs fp32-pruned75)
        own_float = row["variant"].replace("int8", "fp32", 1)
        if row["variant"].startswith("int8") and own_float in preds:
            row["agreement_with_float"] = float(np.mean(preds[row["variant"]] == preds[own_float]))
    return rows, len(truth)


def verdict(rows: list[dict]) -> str:
    by = {r["variant"]: r for r in rows}
    base = by.get("int8")
    if base is None:
        return "no plain int8 row"
    fits = [r for r in rows if r["variant"].startswith("int8-") and r["gzip_mb"] <= 0.5 * base["gzip_mb"]
            and r["top1"] >= base["top1"] - 0.01]
    if not fits:
        return (f"goal not met: no int8 variant at <= 0.5x the plain int8's gzip size "
                f"({base['gzip_mb']:.2f} MB) within 1 pp of its top-1 ({base['top1']:.2%})")
    best = min(fits, key=lambda r: r["gzip_mb"])
    return (f"goal met by {best['variant']}: gzip {best['gzip_mb']:.2f} MB = "
            f"{best['gzip_mb'] / base['gzip_mb']:.2f}x the plain int8's {base['gzip_mb']:.2f} MB, top-1 "
            f"{best['top1']:.2%} vs {base['top1']:.2%}")


def markdown(rows: list[dict], meta: dict) -> str:
    by = {r["variant"]: r for r in rows}
    base_gz = by["int8"]["gzip_mb"] if "int8" in by else None
    lines = ["# Pruning and clustering: eval top-1, size, gzip size, latency", "",
             f"`{meta['command']}`", "",
             f"{meta['photos']} eval photos; latency median of {meta['runs']} invokes, batch 1, "
             f"{meta['threads']} threads; load average before {meta['load_before']}, after {meta['load_after']}; "
             f"quantize took {meta['quantize_s']:.0f} s.", "",
             "| variant | top-1 | int8 agrees with own float | size MB | gzip MB | gzip vs int8 | latency ms "
             "| sparsity (conv/dense) | max values / channel |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        agree = f"{r['agreement_with_float']:.2%}" if "agreement_with_float" in r else ""
        ratio = f"{r['gzip_mb'] / base_gz:.2f}x" if base_gz else ""
        sp = f"{r['sparsity']:.1%}" if r.get("sparsity") is not None else ""
        lines.append(f"| {r['variant']} | {r['top1']:.2%} | {agree} | {r['size_mb']:.2f} | {r['gzip_mb']:.2f} | "
                     f"{ratio} | {r['latency_ms']:.2f} | {sp} | {r.get('max_unique_per_channel') or ''} |")
    return "\n".join(lines + ["", meta["verdict"], ""])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("--images", type=Path, default=Path("../shared/data/flowers5-eval"))
    ap.add_argument("--out", type=Path, default=None, help="run copy to export into [artifacts/15-compress-RUN]")
    ap.add_argument("--prune", default="0.5,0.75")
    ap.add_argument("--cluster", default="16,32")
    ap.add_argument("--config", default=None, help="a quantize recipe (.toml) for the epoch/LR knobs")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--skip-quantize", action="store_true", help="score the bundles already in OUT")
    ap.add_argument("--report", type=Path, default=Path("artifacts/bench_compress"))
    args = ap.parse_args()
    out = args.out or args.run.parent / f"15-compress-{args.run.name}"
    load_before = load_average()
    took = 0.0 if args.skip_quantize else quantize(args.run, out, args)
    rows, photos = score(out / "export", args.images, args.threads, args.runs)
    meta = {"command": "python " + " ".join(sys.argv), "photos": photos, "threads": args.threads,
            "runs": args.runs, "load_before": load_before, "load_after": load_average(), "quantize_s": took}
    meta["verdict"] = verdict(rows)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.with_suffix(".json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    text = markdown(rows, meta)
    args.report.with_suffix(".md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
