"""tfmot QuantizeConfigs that match what the TFLite converter does after training.

Why: tfmot 0.8.1's default 8-bit scheme quantizes a kernel "per axis" over its LAST
axis. For a DepthwiseConv2D kernel (kh, kw, C, M) that axis is the depth multiplier
M (= 1), so QAT trains every depthwise layer against ONE per-tensor scale. On a
pretrained MobileNetV2 (depthwise kernels span 0.34..56 per channel) that collapses
the model to chance, in QAT as in post-training per-tensor int8. The TFLite kernel
is per-channel over C*M, so this module quantizes the kernel as (kh, kw, 1, C*M),
the same grouping the converter uses (the trick tfmot uses for Conv2DTranspose).
"""

from __future__ import annotations


def _classes():
    """Build the quantizer/config classes lazily (tfmot and TF stay out of import time)."""
    import tensorflow_model_optimization as tfmot
    from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (
        default_8bit_quantize_registry as registry,
    )

    from flower_edge.tfcompat import keras, tf

    quantizers = tfmot.quantization.keras.quantizers

    class DepthwisePerChannelWeightsQuantizer(quantizers.LastValueQuantizer):
        """Symmetric int8, one scale per output channel (C*M) of a depthwise kernel."""

        def __init__(self, num_bits=8, per_axis=True, symmetric=True, narrow_range=True):
            super().__init__(num_bits=8, per_axis=True, symmetric=True, narrow_range=True)

        def build(self, tensor_shape, name, layer):
            channels = int(tensor_shape[-2]) * int(tensor_shape[-1])
            init = keras().initializers
            return {"min_var": layer.add_weight(name + "_min", shape=(channels,), trainable=False,
                                                initializer=init.Constant(-6.0)),
                    "max_var": layer.add_weight(name + "_max", shape=(channels,), trainable=False,
                                                initializer=init.Constant(6.0))}

        def __call__(self, inputs, training, weights, **kwargs):
            shape = tf().shape(inputs)
            grouped = tf().reshape(inputs, [shape[0], shape[1], 1, shape[2] * shape[3]])
            out = super().__call__(grouped, training, weights, **kwargs)
            return tf().reshape(out, shape)

    class DepthwisePerChannelQuantizeConfig(registry.Default8BitQuantizeConfig):
        """DepthwiseConv2D: per-channel kernel, activation quantized after the (folded) BN."""

        def __init__(self, weight_attrs=("depthwise_kernel",), activation_attrs=("activation",),
                     quantize_output=False):
            super().__init__(list(weight_attrs), list(activation_attrs), quantize_output)
            self.weight_quantizer = DepthwisePerChannelWeightsQuantizer()

    return {"DepthwisePerChannelWeightsQuantizer": DepthwisePerChannelWeightsQuantizer,
            "DepthwisePerChannelQuantizeConfig": DepthwisePerChannelQuantizeConfig,
            "_registry": registry.Default8BitQuantizeRegistry, "_scheme": _scheme_class(),
            "_conv_config": registry.Default8BitConvQuantizeConfig,
            "_config": registry.Default8BitQuantizeConfig}


def _scheme_class():
    """tfmot's 8-bit QuantizeScheme with Layout (built lazily, like _classes)."""
    import tensorflow_model_optimization as tfmot
    from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (
        default_8bit_quantize_layout_transform as layout,
    )
    from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (
        default_8bit_transforms as fuse,
    )
    from tensorflow_model_optimization.python.core.quantization.keras.graph_transformations import (
        model_transformer,
    )

    class Layout(layout.Default8BitQuantizeLayoutTransform):
        """tfmot's layout transforms less its "X + ReLU" ones: those give the layer before a
        ReLU a no-op config, which for a conv drops its kernel's fake-quant too. With the
        BatchNorms folded (graph.fold_batchnorm) every conv feeds its ReLU directly, so
        quantize_config_for does that job instead, keeping the kernel quantized. (Its Conv+BN
        transforms are left out too: they skip layers with configs of their own, as here.)"""

        def apply(self, model, layer_quantize_map):
            transforms = [fuse.InputLayerQuantize(), fuse.SeparableConv1DQuantize(), fuse.SeparableConvQuantize(),
                          fuse.ConcatTransform6Inputs(), fuse.ConcatTransform5Inputs(),
                          fuse.ConcatTransform4Inputs(), fuse.ConcatTransform3Inputs(), fuse.ConcatTransform()]
            return model_transformer.ModelTransformer(model, transforms, set(layer_quantize_map),
                                                      layer_quantize_map).transform()

    class Scheme(tfmot.quantization.keras.default_8bit.Default8BitQuantizeScheme):
        def get_layout_transformer(self):
            return Layout()

    return Scheme


