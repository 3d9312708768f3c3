"""TFLite Model Metadata in every bundle, bit-identical outputs, and bare .tflite classifiers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from conftest import assert_clean_error
from fixtures_quantize import QUANTIZED_VARIANTS
from metadata_checks import assert_carries_metadata

from flower_edge.runtime.tflite_metadata import AssociatedFile, ModelMetadata, TensorMetadata, decode, encode


def test_every_field_survives_encode_and_decode():
    meta = ModelMetadata(
        name="m", description="d", version="v1", author="a", license="Apache-2.0",
        inputs=(TensorMetadata("image", "px", image=True, color_space="GRAYSCALE", size=(120, 160),
                               mean=(1.0, 2.0, 3.0), std=(4.0, 5.0, 6.0), stats_min=(-1.0,), stats_max=(1.0,)),),
        outputs=(TensorMetadata("score", "s", files=(AssociatedFile("labels.txt", "names", 2),
                                                     AssociatedFile("labels_fr.txt", "noms", 2, "fr"))),))
    buf = encode(meta)
    assert buf[4:8] == b"M001"
    assert decode(buf) == meta
    with pytest.raises(ValueError, match="M001"):
        decode(b"\x08\x00\x00\x00TFL3" + bytes(16))


def test_every_quantized_variant_carries_metadata(quantized_run):
    for variant in QUANTIZED_VARIANTS:
        manifest = assert_carries_metadata(quantized_run.bundle(variant))
        assert "MediaPipe Tasks ImageClassifier" in manifest["clients"]["works"], variant
        assert 0 < manifest["metadata"]["bytes_added"] < 2048, manifest["metadata"]  # labels + a few hundred bytes


_RUN = """
import json, sys
import numpy as np
from {module} import Interpreter
images = np.load(sys.argv[1])
out = {{}}
for path in sys.argv[2:]:
    it = Interpreter(model_path=path)
    it.allocate_tensors()
    d, o = it.get_input_details()[0], it.get_output_details()[0]
    rows = []
    for img in images:
        it.set_tensor(d["index"], img[None].astype(d["dtype"]))
        it.invoke()
        rows.append(it.get_tensor(o["index"])[0].tobytes().hex())
    out[path] = rows
print(json.dumps(out))
"""


def _outputs(python: str, module: str, images, paths, tmp_path) -> dict:
    np.save(tmp_path / "images.npy", images)
    proc = subprocess.run([python, "-c", _RUN.format(module=module), str(tmp_path / "images.npy"),
                           *map(str, paths)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": ""})
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_metadata_leaves_outputs_bit_identical(runtime_bundles, tmp_path):
    """The same model without and with metadata: identical output bytes in ai-edge-litert and,
    where $FLOWER_EDGE_TFLITE_RUNTIME_PYTHON is set (make test), in tflite-runtime 2.14."""
    from flower_edge.quantize.metadata import add_metadata

    images = runtime_bundles["images"][:12]
    runtimes = [(sys.executable, "ai_edge_litert.interpreter")]
    if os.environ.get("FLOWER_EDGE_TFLITE_RUNTIME_PYTHON"):
        runtimes.append((os.environ["FLOWER_EDGE_TFLITE_RUNTIME_PYTHON"], "tflite_runtime.interpreter"))
    for variant in ("fp32", "int8", "int8-sio"):
        plain = (runtime_bundles["bundles"][variant] / "model.tflite").read_bytes()
        with_meta, _ = add_metadata(plain, runtime_bundles["classes"], variant,
                                    {"architecture": "tiny_cnn", "source_run": "runs/x"})
        paths = [tmp_path / f"{variant}-plain.tflite", tmp_path / f"{variant}-meta.tflite"]
        paths[0].write_bytes(plain)
        paths[1].write_bytes(with_meta)
        for python, module in runtimes:
            out = _outputs(python, module, images, paths, tmp_path)
            assert out[str(paths[0])] == out[str(paths[1])], (variant, module)


def test_a_bare_tflite_with_metadata_runs_like_its_bundle(quantized_run, runtime_bundles, tmp_path, invoke):
    """Copied out of its bundle, model.tflite still predicts: labels and input from its metadata."""
    from flower_edge.runtime import Predictor

    bare = tmp_path / "flowers.tflite"
    shutil.copy(quantized_run.bundle("int8") / "model.tflite", bare)
    photos = runtime_bundles["paths"][:6]
    alone, bundled = Predictor(bare), Predictor(quantized_run.bundle("int8"))
    assert alone.labels == bundled.labels and alone.image_size == bundled.image_size
    batch = np.stack([bundled.preprocess(p) for p in photos])
    np.testing.assert_array_equal(alone.probabilities(batch), bundled.probabilities(batch))
    result = invoke("benchmark", bare, "--threads", "1", "--runs", "2", "--warmup", "0")
    assert result.exit_code == 0, result.output
    assert "labels and normalization from its TFLite Model Metadata" in result.output


def test_a_bare_tflite_without_metadata_is_a_one_line_error(runtime_bundles, tmp_path, invoke):
    bare = tmp_path / "model.tflite"
    shutil.copy(runtime_bundles["bundles"]["fp32"] / "model.tflite", bare)
    for args in (("predict", bare, runtime_bundles["paths"][0]),
                 ("benchmark", bare, "--threads", "1", "--runs", "1")):
        error = assert_clean_error(invoke(*args), contains="no TFLite Model Metadata")
        assert "manifest.json" in error and "MediaPipe Model Maker" in error


def test_benchmark_bundle_prints_the_clients(quantized_run, invoke):
    result = invoke("benchmark", quantized_run.bundle("fp32"), "--threads", "1", "--runs", "2",
                    "--warmup", "0")
    assert result.exit_code == 0, result.output
    line = next(ln for ln in result.output.splitlines() if ln.startswith("clients:"))
    assert "flower-edge" in line and "ai-edge-litert" in line and "MediaPipe Tasks ImageClassifier" in line


def test_int8_input_says_mediapipe_cannot_follow(tiny_run, tmp_path, invoke):
    from fixtures_quantize import copy_run

    run = copy_run(tiny_run, tmp_path / "run")
    result = invoke("quantize", run, "--int8", "--io", "int8", "--calib-samples", "20")
    assert result.exit_code == 0, result.output
    assert "note: --io int8 bundles take int8 input, which MediaPipe" in result.output
    manifest = assert_carries_metadata(run / "export" / "int8-ioint8")
    assert "MediaPipe Tasks ImageClassifier" in manifest["clients"]["not"]
    assert "uint8 or float32" in manifest["clients"]["not"]["MediaPipe Tasks ImageClassifier"]
