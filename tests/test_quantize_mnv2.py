"""Quantize a real MobileNetV2 run (ImageNet base, trained on flowers5): the product claims."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from conftest import shared_path

from flower_edge.io import sha256_file


def _manifest(quantized_run, variant):
    return json.loads((quantized_run.bundle(variant) / "manifest.json").read_text())


def _rows(quantized_run):
    data = json.loads((quantized_run.path / "export" / "quantize.json").read_text())
    return {r["variant"]: r for r in data["rows"]}


def test_all_four_variants_with_the_right_dtypes(quantized_run):
    from ai_edge_litert.interpreter import Interpreter

    expected = {"fp32": ("float32", "float32"), "fp16": ("float32", "float32"),
                "dynamic": ("float32", "float32"), "int8": ("uint8", "float32")}
    for variant, (in_dtype, out_dtype) in expected.items():
        bundle = quantized_run.bundle(variant)
        manifest = _manifest(quantized_run, variant)
        assert manifest["variant"] == variant and manifest["architecture"] == "mobilenet_v2"
        interpreter = Interpreter(model_path=str(bundle / "model.tflite"))
        inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
        assert (np.dtype(inp["dtype"]).name, np.dtype(out["dtype"]).name) == (in_dtype, out_dtype)
        assert manifest["input"]["dtype"] == in_dtype and manifest["output"]["dtype"] == out_dtype
        # the manifest's quantization parameters are the interpreter's own
        assert manifest["input"]["scale"] == pytest.approx(inp["quantization"][0])
        assert manifest["input"]["zero_point"] == inp["quantization"][1]
        assert manifest["output"]["scale"] == pytest.approx(out["quantization"][0])
        assert manifest["output"]["zero_point"] == out["quantization"][1]
        assert manifest["input"]["shape"] == [1, 96, 96, 3]
        assert manifest["files"]["model"]["sha256"] == sha256_file(bundle / "model.tflite")
        assert manifest["files"]["labels"]["sha256"] == sha256_file(bundle / "labels.txt")
        assert manifest["runtimes"]["ai-edge-litert"]["loads"] is True
        assert (bundle / "labels.txt").read_text().split() == \
            (quantized_run.path / "labels.txt").read_text().split()


def test_int8_is_really_full_integer(quantized_run):
    from flower_edge.quantize.convert import float_ops

    assert float_ops((quantized_run.bundle("int8") / "model.tflite").read_bytes()) == []
    assert _manifest(quantized_run, "int8")["input"]["scale"] > 0
    assert float_ops((quantized_run.bundle("dynamic") / "model.tflite").read_bytes())  # not int8


def test_sizes_order_and_ratios(quantized_run):
    size = {v: (quantized_run.bundle(v) / "model.tflite").stat().st_size for v in ("fp32", "fp16", "int8")}
    assert size["int8"] < size["fp16"] < size["fp32"]
    assert size["fp16"] / size["fp32"] <= 0.55
    assert size["int8"] / size["fp32"] <= 0.35


def test_agreement_with_keras(quantized_run):
    rows = _rows(quantized_run)
    assert rows["fp32"]["top1_agreement"] == 1.0 and rows["fp32"]["max_abs_prob_diff"] <= 1e-4
    assert rows["fp16"]["top1_agreement"] >= 0.97
    assert rows["fp32"]["samples"] >= 50  # the whole validation split of flowers5
    # the table the user saw
    for variant in ("fp32", "fp16", "dynamic", "int8"):
        assert f"| {variant} |" in quantized_run.output


def test_int8_keeps_the_keras_decisions_on_the_eval_set(quantized_run):
    """The issue-4 target, judged where a point means something: the 1,500 photos of
    flowers5-eval, which no training or calibration saw (one image is 0.07 points).

    This 96 px model agrees on 95.0% of them (95.2% when training decoded with tf.image
    instead of the runtime's own loader). On the 150 val + test photos the same int8
    files read 93.3% and >= 95%: a 150-image split moves by several images between
    equally good models, so it no longer carries this claim. The floor leaves 7 images."""
    from flower_edge.data.pipeline import eval_images
    from flower_edge.models.build import load_keras_model
    from flower_edge.quantize.verify import compare, tflite_probabilities
    from flower_edge.runtime.files import expand_inputs

    paths = expand_inputs([shared_path("data", "flowers5-eval")])
    images = eval_images(paths, 96)
    keras_probs = load_keras_model(quantized_run.path / "model.keras").predict(
        images.astype(np.float32), verbose=0)
    agree, _ = compare(keras_probs, tflite_probabilities(quantized_run.bundle("int8") / "model.tflite", images))
    assert len(images) == 1500 and agree >= 0.945, agree


def test_agreement_is_recomputed_from_the_files(quantized_run):
    """The rows are not self-reported: rerun the int8 file and Keras on the same photos."""
    from flower_edge.data.pipeline import eval_images
    from flower_edge.data.splits import DataSplits
    from flower_edge.models.build import load_keras_model
    from flower_edge.quantize.verify import compare, tflite_probabilities

    split = DataSplits.load(quantized_run.path / "split.json").val
    images = eval_images(list(split.paths), 96)
    keras_probs = load_keras_model(quantized_run.path / "model.keras").predict(
        images.astype(np.float32), verbose=0)
    agree, diff = compare(keras_probs, tflite_probabilities(quantized_run.bundle("int8") / "model.tflite",
                                                            images))
    row = _rows(quantized_run)["int8"]
    assert row["samples"] == len(split)
    assert agree == pytest.approx(row["top1_agreement"]) and diff == pytest.approx(row["max_abs_prob_diff"])


def test_tflite_runtime_status_is_recorded(quantized_run):
    for variant in ("fp32", "fp16", "dynamic", "int8"):
        status = _manifest(quantized_run, variant)["runtimes"]["tflite-runtime-2.14"]
        if os.environ.get("FLOWER_EDGE_TFLITE_RUNTIME_PYTHON"):
            assert status == {"loads": True, "checked": True}, (variant, status)
        else:
            assert status["checked"] is False and status["loads"] is True  # dense per-tensor dynamic


def test_tflite_runtime_rejects_per_channel_dynamic(quantized_run, tmp_path):
    """The known trap, checked for real where tflite-runtime 2.14 is installed."""
    python = os.environ.get("FLOWER_EDGE_TFLITE_RUNTIME_PYTHON")
    if not python:
        pytest.skip("set FLOWER_EDGE_TFLITE_RUNTIME_PYTHON to a python with tflite-runtime==2.14")
    from flower_edge.models.build import load_keras_model
    from flower_edge.quantize.bundle import check_tflite_runtime
    from flower_edge.quantize.config import QuantizationConfig
    from flower_edge.quantize.convert import convert

    model = load_keras_model(quantized_run.path / "model.keras")
    config = QuantizationConfig.of("dynamic", dense_per_tensor=False)
    path = tmp_path / "m.tflite"
    path.write_bytes(convert(model, config))
    status = check_tflite_runtime(path, config)
    assert status["checked"] and not status["loads"] and "FULLY_CONNECTED" in status["error"]
