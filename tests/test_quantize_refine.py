"""flower-edge's own int8 rounding decisions (quantize/int8/refine.py): MSE weight scales
refitted into the converter's int8 model, and MSE activation ranges set between the
converter's calibration and its quantizer. The model here is built like the shared
pretrained MobileNetV2: its kernels were recovered from an 8-bit model, so each lies on
a per-tensor grid whose max is not at 127 steps."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _grid_model():
    from flower_edge.tfcompat import keras

    k = keras()
    L = k.layers
    inp = k.Input((16, 16, 3), name="image")
    x = L.Rescaling(1 / 127.5, offset=-1, name="pre")(inp)
    x = L.Conv2D(12, 3, padding="same", name="stem")(x)
    x = L.ReLU(6.0, name="stem_relu")(x)
    x = L.DepthwiseConv2D(3, padding="same", name="dw")(x)
    x = L.ReLU(6.0, name="dw_relu")(x)
    x = L.Conv2D(16, 1, name="project")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    out = L.Dense(5, activation="softmax", name="probs")(x)
    model = k.Model(inp, out)
    rng = np.random.default_rng(0)
    for layer in model.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        # uint8-style per-tensor grid: step s, zero point 100 -> codes -100..155 steps
        step = 0.02 / np.sqrt(weights[0][..., 0].size)
        codes = np.clip(np.round(rng.normal(0, 40, weights[0].shape)), -100, 155)
        layer.set_weights([codes * step] + [rng.normal(0, 0.05, w.shape) for w in weights[1:]])
    return model


def _images(seed: int, n: int = 48) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 16, 16, 3)).astype(np.uint8)


def _convert(model, calib, **knobs):
    from flower_edge.quantize.calibration import representative_dataset
    from flower_edge.quantize.config import QuantizationConfig
    from flower_edge.quantize.convert import convert

    report: dict = {}
    knobs.setdefault("mean_correction", False)  # each test isolates one step unless it asks
    config = QuantizationConfig.of("int8", bias_correction=False, **knobs)
    return convert(model, config, representative_dataset(calib), report=report), report


def _run(model_bytes: bytes, images: np.ndarray):
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=model_bytes)
    it.allocate_tensors()
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    rows = []
    for image in images:
        it.set_tensor(inp["index"], image[None].astype(inp["dtype"]))
        it.invoke()
        rows.append(it.get_tensor(out["index"])[0].astype(np.float64))
    return it, np.stack(rows)


def test_mse_scales_find_a_coarser_grid_exactly_and_are_never_worse_than_max():
    from flower_edge.quantize.int8.refine import quantize_rows

    rng = np.random.default_rng(1)
    grid = np.round(rng.normal(0, 30, (6, 50))).clip(-90, 90) * 0.013  # max ~90 steps, not 127
    for rows in (grid, rng.normal(0, 1, (6, 200)), rng.standard_t(2, (6, 200))):
        errors = {}
        for rule in ("mse", "max"):
            codes, scales = quantize_rows(rows, rule)
            assert np.abs(codes).max() <= 127
            errors[rule] = ((codes * scales[:, None] - rows) ** 2).sum(axis=1)
        assert np.all(errors["mse"] <= errors["max"] + 1e-15)
    codes, scales = quantize_rows(grid, "mse")
    np.testing.assert_allclose(codes * scales[:, None], grid, atol=1e-12)  # lossless on its grid


def test_refit_weights_are_exact_on_grid_kernels_and_keep_bias_scales_consistent():
    model = _grid_model()
    calib, fresh = _images(2), _images(3)
    refit, report = _convert(model, calib, weight_scales="mse", activation_ranges="minmax")
    plain, _ = _convert(model, calib, weight_scales="max", activation_ranges="minmax")
    stats = report["weight_scales"]
    assert stats["layers"] == 4
    assert stats["weight_sq_error_after"] < 1e-6 * stats["weight_sq_error_before"]

    it, probs = _run(refit, fresh)
    tensors = {t["index"]: t for t in it.get_tensor_details()}
    checked = 0
    for op in it._get_ops_details():  # noqa: SLF001
        if op["op_name"] not in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            continue
        x, w, b = (tensors[i]["quantization_parameters"]["scales"] for i in op["inputs"][:3])
        np.testing.assert_allclose(b, x[0] * w, rtol=1e-6)  # what int8 kernels require
        checked += 1
    assert checked == 4
    reference = model.predict(fresh.astype(np.float32), verbose=0)
    _, plain_probs = _run(plain, fresh)
    assert np.abs(probs - reference).mean() < np.abs(plain_probs - reference).mean()
    # per-tensor weights keep a per-tensor bias scale, or XNNPACK refuses the model
    per_tensor, report = _convert(model, calib, per_channel=False, weight_scales="mse",
                                  activation_ranges="minmax")
    assert report["weight_scales"]["layers"] == 4
    _, pt_probs = _run(per_tensor, fresh)
    assert np.abs(pt_probs - reference).max() < 0.5


def test_activation_ranges_clip_rare_outliers_and_leave_the_model_edges_alone():
    from flower_edge.quantize.int8.refine import best_range

    counts = np.zeros(2048)
    counts[:200] = 10000.0  # dense mass in the bottom 10% of [0, 60]
    counts[-1] = 1.0  # one rare value at the top
    lo, hi = best_range(counts, 0.0, 60.0)
    assert lo == 0.0 and hi < 0.5 * 60.0
    lo, hi = best_range(np.ones(2048), -3.0, 5.0)  # uniform: nothing to gain by clipping
    assert lo == pytest.approx(-3.0, rel=0.05) and hi == pytest.approx(5.0, rel=0.05)

    model = _grid_model()
    tuned, report = _convert(model, _images(2), weight_scales="max")
    assert report["activation_ranges"]["tensors"] >= 4
    it, _ = _run(tuned, _images(3, 2))
    assert it.get_input_details()[0]["quantization"] == (1.0, 0)  # uint8 pixels go straight in


def test_refinement_knobs_name_the_variant_and_reject_unknown_values():
    from flower_edge.errors import UsageError
    from flower_edge.quantize.config import QuantizationConfig
    from flower_edge.quantize.options import Int8Options
    from flower_edge.quantize.recipe import QuantizeRecipe

    assert QuantizationConfig("int8").variant == "int8"
    assert QuantizationConfig.of("int8", weight_scales="mse", activation_ranges="minmax").variant == \
        "int8-wmse-aminmax"
    assert QuantizationConfig.of("int8", int16x8=True, io="float32").rounding_rule == "max"
    recipe = QuantizeRecipe(variants=("int8",), int8=Int8Options(weight_scales="mse"))
    assert [c.variant for c in recipe.configs()] == ["int8-wmse"]
    with pytest.raises(UsageError, match="--weight-scales"):
        QuantizationConfig.of("int8", weight_scales="percentile")


def test_mean_correction_pulls_int8_layer_means_onto_float_and_the_output_closer():
    from flower_edge.quantize.config import QuantizationConfig
    from flower_edge.quantize.convert import make_converter
    from flower_edge.quantize.int8.flatbuffer import biased_ops, read_model
    from flower_edge.quantize.int8.mean_correction import channel_means, correct_means

    model = _grid_model()
    calib, fresh = _images(2), _images(3)
    plain, _ = _convert(model, calib, mean_correction=False)
    reference = bytes(make_converter(model, QuantizationConfig("fp32")).convert())
    corrected, report = correct_means(plain, reference, calib[:32])
    assert report["layers"] == 4 and report["max_mean_shift"] > 0

    def worst_shift(int8_bytes):
        names = [n for _, n in biased_ops(read_model(int8_bytes))]
        ref_names = [n for _, n in biased_ops(read_model(reference))]
        got = channel_means(int8_bytes, fresh.astype(np.float32), names)
        want = channel_means(reference, fresh.astype(np.float32), ref_names)
        return max(float(np.abs(got[a] - want[b]).max()) for a, b in zip(names, ref_names))

    assert worst_shift(corrected) < 0.7 * worst_shift(plain)  # on images it never saw
    float_probs = model.predict(fresh.astype(np.float32), verbose=0)
    _, before = _run(plain, fresh)
    _, after = _run(corrected, fresh)
    assert np.abs(after - float_probs).mean() < np.abs(before - float_probs).mean()
    # the default conversion applies it and says so; the knob names the variant
    _, default_report = _convert(model, calib, mean_correction=True)
    assert default_report["mean_correction"]["layers"] == 4
    assert QuantizationConfig.of("int8", mean_correction=False).variant == "int8-nomc"
