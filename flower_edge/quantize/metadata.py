"""The TFLite Model Metadata every bundle's model.tflite carries, and the clients it runs in.

With it, MediaPipe Tasks' ImageClassifier (Android, iOS, web, Python) and the TFLite Task
Library load a bundle with no options and return flower-edge's label names. flower-edge
models take RGB pixels 0..255 and rescale inside the graph, so the normalization is
mean 0 / std 1 (uint8-input models get raw pixels anyway); labels.txt is packed in.
"""

from __future__ import annotations

from pathlib import PurePath

from flower_edge.runtime.manifest import LABELS_NAME
from flower_edge.runtime.tflite_file import embed_metadata, io_tensors
from flower_edge.runtime.tflite_metadata import (
    FILE_IDENTIFIER,
    MIN_PARSER_VERSION,
    AssociatedFile,
    ModelMetadata,
    TensorMetadata,
)

MEDIAPIPE = "MediaPipe Tasks ImageClassifier"
TASK_LIBRARY = "TFLite Task Library ImageClassifier"
# Task-API clients feed uint8 pixels or normalized floats, nothing else.
CLIENT_INPUT_TYPES = ("uint8", "float32")
IO_INT8_NOTE = (f"--io int8 bundles take int8 input, which {MEDIAPIPE} and the {TASK_LIBRARY} refuse "
                f"(they need {' or '.join(CLIENT_INPUT_TYPES)} input): ship an int8 bundle with the "
                f"default uint8 input to an Android, iOS or web app")


def classifier_metadata(labels: list[str], variant: str, meta: dict, size: tuple[int, int]) -> ModelMetadata:
    """Name, description and version from the run; input image RGB 0..255; output probabilities + labels."""
    run = PurePath(str(meta.get("source_run", ""))).name or "run"
    arch = meta["architecture"]
    return ModelMetadata(
        name=f"flower-edge {arch} {variant}",
        description=(f"Flower classifier ({len(labels)} classes) fine-tuned from {arch} by flower-edge; "
                     f"variant {variant}. Input: an upright RGB photo, shorter side resized to "
                     f"{size[0]} px and centre-cropped."),
        version=f"{run} {variant}",
        author="flower-edge",
        inputs=(TensorMetadata(
            name="image", description=f"RGB pixels 0..255, {size[0]}x{size[1]}, centre-cropped square",
            image=True, color_space="RGB", size=size, mean=(0.0,), std=(1.0,),
            stats_min=(0.0,), stats_max=(255.0,)),),
        outputs=(TensorMetadata(
            name="probability", description="Probability of each class, in labels.txt order",
            stats_min=(0.0,), stats_max=(1.0,),
            files=(AssociatedFile(LABELS_NAME, "Class names, one per line, in output order"),)),))


def add_metadata(model: bytes, labels: list[str], variant: str, meta: dict) -> tuple[bytes, dict]:
    """(model with metadata and labels.txt packed in, the manifest's "metadata" entry).

    quantize/bundle.write_bundle calls this for every variant before it records the sha256.
    """
    inp, _ = io_tensors(model)
    size = (int(inp["shape"][1]), int(inp["shape"][2]))
    md = classifier_metadata(labels, variant, meta, size)
    out = embed_metadata(model, md, {LABELS_NAME: ("\n".join(labels) + "\n").encode("utf-8")})
    entry = {"schema": FILE_IDENTIFIER.decode(), "min_parser_version": MIN_PARSER_VERSION,
             "name": md.name, "version": md.version, "labels_file": LABELS_NAME,
             "normalization": {"mean": list(md.inputs[0].mean), "std": list(md.inputs[0].std)},
             "bytes_added": len(out) - len(model)}
    return out, entry


def known_clients(input_dtype: str, runtimes: dict) -> dict:
    """{"works": [...], "not": {client: why}, "unchecked": [...]}: where this bundle is known to run.

    MediaPipe: by its input-type rule (tested on fp32 and int8 bundles in tests/test_mediapipe.py);
    interpreters: by the load checks in `runtimes`.
    """
    works, refused, unchecked = ["flower-edge"], {}, []
    for name, status in runtimes.items():
        if not status.get("checked", True):
            unchecked.append(name)  # only a rule says so: not "known"
        elif status.get("loads"):
            works.append(name)
        else:
            refused[name] = status.get("error") or "does not load"
    if input_dtype in CLIENT_INPUT_TYPES:
        works.append(MEDIAPIPE)
    else:
        refused[MEDIAPIPE] = f"{input_dtype} input; it needs {' or '.join(CLIENT_INPUT_TYPES)}"
    return {"works": works, "not": refused, "unchecked": unchecked}
