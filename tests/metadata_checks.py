"""Shared assertion: a bundle's model.tflite carries flower-edge's TFLite Model Metadata."""

from __future__ import annotations

import json
from pathlib import Path


def assert_carries_metadata(bundle: Path) -> dict:
    """The metadata names the bundle's labels (packed in), normalization 0/1, the input size;
    the manifest says so and its sha256 is that of the file with the metadata."""
    from flower_edge.io import sha256_file
    from flower_edge.runtime.tflite_file import io_tensors, read_metadata

    manifest = json.loads((bundle / "manifest.json").read_text())
    data = (bundle / "model.tflite").read_bytes()
    meta, files = read_metadata(data)
    assert meta is not None, bundle
    labels = (bundle / "labels.txt").read_bytes()
    assert files == {"labels.txt": labels}
    image, = meta.inputs
    out, = meta.outputs
    assert image.image and image.color_space == "RGB" and (image.mean, image.std) == ((0.0,), (1.0,))
    assert list(image.size) == io_tensors(data)[0]["shape"][1:3] == manifest["preprocessing"]["size"]
    assert [f.name for f in out.files] == ["labels.txt"] and out.files[0].type == 2  # TENSOR_AXIS_LABELS
    assert meta.name == f"flower-edge {manifest['architecture']} {manifest['variant']}"
    assert meta.min_parser_version == "1.0.0"
    assert manifest["metadata"]["schema"] == "M001" and manifest["metadata"]["labels_file"] == "labels.txt"
    assert manifest["files"]["model"]["sha256"] == sha256_file(bundle / "model.tflite")
    assert manifest["files"]["model"]["bytes"] == len(data)
    return manifest
