"""Reruns are all-or-nothing where the user looks: `pipeline --force` and `quantize` killed
midway leave the old run byte-identical (.stages/ included); a full disk during training
is one line; messages name the final path, never a staging folder.
The full kill matrix (more points, times): benchmarks/kill_matrix.py."""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path

import pytest
from conftest import assert_clean_error

from benchmarks.common import cli as _cli
from benchmarks.common import kill_when, tiny_recipe, tree_sha, write_toml
from flower_edge import guard


@pytest.fixture(scope="module")
def piped(synth_data, tmp_path_factory):
    """A complete pipeline run (every stage stamped): (recipe, run folder)."""
    from click.testing import CliRunner

    from flower_edge.cli.main import cli

    root = tmp_path_factory.mktemp("reruns")
    recipe = root / "tiny.toml"
    write_toml(recipe, tiny_recipe(variants=("fp32", "dynamic"), calib_samples=16, val_samples=16, runs=2,
                                   deletion_images=6))
    result = CliRunner().invoke(cli, ["pipeline", "--config", str(recipe), "--data", str(synth_data),
                                      "--out", str(root / "runs" / "r")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return recipe, root / "runs" / "r"


def _copy(run: Path, dest: Path) -> Path:
    return Path(shutil.copytree(run, dest / "r", copy_function=shutil.copy2))


def _kill_when(cmd: list[str], where: Path, pattern: str) -> None:
    """SIGKILL `cmd` once `pattern` matches under `where` (it must get there)."""
    killed = kill_when(cmd, where, pattern, limit=300)
    assert killed.status == "killed", killed.stderr


def test_pipeline_force_killed_after_training_leaves_the_old_run(piped, synth_data, tmp_path, invoke):
    """F4: the new model is trained, quantize has begun: the old run, .stages/ included,
    is still byte for byte the old one, and the next plain run finds every stage done."""
    recipe, original = piped
    run = _copy(original, tmp_path)
    before = tree_sha(run)
    assert any(k.startswith(".stages/") for k in before)
    _kill_when(_cli("pipeline", "--config", recipe, "--data", synth_data, "--out", tmp_path / "r", "--force"), tmp_path, ".r.new-*/.export.new-*")
    assert tree_sha(run) == before
    result = invoke("pipeline", "--config", recipe, "--data", synth_data, "--out", tmp_path / "r")
    assert result.exit_code == 0, result.output
    assert result.output.count("skipped (up to date)") == 4, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]  # the killed build is swept


def test_quantize_killed_midway_leaves_the_old_export(piped, tmp_path):
    """W2: a kill after the first new bundle: export/ is still the old generation, whole."""
    _, original = piped
    run = _copy(original, tmp_path)
    before = tree_sha(run)
    _kill_when(_cli("quantize", run, "--fp32", "--dynamic", "--calib-samples", "16"), run,
               ".export.new-*/fp32/manifest.json")
    after = tree_sha(run)
    assert {k: after.get(k) for k in before} == before  # every old file, byte for byte
    assert all(k.startswith(".export.new-") for k in set(after) - set(before))  # the dead build
    guard.tidy(run / "export", "export")  # what the next quantize or pipeline does first
    assert tree_sha(run) == before


def test_quantize_swaps_one_generation_and_keeps_other_bundles(piped, tmp_path, invoke):
    """quantize.json lists exactly the bundles in export/: the new one and those kept."""
    _, original = piped
    run = _copy(original, tmp_path)
    old_dynamic = tree_sha(run / "export" / "dynamic")
    result = invoke("quantize", run, "--fp32")
    assert result.exit_code == 0, result.output
    rows = json.loads((run / "export" / "quantize.json").read_text())["rows"]
    bundles = sorted(p.name for p in (run / "export").iterdir() if (p / "manifest.json").is_file())
    assert sorted(r["variant"] for r in rows) == bundles == ["dynamic", "fp32"]
    assert tree_sha(run / "export" / "dynamic") == old_dynamic
    assert all(".new-" not in r["path"] for r in rows)
    manifest = json.loads((run / "export" / "fp32" / "manifest.json").read_text())
    assert ".new-" not in manifest["source_run"]
    assert not [p for p in run.iterdir() if p.name.startswith(".export")]
    log = [line for line in result.output.splitlines() if line.startswith("converter log: ")]
    assert log and Path(log[0].split(": ", 1)[1]).is_file(), result.output  # the final path, not staged


def test_quantize_failing_midway_leaves_the_old_export(piped, tmp_path, invoke, monkeypatch):
    import flower_edge.quantize.export as export_mod

    _, original = piped
    run = _copy(original, tmp_path)
    before = tree_sha(run)
    real, made = export_mod.write_bundle, []

    def second_fails(dest, *args, **kwargs):
        made.append(dest)
        if len(made) == 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dest))
        return real(dest, *args, **kwargs)

    monkeypatch.setattr(export_mod, "write_bundle", second_fails)
    assert_clean_error(invoke("quantize", run, "--fp32", "--dynamic"), code=1, contains="no space left")
    assert tree_sha(run) == before and len(made) == 2
    assert sorted(p.name for p in run.iterdir()) == sorted(p.name for p in original.iterdir())


def test_forced_rerun_names_the_final_run(piped, synth_data, tmp_path, invoke):
    """W1: 'run saved to' names the run, not the staging folder it was built in."""
    _, original = piped
    run = _copy(original, tmp_path)
    result = invoke("train", "--data", synth_data, "--backbone", "tiny_cnn", "--weights", "none",
                    "--image-size", "32", "--epochs", "1", "--out", tmp_path / "r", "--force")
    assert result.exit_code == 0, result.output
    assert f"run saved to {run}:" in result.output and ".new-" not in result.output, result.output


@pytest.mark.parametrize("where", ["checkpoint", "fit"])
def test_full_disk_during_training_is_one_line(where, synth_data, tmp_path, invoke, monkeypatch):
    """F5: TF's ResourceExhaustedError (not an OSError) on a full disk: the ENOSPC line,
    exit 1, no half-written run left."""
    from flower_edge.tfcompat import tf

    def full(*args, **kwargs):
        raise tf().errors.ResourceExhaustedError(None, None, "ckpt.data-00000-of-00001.tempstate; "
                                                             "No space left on device")

    if where == "checkpoint":  # any checkpoint-write failure on a full disk
        monkeypatch.setattr(tf().train.Checkpoint, "write", full)
    else:  # raised by TF elsewhere in training
        import flower_edge.train.trainer as trainer

        monkeypatch.setattr(trainer, "_run_phase", full)
    result = invoke("train", "--data", synth_data, "--backbone", "tiny_cnn", "--weights", "none",
                    "--image-size", "32", "--epochs", "2", "--out", tmp_path / "r")
    assert_clean_error(result, code=1, contains="no space left on device")
    assert list(tmp_path.iterdir()) == []


def test_forced_pipeline_records_and_prints_only_final_paths(piped, synth_data, tmp_path, invoke):
    """W1: a whole run built in a staging folder names none of it, in output or in files."""
    recipe, original = piped
    run = _copy(original, tmp_path)
    result = invoke("pipeline", "--config", recipe, "--data", synth_data, "--out", tmp_path / "r", "--force")
    assert result.exit_code == 0, result.output
    assert ".new-" not in result.output and f"report: {run / 'report' / 'index.md'}" in result.output
    for path in run.rglob("*"):
        if path.suffix in (".json", ".md", ".html", ".toml", ".txt", ".csv"):
            assert ".r.new-" not in path.read_text(encoding="utf-8", errors="replace"), path
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]
