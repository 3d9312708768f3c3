"""Build a flat tf_keras classifier from a ModelSpec, and load backbone weights.

Layout: Input (RGB 0..255) -> preprocessing layers -> backbone -> head_gap ->
head_dropout -> logits (Dense) -> probs (softmax, float32). The head sits on the
backbone's output in the same graph, so tfmot can quantize the whole model.
"""

from __future__ import annotations

import os
from pathlib import Path

from flower_edge.errors import FlowerEdgeError, UsageError
from flower_edge.models.modelspec import ModelSpec
from flower_edge.tfcompat import keras

IMAGENET_MEAN_BGR = (103.939, 116.779, 123.68)
HEAD_LAYERS = ("head_gap", "head_dropout", "logits", "probs")
PREPROCESS_PREFIX = "preprocess"
EMBEDDING_LAYER = "head_gap"
LOGITS_LAYER = "logits"


def _preprocess(x, mode: str):
    """Preprocessing as plain, serialisable, quantizable layers."""
    import numpy as np

    layers = keras().layers
    if mode == "tf":
        return layers.Rescaling(1.0 / 127.5, offset=-1.0, name=f"{PREPROCESS_PREFIX}_scale")(x)
    if mode == "unit":
        return layers.Rescaling(1.0 / 255.0, name=f"{PREPROCESS_PREFIX}_scale")(x)
    # caffe: a frozen 1x1 conv swaps RGB->BGR and subtracts the ImageNet mean.
    conv = layers.Conv2D(3, 1, name=f"{PREPROCESS_PREFIX}_caffe", trainable=False)
    y = conv(x)
    kernel = np.zeros((1, 1, 3, 3), dtype="float32")
    for out_ch, in_ch in enumerate((2, 1, 0)):
        kernel[0, 0, in_ch, out_ch] = 1.0
    conv.set_weights([kernel, -np.asarray(IMAGENET_MEAN_BGR, dtype="float32")])
    return y


def build_model(spec: ModelSpec, num_classes: int, image_size: int | None = None,
                weights: str | None = None, dropout: float = 0.2):
    """Build the classifier. `weights`: None/'none', 'imagenet' or a path to a notop .h5."""
    if num_classes < 2:
        raise UsageError(f"need at least 2 classes to train a classifier, got {num_classes}")
    size = spec.check_size(image_size or spec.default_size)
    k = keras()
    inputs = k.Input(shape=(size, size, 3), name="image")
    features = spec.builder(_preprocess(inputs, spec.preprocessing), spec)
    x = k.layers.GlobalAveragePooling2D(name="head_gap")(features)
    x = k.layers.Dropout(dropout, name="head_dropout")(x)
    x = k.layers.Dense(num_classes, name="logits")(x)
    outputs = k.layers.Activation("softmax", dtype="float32", name="probs")(x)
    model = k.Model(inputs, outputs, name=spec.name)
    load_backbone_weights(model, spec, size, weights)
    if weights in (None, "", "none"):
        _fast_batchnorm(model)
    return model


def _fast_batchnorm(model, momentum: float = 0.9) -> None:
    """From scratch, let BatchNorm statistics converge within a small dataset's steps.

    Keras applications use momentum 0.99-0.999: after a few hundred steps the moving
    mean/variance are still mostly their initial values, so a model that fits its
    training batches scores at chance in inference mode.
    """
    for layer in model.layers:
        if isinstance(layer, keras().layers.BatchNormalization):
            layer.momentum = min(layer.momentum, momentum)


def load_keras_model(path: str | os.PathLike):
    """Load a run's tf_keras model; a corrupt or foreign file is a one-line error."""
    from flower_edge.quiet import quiet

    try:
        with quiet():
            return keras().models.load_model(str(path), compile=False)
    except Exception as exc:  # noqa: BLE001  (zip, h5, json and keras errors alike)
        text = " ".join(str(exc).split())[:160]
        raise FlowerEdgeError(f"cannot load {path}: {type(exc).__name__}: {text}; the file is corrupt "
                              f"or not a tf_keras model, re-run 'flower-edge train'") from None


def backbone_layers(model) -> list:
    """The backbone's layers in graph order (no input, preprocessing or head)."""
    return [layer for layer in model.layers
            if layer.name not in HEAD_LAYERS
            and not layer.name.startswith(PREPROCESS_PREFIX)
            and not isinstance(layer, keras().layers.InputLayer)]


def load_backbone_weights(model, spec: ModelSpec, size: int, weights: str | None) -> None:
    """Copy pretrained weights into the backbone layers of `model`, by layer name."""
    if weights in (None, "", "none"):
        return
    if not spec.pretrained or not spec.keras_app:
        raise UsageError(f"{spec.name} has no pretrained weights; use --weights none")
    source = _reference_backbone(spec, size, weights)
    by_name = {layer.name: layer for layer in model.layers}
    copied = 0
    for ref in source.layers:
        values = ref.get_weights()
        if not values or ref.name not in by_name:
            continue
        by_name[ref.name].set_weights(values)
        copied += 1
    if copied == 0:
        raise FlowerEdgeError(f"no layer of the weights matched {spec.name}; pass a notop .h5 of {spec.name}")


def _reference_backbone(spec: ModelSpec, size: int, weights: str):
    """The stock application with the requested weights loaded (download or file)."""
    app = getattr(keras().applications, spec.keras_app)
    kwargs = dict(spec.app_kwargs)
    if weights != "imagenet":
        path = Path(weights).expanduser()
        if not path.is_file():
            raise UsageError(f"weights file not found: {weights} (pass a notop .h5 of {spec.name}, "
                             f"'imagenet' or 'none')")
        try:
            return app(include_top=False, weights=str(path), input_shape=(size, size, 3), **kwargs)
        except (ValueError, OSError) as exc:
            raise FlowerEdgeError(f"weights file {path.name} does not fit {spec.name} "
                                  f"({_short(exc)}); pass a notop .h5 saved from {spec.name}") from None
    try:
        return app(include_top=False, weights="imagenet", input_shape=(size, size, 3), **kwargs)
    except Exception as exc:  # keras raises a bare Exception on URL fetch failure
        if "fetch failure" in str(exc) or isinstance(exc, OSError):
            raise FlowerEdgeError(
                f"cannot download ImageNet weights for {spec.name} (offline?): download the notop "
                f".h5 on a connected machine and pass it with --weights PATH") from None
        raise


def _short(exc: Exception, limit: int = 160) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[:limit] + "..."
