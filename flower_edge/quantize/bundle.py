"""Write one bundle (model.tflite, labels.txt, manifest.json) atomically, with runtime checks."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from flower_edge.guard import NO_DATA, output_dir  # a bundle lies in a checked RUN/export
from flower_edge.io import atomic_write_bytes, atomic_write_json, sha256_file
from flower_edge.quantize.config import QuantizationConfig
from flower_edge.quantize.metadata import add_metadata, known_clients
from flower_edge.runtime.manifest import LABELS_NAME, MANIFEST_NAME, MODEL_NAME, SCHEMA_VERSION

TFLITE_RUNTIME_ENV = "FLOWER_EDGE_TFLITE_RUNTIME_PYTHON"
TFLITE_RUNTIME_KEY = "tflite-runtime-2.14"
LITERT_KEY = "ai-edge-litert"

# Run in a separate interpreter: tflite-runtime needs numpy<2 and crashes if TF was imported first.
_LOAD_SCRIPT = """
import json, sys
import numpy as np
from tflite_runtime.interpreter import Interpreter
it = Interpreter(model_path=sys.argv[1])
it.allocate_tensors()
d = it.get_input_details()[0]
it.set_tensor(d["index"], np.zeros(d["shape"], dtype=d["dtype"]))
it.invoke()
print(json.dumps({"loads": True}))
"""


def tensor_info(detail: dict) -> dict:
    """Shape, dtype and (per-tensor) scale / zero point of an interpreter tensor."""
    scale, zero_point = detail.get("quantization", (0.0, 0))
    return {"shape": [int(x) for x in detail["shape"]], "dtype": np.dtype(detail["dtype"]).name,
            "scale": float(scale), "zero_point": int(zero_point)}


def io_details(model_path: Path) -> tuple[dict, dict]:
    """(input, output) manifest entries, read from the converted file itself."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(model_path))
    inp = tensor_info(interpreter.get_input_details()[0])
    out = tensor_info(interpreter.get_output_details()[0])
    # raw pixels go straight in when the input quantization is the identity on 0..255
    inp["raw_pixels"] = inp["dtype"] == "uint8" and abs(inp["scale"] - 1.0) < 1e-6 and inp["zero_point"] == 0
    out["kind"] = "probabilities"
    return inp, out


def check_litert(model_path: Path) -> dict:
    """Load and invoke once in ai-edge-litert."""
    try:
        from ai_edge_litert import __version__ as version
    except ImportError:
        version = None
    try:
        from ai_edge_litert.interpreter import Interpreter

        from flower_edge.quantize.convert import quiet

        with quiet(None):  # the delegate's INFO line is chatter, not a result
            interpreter = Interpreter(model_path=str(model_path))
            interpreter.allocate_tensors()
            detail = interpreter.get_input_details()[0]
            interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], dtype=detail["dtype"]))
            interpreter.invoke()
        return {"loads": True, "checked": True, "version": version}
    except Exception as exc:  # noqa: BLE001
        return {"loads": False, "checked": True, "version": version, "error": _short(exc)}


def check_tflite_runtime(model_path: Path, config: QuantizationConfig) -> dict:
    """Load in tflite-runtime 2.14 through $FLOWER_EDGE_TFLITE_RUNTIME_PYTHON, else the known rule."""
    python = os.environ.get(TFLITE_RUNTIME_ENV)
    if not python:
        rejected = config.kind == "dynamic" and not config.int8.dense_per_tensor
        return {"loads": not rejected, "checked": False,
                "note": ("expected to fail: per-channel dynamic FULLY_CONNECTED is op version 12"
                         if rejected else "expected to load (known rule); set "
                         f"{TFLITE_RUNTIME_ENV} to a python with tflite-runtime==2.14 to check")}
    try:
        proc = subprocess.run([python, "-c", _LOAD_SCRIPT, str(model_path)], capture_output=True,
                              text=True, timeout=120, env={**os.environ, "PYTHONPATH": ""})
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"loads": False, "checked": False, "error": f"cannot run {python}: {_short(exc)}"}
    if proc.returncode == 0:
        return {"loads": True, "checked": True}
    lines = [ln for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
    # the cause ("Didn't find op for builtin opcode ...") precedes the final "Registration failed."
    causes = [ln for ln in lines if "Didn't find op" in ln] or lines[-1:]
    return {"loads": False, "checked": True, "error": _short(causes[0] if causes else proc.returncode)}


def write_bundle(dest: Path, model_bytes: bytes, labels: list[str], config: QuantizationConfig,
                 meta: dict, check_runtimes: bool = True) -> dict:
    """Write dest/{model.tflite, labels.txt, manifest.json} atomically; return the manifest."""
    with output_dir(dest, "bundle", "bundle folder", data=NO_DATA) as tmp:
        # metadata first: the sha256 and size below are those of the file with it
        model_bytes, metadata = add_metadata(model_bytes, labels, config.variant, meta)
        model_path = atomic_write_bytes(tmp / MODEL_NAME, model_bytes)
        labels_path = atomic_write_bytes(tmp / LABELS_NAME, ("\n".join(labels) + "\n").encode("utf-8"))
        inp, out = io_details(model_path)
        runtimes = {LITERT_KEY: check_litert(model_path)}
        if check_runtimes:
            runtimes[TFLITE_RUNTIME_KEY] = check_tflite_runtime(model_path, config)
        manifest = {
            "schema_version": SCHEMA_VERSION,
            "architecture": meta["architecture"],
            "variant": config.variant,
            "num_classes": len(labels),
            "source_run": meta["source_run"],
            "tf_version": meta["tf_version"],
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "input": inp,
            "output": out,
            "preprocessing": {"resize": "shorter_side", "crop": "center",
                              "size": [meta["image_size"], meta["image_size"]],
                              "value_range": [0, 255], "channels": "RGB", "resample": "bilinear"},
            "files": {"model": {"name": MODEL_NAME, "sha256": sha256_file(model_path),
                                "bytes": len(model_bytes)},
                      "labels": {"name": LABELS_NAME, "sha256": sha256_file(labels_path)}},
            "runtimes": runtimes,
            "metadata": metadata,
            "clients": known_clients(inp["dtype"], runtimes),
            "quantization": {**quantization_details(config), **meta.get("quantization", {})},
        }
        atomic_write_json(tmp / MANIFEST_NAME, manifest)
    return manifest


def quantization_details(config: QuantizationConfig) -> dict:
    out = {"kind": config.kind, "full_integer": config.full_integer}
    if config.kind == "int8":
        o = config.int8
        out.update(io=o.io, output_type=o.output_type, calib_samples=o.calib_samples,
                   per_channel=o.per_channel, allow_float_fallback=o.allow_float_fallback,
                   keep_float=list(config.keep_float), qat=config.qat, rounding=o.rounding)
    if config.kind == "dynamic":
        out["dense_per_tensor"] = config.int8.dense_per_tensor
    return out


def _short(exc, limit: int = 200) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[:limit] + "..."

