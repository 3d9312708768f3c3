"""Load a bundle (manifest.json + model.tflite + labels.txt) and check it is intact."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from flower_edge.errors import BundleError
from flower_edge.io import sha256_file
from flower_edge.runtime.manifest import LABELS_NAME, MANIFEST_NAME, MODEL_NAME, read_manifest


@dataclasses.dataclass(frozen=True)
class Bundle:
    """A checked bundle: its folder, manifest, class labels (output order) and model file."""

    dir: Path
    manifest: dict
    labels: list[str]
    model_path: Path

    @property
    def image_size(self) -> tuple[int, int]:
        """(height, width) the model expects, from the manifest's preprocessing."""
        size = self.manifest["preprocessing"].get("size") or self.manifest["input"]["shape"][1:3]
        return (int(size[0]), int(size[1])) if isinstance(size, (list, tuple)) else (int(size), int(size))

    @property
    def variant(self) -> str:
        return str(self.manifest.get("variant", "?"))

    @property
    def output_kind(self) -> str:
        return str(self.manifest["output"].get("kind", "probabilities"))


def load_bundle(path: str | os.PathLike, verify: bool = True) -> Bundle:
    """Read a bundle folder (or any file in it), or a bare .tflite carrying TFLite Model
    Metadata; `verify` checks a bundle's sha256 and sizes."""
    path = Path(path)
    if path.is_file() and path.suffix.lower() == ".tflite" and not (path.parent / MANIFEST_NAME).is_file():
        # someone else's classifier: labels, normalization and size from its TFLite metadata
        from flower_edge.runtime.metadata_bundle import manifest_from_metadata

        manifest, labels = manifest_from_metadata(path)
        return Bundle(path.parent, manifest, labels, path)
    if path.is_file() and path.name != MANIFEST_NAME:
        path = path.parent  # e.g. `--model bundle/model.tflite`
    manifest = read_manifest(path)
    folder = path if path.is_dir() else path.parent
    files = manifest["files"]
    model_path = folder / files.get("model", {}).get("name", MODEL_NAME)
    labels_path = folder / files.get("labels", {}).get("name", LABELS_NAME)
    for item in (model_path, labels_path):
        if not item.is_file():
            raise BundleError(f"{item.name} is missing from {folder}; copy the whole bundle folder")
    if verify:
        _check_file(model_path, files.get("model", {}))
        _check_file(labels_path, files.get("labels", {}))
    labels = [line.strip() for line in labels_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    outputs = _output_size(manifest)
    if outputs is not None and len(labels) != outputs:
        raise BundleError(f"{labels_path} has {len(labels)} labels but the model outputs {outputs} "
                          f"classes; use the labels.txt exported with this model")
    return Bundle(folder, manifest, labels, model_path)


def _output_size(manifest: dict) -> int | None:
    shape = manifest["output"].get("shape")
    if shape:
        return int(shape[-1])
    return int(manifest["num_classes"]) if "num_classes" in manifest else None


def _check_file(path: Path, entry: dict) -> None:
    expected_bytes = entry.get("bytes")
    if expected_bytes is not None and path.stat().st_size != int(expected_bytes):
        raise BundleError(f"{path} is {path.stat().st_size} bytes, the manifest says {expected_bytes} "
                          f"(truncated or replaced); copy the bundle again")
    expected = entry.get("sha256")
    if not expected:
        raise BundleError(f"the manifest has no sha256 for {path.name}; re-export the bundle")
    if sha256_file(path) != expected:
        raise BundleError(f"{path} does not match its sha256 in the manifest (modified or corrupt); "
                          f"copy the bundle again or re-export it")
