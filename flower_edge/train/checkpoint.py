"""Crash-safe training state: weights + optimizer per epoch, an epoch counter, history.

Order of writes after each epoch (each one atomic):
  1. checkpoints/epoch-NNNN/   (tf.train.Checkpoint of model and optimizer, temp dir renamed)
  2. history.csv               (every finished epoch, rewritten whole)
  3. checkpoints/state.json    (the commit point: last epoch, phase, schedule state)
A SIGKILL anywhere leaves the previous commit intact; on resume, history rows past
the committed epoch are dropped, so no epoch is lost or counted twice.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import tempfile
from pathlib import Path

from flower_edge.errors import FlowerEdgeError
from flower_edge.io import atomic_write_json, atomic_write_text, ordinary_mode, write_error
from flower_edge.rundir import RunDir

STATE = "state.json"


def read_state(run: RunDir) -> dict | None:
    """The last committed state, or None for a run that finished no epoch."""
    path = run.checkpoints / STATE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        raise FlowerEdgeError(f"corrupt checkpoint state {path}; restart with --force") from None


def _variables(model) -> dict:
    """The model's variables keyed by position ("layer/weight" indices), not by name:
    auto-generated layer names (conv2d_80) shift when another model was built first in
    the process. Checkpointing these instead of the model object also keeps the model's
    attached optimizer out: phase 2's new optimizer must not get phase 1's slots."""
    return {f"{i}/{j}": w for i, layer in enumerate(model.layers)
            for j, w in enumerate(layer.weights)}


def _write(run: RunDir, name: str, model, optimizer=None) -> None:
    """A tf.train.Checkpoint of the model (and optimizer) into checkpoints/<name>/, via a
    renamed temp dir."""
    from flower_edge.tfcompat import tf

    objects = {"weights": _variables(model)}
    if optimizer is not None:
        objects["optimizer"] = optimizer
    run.checkpoints.mkdir(parents=True, exist_ok=True)
    final = run.checkpoints / name
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=run.checkpoints))
    tmp.chmod(ordinary_mode(folder=True))  # mkdtemp's 0700 would stay after the rename
    try:
        try:
            tf().train.Checkpoint(**objects).write(str(tmp / "ckpt"))
        except tf().errors.OpError as exc:  # e.g. ResourceExhaustedError on a full disk
            raise write_error(exc, final) from exc
        old = run.checkpoints / f".{name}.old"
        if final.exists():
            shutil.rmtree(old, ignore_errors=True)
            os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _prefix(run: RunDir, name: str) -> Path:
    prefix = run.checkpoints / name / "ckpt"
    if not Path(str(prefix) + ".index").is_file():
        raise FlowerEdgeError(f"checkpoint {prefix.parent} is missing or incomplete; "
                              f"start over with --force")
    return prefix


def save_epoch(run: RunDir, model, optimizer, state: dict, history: list[dict]) -> None:
    """Write one epoch's checkpoint, then history, then commit `state` (updated in place)."""
    name = f"epoch-{state['epoch']:04d}"
    _write(run, name, model=model, optimizer=optimizer)
    write_history(run, history)
    state["checkpoint"] = name
    atomic_write_json(run.checkpoints / STATE, state)
    for old in run.checkpoints.glob("epoch-*"):
        if old.name != name:
            shutil.rmtree(old, ignore_errors=True)
    for stale in run.checkpoints.glob(".epoch-*"):
        shutil.rmtree(stale, ignore_errors=True)


def save_weights(run: RunDir, name: str, model) -> None:
    """Model weights only (e.g. the best-on-val epoch), atomically."""
    _write(run, name, model=model)


def load_weights(run: RunDir, name: str, model) -> None:
    """Read weights written by `save_weights` or `save_epoch` (optimizer slots ignored)."""
    from flower_edge.tfcompat import tf

    status = tf().train.Checkpoint(weights=_variables(model)).read(str(_prefix(run, name)))
    status.assert_existing_objects_matched().expect_partial()


def restore(run: RunDir, state: dict, model, optimizer) -> None:
    """Load the committed checkpoint's weights and optimizer slots into a compiled model."""
    from flower_edge.tfcompat import tf

    prefix = _prefix(run, state["checkpoint"])
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    inner.build(model.trainable_variables)
    status = tf().train.Checkpoint(weights=_variables(model), optimizer=optimizer).read(str(prefix))
    status.assert_existing_objects_matched()


def write_history(run: RunDir, rows: list[dict]) -> None:
    """history.csv with one row per finished epoch (union of keys, epoch first)."""
    keys: list[str] = []
    for row in rows:
        keys.extend(k for k in row if k not in keys)
    keys = ["epoch", "phase"] + [k for k in keys if k not in ("epoch", "phase")]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(run.history, buf.getvalue())


def read_history(run: RunDir, upto_epoch: int | None = None) -> list[dict]:
    """Rows of history.csv (numbers parsed), keeping epochs <= `upto_epoch`."""
    if not run.history.is_file():
        return []
    with open(run.history, newline="", encoding="utf-8") as fh:
        rows = [{k: _parse(v) for k, v in row.items()} for row in csv.DictReader(fh)]
    if upto_epoch is not None:
        rows = [r for r in rows if int(r["epoch"]) <= upto_epoch]
    return rows


def _parse(value: str):
    try:
        number = float(value)
    except (TypeError, ValueError):
        return value
    return int(number) if number.is_integer() and "." not in value and "e" not in value else number
