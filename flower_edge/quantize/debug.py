"""The TFLite quantization debugger: a per-layer error report and selective quantization.

`rmse/scale` (root-mean-square quantization error divided by the layer's
quantization step) ranks layers: ~0.29 is ideal rounding noise, far above it
means the layer's range is badly served by 8 bits.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import asdict, dataclass
from pathlib import Path

from flower_edge.errors import UsageError
from flower_edge.io import atomic_write_text
from flower_edge.quantize.config import QuantizationConfig, parse_keep_float
from flower_edge.quantize.convert import conversion_error, make_converter, quiet


@dataclass(frozen=True)
class LayerError:
    """One quantized tensor's error against float, from the debugger."""

    tensor_name: str
    op_name: str
    rmse: float
    scale: float
    rmse_scale: float
    mean_error: float
    max_abs_error: float


def run_debugger(model, config: QuantizationConfig, representative, debug_images, log_path=None):
    """Calibrate once, run the debugger on `debug_images`; returns (debugger, rows worst first)."""
    from flower_edge.quantize.calibration import representative_dataset
    from flower_edge.tfcompat import tf

    # The debugger quantizes with float I/O itself; float fallback lets denylisted layers stay float.
    probe = QuantizationConfig.of("int8", io="float32", output_type="float32",
                                  calib_samples=config.int8.calib_samples, allow_float_fallback=True,
                                  per_channel=config.int8.per_channel)
    converter = make_converter(model, probe, representative)
    try:
        with quiet(log_path):
            debugger = tf().lite.experimental.QuantizationDebugger(
                converter=converter, debug_dataset=representative_dataset(debug_images))
            debugger.run()
    except Exception as exc:  # noqa: BLE001
        raise conversion_error(config, exc, log_path) from None
    buf = io.StringIO()
    debugger.layer_statistics_dump(buf)
    buf.seek(0)
    rows = [_row(r) for r in csv.DictReader(buf)]
    rows.sort(key=lambda r: r.rmse_scale, reverse=True)
    return debugger, rows


def _row(raw: dict) -> LayerError:
    mse, scale = float(raw.get("mean_squared_error") or 0.0), float(raw.get("scale") or 0.0)
    rmse = math.sqrt(max(mse, 0.0))
    return LayerError(tensor_name=raw["tensor_name"], op_name=raw["op_name"], rmse=rmse, scale=scale,
                      rmse_scale=rmse / scale if scale else 0.0,
                      mean_error=float(raw.get("mean_error") or 0.0),
                      max_abs_error=float(raw.get("max_abs_error") or 0.0))


def write_report(rows: list[LayerError], folder: Path) -> tuple[Path, Path]:
    """layers.csv (machines) and layers.md (people), worst layer first."""
    buf = io.StringIO()
    fields = list(asdict(rows[0]).keys()) if rows else list(LayerError.__dataclass_fields__)
    writer = csv.DictWriter(buf, fields)
    writer.writeheader()
    for r in rows:
        writer.writerow(asdict(r))
    csv_path = atomic_write_text(folder / "layers.csv", buf.getvalue())
    lines = ["# Quantization debugger: per-layer error, worst first", "",
             "rmse/scale ~0.29 is pure rounding noise; much larger means 8 bits serve the layer badly. "
             "Keep the worst in float with `--keep-float auto:K`.", "",
             "| rank | tensor | op | rmse/scale | rmse | scale | max abs error |",
             "|---:|---|---|---:|---:|---:|---:|"]
    for i, r in enumerate(rows, 1):
        lines.append(f"| {i} | `{r.tensor_name}` | {r.op_name} | {r.rmse_scale:.3f} | {r.rmse:.4g} | "
                     f"{r.scale:.4g} | {r.max_abs_error:.4g} |")
    md_path = atomic_write_text(folder / "layers.md", "\n".join(lines) + "\n")
    return csv_path, md_path


def resolve_keep_float(spec: tuple[str, ...], rows: list[LayerError]) -> list[str]:
    """Tensor names to keep in float: the K worst, or those matching the given layer names."""
    auto, names = parse_keep_float(spec)
    if auto:
        return [r.tensor_name for r in rows[:auto]]
    picked = []
    for name in names:
        hits = [r.tensor_name for r in rows if name == r.tensor_name or f"/{name}/" in f"/{r.tensor_name}/"
                or f"/{name};" in r.tensor_name]
        if not hits:
            known = ", ".join(r.tensor_name for r in rows[:5])
            raise UsageError(f"--keep-float: no quantized layer matches '{name}' (worst layers: {known}; "
                             f"see export/debug/layers.md from --debug)")
        picked.extend(h for h in hits if h not in picked)
    return picked


def selective_model(debugger, config: QuantizationConfig, nodes: list[str], log_path=None) -> bytes:
    """Quantize with `nodes` kept in float, then set the requested I/O types where possible."""
    from tensorflow.lite.python import convert as lite_convert
    from tensorflow.lite.python.util import modify_model_io_type

    from flower_edge.tfcompat import tf

    with quiet(log_path):
        model = lite_convert.mlir_quantize(debugger.calibrated_model,
                                           disable_per_channel=not config.int8.per_channel,
                                           denylisted_nodes=list(nodes))
        try:
            return bytes(modify_model_io_type(model, getattr(tf(), config.int8.io),
                                                 getattr(tf(), config.int8.output_type)))
        except (ValueError, RuntimeError):
            # the first/last layer itself stays float: its I/O cannot be integer
            return bytes(model)
