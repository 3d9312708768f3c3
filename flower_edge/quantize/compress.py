"""Pruning and weight clustering with tfmot, before TFLite conversion.

A compressed variant (`int8-pruned75`, `int8-clustered16`, `fp32-pruned75`) starts
from the trained float model: tfmot wraps its Conv2D and Dense layers
(`prune_low_magnitude` with a polynomial-decay schedule, or `cluster_weights` with
k-means++ centroids), fine-tunes on the run's training split, then strips the
wrappers. The stripped float model is then converted like any other (quantize/convert.py).

Fine-tuning distills towards the original float model's own probabilities (KL), as
QAT does (quantize/qat.py): the compressed model should keep the original's decisions.
The original labels each augmented view as it is drawn (function matching).

Why post-training int8, not tfmot's pruning/cluster-preserving QAT: every int8 step
flower-edge runs keeps zeros and clusters exactly. Weights are rounded symmetrically
per output channel (zero point 0, so 0 stays 0; a channel's int8 values are a function
of its float values, so N centroids give at most N int8 values per channel, BatchNorm
folding included, since folding scales a whole channel). Bias correction and mean
correction only move biases; MSE activation ranges only touch activations. tfmot's
Default8BitPrunePreserveQuantizeScheme cannot wrap the flower-edge model at all (it asks
for a QuantizeConfig of the Rescaling preprocessing layer, which its registry lacks),
and its default 8-bit registry quantizes depthwise kernels per tensor, which kept fewer
decisions than flower-edge's per-channel QAT scheme (benchmarks/check_preserve_qat.py,
quantize/README.md).
"""

from __future__ import annotations

import contextlib
import math

import numpy as np

from flower_edge.errors import FlowerEdgeError


def _wrap(model, wrap_one):
    """Clone `model` with `wrap_one` applied to its Conv2D and Dense layers, trained weights copied.

    DepthwiseConv2D is left alone: tfmot does not prune it, and its ~70 k weights in
    MobileNetV2 are the most sensitive to clustering for the least size. Each layer is
    cloned before wrapping so the original model's weights are never changed in place."""
    from flower_edge.tfcompat import keras

    layers = keras().layers

    def clone(layer):
        fresh = layer.__class__.from_config(layer.get_config())
        if isinstance(layer, (layers.Conv2D, layers.Dense)) and not isinstance(layer, layers.DepthwiseConv2D):
            # built and loaded before wrapping: clustering picks its centroids from these weights
            fresh.build(layer.input_shape)
            fresh.set_weights(layer.get_weights())
            return wrap_one(fresh)
        return fresh

    try:
        wrapped = keras().models.clone_model(model, clone_function=clone)
    except (ValueError, TypeError) as exc:
        text = " ".join(str(exc).split())[:200]
        raise FlowerEdgeError(f"tfmot cannot wrap this model ({text}); pruning and clustering need a "
                              f"flat tf_keras model (the head on the base's output)") from None
    _copy_weights(model, wrapped)
    return wrapped


def _copy_weights(source, wrapped) -> None:
    """Copy the trained weights of the layers left unwrapped (BatchNorm, depthwise), by name."""
    by_name = {layer.name: layer for layer in source.layers}
    for layer in wrapped.layers:
        original = by_name.get(layer.name)
        if original is not None and original.weights and not hasattr(layer, "layer"):
            layer.set_weights(original.get_weights())


