"""Nothing lost: --force replaces only a run, atomically; data and foreign folders are
refused by every command that writes to a path a user gives; numeric flags reject nonsense."""

from __future__ import annotations

import errno
import json
import os
import shutil
import sys
from pathlib import Path

import pytest
from conftest import assert_clean_error

from benchmarks.common import kill_when, tree_sha
from flower_edge import guard

TRAIN = ("--backbone", "tiny_cnn", "--weights", "none", "--image-size", "32", "--batch-size", "32")


def _train_args(data, out, name, epochs=1, *extra):
    return ["train", "--data", data, *TRAIN, "--epochs", str(epochs), "--out", out / name, *extra]


@pytest.fixture(scope="module")
def first_run(synth_data, tmp_path_factory):
    """A finished tiny run, made once; tests replace copies of it."""
    from click.testing import CliRunner

    from flower_edge.cli.main import cli

    out = tmp_path_factory.mktemp("lost")
    result = CliRunner().invoke(cli, [str(a) for a in _train_args(synth_data, out, "r")],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out / "r"


@pytest.fixture()
def old_run(first_run, tmp_path) -> Path:
    return Path(shutil.copytree(first_run, tmp_path / "runs" / "r"))


def _siblings(run: Path) -> list[str]:
    return sorted(p.name for p in run.parent.iterdir())


# --- the three reproductions --------------------------------------------------------------
@pytest.mark.parametrize("where", ["data itself", "data's parent"])
def test_force_never_deletes_the_dataset(synth_data, tmp_path, invoke, where):
    data = Path(shutil.copytree(synth_data, tmp_path / "photos" / "flowers"))
    before = tree_sha(tmp_path / "photos")
    out, name = (data.parent, data.name) if where == "data itself" else (tmp_path, "photos")
    result = invoke(*_train_args(data, out, name, 1, "--force"))
    assert_clean_error(result, code=2, contains="data folder")
    assert tree_sha(tmp_path / "photos") == before


def test_run_inside_the_data_is_refused(synth_data, tmp_path, invoke):
    data = Path(shutil.copytree(synth_data, tmp_path / "flowers"))
    before = tree_sha(data)
    assert_clean_error(invoke(*_train_args(data, data, "run", 1, "--force")), code=2, contains="data folder")
    assert tree_sha(data) == before


def test_force_never_replaces_a_foreign_folder(synth_data, tmp_path, invoke):
    mine = tmp_path / "runs" / "holiday"
    mine.mkdir(parents=True)
    (mine / "notes.txt").write_text("do not lose me")
    shutil.copy(next(Path(synth_data).rglob("*.png")), mine / "photo.png")
    before = tree_sha(mine)
    result = invoke(*_train_args(synth_data, mine.parent, "holiday", 1, "--force"))
    assert_clean_error(result, code=2, contains="not made by flower-edge")
    assert tree_sha(mine) == before and _siblings(mine) == ["holiday"]


def test_image_size_zero_exits_2(synth_data, tmp_path, invoke):
    result = invoke(*_train_args(synth_data, tmp_path, "z", 1), "--image-size", "0")
    assert_clean_error(result, code=2, contains="--image-size")
    assert not (tmp_path / "z").exists()


# --- forced reruns: the old run survives a failure or a kill, whole ------------------------
def test_run_carries_its_marker(first_run):
    from flower_edge import __version__

    marker = guard.read_marker(first_run)
    assert marker["kind"] == "run" and marker["version"] == __version__


def test_forced_rerun_replaces_the_run(old_run, synth_data, invoke):
    before = tree_sha(old_run)
    result = invoke(*_train_args(synth_data, old_run.parent, "r", 2, "--force"))
    assert result.exit_code == 0, result.output
    assert tree_sha(old_run) != before
    assert json.loads((old_run / "metrics.json").read_text())["epochs_run"] == 2
    assert guard.is_kind(old_run, "run") and _siblings(old_run) == ["r"]


def test_forced_rerun_failing_midway_keeps_the_old_run(old_run, synth_data, invoke, monkeypatch):
    from flower_edge.train import checkpoint

    before = tree_sha(old_run)
    real, calls = checkpoint.write_history, []

    def disk_full_at_epoch_2(run, rows):
        calls.append(run.path)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(run.history))
        return real(run, rows)

    monkeypatch.setattr(checkpoint, "write_history", disk_full_at_epoch_2)
    result = invoke(*_train_args(synth_data, old_run.parent, "r", 4, "--force"))
    assert_clean_error(result, code=1, contains="no space left")
    assert len(calls) == 2 and calls[0] != old_run  # the new run was written beside the old one
    assert tree_sha(old_run) == before
    assert _siblings(old_run) == ["r"]  # the staging folder is gone


def test_forced_rerun_killed_midway_keeps_the_old_run(old_run, synth_data, invoke):
    before = tree_sha(old_run)
    cmd = [sys.executable, "-m", "flower_edge.cli.main",
           *map(str, _train_args(synth_data, old_run.parent, "r", 40, "--force"))]
    killed = kill_when(cmd, old_run.parent, ".r.new-*/checkpoints/state.json", limit=180)
    assert killed.status == "killed", killed.stderr  # killed once the new run committed an epoch
    assert tree_sha(old_run) == before  # every file of the old run, byte for byte
    # The next forced run sweeps the dead writer's staging folder and replaces the run.
    result = invoke(*_train_args(synth_data, old_run.parent, "r", 1, "--force"))
    assert result.exit_code == 0, result.output
    assert _siblings(old_run) == ["r"]


