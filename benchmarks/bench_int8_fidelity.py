#!/usr/bin/env python
"""INT8 fidelity: the TF-tutorial recipe vs flower-edge's default train + quantize --int8.

Both are measured on the same photos and print float top-1, int8 top-1, int8<->float
top-1 agreement, the mean KL divergence of int8's probabilities from float's, and sizes,
side by side. The photos: `--eval-images DIR` (a folder per class that no training or
calibration saw, e.g. flowers5-eval), else the run's test split.

    python benchmarks/bench_int8_fidelity.py --data ../shared/data/flowers5 \
        --weights ../shared/weights/mobilenet_v2_imagenet_from_tflite_notop.h5 --out artifacts/bench-int8 \
        --eval-images ../shared/data/flowers5-eval

The tutorial recipe: the pretrained MobileNetV2 base frozen, a new softmax head,
10 epochs of Adam, then Optimize.DEFAULT + 100 random training images +
TFLITE_BUILTINS_INT8 with uint8 input and output. flower-edge runs through its
CLI with default settings, so the figures are what a user gets. Further rows take
the int8 steps away on the same run (the converter alone; + bias correction; + MSE
activation ranges; the default adds mean correction), add the opt-in `--weight-scales mse`
and `--rounding gptq`, then `--int16x8`, and `--qat-epochs N` if asked.
The PASS/FAIL targets are judged on the default `--int8` row only.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from common import cli, labelled_images

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@dataclass
class Row:
    """One recipe's figures on the test split."""

    recipe: str
    test_images: int
    float_top1: float
    int8_top1: float
    agreement: float
    kl: float  # mean KL(float || int8) over the photos, nats
    float_mb: float
    int8_mb: float
    seconds: float


def test_split(run: Path, size: int):
    """The run's test images (eval transform, uint8) and labels."""
    from flower_edge.data.splits import DataSplits
    from flower_edge.runtime.transforms import load_for_model

    splits = DataSplits.load(run / "split.json")
    x = np.stack([load_for_model(p, size) for p in splits.test.paths])
    return splits, x, np.asarray(splits.test.labels)


def tflite_probs(model_path: Path, images: np.ndarray) -> np.ndarray:
    """Dequantized outputs of a .tflite for uint8 images, via ai-edge-litert."""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(model_path), num_threads=os.cpu_count())
    it.allocate_tensors()
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    rows = []
    for img in images:
        x = img[None].astype(np.float32)
        if inp["dtype"] != np.float32:
            scale, zp = inp["quantization"]
            info = np.iinfo(inp["dtype"])
            x = np.clip(np.round(x / scale + zp), info.min, info.max).astype(inp["dtype"])
        it.set_tensor(inp["index"], x)
        it.invoke()
        y = it.get_tensor(out["index"])[0].astype(np.float32)
        if out["dtype"] != np.float32:
            scale, zp = out["quantization"]
            y = (y - zp) * scale
        rows.append(y)
    return np.stack(rows)


def row(recipe, y, p_float, p_int8, float_mb, int8_mb, seconds) -> Row:
    af, aq = p_float.argmax(1), p_int8.argmax(1)
    pf, pq = np.clip(p_float, 1e-7, 1.0), np.clip(p_int8, 1e-7, 1.0)
    kl = float(np.mean(np.sum(pf * (np.log(pf) - np.log(pq)), axis=1)))
    return Row(recipe, len(y), float(np.mean(af == y)), float(np.mean(aq == y)),
               float(np.mean(af == aq)), kl, float_mb, int8_mb, seconds)


