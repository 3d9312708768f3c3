"""A bare .tflite classifier with TFLite Model Metadata and no flower-edge manifest
(a MediaPipe Model Maker export, any Task-Library image classifier) as a Bundle.

Labels, normalization and input size come from the metadata; the manifest the rest of
flower-edge reads is derived from it, so every command runs such a model unchanged.
Frames get flower-edge's own preprocessing (shorter side resized, centre crop).
"""

from __future__ import annotations

import struct
from pathlib import Path

from flower_edge.errors import BundleError
from flower_edge.io import sha256_file
from flower_edge.runtime.manifest import SCHEMA_VERSION

NO_METADATA = ("{path} has no flower-edge manifest.json beside it and no TFLite Model Metadata (labels, "
               "normalization); pass a bundle folder made by 'flower-edge quantize', or a classifier "
               "exported with metadata (e.g. by MediaPipe Model Maker)")


def manifest_from_metadata(path: Path) -> tuple[dict, list[str]]:
    """(manifest, labels) of a bare .tflite from its metadata; one-line BundleError otherwise."""
    data = path.read_bytes()
    try:
        from flower_edge.runtime.tflite_file import io_tensors, read_metadata

        meta, files = read_metadata(data)
        inp, out = io_tensors(data)
    except ImportError:
        raise BundleError("reading a .tflite's metadata needs the flatbuffers package (it comes with "
                          "ai-edge-litert): pip install flatbuffers") from None
    except (ValueError, IndexError, struct.error, TypeError) as exc:
        raise BundleError(f"{path} is not a valid .tflite or its metadata is corrupt ({exc}); "
                          f"export the model again") from None
    if meta is None:
        raise BundleError(NO_METADATA.format(path=path))
    labels = _labels(path, meta, files)
    image = meta.inputs[0] if meta.inputs else None
    if image is not None and image.image and image.color_space not in ("RGB", "UNKNOWN"):
        raise BundleError(f"{path} takes {image.color_space} images; flower-edge runs RGB classifiers only")
    shape = inp["shape"]
    size = [int(shape[1]), int(shape[2])] if len(shape) == 4 else [0, 0]
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "architecture": meta.name or path.stem,
        "variant": path.stem,
        "num_classes": len(labels),
        "input": inp,
        "output": {**out, "kind": "probabilities"},  # scores as the model gives them, as MediaPipe does
        "preprocessing": {"resize": "shorter_side", "crop": "center", "size": size,
                          "value_range": _value_range(path, image, inp), "channels": "RGB",
                          "resample": "bilinear", "source": "TFLite Model Metadata"},
        "files": {"model": {"name": path.name, "sha256": sha256_file(path), "bytes": len(data)}},
        "metadata": {"name": meta.name, "version": meta.version, "description": meta.description,
                     "author": meta.author, "min_parser_version": meta.min_parser_version,
                     "normalization": {"mean": list(image.mean), "std": list(image.std)} if image else {}},
    }
    return manifest, labels


def _labels(path: Path, meta, files: dict[str, bytes]) -> list[str]:
    from flower_edge.runtime.tflite_metadata import LABELS_FILE

    names = [f.name for t in meta.outputs for f in t.files if f.type == LABELS_FILE and not f.locale] or \
        [f.name for t in meta.outputs for f in t.files if f.type == LABELS_FILE]
    if not names:
        raise BundleError(f"{path} has TFLite Model Metadata but no labels file on its output "
                          f"(TENSOR_AXIS_LABELS); add one with a metadata writer")
    if names[0] not in files:
        raise BundleError(f"{path} names the labels file {names[0]} but does not pack it; "
                          f"write the metadata again with its associated files")
    text = files[names[0]].decode("utf-8", "replace")
    return [line.strip() for line in text.splitlines() if line.strip()]


def _value_range(path: Path, image, inp: dict) -> list[float]:
    """The model's input value of pixel 0 and 255 (flower-edge's input table is linear)."""
    if inp["dtype"] == "uint8" and inp["scale"]:
        # a uint8 input gets the raw pixels in MediaPipe and the Task Library: map pixel p to the
        # real value whose quantized form is p, so the input table is the identity
        return [-inp["zero_point"] * inp["scale"], (255 - inp["zero_point"]) * inp["scale"]]
    mean, std = (image.mean, image.std) if image is not None else ((), ())
    if not mean or not std:
        raise BundleError(f"{path} takes {inp['dtype']} input but its metadata has no NormalizationOptions "
                          f"(mean, std); write them with a metadata writer")
    if len(set(mean)) > 1 or len(set(std)) > 1:
        raise BundleError(f"{path} normalizes each colour channel differently (mean {list(mean)}, std "
                          f"{list(std)}); flower-edge supports one mean and std for all channels")
    m, s = float(mean[0]), float(std[0])
    if s == 0:
        raise BundleError(f"{path} has a normalization std of 0 in its metadata; fix the metadata")
    return [(0.0 - m) / s, (255.0 - m) / s]
