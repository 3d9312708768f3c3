"""Final refit: choose the epochs on the split, then retrain on more photos and ship that.

`train --refit` (train.refit = "val") runs the normal recipe first, the *first pass*,
in RUN/selection/ (its own config, split, checkpoints, model.keras, metrics.json and
curves). It then retrains from the same start (same weights, seed, augmentation and
schedule shape) on train + val (or train + val + test with "all") for the epochs the
first pass chose, into RUN itself: RUN/model.keras is the refit model, so quantize,
benchmark and predict use it, and RUN/split.json lists the refit's training photos
(calibration draws from them).

Which figure comes from which model is written into RUN/metrics.json ("refit"): the
first pass's val picked the epoch; the test split, held out from both models, scores
the refit of "val" directly; a refit on every photo has no held-out photo left.

Each part is an ordinary run, so a kill during either resumes with `train --resume RUN`.
`trainer.derive_refit` builds a refit from a finished run without retraining its first pass.
"""

from __future__ import annotations

import dataclasses
import shutil
import sys
from pathlib import Path

from flower_edge.data.splits import DataSplits, Split
from flower_edge.errors import UsageError
from flower_edge.io import atomic_write_json
from flower_edge.rundir import RunDir
from flower_edge.train import checkpoint
from flower_edge.train.config import REFIT_CHOICES, RunConfig

SELECTION = "selection"
# What each refit mode trains on (the splits merged into the refit's training photos).
MERGED = {"val": ("train", "val"), "all": ("train", "val", "test")}
_FIRST_PASS_FILES = ("config.toml", "split.json", "labels.txt", "model.keras", "metrics.json",
                     "history.csv", "curves.png", "confusion.png", "predictions.png")


def selection(run: RunDir) -> RunDir:
    """The first pass of a refit run (its own complete run folder)."""
    return run.selection


def merged_splits(splits: DataSplits, mode: str) -> DataSplits:
    """train = the merged splits, val empty, test = what stays held out (nothing for "all")."""
    names = MERGED[mode]
    parts = [splits.split(n) for n in names]
    train = Split("train", sum((p.paths for p in parts), ()), sum((p.labels for p in parts), ()))
    test = Split("test", (), ()) if "test" in names else splits.test
    return dataclasses.replace(splits, train=train, val=Split("val", (), ()), test=test)


def first_pass_config(cfg: RunConfig) -> RunConfig:
    return dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, refit="off"))


def announce(cfg: RunConfig, splits: DataSplits) -> None:
    """The cost, said before the first epoch."""
    mode = cfg.train.refit
    n = sum(len(splits.split(s)) for s in MERGED[mode])
    print(f"refit ({mode}): after the first pass picks the epochs, the model is retrained on "
          f"{' + '.join(MERGED[mode])} ({n} photos) for those epochs: about 2x the training time",
          file=sys.stderr)


def start(cfg: RunConfig, run: RunDir, splits: DataSplits, steps) -> None:
    """A new refit run: the first pass into selection/, then the refit into `run`.

    `steps` is the trainer's (write_inputs, train_and_finish): passed in, not imported, so
    trainer and refit do not import each other."""
    write_inputs, _ = steps
    announce(cfg, splits)
    write_inputs(cfg, run, merged_splits(splits, cfg.train.refit))
    selection(run).path.mkdir(exist_ok=True)
    write_inputs(first_pass_config(cfg), selection(run), splits)
    resume(cfg, run, steps)


def resume(cfg: RunConfig, run: RunDir, steps) -> RunDir:
    """Finish whatever is left: the first pass, then the refit (each resumes from its epoch)."""
    first = selection(run)
    if not _finished(first):
        steps[1](first_pass_config(cfg), first, DataSplits.load(first.split))
    return refit_from(cfg, run, steps)


def refit_from(cfg: RunConfig, run: RunDir, steps) -> RunDir:
    """Train (or resume) the refit of `run` from its finished first pass; write metrics."""
    _, train_and_finish = steps
    first = selection(run)
    head, finetune, chosen = chosen_epochs(first_pass_config(cfg), first)
    refit_cfg = dataclasses.replace(cfg, train=dataclasses.replace(
        cfg.train, head_epochs=head, finetune_epochs=finetune, restore_best=False, early_stopping=0))
    print(f"refit ({cfg.train.refit}): {head} head + {finetune} fine-tune epochs (the first pass "
          f"chose epoch {chosen + 1})", file=sys.stderr)
    train_and_finish(refit_cfg, run, DataSplits.load(run.split))
    write_provenance(cfg.train.refit, run, (head, finetune, chosen))
    return run


