"""One worker of a multi-worker job (`--strategy multiworker` with TF_CONFIG naming
several workers): MultiWorkerMirroredStrategy, with restarts through Keras'
BackupAndRestore.

Every worker runs the same command. Only the chief (task `chief`, else `worker` 0)
writes OUT/NAME; the others write into a private temp folder that is removed when
they finish, because TensorFlow needs every worker to take part in each save (reading
synced variables is a collective op). After any worker dies the job stops, as
TensorFlow documents; running the same command again on every worker restarts it:
each worker loads OUT/NAME's last committed epoch (the others read it, never write it),
then BackupAndRestore (OUT/NAME/backup) brings all of them to the last backed-up
epoch, so every requested epoch runs and none that finished is lost. OUT must be a
folder every worker sees (a shared file system), as Keras requires of backup_dir.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import sys
import tempfile
from pathlib import Path

from flower_edge.data.splits import DataSplits
from flower_edge.errors import UsageError
from flower_edge.rundir import RunDir
from flower_edge.train import checkpoint
from flower_edge.train import config as cfgmod
from flower_edge.train.cluster import Role, role
from flower_edge.train.config import RunConfig

BACKUP = "backup"
# What a restarted worker copies from the chief's run to resume from the same epoch.
RESUME_FILES = ("config.toml", "split.json", "labels.txt", "history.csv", "checkpoints")


def start_worker(cfg: RunConfig, out: str | None, force: bool) -> RunDir:
    """Train as this worker; returns the run (the folder OUT) the chief writes."""
    from flower_edge.train import trainer
    from flower_edge.train.scale import make_strategy

    me = role()
    make_strategy("multiworker")  # before any other TensorFlow op: collectives need it first
    cfg = cfgmod.resolve(cfg)
    if not out:
        raise UsageError("multi-worker training needs --out RUN: every worker, and every "
                         "restart, must name the same run folder")
    final = RunDir(Path(out))
    restart = _unfinished(final, cfg)
    if not me.is_chief and not restart and final.model.is_file():
        raise UsageError(f"{final.path} already holds a finished run; choose another --out")
    if me.is_chief and not restart and final.path.exists() and force:
        raise UsageError(f"{final.path} exists; --force is not used with multi-worker training "
                         f"(workers could not agree on which run they train): choose another "
                         f"--out")
    print(f"{me.name} of {me.workers}: {'restarting from the last committed epoch of' if restart else 'training'} "
          f"{final.path}", file=sys.stderr, flush=True)
    if me.is_chief:
        if restart:
            run = trainer.train_and_finish(cfg, final, DataSplits.load(final.split), final.path / BACKUP)
        else:
            run = _new_chief_run(cfg, final)
        with contextlib.suppress(OSError):  # Keras emptied it after the last fit; rmdir
            (final.path / BACKUP).rmdir()   # removes nothing but an empty folder
        _report_digest(me, run)
        return final
    return _other_worker(cfg, final, restart, me)


def _new_chief_run(cfg, final: RunDir) -> RunDir:
    from flower_edge.train import trainer
    from flower_edge.train.rundirs import new_run_dir

    target = new_run_dir(cfg.model.name, str(final.path), False, data=cfg.data.path)
    run = RunDir(target.work)
    try:
        splits = trainer.load_splits(cfg)
        trainer.write_inputs(cfg, run, splits)
        trainer.train_and_finish(cfg, run, splits, final.path / BACKUP)
    except BaseException:
        target.abandon(keep=trainer.resumable(run))  # kept: a restart continues it
        raise
    return RunDir(target.commit())


def _other_worker(cfg: RunConfig, final: RunDir, restart: bool, me: Role) -> RunDir:
    """Train in a private folder (removed at the end); read the chief's run, never write it."""
    from flower_edge.train import trainer

    private = Path(tempfile.mkdtemp(prefix="flower-edge-worker-"))
    try:
        run = RunDir(private / "run")
        run.path.mkdir()
        if restart:
            for name in RESUME_FILES:
                src = final.path / name
                if src.is_dir():
                    shutil.copytree(src, run.path / name)
                elif src.is_file():
                    shutil.copyfile(src, run.path / name)
            splits = DataSplits.load(run.split)
        else:
            splits = trainer.load_splits(cfg)
            trainer.write_inputs(cfg, run, splits)
        trainer.train_and_finish(cfg, run, splits, _backup_view(private, final))
        _report_digest(me, run)
    finally:
        shutil.rmtree(private, ignore_errors=True)  # made above by mkdtemp, holds only ours
    return final


def _backup_view(private: Path, final: RunDir) -> Path:
    """A backup_dir for a non-chief worker: Keras restores from <dir>/chief, here a link to
    the chief's backup, and writes its own throwaway copy beside it, in `private`."""
    view = private / BACKUP
    view.mkdir()
    os.symlink((final.path / BACKUP / "chief").resolve(), view / "chief", target_is_directory=True)
    return view


def _unfinished(final: RunDir, cfg: RunConfig) -> bool:
    """True when the run folder OUT is this job's run, stopped before its last epoch."""
    if not (final.config.is_file() and final.split.is_file()):
        return False
    if final.config.read_text(encoding="utf-8") != cfgmod.dumps(cfg):
        return False
    state = checkpoint.read_state(final)
    return not (state or {}).get("done")


def weights_digest(model) -> str:
    """sha256 over every weight array, in order: equal digests, equal weights."""
    digest = hashlib.sha256()
    for array in model.get_weights():
        digest.update(array.tobytes())
    return digest.hexdigest()


def _report_digest(me: Role, run: RunDir) -> None:
    from flower_edge.models.build import load_keras_model

    print(f"{me.name}: final weights sha256 {weights_digest(load_keras_model(run.model))}",
          file=sys.stderr, flush=True)
