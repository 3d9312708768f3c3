#!/usr/bin/env python
"""IMX500 fidelity: MCT's quantization for the AI Camera vs flower-edge's own int8, one run.

On the same labelled photos (a folder per class that no training or calibration saw,
e.g. flowers5-eval), prints float top-1, then for flower-edge's `--int8` bundle and for
each MCT setting (post-training quantization with the IMX500 target platform, simulated
in the conversion venv as MCT's fake-quant Keras model): top-1, top-1 agreement with
float, and mean KL(float || quantized). Calibration is the same training photos as
`--int8` (300, stratified). A table in Markdown and JSON rows.

    python benchmarks/bench_imx500_fidelity.py RUN --eval-images ../shared/data/flowers5-eval \
        [--settings default,hmse,...] [--json out.json]

RUN needs export/int8 (`flower-edge quantize RUN --int8`) for the flower-edge row.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from common import labelled_images, load_average

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# name -> Imx500Options overrides of MCT 2.5's own defaults ("plain", the issue's 95.7% row);
# "shipped" is Imx500Options() as `quantize --imx500` uses it.
PLAIN = {"mean_correction": False}
SETTINGS = {
    "plain": {},
    "shipped": None,
    "noclipping": {"activation_error_method": "noclipping"},
    "second-moment": {"weights_second_moment_correction": True},
    "act-bias-corr": {"activation_bias_correction": True},
    "z-threshold-8": {"z_threshold": 8.0},
    "no-shift-negative": {"shift_negative_activation_correction": False},
    "no-bias-correction": {"weights_bias_correction": False},
    "calib-500": {"calib_samples": 500},
    "gptq-5": {"gptq_epochs": 5},
    "gptq-5+mean-correction": {"gptq_epochs": 5, "mean_correction": True},
    "mean-correction": {"mean_correction": True},
    "act-bias-corr+mean-correction": {"activation_bias_correction": True, "mean_correction": True},
}


def kl(p: np.ndarray, q: np.ndarray) -> float:
    return float(np.mean(np.sum(p * (np.log(p + 1e-12) - np.log(q + 1e-12)), axis=1)))


def row(name: str, probs: np.ndarray, ref: np.ndarray, y: np.ndarray, seconds: float) -> dict:
    return {"setting": name, "top1": float(np.mean(probs.argmax(1) == y)),
            "agreement": float(np.mean(probs.argmax(1) == ref.argmax(1))), "kl": kl(ref, probs),
            "seconds": round(seconds, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("--eval-images", type=Path, required=True)
    ap.add_argument("--settings", default=",".join(SETTINGS))
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    from flower_edge.imx500 import job as jobs
    from flower_edge.imx500.env import ensure_venv
    from flower_edge.imx500.export import Imx500Options, _prepare, _run_venv
    from flower_edge.rundir import RunDir
    from flower_edge.runtime.predictor import Predictor

    run = RunDir(args.run)
    spec, model, arch, _, labels = _prepare(run, Imx500Options(calib_samples=1), None)
    size = arch["image_size"]
    t = time.monotonic()
    images, y = labelled_images(args.eval_images, labels, size)
    print(f"{len(y)} eval photos at {size} px: {time.monotonic() - t:.0f} s")
    ref = model.predict(images.astype(np.float32), batch_size=32, verbose=0)
    rows = [row("float (TF 2.21)", ref, ref, y, 0.0)]
    int8 = run.bundle("int8")
    if (int8 / "model.tflite").is_file():
        t = time.monotonic()
        rows.append(row("flower-edge int8", Predictor(int8).probabilities(images), ref, y, time.monotonic() - t))
    for r in rows:
        print(json.dumps(r), flush=True)
    python = ensure_venv()
    with tempfile.TemporaryDirectory(prefix="imx500-fidelity-") as tmp:
        np.save(Path(tmp) / "eval.npy", images)
        np.save(Path(tmp) / "eval_labels.npy", y)
        for name in args.settings.split(","):
            override = SETTINGS[name]
            options = Imx500Options() if override is None else replace(Imx500Options(), **{**PLAIN, **override})
            _, _, _, calib, _ = _prepare(run, options, None)
            folder = Path(tmp) / name
            job = jobs.write_job(folder, model, arch, calib, options.mct(), labels, None, convert=False)
            data = json.loads(job.read_text())
            data.update(eval_npy=str(Path(tmp) / "eval.npy"), eval_labels=str(Path(tmp) / "eval_labels.npy"))
            job.write_text(json.dumps(data))
            seconds: dict = {}
            result = _run_venv(python, job, print, seconds)
            probs = np.load(folder / "out" / "quantized_probs.npy")
            rows.append(row(f"MCT {name}", probs, ref, y, seconds.get("quantize", 0.0)))
            rows[-1]["venv_float_top1"] = result["fidelity"]["float_top1"]
            print(json.dumps(rows[-1]), flush=True)
    print(f"\n{spec.name} @{size}, {len(y)} photos ({args.eval_images.name}); load {load_average()}")
    print("| setting | top-1 | agreement with float | KL | quantize s |\n|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['setting']} | {r['top1']:.1%} | {r['agreement']:.1%} | {r['kl']:.4f} | {r['seconds']} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
