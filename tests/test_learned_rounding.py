"""Learned int8 weight rounding (quantize/int8/learned_rounding.py, `--rounding gptq`).

A tiny conv / depthwise / 1x1 / dense model with random weights, calibrated on smooth
synthetic images (neighbouring pixels correlate, as in photos: that correlation is what
GPTQ exploits), and checked on other images of the same kind that calibration never saw.
"""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _model():
    from flower_edge.tfcompat import keras

    k = keras()
    L = k.layers
    inp = k.Input((16, 16, 3), name="image")
    x = L.Rescaling(1 / 127.5, offset=-1, name="pre")(inp)
    x = L.Conv2D(16, 3, padding="same", activation="relu", name="stem")(x)
    x = L.DepthwiseConv2D(3, padding="same", activation="relu", name="dw")(x)
    x = L.Conv2D(24, 1, activation="relu", name="project")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    out = L.Dense(5, activation="softmax", name="probs")(x)
    model = k.Model(inp, out)
    rng = np.random.default_rng(0)
    for layer in model.layers:
        w = layer.get_weights()
        if w:
            fan_in = np.prod(w[0].shape[:-1])
            layer.set_weights([rng.normal(0, 1 / np.sqrt(fan_in), w[0].shape)]
                              + [rng.normal(0, 0.05, v.shape) for v in w[1:]])
    return model


