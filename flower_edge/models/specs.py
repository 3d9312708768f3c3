"""The built-in specs. Builders take the preprocessed input tensor and return the
backbone's last feature map, always in one flat graph (tfmot QAT needs that).

This module only lists the specs (`BUILTIN`); `registry.py` registers them on first use."""

from __future__ import annotations

from flower_edge.models.modelspec import ModelSpec
from flower_edge.tfcompat import keras


def _application(input_tensor, spec: ModelSpec):
    """A tf_keras.applications backbone built on `input_tensor` (no weights yet)."""
    app = getattr(keras().applications, spec.keras_app)
    base = app(include_top=False, weights=None, input_tensor=input_tensor, **dict(spec.app_kwargs))
    return base.output


def _baseline_cnn(input_tensor, spec: ModelSpec, widths=(32, 64)):
    """The See-Flower paper's baseline: two conv blocks (conv-relu-conv-relu-pool)."""
    layers = keras().layers
    x = input_tensor
    for i, width in enumerate(widths, start=1):
        x = layers.Conv2D(width, 3, padding="same", activation="relu", name=f"block{i}_conv1")(x)
        x = layers.Conv2D(width, 3, padding="same", name=f"block{i}_conv2")(x)
        x = layers.ReLU(name=f"block{i}_relu")(x)
        if i < len(widths):
            x = layers.MaxPooling2D(2, name=f"block{i}_pool")(x)
    return x


def _tiny_cnn(input_tensor, spec: ModelSpec):
    """A 3-layer conv net with BatchNorm, for fast tests (timm-style test model)."""
    layers = keras().layers
    x = input_tensor
    for i, width in enumerate((8, 16), start=1):
        x = layers.Conv2D(width, 3, strides=2, padding="same", use_bias=False, name=f"conv{i}")(x)
        x = layers.BatchNormalization(name=f"bn{i}")(x)
        x = layers.ReLU(name=f"relu{i}")(x)
    x = layers.Conv2D(16, 3, padding="same", activation="relu", name="features")(x)
    return x


_MOBILENET_WIDTHS = ((0.35, "035"), (0.5, "050"), (0.75, "075"))
# extra["imx500"]: how the IMX500 conversion venv rebuilds the spec (flower_edge/imx500/venv_convert.py);
# a spec without it has no IMX500 route.
_IMX500_APP = {"imx500": "application"}
# The last block before the 1x1 expansion to 1280 channels (160 channels, 7x7 at 224 px).
_MOBILENET_REVIEW = ("block_15_add",)

BUILTIN: tuple[ModelSpec, ...] = (
    ModelSpec("inception_v3", _application, 299, 75, "tf", "mixed10",
              "InceptionV3 (Szegedy et al.), the See-Flower backbone",
              keras_app="InceptionV3", finetune_layers=10),
    ModelSpec("mobilenet_v2", _application, 224, 32, "tf", "out_relu",
              "MobileNetV2, width 1.0", keras_app="MobileNetV2",
              app_kwargs=(("alpha", 1.0),), finetune_layers="all", review_layers=_MOBILENET_REVIEW,
              extra=_IMX500_APP),
    *(ModelSpec(f"mobilenet_v2_{suffix}", _application, 224, 32, "tf", "out_relu",
                f"MobileNetV2, width {alpha}", keras_app="MobileNetV2",
                app_kwargs=(("alpha", alpha),), finetune_layers="all", review_layers=_MOBILENET_REVIEW,
                extra=_IMX500_APP)
      for alpha, suffix in _MOBILENET_WIDTHS),
    ModelSpec("vgg16", _application, 224, 32, "caffe", "block5_conv3", "VGG16",
              keras_app="VGG16", finetune_layers=5),
    ModelSpec("vgg19", _application, 224, 32, "caffe", "block5_conv4", "VGG19",
              keras_app="VGG19", finetune_layers=5),
    ModelSpec("resnet50", _application, 224, 32, "caffe", "conv5_block3_out", "ResNet50",
              keras_app="ResNet50", finetune_layers=20),
    ModelSpec("baseline_cnn", _baseline_cnn, 128, 16, "unit", "block2_relu",
              "The See-Flower paper's small two-block baseline convnet, any size",
              pretrained=False, extra={"imx500": "baseline_cnn"}),
    ModelSpec("tiny_cnn", _tiny_cnn, 64, 8, "unit", "features",
              "A tiny conv net for tests", pretrained=False, testing=True),
)
