"""Learning-rate schedules as pure functions of the step, plus ReduceLROnPlateau.

The LR is a function of (step within the phase), so a resumed run picks up the
exact same curve; the only mutable state (the plateau factor) is saved in the
checkpoint via `state()` / `load_state()`.
"""

from __future__ import annotations

import math


def scheduled_lr(kind: str, step: int, total_steps: int, base_lr: float, min_ratio: float = 0.01,
                 cycle_steps: int = 0, warmup_steps: int = 0) -> float:
    """The learning rate at `step` (0-based) of a phase lasting `total_steps`."""
    low = base_lr * min_ratio
    if warmup_steps and step < warmup_steps:
        return low + (base_lr - low) * (step + 1) / warmup_steps
    step -= warmup_steps
    total = max(1, total_steps - warmup_steps)
    if kind in ("constant", "plateau"):
        return base_lr
    if kind == "cosine":
        progress = min(1.0, step / total)
        return low + 0.5 * (base_lr - low) * (1.0 + math.cos(math.pi * progress))
    if kind in ("triangular", "triangular2", "exp_range"):
        return _cyclic(kind, step, cycle_steps or total, low, base_lr)
    raise ValueError(f"unknown schedule {kind!r}")


def _cyclic(kind: str, step: int, cycle_steps: int, low: float, high: float,
            gamma: float = 0.99994) -> float:
    """Smith's cyclical learning rates (2017): triangular, triangular2, exp_range."""
    half = max(1, cycle_steps // 2)
    cycle = math.floor(1 + step / (2 * half))
    x = abs(step / half - 2 * cycle + 1)
    amplitude = (high - low) * max(0.0, 1.0 - x)
    if kind == "triangular2":
        amplitude /= 2 ** (cycle - 1)
    elif kind == "exp_range":
        amplitude *= gamma ** step
    return low + amplitude


class Plateau:
    """ReduceLROnPlateau as plain state: multiply the LR by `factor` after `patience` bad epochs."""

    def __init__(self, factor: float = 0.3, patience: int = 2, min_scale: float = 1e-3):
        self.factor, self.patience, self.min_scale = factor, patience, min_scale
        self.scale, self.best, self.wait = 1.0, math.inf, 0

    def update(self, val_loss: float) -> None:
        if val_loss < self.best - 1e-4:
            self.best, self.wait = val_loss, 0
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.scale = max(self.min_scale, self.scale * self.factor)
            self.wait = 0

    def state(self) -> dict:
        return {"scale": self.scale, "best": self.best if math.isfinite(self.best) else None,
                "wait": self.wait}

    def load_state(self, state: dict) -> None:
        self.scale = float(state.get("scale", 1.0))
        best = state.get("best")
        self.best = math.inf if best is None else float(best)
        self.wait = int(state.get("wait", 0))


def make_lr_callback(kind: str, base_lr: float, steps_per_epoch: int, first_epoch: int,
                     epochs: int, min_ratio: float, cycle_epochs: float, warmup_epochs: float,
                     plateau: Plateau):
    """A Keras callback that sets the optimizer's LR before every batch of one phase."""
    from flower_edge.tfcompat import keras

    total = steps_per_epoch * epochs
    cycle = max(2, round(cycle_epochs * steps_per_epoch))
    warmup = round(warmup_epochs * steps_per_epoch)

    class _LR(keras().callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self._epoch = epoch - first_epoch

        def on_train_batch_begin(self, batch, logs=None):
            step = self._epoch * steps_per_epoch + batch
            lr = scheduled_lr(kind, step, total, base_lr, min_ratio, cycle, warmup) * plateau.scale
            self.model.optimizer.learning_rate.assign(lr)

        def on_epoch_end(self, epoch, logs=None):
            logs = logs if logs is not None else {}
            logs["lr"] = float(self.model.optimizer.learning_rate.numpy())
            if kind == "plateau" and "val_loss" in logs:
                plateau.update(float(logs["val_loss"]))

    return _LR()