_CACHE: dict = {}


def scheme_objects() -> dict:
    """Custom objects to pass to `quantize_scope` (and to load a saved QAT model)."""
    if not _CACHE:
        _CACHE.update(_classes())
    return {k: v for k, v in _CACHE.items() if not k.startswith("_")}


def scheme():
    """The QuantizeScheme for `quantize_apply` (see Layout for why not tfmot's own)."""
    scheme_objects()
    return _CACHE["_scheme"]()


def quantize_config_for(layer, feeds_relu: bool = False):
    """The QuantizeConfig for `layer`: ours for DepthwiseConv2D, tfmot's default otherwise,
    None when tfmot cannot quantize it (it is then left float in training and calibrated
    by the converter). A layer whose only consumer is a ReLU keeps its kernel quantized but
    not its output: the converter fuses the two, so only the ReLU's output is rounded."""
    from flower_edge.tfcompat import keras

    objects = scheme_objects()
    if isinstance(layer, keras().layers.DepthwiseConv2D):
        return objects["DepthwisePerChannelQuantizeConfig"](activation_attrs=() if feeds_relu else ("activation",))
    registry = _CACHE["_registry"]()
    if not registry.supports(layer):
        return None
    config = registry.get_quantize_config(layer)
    if feeds_relu and isinstance(config, _CACHE["_conv_config"]):
        return _CACHE["_conv_config"](["kernel"], [], False)
    if feeds_relu and type(config) is _CACHE["_config"]:
        return _CACHE["_config"](config.weight_attrs, [], False)
    return config


def freeze_batchnorm(model) -> int:
    """Set every BatchNormalization (wrapped by tfmot or not) to inference mode; count them.

    A pass-through pretrained BN (mean 0, var 1) would switch to batch statistics in training.
    """
    from flower_edge.tfcompat import keras

    bn = keras().layers.BatchNormalization
    count = 0
    for layer in model.layers:
        inner = getattr(layer, "layer", layer)
        if isinstance(inner, bn):
            layer.trainable = False
            inner.trainable = False
            count += 1
    return count


def calibrate_ranges(qat_model, images, batch_size: int = 32) -> int:
    """Set every fake-quant range from calibration images, as the TFLite converter would.

    tfmot starts each activation range at [-6, 6] and moves it by an EMA of 0.999 per
    step, so a few hundred steps never reach a pretrained network's real ranges
    (-32..35 in MobileNetV2's residual stream): QAT then trains against clipped
    activations. Here the ranges are reset and set to the min/max over `images`
    (activations) and to the kernels' values (weights). Returns the number of ranges set.
    """
    import numpy as np
    from tensorflow_model_optimization.python.core.quantization.keras import quant_ops

    from flower_edge.quantize.graph import weight_name

    ranges = [w for w in qat_model.non_trainable_weights
              if weight_name(w).endswith(("_min", "_max"))]
    for var in ranges:
        var.assign(np.zeros(var.shape, var.dtype.as_numpy_dtype))
    original = quant_ops.MovingAvgQuantize

    def all_values(inputs, min_var, max_var, per_channel=False, ema_decay=0.999, name_prefix="",
                   is_training=True, num_bits=8, narrow_range=False, symmetric=False):
        return quant_ops.AllValuesQuantize(inputs, min_var, max_var, is_training=True, num_bits=num_bits,
                                           narrow_range=narrow_range, symmetric=symmetric)

    quant_ops.MovingAvgQuantize = all_values
    try:
        for start in range(0, len(images), batch_size):
            # training=True updates the ranges; frozen BN stays in inference mode
            qat_model(np.asarray(images[start:start + batch_size], np.float32), training=True)
    finally:
        quant_ops.MovingAvgQuantize = original
    return len(ranges)
