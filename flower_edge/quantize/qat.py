"""Quantization-aware fine-tuning with tfmot on the trained (flat, tf_keras) model."""

from __future__ import annotations

import numpy as np

from flower_edge.errors import FlowerEdgeError


def quantize_aware_model(model):
    """Wrap every layer tfmot's default 8-bit scheme supports; the rest stays float in training."""
    import tensorflow_model_optimization as tfmot

    from flower_edge.tfcompat import keras

    qk = tfmot.quantization.keras
    try:
        from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (
            default_8bit_quantize_registry as registry_mod)
        registry = registry_mod.Default8BitQuantizeRegistry()
    except ImportError:  # pragma: no cover  (layout of tfmot changed)
        registry = None

    def annotate(layer):
        if registry is None or registry.supports(layer):
            return qk.quantize_annotate_layer(layer)
        return layer  # e.g. Rescaling: calibrated by the converter instead

    try:
        annotated = keras().models.clone_model(model, clone_function=annotate)
        annotated.set_weights(model.get_weights())
        with qk.quantize_scope():
            return qk.quantize_apply(annotated)
    except (ValueError, TypeError, RuntimeError) as exc:
        text = " ".join(str(exc).split())[:200]
        raise FlowerEdgeError(f"quantization-aware training cannot wrap this model ({text}); "
                              f"use post-training int8 with --keep-float auto:K instead") from None


def fine_tune(model, images: np.ndarray, labels: np.ndarray, epochs: int, learning_rate: float,
              batch_size: int = 32, seed: int = 0):
    """Fine-tune the QAT model for `epochs` on eval-transformed uint8 training images."""
    from flower_edge.tfcompat import keras, tf

    tf().random.set_seed(seed)
    qat = quantize_aware_model(model)
    k = keras()
    qat.compile(optimizer=k.optimizers.Adam(learning_rate),
                loss=k.losses.SparseCategoricalCrossentropy(), metrics=["accuracy"])
    qat.fit(images.astype(np.float32), labels.astype(np.int64), epochs=epochs, batch_size=batch_size,
            shuffle=True, verbose=0, callbacks=[_ProgressCallback(epochs)])
    return qat


def _progress_callback_base():
    from flower_edge.tfcompat import keras

    return keras().callbacks.Callback


class _ProgressCallback:
    """Builds a tf_keras callback lazily (keeps TF out of import time)."""

    def __new__(cls, epochs: int):
        from flower_edge.progress import bar

        base = _progress_callback_base()

        class _Cb(base):
            def on_train_begin(self, logs=None):
                self._bar = bar(epochs, "QAT fine-tune (epochs)")
                self._bar.__enter__()

            def on_epoch_end(self, epoch, logs=None):
                self._bar.update(1)

            def on_train_end(self, logs=None):
                self._bar.__exit__(None, None, None)

        return _Cb()
