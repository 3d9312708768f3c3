"""Two-phase fine-tuning with crash-safe resume.

Phase 1 trains the head on a frozen backbone; phase 2 unfreezes the top N backbone
layers (BatchNorm stays frozen) at a lower LR. Epochs are numbered globally; every
finished epoch is committed (see checkpoint.py), so `resume_run` continues after a
kill from the last committed epoch and reaches the same final epoch count.
"""

from __future__ import annotations

import math
import sys

from flower_edge.data.splits import DataSplits
from flower_edge.errors import UsageError
from flower_edge.io import atomic_write_text
from flower_edge.models import get_spec
from flower_edge.rundir import RunDir
from flower_edge.train import checkpoint
from flower_edge.train import config as cfgmod
from flower_edge.train.config import RunConfig
from flower_edge.train.rundirs import existing_run, new_run_dir


def start_run(cfg: RunConfig, out: str | None = None, force: bool = False,
              splits: DataSplits | None = None) -> RunDir:
    """Resolve the recipe, split the data, create the run folder `out` (default
    artifacts/<model>-<date>-<time>) and train. Returns the run.

    With `force` an existing run is replaced only once the new one is finished: until
    then the new run lives in a staging folder beside it (see guard.py).
    """
    cfg = cfgmod.resolve(cfg)
    single_worker_only(cfg)
    target = new_run_dir(cfg.model.name, out, force, data=cfg.data.path)
    run = RunDir(target.work)
    try:
        splits = splits or load_splits(cfg)  # given: a distilled student keeps its teacher's
        if cfg.train.refit != "off":
            from flower_edge.train import refit

            refit.start(cfg, run, splits, (write_inputs, train_and_finish))
        else:
            write_inputs(cfg, run, splits)
            train_and_finish(cfg, run, splits)
        return RunDir(target.commit())
    except BaseException:
        # A new run that finished an epoch is kept for --resume; a replacement is dropped
        # whole, so the run it was to replace stays exactly as it was.
        target.abandon(keep=resumable(run))
        raise


def derive_refit(first_run: str, mode: str, out: str | None = None, force: bool = False) -> RunDir:
    """A refit run ("val" or "all") from a finished plain run, without retraining its first
    pass: what `train --refit MODE` gives (train/refit.py)."""
    from flower_edge.train import refit

    return refit.derive(first_run, mode, out, force, (write_inputs, train_and_finish))


def distill_run(cfg: RunConfig, out: str | None = None, force: bool = False) -> RunDir:
    """Train a student of `cfg.distill.teacher` (train/distill.py) on the teacher's split."""
    from flower_edge.train.distill import check_student_target, teacher_splits

    check_student_target(cfg, out)
    return start_run(cfg, out, force, splits=teacher_splits(cfg))


def write_inputs(cfg: RunConfig, run: RunDir, splits: DataSplits) -> None:
    """What a run starts with: the resolved config, the split and the class names."""
    atomic_write_text(run.config, cfgmod.dumps(cfg))
    splits.save(run.split)
    atomic_write_text(run.labels, "".join(f"{c}\n" for c in splits.classes))


def resumable(run: RunDir) -> bool:
    """True once the run (or a refit run's first pass) committed an epoch: --resume continues it."""
    try:  # a refit run's first pass commits its epochs in selection/
        return checkpoint.read_state(run) is not None or checkpoint.read_state(run.selection) is not None
    except Exception:  # noqa: BLE001  (a corrupt state is not worth resuming)
        return False


def single_worker_only(cfg: RunConfig) -> None:
    """Refuse a job TF_CONFIG spreads over several workers outside start_worker: each
    worker would write the same run folder, with no chief and no backup."""
    if cfg.train.strategy != "multiworker":
        return
    from flower_edge.train.cluster import cluster_size

    if cluster_size() > 1:
        raise UsageError("TF_CONFIG names several workers: multi-worker training runs through "
                         "'flower-edge train --strategy multiworker --out RUN' on every worker "
                         "(rerun that same command to restart; --resume and --lr-find are single-worker)")


def resume_run(path: str) -> RunDir:
    """Continue an interrupted run from its last committed epoch (or finish its reports)."""
    run = existing_run(path)
    cfg = cfgmod.resolve(cfgmod.load_recipe(run.config))
    single_worker_only(cfg)
    if cfg.train.refit != "off":
        from flower_edge.train import refit

        return refit.resume(cfg, run, (write_inputs, train_and_finish))
    splits = DataSplits.load(run.split)
    return train_and_finish(cfg, run, splits)


