"""Multi-worker training for real: two worker processes on 127.0.0.1 with TF_CONFIG
(MultiWorkerMirroredStrategy), and a worker killed mid-epoch then the job restarted
(Keras BackupAndRestore)."""

from __future__ import annotations

import csv
import json
import re
import signal
import time
from pathlib import Path

import pytest

from flower_edge.train.local_cluster import launch

DIGEST = re.compile(r"worker (\d+): final weights sha256 ([0-9a-f]{64})")
TIMEOUT = 240


def _args(data, out: Path, epochs: int) -> list:
    return ["--data", data, "--backbone", "tiny_cnn", "--weights", "none", "--image-size", "32",
            "--batch-size", "32", "--epochs", str(epochs), "--schedule", "constant",
            "--out", out / "mw"]


def _finish(procs, logs: Path) -> list[str]:
    deadline = time.monotonic() + TIMEOUT
    for proc in procs:
        proc.wait(timeout=max(1, deadline - time.monotonic()))
    texts = [(logs / f"worker-{i}.log").read_text() for i in range(len(procs))]
    assert [p.returncode for p in procs] == [0] * len(procs), "\n".join(t[-1500:] for t in texts)
    return texts


def _digests(texts: list[str]) -> dict[str, str]:
    return dict(m.groups() for text in texts for m in DIGEST.finditer(text))


def _epochs(run: Path) -> list[int]:
    with open(run / "history.csv", newline="") as fh:
        return [int(row["epoch"]) for row in csv.DictReader(fh)]


def _kill(procs):
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)


def test_two_workers_train_together_and_only_the_chief_writes(synth_data, tmp_path):
    out, logs = tmp_path / "runs", tmp_path / "logs"
    procs = launch(2, _args(synth_data, out, 2), logs)
    try:
        texts = _finish(procs, logs)
    finally:
        _kill(procs)
    digests = _digests(texts)
    assert set(digests) == {"0", "1"} and digests["0"] == digests["1"], texts[1][-1500:]
    assert sorted(p.name for p in out.iterdir()) == ["mw"]  # nothing of worker 1's beside it
    run = out / "mw"
    assert _epochs(run) == [0, 1] and (run / "model.keras").is_file()
    assert json.loads((run / "metrics.json").read_text())["epochs_run"] == 2
    private = re.search(r"run saved to (\S+): ", texts[1]).group(1)
    assert not Path(private).exists()  # worker 1's own folder was temporary
    assert not (run / "backup").exists()


def test_a_killed_worker_then_a_restart_completes_every_epoch(synth_data, tmp_path):
    epochs = 4
    out = tmp_path / "runs"
    state = out / "mw" / "checkpoints" / "state.json"
    procs = launch(2, _args(synth_data, out, epochs), tmp_path / "logs1")
    try:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline and all(p.poll() is None for p in procs):
            if state.is_file() and json.loads(state.read_text())["epoch"] >= 1:
                break
            time.sleep(0.02)
        procs[1].send_signal(signal.SIGKILL)  # mid-epoch: the next one has just begun
        try:  # the job stops, as TensorFlow documents; a cluster manager would stop the chief
            procs[0].wait(timeout=2)
        except Exception:  # noqa: BLE001
            procs[0].kill()
    finally:
        _kill(procs)
    committed = json.loads(state.read_text())["epoch"]
    assert 1 <= committed < epochs - 1, "the kill came too late to test a restart"
    with open(out / "mw" / "history.csv", newline="") as fh:
        before = [row for row in csv.DictReader(fh) if int(row["epoch"]) <= committed]
    assert not (out / "mw" / "model.keras").exists()

    logs = tmp_path / "logs2"
    procs = launch(2, _args(synth_data, out, epochs), logs)  # the same command, restarted
    try:
        texts = _finish(procs, logs)
    finally:
        _kill(procs)
    run = out / "mw"
    assert _epochs(run) == list(range(epochs))  # every requested epoch, each once
    with open(run / "history.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in before[:-1]:  # finished epochs are kept as they were, not redone
        assert rows[int(row["epoch"])] == row
    for text in texts:
        assert "restarting from the last committed epoch" in text
        assert f"epoch 1/{epochs}" not in text  # resumed, not started over
    digests = _digests(texts)
    assert digests["0"] == digests["1"]
    assert json.loads((run / "metrics.json").read_text())["epochs_run"] == epochs


@pytest.mark.parametrize("tf_config", ['{"cluster": ', '{"cluster": {"worker": 3}}'])
def test_bad_tf_config_is_one_line(tf_config, invoke, monkeypatch, synth_data, tmp_path):
    from conftest import assert_clean_error

    monkeypatch.setenv("TF_CONFIG", tf_config)
    result = invoke("train", "--strategy", "multiworker", *_args(synth_data, tmp_path, 1))
    assert_clean_error(result, code=2, contains="TF_CONFIG")
