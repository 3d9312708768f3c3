"""Real images for calibration, QAT and the agreement check, through the eval transform.

Calibration sees exactly what the deployed model sees: training photos,
resized (shorter side) and center-cropped, uint8 RGB, no augmentation.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from flower_edge.data.splits import DataSplits, Split
from flower_edge.errors import DataError
from flower_edge.rundir import RunDir


def load_splits(run: RunDir, calib_data: str | os.PathLike | None = None) -> DataSplits:
    """The run's split.json, re-rooted at `calib_data` if given; errors say where data was expected."""
    if not run.split.is_file():
        raise DataError(f"no split.json in {run.path}: calibration needs the run's training images; "
                        f"re-run 'flower-edge train' or pass a finished run")
    splits = DataSplits.load(run.split, root=str(calib_data) if calib_data else None)
    if calib_data and not Path(calib_data).is_dir():
        raise DataError(f"--calib-data {calib_data} is not a folder; pass the dataset folder "
                        f"(one sub-folder per class) the run was trained on")
    sample = splits.train.paths[:1]
    if sample and not Path(sample[0]).is_file():
        where = f"under {splits.root}" if not calib_data else f"under --calib-data {calib_data}"
        raise DataError(f"calibration images not found {where} (expected e.g. "
                        f"{Path(sample[0]).relative_to(splits.root)}); the data folder has moved: "
                        f"pass its new location with --calib-data DIR")
    return splits


def stratified(split: Split, n: int, seed: int = 0) -> tuple[list[str], list[int]]:
    """Up to `n` (path, label) pairs, round-robin over classes so each is represented."""
    rng = np.random.default_rng(seed)
    by_class: dict[int, list[int]] = {}
    for i, y in enumerate(split.labels):
        by_class.setdefault(int(y), []).append(i)
    queues = {c: list(rng.permutation(idx)) for c, idx in sorted(by_class.items())}
    picked: list[int] = []
    while len(picked) < n and any(queues.values()):
        for c in sorted(queues):
            if queues[c] and len(picked) < n:
                picked.append(int(queues[c].pop()))
    return [split.paths[i] for i in picked], [int(split.labels[i]) for i in picked]


def representative_dataset(images: np.ndarray):
    """A TFLite representative-dataset factory over preloaded uint8 images (float 0..255 in)."""
    def gen():
        for img in images:
            yield [img[None].astype(np.float32)]

    return gen