def tutorial(splits, weights: str, size: int, x_test, y_test, out: Path, seed: int) -> Row:
    """The TF transfer-learning + post-training-quantization tutorials, as written."""
    from flower_edge.models import get_spec
    from flower_edge.models.build import backbone_layers, build_model
    from flower_edge.runtime.transforms import load_for_model
    from flower_edge.tfcompat import keras, tf

    start = time.time()
    k = keras()
    tf().keras.utils.set_random_seed(seed)
    x_train = np.stack([load_for_model(p, size) for p in splits.train.paths]).astype(np.float32)
    y_train = np.asarray(splits.train.labels)
    model = build_model(get_spec("mobilenet_v2"), len(splits.classes), size, weights=weights)
    for layer in backbone_layers(model):
        layer.trainable = False
    model.compile(k.optimizers.Adam(), "sparse_categorical_crossentropy", ["accuracy"])
    model.fit(x_train, y_train, epochs=10, batch_size=32, shuffle=True, verbose=0)
    p_float = model.predict(x_test.astype(np.float32), batch_size=32, verbose=0)
    calib = x_train[np.random.default_rng(seed).permutation(len(x_train))[:100]]
    fp32 = tf().lite.TFLiteConverter.from_keras_model(model).convert()
    conv = tf().lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf().lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([img[None]] for img in calib)
    conv.target_spec.supported_ops = [tf().lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf().uint8
    conv.inference_output_type = tf().uint8
    int8 = conv.convert()
    path = out / "tutorial_int8.tflite"
    path.write_bytes(int8)
    p_int8 = tflite_probs(path, x_test)
    return row("tutorial (frozen base, 10 ep, PTQ 100 imgs, uint8 io)", y_test, p_float, p_int8,
               len(fp32) / 1e6, len(int8) / 1e6, time.time() - start)


def flower_edge(data: str, weights: str, out: Path, seed: int, extra_train: list[str],
                train: bool = True) -> tuple[Path, float]:
    """`flower-edge train` then `flower-edge quantize --fp32 --int8`, defaults otherwise."""
    start = time.time()
    run = out / "fe-mnv2"
    if train:
        subprocess.run(cli("train", "--data", data, "--backbone", "mobilenet_v2", "--weights", weights,
                           "--seed", seed, "--out", run, "--force", *extra_train), check=True)
    subprocess.run(cli("quantize", run, "--fp32", "--int8"), check=True)
    return run, time.time() - start


def flower_edge_quantize(run: Path, flags: list[str]) -> float:
    """`flower-edge quantize RUN FLAGS...` on the same run; returns its seconds."""
    start = time.time()
    subprocess.run(cli("quantize", run, *flags), check=True)
    return time.time() - start


# Same run, one step of the default int8 path taken away at a time, then the alternatives.
ABLATIONS = [
    (["--int8", "--activation-ranges", "minmax", "--no-bias-correction", "--no-mean-correction"],
     "int8-aminmax-nomc-nobc", "  same run, the converter alone (no flower-edge step)"),
    (["--int8", "--activation-ranges", "minmax", "--no-mean-correction"],
     "int8-aminmax-nomc", "  same run, + bias correction only (the round-1 default)"),
    (["--int8", "--no-mean-correction"],
     "int8-nomc", "  same run, + bias correction + MSE activation ranges"),
    (["--int8", "--weight-scales", "mse"],
     "int8-wmse", "  same run, default + --weight-scales mse (opt-in)"),
    (["--int8", "--rounding", "gptq"],
     "int8-gptq", "  same run, default + --rounding gptq (learned rounding, opt-in)"),
    (["--int16x8"], "int16x8", "  same run, quantize --int16x8 (int16 activations)"),
]


def float_probs(run: Path, x_test) -> np.ndarray:
    from flower_edge.tfcompat import keras

    model = keras().models.load_model(run / "model.keras")
    return model.predict(x_test.astype(np.float32), batch_size=32, verbose=0)


def flower_edge_row(run: Path, x_test, y_test, seconds: float, variant: str = "int8",
                    recipe: str = "flower-edge default train + quantize --int8", p_float=None) -> Row:
    p_float = float_probs(run, x_test) if p_float is None else p_float
    int8 = run / "export" / variant / "model.tflite"
    p_int8 = tflite_probs(int8, x_test)
    fp32_mb = (run / "export" / "fp32" / "model.tflite").stat().st_size / 1e6
    return row(recipe, y_test, p_float, p_int8, fp32_mb, int8.stat().st_size / 1e6, seconds)


def render(rows: list[Row]) -> str:
    lines = ["| recipe | test imgs | float top-1 | int8 top-1 | int8 vs float | agreement | KL to float "
             "| fp32 MB | int8 MB |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r.recipe} | {r.test_images} | {r.float_top1:.1%} | {r.int8_top1:.1%} | "
                     f"{(r.int8_top1 - r.float_top1) * 100:+.1f} pp | {r.agreement:.2%} | {r.kl:.4f} | "
                     f"{r.float_mb:.2f} | {r.int8_mb:.2f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="../shared/data/flowers5")
    ap.add_argument("--weights", default="../shared/weights/mobilenet_v2_imagenet_from_tflite_notop.h5")
    ap.add_argument("--out", default="artifacts/bench-int8")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--reuse-run", action="store_true",
                    help="skip training if OUT/fe-mnv2 exists (quantize still runs)")
    ap.add_argument("--train-arg", action="append", default=[], help="extra flag for flower-edge train")
    ap.add_argument("--no-ablations", dest="ablations", action="store_false",
                    help="skip the rows that take one int8 refinement away at a time, and int16x8")
    ap.add_argument("--eval-images", type=Path, default=None,
                    help="score on this folder-per-class set (e.g. ../shared/data/flowers5-eval) "
                         "instead of the run's test split")
    ap.add_argument("--qat-epochs", type=int, default=0,
                    help="also measure 'quantize --qat-epochs N' on the same run (0: skip)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    run = out / "fe-mnv2"
    reuse = args.reuse_run and (run / "model.keras").is_file()
    run, seconds = flower_edge(args.data, args.weights, out, args.seed, args.train_arg, train=not reuse)
    splits, x_test, y_test = test_split(run, args.size)
    if args.eval_images:
        x_test, y_test = labelled_images(args.eval_images, list(splits.classes), args.size)
    p_float = float_probs(run, x_test)
    rows = [tutorial(splits, args.weights, args.size, x_test, y_test, out, args.seed),
            flower_edge_row(run, x_test, y_test, seconds, p_float=p_float)]
    for flags, variant, label in ABLATIONS if args.ablations else []:
        seconds = flower_edge_quantize(run, flags)
        rows.append(flower_edge_row(run, x_test, y_test, seconds, variant, label, p_float))
        print(render(rows[-1:]).splitlines()[-1], flush=True)
    if args.qat_epochs:
        seconds = flower_edge_quantize(run, ["--qat-epochs", str(args.qat_epochs)])
        rows.append(flower_edge_row(run, x_test, y_test, seconds, "int8-qat",
                                    f"  same run, quantize --qat-epochs {args.qat_epochs} (distilled QAT)",
                                    p_float))
    table = render(rows)
    print(table)
    tut = rows[0]
    fe = rows[1]  # the default: flower-edge train + quantize --int8, nothing else
    verdict = {"agreement>=97%": fe.agreement >= 0.97,
               "int8 within 1pp of float": fe.float_top1 - fe.int8_top1 <= 0.01,
               "float above tutorial float": fe.float_top1 > tut.float_top1}
    print(f"flower-edge targets ({fe.recipe}):", ", ".join(f"{k}: {'PASS' if v else 'FAIL'}" for k, v in verdict.items()))
    (out / "bench_int8_fidelity.json").write_text(json.dumps(
        {"rows": [asdict(r) for r in rows], "targets": verdict}, indent=2))
    (out / "bench_int8_fidelity.md").write_text(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