def load_splits(cfg: RunConfig) -> DataSplits:
    """load_data + drop unreadable files (one warning), so every split evaluates cleanly."""
    from flower_edge.data.scan import drop_unreadable
    from flower_edge.data.sources import load_data
    from flower_edge.errors import DataError

    if not cfg.data.path:
        raise UsageError("no data: pass --data DIR (a folder with one sub-folder per class)")
    splits = load_data(cfg.data.path, cfg.data.source, cfg.data.seed, tuple(cfg.data.fractions))
    splits, _ = drop_unreadable(splits)
    if len(splits.classes) < 2:
        raise DataError(f"{cfg.data.path} has {len(splits.classes)} class; a classifier needs at "
                        f"least 2 class folders")
    return splits


def train_and_finish(cfg: RunConfig, run: RunDir, splits: DataSplits, backup=None) -> RunDir:
    """Train `run` (from its last committed epoch, if any) and write its reports; a finished
    run is left as it is. `backup`: where a multi-worker job keeps Keras' BackupAndRestore."""
    from flower_edge.train.evaluate import finish_run
    from flower_edge.train.scale import precision_policy

    state = checkpoint.read_state(run)
    if state is not None and state.get("done") and run.model.is_file() and run.metrics.is_file():
        print(f"{run.path} is already finished; nothing to resume", file=sys.stderr)
        return run
    with precision_policy(cfg.train.precision):
        model, state = fit(cfg, run, splits, state, backup)
    finish_run(cfg, run, splits, model, state)
    return run


def make_datasets(cfg: RunConfig, splits: DataSplits):
    """(train, val or None) tf.data pipelines of float 0..255 images and one-hot labels."""
    from flower_edge.data.pipeline import make_dataset

    common = {"image_size": cfg.model.image_size, "batch_size": cfg.data.batch_size,
              "num_classes": len(splits.classes), "seed": cfg.data.seed, "cache": cfg.data.cache}
    train = splits.train
    if cfg.distill.teacher:
        from flower_edge.train.distill import train_dataset

        train_ds = train_dataset(cfg, splits)  # the teacher's logits ride with the labels
    else:
        train_ds = make_dataset(train.paths, train.labels, training=True, augment=cfg.train.augment,
                                zoom=cfg.train.zoom, mixup=cfg.train.mixup,
                                color=cfg.train.color, **common)
    val = splits.val
    val_ds = make_dataset(val.paths, val.labels, training=False, **common) if len(val) else None
    return train_ds, val_ds


def next_phase(cfg: RunConfig, state: dict | None) -> tuple[int, int, int, bool] | None:
    """(phase, first_epoch, end_epoch, continuing) to run after `state`, or None when done.

    Decided from the committed state alone, so a fresh run, a run whose phase 1 stopped
    early and a run resumed after a kill all take the same path.
    """
    t = cfg.train
    lengths = {1: t.head_epochs, 2: t.finetune_epochs}
    if not state:
        phase = 1 if lengths[1] else 2
        return (phase, 0, lengths[phase], False)
    phase, last, first = state["phase"], state["epoch"], state["phase_start"]
    if not state.get("stopped") and last + 1 < first + lengths[phase]:
        return (phase, last + 1, first + lengths[phase], True)
    if phase == 1 and lengths[2]:
        return (2, last + 1, last + 1 + lengths[2], False)
    return None


