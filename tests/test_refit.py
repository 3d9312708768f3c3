"""train --refit: the first pass is a default run kept in selection/, the refit retrains
on more photos for the epochs it chose, and every stage reads the refit."""

from __future__ import annotations

import csv
import json
import shutil

import pytest

TINY = ["--backbone", "tiny_cnn", "--weights", "none", "--image-size", "32", "--epochs", "3", "--seed", "0"]


def _history(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _split_counts(path):
    data = json.loads(path.read_text())
    return {k: len(v) for k, v in data["splits"].items()}, data["splits"]


@pytest.fixture(scope="module")
def refit_run(synth_data, tmp_path_factory):
    from click.testing import CliRunner

    from flower_edge.cli.main import cli

    out = tmp_path_factory.mktemp("refit")
    args = ["train", "--data", str(synth_data), *TINY, "--out", str(out / "r"), "--refit"]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out / "r", result.stderr


def test_refit_keeps_first_pass_and_trains_on_train_plus_val(refit_run):
    run, stderr = refit_run
    first = run / "selection"
    for name in ("model.keras", "metrics.json", "curves.png", "history.csv", "split.json"):
        assert (first / name).is_file(), name
    assert (run / "model.keras").is_file()
    # The cost is said before the first epoch.
    assert stderr.index("about 2x the training time") < stderr.index("epoch 1/")
    counts, rows = _split_counts(run / "split.json")
    first_counts, first_rows = _split_counts(first / "split.json")
    assert counts == {"train": first_counts["train"] + first_counts["val"], "val": 0,
                      "test": first_counts["test"]}
    assert sorted(map(tuple, rows["train"])) == sorted(map(tuple, first_rows["train"] + first_rows["val"]))
    assert rows["test"] == first_rows["test"]
    metrics = json.loads((run / "metrics.json").read_text())
    refit = metrics["refit"]
    first_state = json.loads((first / "checkpoints" / "state.json").read_text())
    assert refit["chosen_epoch"] == first_state["best"]["epoch"]
    assert len(_history(run / "history.csv")) == refit["head_epochs"] + refit["finetune_epochs"] \
        == refit["chosen_epoch"] + 1
    assert refit["held_out_estimate"] == metrics["test"]["top1"] and metrics["test"]["samples"] > 0
    assert refit["first_pass_test_top1"] == json.loads((first / "metrics.json").read_text())["test"]["top1"]
    # No val picked an epoch of the refit's own; its report names the first pass's choice.
    assert metrics["best_epoch"] is None
    from flower_edge.report.sections import training
    from flower_edge.rundir import RunDir

    assert f"up to epoch {refit['chosen_epoch']}, the first pass's choice" in training(RunDir(run), metrics, {})
    assert 'refit = "val"' in (run / "config.toml").read_text()
    assert 'refit = "off"' in (first / "config.toml").read_text()


def test_quantize_calibrates_on_the_refit_photos(refit_run):
    from flower_edge.quantize.calibration import load_splits
    from flower_edge.rundir import RunDir

    run, _ = refit_run
    first = json.loads((run / "selection" / "split.json").read_text())["splits"]
    assert len(load_splits(RunDir(run)).train) == len(first["train"]) + len(first["val"])


def test_resume_finishes_the_refit_without_redoing_the_first_pass(refit_run, tmp_path, invoke):
    run = tmp_path / "r"
    shutil.copytree(refit_run[0], run)
    before = (run / "selection" / "history.csv").read_text()
    expected = _history(run / "history.csv")
    for name in ("model.keras", "metrics.json", "history.csv"):  # as if killed in the refit
        (run / name).unlink()
    shutil.rmtree(run / "checkpoints")
    result = invoke("train", "--resume", run)
    assert result.exit_code == 0, result.output
    assert (run / "selection" / "history.csv").read_text() == before
    assert "the first pass chose epoch" in result.stderr
    rows = _history(run / "history.csv")
    assert [r["loss"] for r in rows] == [r["loss"] for r in expected]  # same seed, same refit
    assert json.loads((run / "metrics.json").read_text())["refit"]["mode"] == "val"


def test_derive_refit_all_from_a_finished_run(synth_data, refit_run, tmp_path, invoke):
    """A refit derived from a plain run equals train --refit's; 'all' holds nothing out."""
    from flower_edge.train.trainer import derive_refit

    result = invoke("train", "--data", synth_data, *TINY, "--out", tmp_path / "plain")
    assert result.exit_code == 0, result.output
    derived = derive_refit(str(tmp_path / "plain"), "val", str(tmp_path / "derived")).path
    assert [r["loss"] for r in _history(derived / "history.csv")] == \
        [r["loss"] for r in _history(refit_run[0] / "history.csv")]
    everything = derive_refit(str(tmp_path / "plain"), "all", str(tmp_path / "all")).path
    counts, _ = _split_counts(everything / "split.json")
    assert counts == {"train": 160, "val": 0, "test": 0}
    metrics = json.loads((everything / "metrics.json").read_text())
    assert metrics["refit"]["held_out_estimate"] is None
    assert "no held-out estimate" in metrics["refit"]["note"]


def test_refit_flag_and_key_are_checked(synth_data, tmp_path, invoke):
    from conftest import assert_clean_error

    result = invoke("train", "--data", synth_data, *TINY, "--out", tmp_path, "--refit", "most")
    assert result.exit_code == 2 and "most" in result.output
    recipe = tmp_path / "r.toml"
    recipe.write_text('[train]\nrefit = "sometimes"\n')
    result = invoke("train", "--config", recipe, "--data", synth_data, *TINY, "--out", tmp_path)
    assert_clean_error(result, contains="refit")
