"""Session fixtures of the runtime tests: real bundles made from a briefly trained model.

The bundles follow the manifest schema in flower_edge/runtime/manifest.py, so the
runtime is tested against files, exactly as a Pi would receive them.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import numpy as np
import pytest

SIZE = 64


def _flowers_arrays(root: Path):
    from flower_edge.runtime.transforms import load_for_model

    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    paths, labels = [], []
    for index, name in enumerate(classes):
        files = sorted((root / name).glob("*.jpg"))
        paths += files
        labels += [index] * len(files)
    images = np.stack([load_for_model(p, SIZE) for p in paths])
    return classes, paths, images, np.asarray(labels)


def _train(images, labels, classes):
    from flower_edge.models import get_spec
    from flower_edge.models.build import build_model
    from flower_edge.tfcompat import keras, tf

    tf().random.set_seed(0)
    model = build_model(get_spec("tiny_cnn"), len(classes), SIZE, weights=None)
    model.compile(keras().optimizers.Adam(3e-3), "sparse_categorical_crossentropy", ["accuracy"])
    model.fit(images.astype("float32"), labels, epochs=25, batch_size=32, verbose=0, shuffle=True)
    return model


def _convert(model, calib, variant: str) -> bytes:
    from flower_edge.tfcompat import tf

    tf_ = tf()
    converter = tf_.lite.TFLiteConverter.from_keras_model(model)
    if variant.startswith("int8"):
        converter.optimizations = [tf_.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([img[None].astype("float32")] for img in calib)
        converter.target_spec.supported_ops = [tf_.lite.OpsSet.TFLITE_BUILTINS_INT8]
        io_type = tf_.int8 if variant == "int8-sio" else tf_.uint8
        converter.inference_input_type = converter.inference_output_type = io_type
    return converter.convert()


def write_bundle(folder: Path, tflite: bytes, classes, variant: str, kind: str = "probabilities") -> Path:
    """Write model.tflite + labels.txt + manifest.json, describing I/O from the model itself."""
    from ai_edge_litert.interpreter import Interpreter

    from flower_edge.io import sha256_file

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.tflite").write_bytes(tflite)
    (folder / "labels.txt").write_text("\n".join(classes) + "\n")
    interp = Interpreter(model_content=tflite)

    def io(detail):
        scale, zero = detail["quantization"]
        return {"shape": [int(d) for d in detail["shape"]], "dtype": np.dtype(detail["dtype"]).name,
                "scale": float(scale), "zero_point": int(zero)}

    manifest = {
        "schema_version": 1, "architecture": "tiny_cnn", "variant": variant,
        "num_classes": len(classes), "source_run": "tests", "tf_version": "test",
        "created": datetime.datetime.now(datetime.UTC).isoformat(),
        "input": io(interp.get_input_details()[0]),
        "output": {**io(interp.get_output_details()[0]), "kind": kind},
        "preprocessing": {"resize": "shorter_side", "crop": "center", "size": [SIZE, SIZE],
                          "value_range": [0, 255], "channels": "RGB", "resample": "bilinear"},
        "files": {"model": {"name": "model.tflite", "sha256": sha256_file(folder / "model.tflite"),
                            "bytes": len(tflite)},
                  "labels": {"name": "labels.txt", "sha256": sha256_file(folder / "labels.txt")}},
        "quantization": {},
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return folder


@pytest.fixture(scope="session")
def runtime_bundles(flowers5, tmp_path_factory):
    """A trained tiny_cnn@64 on flowers5 and its bundles: fp32, int8 (uint8 I/O),
    int8-sio (int8 I/O), fp32-logits (logits output). Also the Keras probabilities."""
    from flower_edge.tfcompat import keras

    classes, paths, images, labels = _flowers_arrays(flowers5)
    model = _train(images, labels, classes)
    root = tmp_path_factory.mktemp("runtime_bundles")
    calib = images[::5][:100]
    bundles = {v: write_bundle(root / v, _convert(model, calib, v), classes, v)
               for v in ("fp32", "int8", "int8-sio")}
    logits = keras().Model(model.input, model.get_layer("logits").output)
    bundles["fp32-logits"] = write_bundle(root / "fp32-logits", _convert(logits, calib, "fp32"),
                                          classes, "fp32-logits", kind="logits")
    keras_probs = model.predict(images.astype("float32"), batch_size=64, verbose=0)
    return {"bundles": bundles, "classes": classes, "paths": paths, "images": images,
            "labels": labels, "keras_probs": keras_probs, "root": root}
