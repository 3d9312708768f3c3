"""Resume after a real SIGKILL: same final epoch count, every epoch exactly once."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time

EPOCHS = 12


def _history(run):
    with open(run / "history.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def test_sigkill_then_resume_loses_no_epoch(synth_data, tmp_path, invoke):
    run = tmp_path / "runs" / "k"
    cmd = [sys.executable, "-m", "flower_edge.cli.main", "train", "--data", str(synth_data),
           "--backbone", "tiny_cnn", "--weights", "none", "--image-size", "32", "--epochs", str(EPOCHS),
           "--schedule", "plateau", "--out", str(run)]
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    state_file = run / "checkpoints" / "state.json"
    deadline = time.time() + 120
    try:
        while time.time() < deadline and proc.poll() is None:
            if state_file.is_file() and json.loads(state_file.read_text())["epoch"] >= 1:
                break
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    committed = json.loads(state_file.read_text())["epoch"]
    assert 1 <= committed < EPOCHS - 1, "the kill came too late to test resuming"
    before = {row["epoch"]: row for row in _history(run) if int(row["epoch"]) <= committed}
    assert not (run / "model.keras").exists()

    result = invoke("train", "--resume", run)
    assert result.exit_code == 0, result.output
    rows = _history(run)
    assert [int(r["epoch"]) for r in rows] == list(range(EPOCHS))
    for epoch, row in before.items():  # finished epochs are kept as they were, not redone
        assert rows[int(epoch)] == row
    assert f"epoch {committed + 2}/{EPOCHS}" in result.stderr
    assert f"epoch {committed + 1}/{EPOCHS}" not in result.stderr
    state = json.loads(state_file.read_text())
    assert state["epoch"] == EPOCHS - 1 and state["done"] is True
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["epochs_run"] == EPOCHS
    assert (run / "model.keras").is_file()
    assert not list((run / "checkpoints").glob(".*"))  # no temp leftovers


def test_checkpoint_restores_optimizer_slots(tiny_run):
    """The per-epoch checkpoint carries the optimizer: step count and Adam moments."""
    import numpy as np

    from flower_edge.data.splits import DataSplits
    from flower_edge.models import get_spec
    from flower_edge.models.build import build_model
    from flower_edge.rundir import RunDir
    from flower_edge.tfcompat import tf
    from flower_edge.train import checkpoint
    from flower_edge.train.config import load_recipe, resolve
    from flower_edge.train.model_setup import compile_model, set_phase

    run = RunDir(tiny_run)
    cfg = resolve(load_recipe(run.config))
    state = checkpoint.read_state(run)
    splits = DataSplits.load(run.split)
    n_train, n_cls = len(splits.train), len(splits.classes)
    steps = -(-n_train // cfg.data.batch_size)

    def fresh():
        model = build_model(get_spec(cfg.model.name), n_cls, cfg.model.image_size, None)
        set_phase(model, 1, "all", scratch=True)
        compile_model(model, cfg.train, cfg.train.lr, n_cls)
        return model

    model = fresh()
    checkpoint.restore(run, state, model, model.optimizer)
    assert int(model.optimizer.iterations.numpy()) == (state["epoch"] + 1) * steps
    reader = tf().train.load_checkpoint(str(run.checkpoints / state["checkpoint"] / "ckpt"))
    moments = [k for k in reader.get_variable_to_shape_map() if "optimizer/_variables" in k]
    assert moments
    slots = [v.numpy() for v in model.optimizer.variables[1:]]
    assert any(np.abs(s).sum() > 0 for s in slots)  # Adam moments came back, not zeros
