"""LR range test (Smith 2015, fastai's lr_find): ramp the LR exponentially over a
few hundred steps of phase 1 and plot the smoothed loss; suggest a value."""

from __future__ import annotations

import math

import numpy as np

from flower_edge.io import atomic_write_json, atomic_write_text
from flower_edge.train import config as cfgmod
from flower_edge.train.config import RunConfig


def lr_range(losses, lrs, beta: float = 0.9) -> tuple[list[float], list[float], float | None]:
    """Smooth the losses (bias-corrected EMA); suggest a tenth of the LR at the loss
    minimum (fastai's 'minimum/10', robust to the noisy flat start). Pure function."""
    smooth, avg = [], 0.0
    for i, loss in enumerate(losses, start=1):
        avg = beta * avg + (1 - beta) * loss
        smooth.append(avg / (1 - beta ** i))
    if len(smooth) < 5:
        return list(lrs), smooth, None
    i_min = int(np.argmin(smooth))
    return list(lrs), smooth, float(lrs[i_min] / 10)


def lr_find_run(cfg: RunConfig, out=None, force=False, start_lr=1e-7, end_lr=1.0,
                steps=100) -> dict:
    """Run the range test on phase 1 of `cfg`; write lr_find.csv/.png/.json into a run dir."""
    from flower_edge.rundir import RunDir
    from flower_edge.train.rundirs import new_run_dir
    from flower_edge.train.trainer import load_splits, single_worker_only

    cfg = cfgmod.resolve(cfg)
    single_worker_only(cfg)
    splits = load_splits(cfg)
    target = new_run_dir(cfg.model.name, out, force, data=cfg.data.path)
    try:
        result = _range_test(cfg, splits, RunDir(target.work), target.final, start_lr, end_lr, steps)
    except BaseException:
        target.abandon()
        raise
    target.commit()
    return result


def _range_test(cfg, splits, run, final, start_lr, end_lr, steps) -> dict:
    from flower_edge.models import get_spec
    from flower_edge.models.build import build_model
    from flower_edge.tfcompat import keras
    from flower_edge.train.model_setup import compile_model, set_phase
    from flower_edge.train.plots import plot_lr_find
    from flower_edge.train.trainer import make_datasets

    keras().utils.set_random_seed(cfg.data.seed)
    train_ds, _ = make_datasets(cfg, splits)
    model = build_model(get_spec(cfg.model.name), len(splits.classes), cfg.model.image_size,
                        cfg.model.weights, cfg.model.dropout)
    set_phase(model, 1, cfg.train.finetune_layers, cfgmod.from_scratch(cfg))
    compile_model(model, cfg.train, start_lr, len(splits.classes))
    lrs, losses = _ramp(model, train_ds, start_lr, end_lr, steps)
    lrs, smooth, suggested = lr_range(losses, lrs)
    atomic_write_text(run.path / "lr_find.csv", "lr,loss,smoothed_loss\n" + "".join(
        f"{a:.6g},{b:.6g},{c:.6g}\n" for a, b, c in zip(lrs, losses, smooth)))
    plot_lr_find(lrs, smooth, suggested, run.path / "lr_find.png")
    result = {"suggested_lr": suggested or cfg.train.lr, "steps": len(lrs),
              "plot": str(final / "lr_find.png"), "csv": str(final / "lr_find.csv")}
    atomic_write_json(run.path / "lr_find.json", result)
    return result


def _ramp(model, dataset, start_lr, end_lr, steps):
    """Train `steps` batches with LR growing start->end; stop once the loss explodes."""
    from flower_edge.tfcompat import keras

    factor = (end_lr / start_lr) ** (1.0 / max(1, steps - 1))
    lrs, losses = [], []

    class _Ramp(keras().callbacks.Callback):
        _mean = 0.0

        def on_train_batch_begin(self, batch, logs=None):
            self.model.optimizer.learning_rate.assign(start_lr * factor ** len(lrs))

        def on_train_batch_end(self, batch, logs=None):
            # Keras logs the epoch's running mean; recover this batch's own loss from it.
            mean = float(logs["loss"])
            loss = (batch + 1) * mean - batch * self._mean if batch else mean
            self._mean = mean
            lrs.append(start_lr * factor ** len(lrs))
            losses.append(loss)
            if len(lrs) >= steps or not math.isfinite(loss) or loss > 4 * min(losses):
                self.model.stop_training = True

    model.fit(dataset.repeat(), steps_per_epoch=steps, epochs=1, callbacks=[_Ramp()], verbose=0)
    return lrs, losses
