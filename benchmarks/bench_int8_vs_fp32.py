#!/usr/bin/env python
"""int8 vs fp32 latency of a MobileNetV2-family model at 1 thread, measured in one run.

Either times the fp32 and int8 bundles of an existing run:

    python benchmarks/bench_int8_vs_fp32.py --run artifacts/mnv2

or builds MobileNetV2 itself (ImageNet base from ../shared/weights when present,
int8 calibrated on ../shared/data/flowers5 photos when present), converts both
variants with flower_edge.quantize and times them:

    python benchmarks/bench_int8_vs_fp32.py --backbone mobilenet_v2 --size 224

The two interpreters are timed in alternating blocks, so a noisy neighbour on
the machine slows both alike. Prints the medians, p90s and the fp32/int8 ratio;
exits 1 when int8 is not faster.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
from common import photos

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
WEIGHTS = SHARED / "weights" / "mobilenet_v2_imagenet_from_tflite_notop.h5"
PHOTOS = SHARED / "data" / "flowers5"


def build_bundles(model_name: str, size: int, weights: str, calib: int, out: Path) -> dict[str, Path]:
    """Build the model, convert fp32 and int8 (uint8 input), write bundles under `out`."""
    from flower_edge.models import get_spec
    from flower_edge.models.build import build_model
    from flower_edge.quantize.bundle import write_bundle
    from flower_edge.quantize.calibration import representative_dataset
    from flower_edge.quantize.config import QuantizationConfig
    from flower_edge.quantize.convert import convert
    from flower_edge.tfcompat import tf

    spec = get_spec(model_name)
    if spec.keras_app != "MobileNetV2":
        sys.exit(f"error: {model_name} is not a MobileNetV2-family model")
    labels = [f"class{i}" for i in range(5)]
    model = build_model(spec, len(labels), size, weights=None if weights == "none" else weights)
    images = calibration_images(size, calib)
    meta = {"architecture": spec.name, "source_run": "bench_int8_vs_fp32", "tf_version": tf().__version__,
            "image_size": size}
    bundles = {}
    for name, config in (("fp32", QuantizationConfig("fp32")),
                         ("int8", QuantizationConfig.of("int8", calib_samples=len(images)))):
        data = convert(model, config, representative_dataset(images) if name == "int8" else None)
        write_bundle(out / name, data, labels, config, meta, check_runtimes=False)
        bundles[name] = out / name
    return bundles


def calibration_images(size: int, count: int) -> np.ndarray:
    """Real photos when ../shared has them (realistic int8 ranges), else noise."""
    from flower_edge.runtime.transforms import load_for_model

    paths = photos(PHOTOS)[::7][:count] if PHOTOS.is_dir() else []
    if paths:
        return np.stack([load_for_model(p, size) for p in paths])
    return np.random.default_rng(0).integers(0, 256, (count, size, size, 3), dtype=np.uint8)


def time_alternating(bundles: dict[str, Path], runs: int, warmup: int, blocks: int = 10) -> dict[str, np.ndarray]:
    """Per-invoke ms of each bundle at 1 thread, in `blocks` alternating blocks."""
    from flower_edge.runtime.latency import time_invokes
    from flower_edge.runtime.predictor import Predictor

    predictors = {name: Predictor(path, threads=1) for name, path in bundles.items()}
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (*next(iter(predictors.values())).image_size, 3), dtype=np.uint8)
    times: dict[str, list[float]] = {name: [] for name in predictors}
    per_block = max(1, runs // blocks)
    for block in range(blocks):
        for name, predictor in predictors.items():
            times[name] += time_invokes(predictor, image, per_block, warmup if block == 0 else 1)
    return {name: np.asarray(t) * 1e3 for name, t in times.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", help="a run dir whose export/ has fp32 and int8 bundles")
    parser.add_argument("--backbone", default="mobilenet_v2", help="a backbone of the ModelSpec registry")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--weights", default=str(WEIGHTS) if WEIGHTS.is_file() else "none")
    parser.add_argument("--calib", type=int, default=64, help="calibration images for int8")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.run:
            bundles = {name: Path(args.run) / "export" / name for name in ("fp32", "int8")}
            source = args.run
        else:
            bundles = build_bundles(args.backbone, args.size, args.weights, args.calib, Path(tmp))
            source = f"{args.backbone}@{args.size} (weights: {Path(args.weights).name})"
        ms = time_alternating(bundles, args.runs, args.warmup)
        sizes = {name: (path / "model.tflite").stat().st_size / 2**20 for name, path in bundles.items()}
    print(f"{source}: batch 1, 1 thread, {len(ms['fp32'])} invokes each, alternating blocks")
    for name in ("fp32", "int8"):
        print(f"  {name}: median {np.median(ms[name]):.2f} ms, p90 {np.percentile(ms[name], 90):.2f} ms, "
              f"{sizes[name]:.2f} MB")
    ratio = float(np.median(ms["fp32"]) / np.median(ms["int8"]))
    print(f"  int8 is {ratio:.2f}x faster than fp32 (median fp32 / median int8)")
    return 0 if ratio > 1.0 else 1


if __name__ == "__main__":
    sys.exit(main())
