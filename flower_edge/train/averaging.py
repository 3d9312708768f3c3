"""Stochastic weight averaging (SWA): end a run with the mean of its last N epochs' weights.

Only the final phase is averaged (fine-tuning; phase 1 when there is no phase 2), all
of it when it is shorter than N: a mean across the phase change would blend a frozen
backbone's head with a fine-tuned one.

With a few hundred photos the last fine-tuning epochs wander between nearby solutions
that each fit the training set. Their mean is a flatter solution, less sensitive to the
weight noise int8 adds, and it does not depend on picking one epoch by a 75-photo
validation split (measured: docs/recipe-study.md). BatchNorm is frozen while
fine-tuning, so its statistics need no recomputation; from scratch (BatchNorm trains)
the averaged moving statistics are an approximation.

The running mean is written after every averaged epoch as `swa-EEEE.npz` beside the
epoch checkpoints, named by the epoch it includes up to, so a resumed run continues
from the mean that matches its last committed epoch.
"""

from __future__ import annotations

import os

import numpy as np

from flower_edge.rundir import RunDir

PREFIX = "swa-"


def _path(run: RunDir, epoch: int):
    return run.checkpoints / f"{PREFIX}{epoch:04d}.npz"


def read_mean(run: RunDir, epoch: int) -> tuple[list[np.ndarray], int] | None:
    """(mean weights, how many epochs they average) as of `epoch`, or None."""
    path = _path(run, epoch)
    if not path.is_file():
        return None
    with np.load(path) as data:
        count = int(data["count"])
        return [data[f"w{i}"] for i in range(len(data.files) - 1)], count


def _write_mean(run: RunDir, epoch: int, weights: list[np.ndarray], count: int) -> None:
    run.checkpoints.mkdir(parents=True, exist_ok=True)
    final = _path(run, epoch)
    tmp = final.with_name(f".{final.name}.tmp")
    with open(tmp, "wb") as fh:
        np.savez(fh, count=np.int64(count), **{f"w{i}": w for i, w in enumerate(weights)})
    os.replace(tmp, final)
    # Keep the previous mean until this epoch is committed: a kill in between resumes from it.
    for old in run.checkpoints.glob(f"{PREFIX}*.npz"):
        if old.name < _path(run, epoch - 1).name:
            old.unlink(missing_ok=True)


def make_swa(run: RunDir, first_epoch: int):
    """A callback that folds each epoch >= `first_epoch` into the running mean. Runs before
    the epoch commit, so the mean on disk is never behind the committed epoch."""
    from flower_edge.tfcompat import keras

    class _Average(keras().callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch < first_epoch:
                return
            current = self.model.get_weights()
            previous = read_mean(run, epoch - 1) if epoch > first_epoch else None
            if previous is None:
                mean, count = [np.array(w, dtype=w.dtype) for w in current], 1
            else:
                old, n = previous
                count = n + 1
                mean = [(o * n + w) / count for o, w in zip(old, current)]
                mean = [m.astype(w.dtype) for m, w in zip(mean, current)]
            _write_mean(run, epoch, mean, count)

    return _Average()


def apply_mean(run: RunDir, model, last_epoch: int) -> int:
    """Set the model to the mean as of `last_epoch`; returns how many epochs it averages
    (0, model untouched, when the run stopped before the first averaged epoch)."""
    found = read_mean(run, last_epoch)
    if found is None:
        return 0
    weights, count = found
    model.set_weights(weights)
    return count
