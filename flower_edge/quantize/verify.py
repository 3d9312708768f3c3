"""After conversion: every variant against the Keras model on a validation batch.

Results are data (`VariantRow`); `render_table` and `agreement_warnings` turn
them into text for people.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from flower_edge.io import gzip_size
from flower_edge.metrics import agreement

MB = 1e6


@dataclass(frozen=True)
class VariantRow:
    """One exported variant, checked."""

    variant: str
    path: str
    size_mb: float
    ratio_to_fp32: float | None
    top1_agreement: float
    max_abs_prob_diff: float
    samples: int
    input_dtype: str
    output_dtype: str
    litert_loads: bool
    tflite_runtime_loads: bool | None
    gzip_mb: float | None = None  # gzip -9 of model.tflite: the size sent over the air

    def to_dict(self) -> dict:
        return asdict(self)


def tflite_probabilities(model_path: Path, images: np.ndarray) -> np.ndarray:
    """Run a .tflite on uint8 HxWx3 images one by one, as the runtime does; float32 [N, C]."""
    from flower_edge.runtime.interpreter import make_interpreter
    from flower_edge.runtime.predictor import input_lut

    interpreter, _ = make_interpreter(model_path)
    inp = interpreter.get_input_details()[0]
    out = interpreter.get_output_details()[0]
    lut = input_lut(inp["dtype"], *inp["quantization"])
    results = []
    for img in images:
        interpreter.set_tensor(inp["index"], lut[img[None]])
        interpreter.invoke()
        results.append(dequantize(interpreter.get_tensor(out["index"])[0], out))
    return np.stack(results).astype(np.float32)


def dequantize(values: np.ndarray, detail: dict) -> np.ndarray:
    if np.dtype(detail["dtype"]) == np.float32:
        return values.astype(np.float32)
    scale, zero_point = detail["quantization"]
    return (values.astype(np.float32) - zero_point) * scale


def compare(reference: np.ndarray, probs: np.ndarray) -> tuple[float, float]:
    """(top-1 agreement, max abs probability difference)."""
    return agreement(reference, probs), float(np.max(np.abs(reference - probs)))


def make_row(variant: str, bundle: Path, manifest: dict, reference: np.ndarray, images: np.ndarray,
             fp32_bytes: int | None) -> VariantRow:
    """Check one bundle against the Keras reference probabilities."""
    model_path = bundle / manifest["files"]["model"]["name"]
    size = manifest["files"]["model"]["bytes"]
    agree, diff = compare(reference, tflite_probabilities(model_path, images))
    runtimes = manifest.get("runtimes", {})
    tfrt = runtimes.get("tflite-runtime-2.14", {})
    return VariantRow(variant=variant, path=str(bundle), size_mb=round(size / MB, 3),
                      gzip_mb=round(gzip_size(model_path) / MB, 3),
                      ratio_to_fp32=round(size / fp32_bytes, 3) if fp32_bytes else None,
                      top1_agreement=agree, max_abs_prob_diff=diff, samples=len(images),
                      input_dtype=manifest["input"]["dtype"], output_dtype=manifest["output"]["dtype"],
                      litert_loads=bool(runtimes.get("ai-edge-litert", {}).get("loads")),
                      tflite_runtime_loads=tfrt.get("loads") if tfrt.get("checked") else None)


def render_table(rows: list[VariantRow]) -> str:
    """A Markdown table for the terminal and the export README."""
    head = ("| variant | size MB | gzip MB | vs fp32 | top-1 agreement | max abs prob diff | in/out | "
            "litert | tflite-runtime 2.14 |")
    lines = [head, "|---|---:|---:|---:|---:|---:|---|---|---|"]
    for r in rows:
        ratio = f"{r.ratio_to_fp32:.2f}x" if r.ratio_to_fp32 else "-"
        tfrt = {True: "yes", False: "NO", None: "unchecked"}[r.tflite_runtime_loads]
        gz = "-" if r.gzip_mb is None else f"{r.gzip_mb:.2f}"
        lines.append(f"| {r.variant} | {r.size_mb:.2f} | {gz} | {ratio} | {r.top1_agreement:.1%} "
                     f"({r.samples}) | {r.max_abs_prob_diff:.2g} | {r.input_dtype}/{r.output_dtype} | "
                     f"{'yes' if r.litert_loads else 'NO'} | {tfrt} |")
    return "\n".join(lines)


def below_threshold(agreement: float, samples: int, threshold: float, alpha: float = 0.05) -> bool:
    """Below `threshold` by more than chance: a model that truly agrees at `threshold` would
    show this many disagreements or more on `samples` images less than `alpha` of the time.
    On a 50-photo val split, 2 disagreements (96%) are not evidence against 97%; 5 are."""
    from scipy.stats import binom

    if agreement >= threshold or samples <= 0:
        return False
    disagreements = round((1.0 - agreement) * samples)
    return float(binom.sf(disagreements - 1, samples, 1.0 - threshold)) < alpha


def agreement_warnings(rows: list[VariantRow], threshold: float, label_smoothing: float = 0.0) -> list[str]:
    """One line per int8 variant whose top-1 agreement with Keras is below `threshold`
    by more than the validation split's size explains (`below_threshold`).

    `label_smoothing`: the run's training value; above 0 the advice starts with retraining.
    """
    out = []
    for r in rows:
        if r.variant.startswith("int8") and below_threshold(r.top1_agreement, r.samples, threshold):
            # Advice measured on a pretrained MobileNetV2 (docs/int8-fidelity.md): without label
            # smoothing agreement rose from 86.7% to 96-97%; int16x8 reached >= 97%; distilled QAT
            # kept int8 accuracy; more calibration did nothing.
            retrain = (f"the model was trained with label smoothing {label_smoothing:g}, which leaves "
                       f"narrow margins int8 flips: retrain with '--label-smoothing 0' first; "
                       if label_smoothing > 0 else "")
            out.append(f"{r.variant} agrees with the Keras model on only {r.top1_agreement:.1%} of top-1 "
                       f"(< {threshold:.0%}, {r.samples} validation images): {retrain}'--int16x8' (int16 "
                       f"activations) keeps the float decisions best, '--qat-epochs 3' keeps int8 "
                       f"accuracy at the float model's, '--debug --keep-float auto:3' helps when one "
                       f"layer is at fault")
    return out