# --- every other command that writes to a path a user gives -------------------------------
def _fake_run(tmp_path: Path, sub: str) -> Path:
    """A folder with a model.keras that flower-edge did not make, and a user's `sub`/ in it."""
    run = tmp_path / "mine"
    (run / sub).mkdir(parents=True)
    (run / "model.keras").write_bytes(b"PK not a model")
    (run / "labels.txt").write_text("a\nb\n")
    (run / sub / "notes.md").write_text("my notes")
    return run


@pytest.mark.parametrize("command,sub", [("quantize", "export"), ("benchmark", "report"),
                                         ("report", "report")])
def test_run_commands_never_write_into_a_foreign_folder(tmp_path, invoke, command, sub):
    run = _fake_run(tmp_path, sub)
    before = tree_sha(run)
    assert_clean_error(invoke(command, run), code=2, contains="did not write")
    assert tree_sha(run) == before


def test_explain_out_never_writes_into_a_foreign_folder(synth_data, tmp_path, invoke):
    out = tmp_path / "pictures"
    out.mkdir()
    (out / "rose_gradcam.png").write_bytes(b"my own picture with the same name")
    before = tree_sha(out)
    image = next(Path(synth_data).rglob("*.png"))
    # refused before the run is even opened
    assert_clean_error(invoke("explain", tmp_path / "run", image, "--out", out), code=2, contains="did not write")
    assert tree_sha(out) == before


def test_data_synth_replaces_only_its_own_set(tmp_path, invoke):
    dest = tmp_path / "synth"
    args = ["data", "synth", "--out", dest, "--classes", "2", "--per-class", "2", "--size", "16"]
    assert invoke(*args, "--seed", "1").exit_code == 0
    first = tree_sha(dest)
    assert invoke(*args, "--seed", "2").exit_code == 0
    assert tree_sha(dest) != first and guard.is_kind(dest, "synthetic")
    assert _siblings(dest) == ["synth"]
    mine = _foreign_photos(tmp_path / "photos")
    before = tree_sha(mine)
    assert_clean_error(invoke("data", "synth", "--out", mine, "--size", "16"), code=2, contains="not a synthetic")
    assert tree_sha(mine) == before


def _foreign_photos(folder: Path) -> Path:
    (folder / "rose").mkdir(parents=True)
    (folder / "rose" / "1.jpg").write_bytes(b"photo")
    (folder / "notes.txt").write_text("mine")
    return folder


def test_data_fetch_dest_is_never_a_folder_with_files(tmp_path, invoke):
    mine = _foreign_photos(tmp_path / "photos")
    before = tree_sha(mine)
    assert_clean_error(invoke("data", "fetch", "tf_flowers", "--out", mine), code=2, contains="not empty")
    assert tree_sha(mine) == before and _siblings(mine) == ["photos"]


def test_pipeline_refuses_data_and_foreign_folders(synth_data, tmp_path, invoke):
    data = Path(shutil.copytree(synth_data, tmp_path / "flowers"))
    before = tree_sha(data)
    for out, name in ((tmp_path, "flowers"), (data, "run")):
        result = invoke("pipeline", "--data", data, *TRAIN[:6], "--out", out / name, "--force")
        assert_clean_error(result, code=2, contains="data folder")
    assert tree_sha(data) == before
    mine = _foreign_photos(tmp_path / "runs" / "p")
    before = tree_sha(mine)
    result = invoke("pipeline", "--data", data, *TRAIN[:6], "--out", mine.parent / "p", "--force")
    assert_clean_error(result, code=2, contains="not a flower-edge run")
    assert tree_sha(mine) == before


def test_demo_never_replaces_a_foreign_run_folder(tmp_path):
    from flower_edge.errors import UsageError
    from flower_edge.pipeline.demo import run_demo

    mine = _foreign_photos(tmp_path / "demo" / "run")
    before = tree_sha(mine)
    with pytest.raises(UsageError, match="did not write"):  # OUT itself is not a demo's
        run_demo(str(tmp_path / "demo"), force=True, data={"classes": 2, "per_class": 2, "size": 16})
    assert tree_sha(mine) == before


# --- numeric options ----------------------------------------------------------------------
@pytest.mark.parametrize("args,flag", [
    (["train", "--image-size", "-1"], "--image-size"),
    (["train", "--batch-size", "0"], "--batch-size"),
    (["train", "--epochs", "-1"], "--epochs"),
    (["train", "--lr", "0"], "--lr"),
    (["train", "--finetune-layers", "-3"], "--finetune-layers"),
    (["pipeline", "--image-size", "0"], "--image-size"),
    (["quantize", "run", "--calib-samples", "-5"], "--calib-samples"),
    (["benchmark", "run", "--runs", "0"], "--runs"),
    (["predict", "b", "x.jpg", "--threads", "0"], "--threads"),
    (["predict", "b", "x.jpg", "--top-k", "0"], "--top-k"),
    (["data", "synth", "--out", "d", "--size", "0"], "--size"),
    (["data", "synth", "--out", "d", "--per-class", "0"], "--per-class"),
])
def test_numeric_nonsense_is_one_line_and_exit_2(args, flag, invoke, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke(*args)
    assert_clean_error(result, code=2, contains=flag)
    assert list(tmp_path.iterdir()) == []
