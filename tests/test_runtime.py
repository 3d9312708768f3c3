"""The TF-free runtime: real bundles from a trained model, checked against TF's own results."""

from __future__ import annotations

import json
import shutil
import sys

import numpy as np
import pytest
from conftest import assert_clean_error
from test_core import cli_without_tensorflow

from flower_edge.errors import BundleError, DataError, FlowerEdgeError, UsageError
from flower_edge.runtime.bundle import load_bundle
from flower_edge.runtime.interpreter import make_interpreter
from flower_edge.runtime.predictor import Predictor, input_lut


def _tf_lite_probs(bundle, images):
    """Reference: TensorFlow's own tf.lite.Interpreter, quantizing by hand."""
    from flower_edge.tfcompat import tf

    interp = tf().lite.Interpreter(model_path=str(bundle / "model.tflite"))
    interp.allocate_tensors()
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    rows = []
    for img in images:
        x = img[None].astype(np.float32)
        scale, zero = inp["quantization"]
        if scale:
            info = np.iinfo(inp["dtype"])
            x = np.clip(np.round(x / scale + zero), info.min, info.max)
        interp.set_tensor(inp["index"], x.astype(inp["dtype"]))
        interp.invoke()
        y = interp.get_tensor(out["index"])[0].astype(np.float32)
        scale, zero = out["quantization"]
        rows.append((y - zero) * scale if scale else y)
    return np.stack(rows)


@pytest.fixture(scope="module")
def rb(runtime_bundles):
    return runtime_bundles


def test_fp32_matches_tf_lite_and_keras(rb):
    images = rb["images"]
    ours = Predictor(rb["bundles"]["fp32"]).probabilities(images)
    ref = _tf_lite_probs(rb["bundles"]["fp32"], images)
    assert ours.shape == (len(images), 5) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, ref, atol=1e-5)
    assert (ours.argmax(1) == rb["keras_probs"].argmax(1)).all()
    np.testing.assert_allclose(ours, rb["keras_probs"], atol=1e-4)


@pytest.mark.parametrize("variant", ["int8", "int8-sio"])
def test_int8_uses_the_models_own_quantization(rb, variant):
    predictor = Predictor(rb["bundles"][variant])
    scale, zero = predictor.input_details["quantization"]
    assert predictor.input_details["dtype"] == (np.uint8 if variant == "int8" else np.int8)
    images = rb["images"]
    ours = predictor.probabilities(images)
    ref = _tf_lite_probs(rb["bundles"][variant], images)
    assert (ours.argmax(1) == ref.argmax(1)).all()
    np.testing.assert_allclose(ours, ref, atol=1e-6)
    # int8 is a faithful copy of the float model, and its output sums to ~1 once dequantized
    assert (ours.argmax(1) == rb["keras_probs"].argmax(1)).mean() > 0.8
    np.testing.assert_allclose(ours.sum(1), 1.0, atol=0.05)


def test_input_lut_quantizes_like_the_formula():
    lut = input_lut(np.int8, 0.5, -3)
    pixels = np.arange(256)
    expected = np.clip(np.round(pixels / 0.5 - 3), -128, 127)
    np.testing.assert_array_equal(lut, expected)
    np.testing.assert_allclose(input_lut(np.float32, 0.0, 0, (-1, 1))[[0, 255]], [-1, 1])


def test_logits_output_gets_softmax(rb):
    probs = Predictor(rb["bundles"]["fp32-logits"]).probabilities(rb["images"][:20])
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)
    np.testing.assert_allclose(probs, rb["keras_probs"][:20], atol=1e-4)


def test_predict_file_top_k_and_threads(rb):
    predictor = Predictor(rb["bundles"]["int8"], threads=2)
    assert predictor.interpreter_name == "ai-edge-litert"
    top = predictor.predict(rb["paths"][0], top_k=3)
    assert len(top) == 3 and [p for _, p in top] == sorted((p for _, p in top), reverse=True)
    assert {label for label, _ in top} <= set(rb["classes"])
    # an array of another size goes through the same Pillow transform
    from PIL import Image

    big = np.asarray(Image.open(rb["paths"][0]).convert("RGB").resize((200, 150)))
    assert predictor.predict(big, top_k=1)[0][0] in rb["classes"]