def prune(model, images: np.ndarray, sparsity: float, epochs: int, learning_rate: float,
          batch_size: int = 32, seed: int = 0):
    """The stripped float model with `sparsity` of each Conv2D/Dense kernel at zero."""
    import tensorflow_model_optimization as tfmot

    sp = tfmot.sparsity.keras
    steps = max(1, epochs * math.ceil(len(images) / batch_size))
    # Reach the target after ~2/3 of the steps, then recover at it. The mask is updated every
    # `frequency` steps (tfmot's default 100 would never fire on a few hundred photos).
    end = max(1, (2 * steps) // 3)
    frequency = max(1, end // 8)
    end = frequency * max(1, end // frequency)
    schedule = sp.PolynomialDecay(initial_sparsity=0.0, final_sparsity=float(sparsity),
                                  begin_step=0, end_step=end, frequency=frequency)
    wrapped = _wrap(model, lambda layer: sp.prune_low_magnitude(layer, pruning_schedule=schedule))
    callbacks = [sp.UpdatePruningStep()]
    _fine_tune(model, wrapped, images, epochs, learning_rate, batch_size, seed, callbacks,
               f"pruning to {sparsity:.0%} (epochs)")
    return _fresh(sp.strip_pruning(wrapped))


def cluster(model, images: np.ndarray, clusters: int, epochs: int, learning_rate: float,
            batch_size: int = 32, seed: int = 0):
    """The stripped float model with each Conv2D/Dense kernel on `clusters` shared values."""
    import tensorflow_model_optimization as tfmot

    cl = tfmot.clustering.keras
    init = cl.CentroidInitialization.KMEANS_PLUS_PLUS
    wrapped = _wrap(model, lambda layer: cl.cluster_weights(layer, number_of_clusters=int(clusters),
                                                            cluster_centroids_init=init))
    _fine_tune(model, wrapped, images, epochs, learning_rate, batch_size, seed, [],
               f"clustering to {clusters} values (epochs)")
    return _fresh(cl.strip_clustering(wrapped))


def _fresh(stripped):
    """A copy with layers of its own: tfmot's strip functions reuse the unwrapped layer objects,
    which then belong to two graphs, and `layer.input` (bias correction's probes) points into
    the wrapped model's graph."""
    from flower_edge.tfcompat import keras

    clean = keras().models.clone_model(stripped)
    clean.set_weights(stripped.get_weights())
    return clean


def _fine_tune(model, wrapped, images, epochs, learning_rate, batch_size, seed, callbacks, label) -> None:
    """Distill `wrapped` towards `model`'s probabilities on augmented training images.

    Each batch is warped by training's augmentation (data.pipeline.augment_batch) and the
    original model labels that very view, in the input pipeline (function matching, as
    `flower-edge distill` does): without it a few hundred photos are memorised within a
    few epochs, and the pruned model only learns to copy the original on those."""
    from flower_edge.data.pipeline import augment_batch
    from flower_edge.quantize.qat import epoch_progress
    from flower_edge.quantize.qat_schemes import freeze_batchnorm
    from flower_edge.tfcompat import keras, tf

    if epochs < 1:
        return
    t, k = tf(), keras()
    t.random.set_seed(seed)
    steps = math.ceil(len(images) / batch_size)
    seeds = t.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
    views = t.data.Dataset.from_tensor_slices(images).shuffle(len(images), seed=seed,
                                                              reshuffle_each_iteration=True)
    views = t.data.Dataset.zip((views.batch(batch_size).repeat(), seeds)).map(
        t.autograph.experimental.do_not_convert(lambda x, s: augment_batch(t.cast(x, t.float32), s)))
    data = views.map(t.autograph.experimental.do_not_convert(
        lambda x: (x, model(x, training=False)))).prefetch(2)
    for layer in wrapped.layers:
        layer.trainable = True
    freeze_batchnorm(wrapped)  # pretrained BN keeps its statistics, as in QAT
    wrapped.compile(optimizer=k.optimizers.Adam(learning_rate), loss=k.losses.KLDivergence())
    wrapped.fit(data, epochs=epochs, steps_per_epoch=steps, verbose=0,
                callbacks=[*callbacks, epoch_progress(epochs, label)])


class CompressedModels:
    """Each (prune, clusters) model fine-tuned once per quantize run, shared by its variants
    (fp32-pruned75 and int8-pruned75 come from the same pruned model), each with one
    SavedModel export for the converter."""

    def __init__(self, model, images_fn, recipe, log_path=None):
        self._model, self._images_fn, self._recipe, self._log = model, images_fn, recipe, log_path
        self._cache: dict = {}
        self._images = None
        self._stack = contextlib.ExitStack()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._stack.close()

    def get(self, config):
        """(stripped tf_keras model, SavedModel path) for a config with `prune` or `clusters`."""
        from flower_edge.quantize.convert import saved_model

        key = (config.prune, config.cluster)
        if key not in self._cache:
            if self._images is None:
                self._images = self._images_fn()
            r, images = self._recipe, self._images
            if config.prune:
                model = prune(self._model, images, config.prune, r.prune_epochs, r.prune_learning_rate)
            else:
                model = cluster(self._model, images, config.cluster, r.cluster_epochs,
                                r.cluster_learning_rate)
            self._cache[key] = (model, self._stack.enter_context(saved_model(model, self._log)))
        return self._cache[key]
