"""Embeddings of every photo from a backbone: the run's (its head_gap layer), or the
ImageNet base when there is no run. The one part of review that needs TensorFlow."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from flower_edge.errors import UsageError


def backbone(run: str | None, weights: str | None, model_name: str, image_size: int):
    """(a Keras model from 0..255 images to embeddings, its input size, what it is).

    The run's own backbone unless `weights` names a base (then the run gives only its split).
    """
    from flower_edge.models import get_spec
    from flower_edge.models.build import EMBEDDING_LAYER, build_model, load_keras_model
    from flower_edge.tfcompat import keras

    if run and not weights:
        from flower_edge.rundir import RunDir

        loaded = load_keras_model(RunDir(Path(run)).require_model().model)
        layers = _review_layers(loaded)
        what = f"the backbone of {run}"
    else:
        spec = get_spec(model_name)
        if not spec.pretrained:
            raise UsageError(f"{model_name} has no pretrained base to embed with; pass --run RUN "
                             f"or a pretrained --backbone (e.g. mobilenet_v2)")
        size = image_size or spec.default_size
        weights = weights or "imagenet"
        # Two classes: the head is never used, only the pooled backbone features.
        loaded = build_model(spec, 2, size, weights, 0.0)
        layers = spec.review_layers
        what = f"the {weights if weights == 'imagenet' else Path(weights).name} {model_name} base"
    pooled = [keras().layers.GlobalAveragePooling2D()(loaded.get_layer(name).output) for name in layers]
    sub = keras().Model(loaded.inputs, [loaded.get_layer(EMBEDDING_LAYER).output, *pooled])
    return sub, int(loaded.input_shape[1]), what


def _review_layers(model) -> tuple[str, ...]:
    """The spec's review layers for a model flower-edge built (named after its spec), else none."""
    from flower_edge.models.registry import get_spec

    try:
        names = get_spec(model.name).review_layers
    except UsageError:
        return ()
    return tuple(n for n in names if n in {layer.name for layer in model.layers})


def embed(model, size: int, paths, batch_size: int = 32) -> np.ndarray:
    """L2-normalised float32 embeddings of `paths`, in order, with a progress bar."""
    from flower_edge.data.pipeline import make_dataset
    from flower_edge.errors import DataError
    from flower_edge.progress import bar
    from flower_edge.tfcompat import tf

    paths = list(paths)
    ds = make_dataset(paths, [0] * len(paths), image_size=size, batch_size=batch_size,
                      training=False, num_classes=1, cache=False)
    fn = tf().function(lambda x: model(x, training=False), reduce_retracing=True)
    out = []
    with bar(len(paths), "embedding photos") as progress:
        for images, _ in ds:
            parts = fn(images)
            parts = parts if isinstance(parts, (list, tuple)) else [parts]
            # Each part unit-length, then the whole: every layer weighs the same in the probe.
            out.append(_unit(np.concatenate([_unit(part.numpy()) for part in parts], axis=1)))
            progress.update(len(out[-1]))
    features = np.concatenate(out) if out else np.zeros((0, 1), np.float32)
    if len(features) != len(paths):
        raise DataError(f"{len(paths) - len(features)} photo(s) failed to decode; run "
                        f"`flower-edge data inspect` and remove them")
    return features.astype(np.float32)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