def _images(seed: int, n: int = 48) -> np.ndarray:
    """Smooth photos-like images: 4x4 blocks of colour plus a little noise."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, (n, 4, 4, 3)).astype(np.float32)
    smooth = np.repeat(np.repeat(blocks, 4, axis=1), 4, axis=2)
    return np.clip(smooth + rng.normal(0, 12, smooth.shape), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def converted():
    """(float TFLite, nearest int8, gptq int8, gptq report) of the tiny model."""
    from flower_edge.quantize.calibration import representative_dataset
    from flower_edge.quantize.config import QuantizationConfig
    from flower_edge.quantize.convert import convert, make_converter

    model = _model()
    calib = _images(2)
    out = []
    for rounding in ("nearest", "gptq"):
        report: dict = {}
        # the steps around rounding are off, so the two files differ only in their rounding
        config = QuantizationConfig.of("int8", bias_correction=False, mean_correction=False, rounding=rounding)
        out.append((convert(model, config, representative_dataset(calib), report=report), report))
    reference = bytes(make_converter(model, QuantizationConfig("fp32")).convert())
    return reference, out[0][0], out[1][0], out[1][1]


def _layer_outputs(model_bytes: bytes, images: np.ndarray) -> list[np.ndarray]:
    """Dequantized output of every conv/depthwise/dense op, in execution order, over `images`."""
    from ai_edge_litert.interpreter import Interpreter

    from flower_edge.quantize.int8.flatbuffer import biased_ops, read_model

    names = [name for _, name in biased_ops(read_model(model_bytes))]
    it = Interpreter(model_content=model_bytes, experimental_preserve_all_tensors=True)
    it.allocate_tensors()
    inp = it.get_input_details()[0]
    details = {d["name"]: d for d in it.get_tensor_details()}
    found: dict = {name: [] for name in names}
    for image in images:
        it.set_tensor(inp["index"], image[None].astype(inp["dtype"]))
        it.invoke()
        for name in names:
            d = details[name]
            scale, zero = d["quantization"]
            values = it.get_tensor(d["index"]).astype(np.float64)
            found[name].append((values - zero) * scale if scale else values)
    return [np.stack(found[name]) for name in names]


def _weights(model_bytes: bytes) -> list[tuple[np.ndarray, np.ndarray]]:
    """(int8 codes, scales) of every conv/depthwise/dense weight tensor."""
    from flower_edge.quantize.int8.flatbuffer import read_model, weight_ops

    model = read_model(model_bytes)
    sg = model.subgraphs[0]
    out = []
    for op in weight_ops(model):
        t = sg.tensors[op.inputs[1]]
        codes = np.frombuffer(bytes(model.buffers[t.buffer].data), np.int8).reshape(t.shape)
        out.append((codes, np.asarray(t.quantization.scale)))
    return out


def test_gptq_lowers_every_layers_output_error_on_held_out_images(converted):
    reference, nearest, gptq, report = converted
    held_out = _images(3)  # never calibrated on
    want = _layer_outputs(reference, held_out)
    errors = [(float(((n - w) ** 2).mean()), float(((g - w) ** 2).mean()))
              for w, n, g in zip(want, _layer_outputs(nearest, held_out), _layer_outputs(gptq, held_out))]
    assert len(errors) == 4  # stem, depthwise, 1x1, dense
    for before, after in errors:
        assert after < 0.97 * before, errors
    assert report["learned_rounding"]["layers"] == 4 and not report["learned_rounding"]["kept_nearest"]
    assert report["learned_rounding"]["output_sq_error_after"] < 0.7 * report["learned_rounding"]["output_sq_error_before"]


def test_gptq_stays_on_the_int8_grid_the_converter_chose(converted):
    _, nearest, gptq, _ = converted
    changed = 0
    for (codes_n, scales_n), (codes_g, scales_g) in zip(_weights(nearest), _weights(gptq), strict=True):
        assert codes_g.dtype == np.int8 and codes_g.min() >= -127 and codes_g.max() <= 127
        np.testing.assert_array_equal(scales_g, scales_n)  # only the codes change, never the grid
        assert np.abs(codes_g.astype(int) - codes_n).max() <= 4  # a re-rounding, not a new kernel
        changed += int((codes_g != codes_n).sum())
    assert changed > 0


def test_gptq_model_loads_in_litert_and_tflite_runtime(converted, tmp_path):
    import os

    from flower_edge.quantize.bundle import TFLITE_RUNTIME_ENV, check_litert, check_tflite_runtime
    from flower_edge.quantize.config import QuantizationConfig

    _, _, gptq, _ = converted
    path = tmp_path / "model.tflite"
    path.write_bytes(gptq)
    assert check_litert(path)["loads"] is True
    if not os.environ.get(TFLITE_RUNTIME_ENV):
        pytest.skip(f"set {TFLITE_RUNTIME_ENV} to a python with tflite-runtime==2.14 (make test does)")
    status = check_tflite_runtime(path, QuantizationConfig.of("int8", rounding="gptq"))
    assert status == {"loads": True, "checked": True}, status


def test_gptq_codes_minimize_the_output_error_of_correlated_inputs():
    """The core on its own: against nearest rounding on the same grid, fresh inputs."""
    from flower_edge.quantize.int8.learned_rounding import gptq_codes, output_error

    rng = np.random.default_rng(0)
    mix = rng.normal(size=(32, 32))

    def inputs(n):  # correlated, positive (post-ReLU) features
        return np.maximum(rng.normal(size=(n, 32)) @ mix, 0)

    weights = rng.normal(size=(16, 32))
    scales = np.abs(weights).max(axis=1) / 127
    x = inputs(4000)
    codes = gptq_codes(weights, scales, x.T @ x / len(x))
    nearest = np.round(weights / scales[:, None])
    fresh = inputs(4000)
    h = fresh.T @ fresh / len(fresh)
    assert np.all(np.abs(codes) <= 127) and np.array_equal(codes, np.round(codes))
    # measured 0.55x; nearest rounding ignores that neighbouring inputs move together
    assert output_error(weights, codes * scales[:, None], h) < 0.7 * output_error(weights, nearest * scales[:, None], h)


def test_rounding_knob_names_the_variant_and_rejects_unknown_values():
    from flower_edge.errors import UsageError
    from flower_edge.quantize.config import QuantizationConfig
    from flower_edge.quantize.options import Int8Options
    from flower_edge.quantize.recipe import QuantizeRecipe

    assert QuantizationConfig("int8").int8.rounding == "nearest" and QuantizationConfig("int8").variant == "int8"
    assert QuantizationConfig.of("int8", rounding="gptq").variant == "int8-gptq"
    assert [c.variant for c in QuantizeRecipe(variants=("int8",), int8=Int8Options(rounding="gptq")).configs()] == ["int8-gptq"]
    with pytest.raises(UsageError, match="--rounding"):
        QuantizationConfig.of("int8", rounding="adaround")


def test_cli_rejects_an_unknown_rounding_in_one_line(invoke, tmp_path):
    from conftest import assert_clean_error

    result = invoke("quantize", tmp_path, "--int8", "--rounding", "adaround")
    assert_clean_error(result, code=2, contains="--rounding")