def test_cli_predict_folder_json_matches_library(rb, invoke, tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for p in rb["paths"][::50]:
        shutil.copy(p, folder / p.name)
    (folder / "broken.jpg").write_bytes(b"not an image")
    result = invoke("predict", rb["bundles"]["int8"], folder, "--json", "--top-k", "2")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert len(data["predictions"]) == 10 and data["interpreter"] == "ai-edge-litert"
    assert [e["path"] for e in data["errors"]] == [str(folder / "broken.jpg")]
    assert "skipped" in result.stderr
    predictor = Predictor(rb["bundles"]["int8"])
    for row in data["predictions"]:
        assert row["label"] == predictor.predict(row["path"], top_k=1)[0][0]
    table = invoke("predict", rb["bundles"]["fp32"], rb["paths"][0], "--threads", "1")
    assert table.exit_code == 0 and rb["paths"][0].name in table.stdout


def test_predict_path_imports_no_tensorflow(rb):
    out = cli_without_tensorflow("predict", rb["bundles"]["int8"], rb["paths"][0], "--json")
    assert json.loads(out.stdout.replace("TF-FREE", ""))["predictions"][0]["label"]


def test_latency_measures_a_bundle(rb):
    from flower_edge.runtime.latency import measure_latency

    res = measure_latency(rb["bundles"]["int8"], threads=1, runs=20, warmup=2)
    assert res.interpreter == "ai-edge-litert" and res.runs == 20
    assert 0 < res.min_ms <= res.median_ms <= res.p90_ms
    assert res.load_s > 0 and res.peak_rss_mb > 0 and res.memory_source


# --- bad input: each one line, naming the fix ------------------------------------------

def _copy(rb, tmp_path, variant="fp32"):
    return shutil.copytree(rb["bundles"][variant], tmp_path / variant)


def test_missing_manifest(rb, tmp_path, invoke):
    bundle = _copy(rb, tmp_path)
    (bundle / "manifest.json").unlink()
    with pytest.raises(BundleError, match="no manifest.json"):
        load_bundle(bundle)
    assert_clean_error(invoke("predict", bundle, rb["paths"][0]), 1, "manifest.json")


def test_model_sha_mismatch(rb, tmp_path, invoke):
    bundle = _copy(rb, tmp_path)
    data = bytearray((bundle / "model.tflite").read_bytes())
    data[-10] ^= 0xFF
    (bundle / "model.tflite").write_bytes(bytes(data))
    assert_clean_error(invoke("predict", bundle, rb["paths"][0]), 1, "sha256")


def test_truncated_model(rb, tmp_path, invoke):
    bundle = _copy(rb, tmp_path)
    data = (bundle / "model.tflite").read_bytes()
    (bundle / "model.tflite").write_bytes(data[: len(data) // 2])
    assert_clean_error(invoke("predict", bundle, rb["paths"][0]), 1, "truncated")
    # without the manifest's check, the interpreter's own failure is still one clean line
    with pytest.raises(BundleError, match="not a valid .tflite"):
        make_interpreter(bundle / "model.tflite")


def test_label_count_differs_from_output(rb, tmp_path, invoke):
    bundle = _copy(rb, tmp_path)
    manifest = json.loads((bundle / "manifest.json").read_text())
    (bundle / "labels.txt").write_text("a\nb\nc\n")
    from flower_edge.io import sha256_file

    manifest["files"]["labels"]["sha256"] = sha256_file(bundle / "labels.txt")
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    assert_clean_error(invoke("predict", bundle, rb["paths"][0]), 1, "3 labels")
    # a manifest that lies about the output size is caught against the model itself
    manifest["output"]["shape"] = [1, 3]
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="outputs 5 classes"):
        Predictor(bundle)


def test_not_an_image_and_missing_path(rb, tmp_path, invoke):
    text = tmp_path / "notes.jpg"
    text.write_text("hello")
    bundle = rb["bundles"]["fp32"]
    assert_clean_error(invoke("predict", bundle, text), 1, "not a readable image")
    assert_clean_error(invoke("predict", bundle, tmp_path / "nope.jpg"), 1, "no such file")
    with pytest.raises(DataError):
        Predictor(bundle).predict(text)


def test_threads_zero(rb, invoke):
    assert_clean_error(invoke("predict", rb["bundles"]["fp32"], rb["paths"][0],
                              "--threads", "0"), 2, "--threads")
    with pytest.raises(UsageError):
        Predictor(rb["bundles"]["fp32"], threads=0)


def test_no_interpreter_installed_names_pip(rb, monkeypatch, invoke):
    import builtins

    real_import = builtins.__import__

    def guard(name, *args, **kwargs):
        if name.startswith(("ai_edge_litert", "tflite_runtime")):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", guard)
    for mod in [m for m in sys.modules if m.startswith("ai_edge_litert")]:
        monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setattr("flower_edge.runtime.interpreter._tensorflow_installed", lambda: False)
    with pytest.raises(FlowerEdgeError, match=r'pip install "flower-edge\[pi\]"'):
        Predictor(rb["bundles"]["fp32"])
    assert_clean_error(invoke("predict", rb["bundles"]["fp32"], rb["paths"][0]), 1,
                       'pip install "flower-edge[pi]"')
