"""The float rewrites made for int8 fidelity (weight-rounding bias correction, the QAT
scheme), on a small model built like a pretrained MobileNetV2 block: pass-through
BatchNorm with large betas, a linear bottleneck, a residual Add, 1x1 convs without bias
and a GAP -> Dense head."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _offset_model(seed: int = 0):
    from flower_edge.tfcompat import keras

    k = keras()
    L = k.layers
    rng = np.random.default_rng(seed)
    inp = k.Input((16, 16, 3), name="image")
    x = L.Rescaling(1 / 127.5, offset=-1, name="pre")(inp)
    x = L.Conv2D(8, 3, padding="same", use_bias=False, name="stem")(x)
    x = L.BatchNormalization(name="stem_bn")(x)
    x = L.ReLU(6.0, name="stem_relu")(x)
    a = L.Conv2D(8, 1, use_bias=False, name="proj_a")(x)
    a = L.BatchNormalization(name="proj_a_bn")(a)            # linear: centred
    b = L.Conv2D(8, 1, use_bias=False, name="expand")(a)
    b = L.BatchNormalization(name="expand_bn")(b)            # absorbs a's shift via moving_mean
    b = L.ReLU(6.0, name="expand_relu")(b)
    b = L.DepthwiseConv2D(3, padding="same", use_bias=False, name="dw")(b)
    b = L.BatchNormalization(name="dw_bn")(b)
    b = L.ReLU(6.0, name="dw_relu")(b)
    b = L.Conv2D(8, 1, use_bias=False, name="proj_b")(b)
    b = L.BatchNormalization(name="proj_b_bn")(b)            # linear: centred
    s = L.Add(name="add")([a, b])                            # residual stream
    y = L.Conv2D(16, 1, name="head_conv")(s)                 # has a bias: absorbs there
    y = L.ReLU(6.0, name="head_relu")(y)
    z = L.Conv2D(4, 3, padding="same", name="k3")(x)         # k>1 conv: its BN cannot be centred
    z = L.BatchNormalization(name="k3_bn")(z)
    z = L.Conv2D(4, 3, padding="same", name="k3_consumer")(z)
    y = L.Concatenate(name="cat")([y, z])
    y = L.GlobalAveragePooling2D(name="gap")(y)
    out = L.Dense(5, activation="softmax", name="probs")(y)
    model = k.Model(inp, out)
    for layer in model.layers:  # pass-through BN as in folded pretrained weights, big betas
        if isinstance(layer, L.BatchNormalization):
            c = layer.gamma.shape[0]
            layer.set_weights([np.ones(c), rng.normal(0, 15, c), np.zeros(c), np.full(c, 1 - 1e-3)])
    return model


def _depthwise_model():
    from flower_edge.tfcompat import keras

    k = keras()
    k.utils.set_random_seed(0)  # the initial weights decide how far [-6, 6] is off; unseeded it flaked
    L = k.layers
    inp = k.Input((12, 12, 3), name="image")
    x = L.Conv2D(6, 1, use_bias=False, name="expand")(inp)
    x = L.BatchNormalization(name="expand_bn")(x)
    x = L.ReLU(6.0, name="expand_relu")(x)
    x = L.DepthwiseConv2D(3, padding="same", use_bias=False, name="dw")(x)
    x = L.BatchNormalization(name="dw_bn")(x)
    x = L.ReLU(6.0, name="dw_relu")(x)
    x = L.Conv2D(4, 1, use_bias=False, name="project")(x)
    x = L.BatchNormalization(name="project_bn")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    out = L.Dense(3, activation="softmax", name="probs")(x)
    model = k.Model(inp, out)
    dw = model.get_layer("dw")
    kernel = np.random.default_rng(0).normal(0, 0.1, dw.depthwise_kernel.shape)
    kernel[..., 0, 0] *= 400  # one channel 400x wider: what per-tensor would wreck
    dw.set_weights([kernel])
    return model


def test_qat_quantizes_depthwise_per_channel_and_starts_from_real_ranges():
    from flower_edge.quantize.qat import quantize_aware_model
    from flower_edge.quantize.qat_schemes import calibrate_ranges

    model = _depthwise_model()
    qat = quantize_aware_model(model)
    dw = next(layer for layer in qat.layers if getattr(layer, "layer", None) is not None
              and layer.layer.name == "dw")
    ranges = {w.name.split("/")[-1].split(":")[0]: w for w in dw.non_trainable_weights}
    kmax = next(v for n, v in ranges.items() if "depthwise_kernel" in n and n.endswith("_max"))
    assert kmax.shape == (6,)  # one range per channel, not one per depth multiplier
    # BatchNorm stays in inference mode while fine-tuning
    assert all(not layer.trainable for layer in qat.layers if "bn" in layer.name)

    images = np.random.default_rng(2).integers(0, 256, (8, 12, 12, 3)).astype(np.uint8)
    float_probs = model.predict(images.astype(np.float32), verbose=0)
    uncalibrated = np.abs(float_probs - qat.predict(images.astype(np.float32), verbose=0)).max()
    assert calibrate_ranges(qat, images, batch_size=4) > 0
    assert kmax.numpy()[0] > 6.0 > kmax.numpy()[1]  # the wide channel gets its own range
    calibrated = np.abs(float_probs - qat.predict(images.astype(np.float32), verbose=0)).max()
    # calibrated fake quantization tracks the float model far better than tfmot's [-6, 6] start
    assert calibrated < 0.5 * uncalibrated, (calibrated, uncalibrated)


def test_fold_batchnorm_keeps_the_float_outputs_and_removes_every_bn():
    from flower_edge.quantize.graph import fold_batchnorm

    model = _depthwise_model()
    rng = np.random.default_rng(5)
    for layer in model.layers:  # real statistics, so that folding has something to get wrong
        if type(layer).__name__ == "BatchNormalization":
            c = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 2, c), rng.normal(0, 1, c), rng.normal(0, 1, c), rng.uniform(0.2, 3, c)])
    folded, count = fold_batchnorm(model)
    assert count == 3 and not [la for la in folded.layers if type(la).__name__ == "BatchNormalization"]
    images = rng.integers(0, 256, (8, 12, 12, 3)).astype(np.float32)
    np.testing.assert_allclose(folded.predict(images, verbose=0), model.predict(images, verbose=0), atol=1e-5)


def test_qat_model_converts_to_the_graph_of_post_training_int8():
    """No BatchNorm MUL/ADD left in the int8 model: QAT trains the folded kernels the
    converter ships (before, every BN stayed as an int8 MUL and ADD of its own)."""
    from flower_edge.quantize.qat import quantize_aware_model
    from flower_edge.quantize.qat_schemes import calibrate_ranges
    from flower_edge.tfcompat import tf

    qat = quantize_aware_model(_depthwise_model())
    calibrate_ranges(qat, np.random.default_rng(2).integers(0, 256, (8, 12, 12, 3)).astype(np.uint8), 4)
    dw = next(layer for layer in qat.layers if getattr(layer, "layer", None) is not None
              and layer.layer.name == "dw")
    assert any("depthwise_kernel" in w.name for w in dw.non_trainable_weights)  # kernel still fake-quantized
    converter = tf().lite.TFLiteConverter.from_keras_model(qat)
    converter.optimizations = [tf().lite.Optimize.DEFAULT]
    interpreter = tf().lite.Interpreter(model_content=converter.convert())
    ops = [op["op_name"] for op in interpreter._get_ops_details()]
    assert ops.count("CONV_2D") == 2 and ops.count("DEPTHWISE_CONV_2D") == 1, ops
    assert "MUL" not in ops and "ADD" not in ops and "DEQUANTIZE" not in ops[:-1], ops


def _rounded(model):
    """A copy of `model` with every kernel rounded the way the TFLite converter rounds it."""
    from flower_edge.quantize.int8.bias_correction import KERNEL_LAYERS, rounding_error
    from flower_edge.tfcompat import keras

    copy = keras().models.clone_model(model)
    copy.set_weights(model.get_weights())
    for layer in copy.layers:
        kind = type(layer).__name__
        if kind in KERNEL_LAYERS:
            weights = layer.get_weights()
            weights[0] = weights[0] + rounding_error(weights[0], kind)
            layer.set_weights(weights)
    return copy


def test_bias_correction_cancels_the_mean_shift_of_int8_weight_rounding():
    from flower_edge.quantize.int8.bias_correction import correct_weight_bias, rounding_error
    from flower_edge.tfcompat import keras

    model = _offset_model(seed=3)
    rng = np.random.default_rng(4)
    for layer in model.layers:  # coarse kernels: rounding error clearly above float noise
        if type(layer).__name__ in ("Conv2D", "DepthwiseConv2D", "Dense"):
            w = layer.get_weights()
            w[0] = rng.normal(0, 1, w[0].shape) * np.where(rng.random(w[0].shape) < 0.05, 30, 1)
            layer.set_weights(w)
    calib = rng.integers(0, 256, (32, 16, 16, 3)).astype(np.uint8)
    fresh = rng.integers(0, 256, (32, 16, 16, 3)).astype(np.float32)
    corrected, report = correct_weight_bias(model, calib)
    assert "proj_a" in report.corrected and "probs" in report.corrected and report.max_shift > 0

    def features(m):
        return keras().Model(m.inputs, m.get_layer("gap").output).predict(fresh, verbose=0)

    reference = features(model)
    plain = np.abs(features(_rounded(model)) - reference).mean()
    fixed = np.abs(features(_rounded(corrected)) - reference).mean()
    assert fixed < 0.3 * plain, (fixed, plain)  # measured 0.10
    # the rounding it pre-compensates is the converter's: per-channel, symmetric, [-127, 127]
    kernel = np.array([[1.0, -0.5], [0.3, 2.0]])
    steps = (kernel + rounding_error(kernel, "Dense")) / (np.abs(kernel).max(axis=0) / 127)
    np.testing.assert_allclose(steps, [[127, -32], [38, 127]], atol=1e-9)
