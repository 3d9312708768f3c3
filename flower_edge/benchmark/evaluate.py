"""Load a run's evaluation images and get class probabilities from each variant."""

from __future__ import annotations

import numpy as np

from flower_edge.data.splits import DataSplits
from flower_edge.errors import DataError
from flower_edge.rundir import RunDir


def split_subset(run: RunDir, split: str, max_images: int = 0, seed: int = 0):
    """(paths, labels, classes) of a run's split, optionally a seeded subset of it."""
    if not run.split.is_file():
        raise DataError(f"no split.json in {run.path}: benchmark needs the run's data split "
                        f"(re-run 'flower-edge train' or copy split.json back)")
    splits = DataSplits.load(run.split)
    part = splits.split(split)  # empty after a refit that trained on it: the caller says so
    from flower_edge.benchmark.imageset import subset

    idx = subset(len(part), max_images, seed)
    return [part.paths[i] for i in idx], np.asarray(part.labels)[idx], list(splits.classes)


def model_size(model) -> tuple[int, int]:
    """(height, width) a tf_keras model takes."""
    return int(model.inputs[0].shape[1]), int(model.inputs[0].shape[2])


def tflite_probabilities(predictor, images: np.ndarray, batch: int = 32) -> np.ndarray:
    """Probabilities from a runtime Predictor, in chunks."""
    out = [predictor.probabilities(images[i:i + batch]) for i in range(0, len(images), batch)]
    return np.concatenate(out).astype(np.float32)


def bundle_size(manifest: dict) -> tuple[int, int]:
    """(height, width) a bundle's preprocessing expects."""
    size = manifest["preprocessing"]["size"]
    return (int(size[0]), int(size[1])) if isinstance(size, (list, tuple)) else (int(size), int(size))
