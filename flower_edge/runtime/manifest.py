"""The bundle manifest: what a `.tflite` needs to be run correctly anywhere.

Schema (version 1), written by the quantize stage, read by the TF-free runtime:

    schema_version, architecture, variant, num_classes, source_run, tf_version, created
    input:  {shape, dtype, scale, zero_point}
    output: {shape, dtype, scale, zero_point, kind: "probabilities" | "logits"}
    preprocessing: {resize: "shorter_side", crop: "center", size: [h, w],
                    value_range: [0, 255], channels: "RGB", resample: "bilinear"}
    files:  {model: {name, sha256, bytes}, labels: {name, sha256}}
    runtimes: {"ai-edge-litert": {loads, checked, version, error?},
               "tflite-runtime-2.14": {loads, checked, error?}}
    quantization: {free-form details: calibration samples, io, keep_float, ...}
    metadata: {schema: "M001", min_parser_version, name, version, labels_file, normalization,
               bytes_added}: the TFLite Model Metadata inside model.tflite (quantize/metadata.py)
    clients: {works: [names], not: {name: why}, unchecked: [names]}: software the bundle is
             known to run in (quantize/metadata.known_clients)
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from flower_edge.errors import BundleError

SCHEMA_VERSION = 1
MANIFEST_NAME = "manifest.json"
MODEL_NAME = "model.tflite"
LABELS_NAME = "labels.txt"

REQUIRED_KEYS = ("schema_version", "architecture", "variant", "input", "output",
                 "preprocessing", "files")


def read_manifest(bundle: str | os.PathLike) -> dict:
    """Load and validate `bundle/manifest.json` (one-line errors)."""
    bundle = Path(bundle)
    if not bundle.exists():
        raise BundleError(f"bundle not found: {bundle} (pass a folder made by 'flower-edge quantize')")
    path = bundle / MANIFEST_NAME if bundle.is_dir() else bundle
    if not path.is_file():
        raise BundleError(f"no {MANIFEST_NAME} in {bundle}: pass a bundle folder made by 'flower-edge quantize'")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise BundleError(f"{path} is not valid JSON ({exc}); re-export the bundle") from None
    missing = [k for k in REQUIRED_KEYS if k not in data]
    if missing:
        raise BundleError(f"{path} lacks {', '.join(missing)}; re-export the bundle with 'flower-edge quantize'")
    if int(data["schema_version"]) > SCHEMA_VERSION:
        raise BundleError(f"{path} has schema {data['schema_version']}, newer than this flower-edge "
                          f"supports ({SCHEMA_VERSION}); upgrade flower-edge")
    return data