def fit(cfg: RunConfig, run: RunDir, splits: DataSplits, state: dict | None, backup=None):
    """Run every remaining phase; returns (model, final state).

    `backup` (multi-worker only) is the BackupAndRestore folder every worker restores from
    after a restart (see multiworker.py)."""
    from flower_edge.models.build import build_model
    from flower_edge.tfcompat import keras
    from flower_edge.train.scale import make_strategy

    keras().utils.set_random_seed(cfg.data.seed)
    strategy = make_strategy(cfg.train.strategy)
    train_ds, val_ds = make_datasets(cfg, splits)
    # ignore_errors() makes the cardinality unknown, so count batches from the split.
    steps = max(1, math.ceil(len(splits.train) / cfg.data.batch_size))
    if cfg.distill.teacher:
        from flower_edge.train.distill import train_steps

        steps = train_steps(cfg, splits)
    history = checkpoint.read_history(run, state["epoch"] if state else -1)
    with strategy.scope():
        weights = cfg.model.weights if state is None else "none"  # a checkpoint replaces them
        model = build_model(get_spec(cfg.model.name), len(splits.classes), cfg.model.image_size,
                            weights, cfg.model.dropout)
    if state is not None and next_phase(cfg, state) is None:
        checkpoint.load_weights(run, state["checkpoint"], model)  # only the reports were missing
    resuming = state is not None
    state = dict(state or {})
    while (step := next_phase(cfg, state)) is not None:
        _run_phase(cfg, run, model, strategy, step, state, history, (train_ds, val_ds, steps),
                   splits, resuming, backup)
        resuming = False
    if cfg.train.swa_epochs and state:
        from flower_edge.train.averaging import apply_mean

        if not apply_mean(run, model, state["epoch"]):
            print("swa: the run stopped before the averaged epochs; keeping its own weights",
                  file=sys.stderr)
    return model, state


def _run_phase(cfg, run, model, strategy, plan, state, history, data, splits, resuming, backup=None):
    """Set trainable layers, compile, restore if resuming, and fit one phase."""
    from flower_edge.tfcompat import keras
    from flower_edge.train.callbacks import make_epoch_commit, make_progress
    from flower_edge.train.model_setup import class_weights, compile_model, set_phase
    from flower_edge.train.schedules import Plateau, make_lr_callback

    phase, first, end, restore_opt = plan
    train_ds, val_ds, steps = data
    t = cfg.train
    lr = t.lr if phase == 1 else t.finetune_lr
    with strategy.scope():
        trainable = set_phase(model, phase, t.finetune_layers, cfgmod.from_scratch(cfg))
        compile_model(model, t, lr, len(splits.classes), *_distill_loss(cfg, len(splits.classes)))
    if resuming and restore_opt:  # same phase: weights and the optimizer's slots
        checkpoint.restore(run, state, model, model.optimizer)
    elif resuming:
        checkpoint.load_weights(run, state["checkpoint"], model)
    plateau = Plateau()
    if restore_opt:
        plateau.load_state(state.get("plateau", {}))
    else:
        state.update(phase_start=first, early_stopping={"best": None, "wait": 0})
    start = state["phase_start"]
    total = end + (t.finetune_epochs if phase == 1 else 0)
    callbacks = [
        make_lr_callback(t.schedule, lr, steps, start, end - start, t.min_lr_ratio,
                         t.cycle_epochs, t.warmup_epochs, plateau),
        make_epoch_commit(run, history, state, plateau, t.early_stopping, phase),
        make_progress(total, steps, _phase_name(cfg, phase, trainable)),
        keras().callbacks.TensorBoard(log_dir=str(run.logs), profile_batch=0, write_graph=False),
    ]
    if t.swa_epochs and (phase == 2 or not t.finetune_epochs):  # the final phase only
        from flower_edge.train.averaging import make_swa

        # Before the commit: the mean on disk is never behind the committed epoch.
        callbacks.insert(1, make_swa(run, max(start, end - t.swa_epochs)))
    if backup is not None:  # after the commit: a backup is never ahead of the committed history
        callbacks.insert(2, keras().callbacks.BackupAndRestore(backup_dir=str(backup)))
    weights = class_weights(splits.train.labels, len(splits.classes)) if t.class_weights else None
    # repeat() + steps_per_epoch: with an unknown cardinality (ignore_errors) Keras runs
    # one extra optimizer step in the first epoch; this way every epoch is exactly `steps`.
    model.fit(train_ds.repeat(), steps_per_epoch=steps, validation_data=val_ds,
              initial_epoch=first, epochs=end, callbacks=callbacks, class_weight=weights, verbose=0)


def _distill_loss(cfg: RunConfig, num_classes: int) -> tuple:
    """(loss, metrics) of a distilled run, () for plain training."""
    if not cfg.distill.teacher:
        return ()
    from flower_edge.train.distill import loss_and_metrics

    return loss_and_metrics(cfg, num_classes)


def _phase_name(cfg: RunConfig, phase: int, trainable: int) -> str:
    if cfgmod.from_scratch(cfg):
        return "from scratch"
    return "head" if phase == 1 else (f"fine-tune top {cfg.train.finetune_layers}: "
                                      f"{trainable} trainable, BatchNorm frozen")
