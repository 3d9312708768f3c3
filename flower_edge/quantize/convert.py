"""Keras -> TFLite bytes for one QuantizationConfig, with chatter sent to a log file."""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

import numpy as np

from flower_edge.errors import FlowerEdgeError
from flower_edge.quantize.config import QuantizationConfig
from flower_edge.quiet import quiet

# Ops that only move data between float and integer at the model's edges.
BOUNDARY_OPS = {"QUANTIZE", "DEQUANTIZE"}


@contextlib.contextmanager
def saved_model(model, log_path: Path | None = None):
    """Export `model` once as a SavedModel (temp dir) and yield its path.

    `from_keras_model` re-exports the model on every call; converting several
    variants from one export roughly halves the time per variant.
    """
    import shutil
    import tempfile

    from flower_edge.tfcompat import tf

    folder = tempfile.mkdtemp(prefix="flower-edge-savedmodel-")
    try:
        with quiet(log_path):
            tf().saved_model.save(model, folder)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def make_converter(model, config: QuantizationConfig, representative=None):
    """A TFLiteConverter for `model` (a tf_keras model or a SavedModel path) with `config` applied."""
    from flower_edge.tfcompat import tf

    lite = tf().lite
    if isinstance(model, (str, os.PathLike)):
        converter = lite.TFLiteConverter.from_saved_model(str(model))
    else:
        converter = lite.TFLiteConverter.from_keras_model(model)
    config.apply(converter, representative)
    return converter


def convert(model, config: QuantizationConfig, representative=None, log_path: Path | None = None,
            report: dict | None = None, reference=None, reference_fp32: bytes | None = None) -> bytes:
    """Convert; int8 failures name the op that could not be quantized.

    Plain int8 runs the converter's calibration and quantizer as two steps, with
    flower-edge's own steps around them (quantize/int8/, in the order they run);
    what each refinement did is added to `report`. `reference`: the original model when
    `model` is a bias-corrected copy (mean correction matches the original's outputs);
    `reference_fp32`: its fp32 conversion when the caller already has it (it is the fp32
    variant's file, and converting MobileNetV2 again costs ~15 s on 2 cores).
    """
    converter = make_converter(model, config, representative)
    if log_path:
        with open(log_path, "a", encoding="utf-8") as fh:
            fh.write(f"\n=== converting {config.variant} ===\n")
    try:
        with quiet(log_path):
            if config.refinable:
                return _refined_int8(converter, config, representative, report if report is not None else {},
                                     model if reference is None else reference, reference_fp32)
            return bytes(converter.convert())
    except Exception as exc:  # noqa: BLE001  (the converter raises many types)
        raise conversion_error(config, exc, log_path) from None


def _refined_int8(converter, config: QuantizationConfig, representative, report: dict, reference,
                  reference_fp32: bytes | None = None) -> bytes:
    from flower_edge.quantize import int8

    images = [batch[0] for batch in representative()]
    return int8.convert_steps(converter, config, images, report, lambda: reference_fp32 or bytes(
        make_converter(reference, QuantizationConfig("fp32")).convert()))


def conversion_error(config: QuantizationConfig, exc: Exception, log_path: Path | None) -> FlowerEdgeError:
    text = " ".join(str(exc).split())
    where = f"; details in {log_path}" if log_path else ""
    ops = sorted(set(re.findall(r"'tfl\.([a-z_0-9]+)'", text) + re.findall(r"op '?([A-Z_0-9]{3,})'?", text)))
    if config.kind == "int8" and ops and not config.int8.allow_float_fallback:
        return FlowerEdgeError(f"{config.variant}: cannot quantize op {', '.join(ops)} to int8; pass "
                               f"--allow-float-fallback to keep it in float (the file is then named "
                               f"'{config.variant}-mixed'){where}")
    return FlowerEdgeError(f"{config.variant} conversion failed: {text[:200]}{where}")


def float_ops(model_bytes: bytes) -> list[str]:
    """Names of ops that compute in float (outside the I/O (de)quantize edges)."""
    interpreter = _interpreter(model_bytes)
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    found = []
    for op in interpreter._get_ops_details():  # noqa: SLF001  (the only op-level view)
        if op["op_name"] in BOUNDARY_OPS:
            continue
        dtypes = [tensors[i]["dtype"] for i in list(op["outputs"]) if i in tensors]
        if any(np.dtype(d) == np.float32 for d in dtypes):
            found.append(op["op_name"])
    return found


def check_full_integer(model_bytes: bytes, config: QuantizationConfig) -> None:
    """Refuse to ship an 'int8' file that still computes in float."""
    if not config.full_integer:
        return
    ops = float_ops(model_bytes)
    if ops:
        names = ", ".join(sorted(set(ops)))
        raise FlowerEdgeError(f"{config.variant}: ops still run in float after int8 conversion ({names}); "
                              f"pass --allow-float-fallback to accept a mixed model named "
                              f"'{config.variant}-mixed'")


def _interpreter(model_bytes: bytes):
    from ai_edge_litert.interpreter import Interpreter

    return Interpreter(model_content=model_bytes)