def _finished(run: RunDir) -> bool:
    state = checkpoint.read_state(run)
    return bool(state and state.get("done")) and run.model.is_file() and run.metrics.is_file()


def chosen_epochs(cfg: RunConfig, first: RunDir) -> tuple[int, int, int]:
    """(head epochs, fine-tune epochs, chosen global epoch) of a finished first pass.

    The chosen epoch is the one whose weights became its model.keras: the best on val
    under restore_best (without SWA), else the last. The refit runs each phase up to
    it, so a phase-1 early stop or a best epoch inside phase 1 carries over; each
    phase's schedule spans the phase's refit length, as it would in a run of that length.
    """
    state = checkpoint.read_state(first) or {}
    if not state.get("done"):
        raise UsageError(f"{first.path} is not a finished run; finish it with "
                         f"'flower-edge train --resume {first.path}'")
    best = (state.get("best") or {}).get("epoch")
    use_best = cfg.train.restore_best and not cfg.train.swa_epochs and best is not None
    chosen = int(best if use_best else state["epoch"])
    phases = [int(r["phase"]) for r in checkpoint.read_history(first, chosen)]
    return phases.count(1), phases.count(2), chosen


def write_provenance(mode: str, run: RunDir, epochs: tuple[int, int, int]) -> None:
    """Say in RUN/metrics.json which figures come from which model (idempotent)."""
    import json

    metrics = json.loads(run.metrics.read_text(encoding="utf-8"))
    first = json.loads(selection(run).metrics.read_text(encoding="utf-8"))
    held_out = metrics["test"]["samples"] > 0
    metrics["refit"] = {
        "mode": mode, "trained_on": list(MERGED[mode]),
        "head_epochs": epochs[0], "finetune_epochs": epochs[1], "chosen_epoch": epochs[2],
        "first_pass": f"{SELECTION}/metrics.json",
        "figures": {
            "val": "none: the refit trained on the val photos; the first pass's val picked the epochs",
            "test": ("this model (the refit) on the test split, which neither model trained on"
                     if held_out else "none: the refit trained on every photo, so nothing is held out"),
            "first_pass_test": "the first pass's model on the same test split",
        },
        "first_pass_test_top1": first["test"]["top1"],
        "first_pass_val_top1": first["val"]["top1"],
        "held_out_estimate": metrics["test"]["top1"] if held_out else None,
    }
    # A refit has no val to pick a best epoch: it trained up to the first pass's choice.
    metrics["best_epoch"] = None
    if not held_out:
        metrics["refit"]["note"] = ("refit on all photos: no held-out estimate. The first pass's "
                                    "test top-1 is for a model trained on fewer photos.")
    atomic_write_json(run.metrics, metrics)


def derive(first_run: str, mode: str, out: str | None, force: bool, steps) -> RunDir:
    """A refit run built from an already finished first pass (copied into selection/).

    Gives exactly what `train --refit MODE` gives with the same recipe, without training
    the first pass again (a benchmark derives both refits from one first pass).
    """
    from flower_edge.train import config as cfgmod
    from flower_edge.train.rundirs import new_run_dir

    if mode not in MERGED:
        raise UsageError(f"refit mode must be one of {', '.join(m for m in REFIT_CHOICES if m != 'off')}")
    source = RunDir(Path(first_run))
    if not _finished(source):
        raise UsageError(f"{first_run} is not a finished run of 'flower-edge train'")
    first_cfg = cfgmod.resolve(cfgmod.load_recipe(source.config))
    if first_cfg.train.refit != "off":
        raise UsageError(f"{first_run} is already a refit run")
    cfg = dataclasses.replace(first_cfg, train=dataclasses.replace(first_cfg.train, refit=mode))
    target = new_run_dir(cfg.model.name, out, force, data=cfg.data.path)
    run = RunDir(target.work)
    try:
        splits = DataSplits.load(source.split)
        steps[0](cfg, run, merged_splits(splits, mode))
        selection(run).path.mkdir(exist_ok=True)
        for name in _FIRST_PASS_FILES:
            if (source.path / name).is_file():
                shutil.copy2(source.path / name, selection(run).path / name)
        (selection(run).checkpoints).mkdir(exist_ok=True)
        shutil.copy2(source.checkpoints / checkpoint.STATE, selection(run).checkpoints)
        refit_from(cfg, run, steps)
        return RunDir(target.commit())
    except BaseException:
        target.abandon(keep=False)
        raise
