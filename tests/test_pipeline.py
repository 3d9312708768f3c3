"""`flower-edge pipeline`: one run folder, up-to-date stages skipped, --force, and a
failed stage that leaves earlier outputs intact and is continued on rerun."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import assert_clean_error

from benchmarks.common import tiny_recipe, write_toml

STAGES = ("train", "quantize", "benchmark", "report")


@pytest.fixture(scope="module")
def recipe(tmp_path_factory) -> Path:
    return write_toml(tmp_path_factory.mktemp("recipe") / "tiny.toml", tiny_recipe(image_size=64))


@pytest.fixture(scope="module")
def first_run(recipe, synth_data, tmp_path_factory):
    """The pipeline run once through the CLI: (run folder, CLI output)."""
    from click.testing import CliRunner

    from flower_edge.cli.main import cli

    out = tmp_path_factory.mktemp("pipeline")
    result = CliRunner().invoke(cli, ["pipeline", "--config", str(recipe), "--data", str(synth_data),
                                      "--out", str(out / "tiny")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out / "tiny", result.output


def _args(recipe, data, run: Path, *extra):
    return ("pipeline", "--config", recipe, "--data", data, "--out", run, *extra)


def test_first_run_writes_every_stage(first_run):
    run, output = first_run
    for stage in STAGES:
        assert f"{stage}: ran in" in output, output
    assert (run / "model.keras").is_file()
    assert sorted(p.name for p in (run / "export").iterdir() if p.is_dir()) == ["fp32", "int8"]
    assert (run / "report" / "benchmark.json").is_file()
    assert (run / "report" / "index.md").is_file() and (run / "report" / "index.html").is_file()
    assert "| `int8` |" in output  # the benchmark table is printed
    assert f"report: {run / 'report' / 'index.md'}" in output


def test_second_run_skips_every_stage(first_run, recipe, synth_data, invoke):
    run, _ = first_run
    model_mtime = (run / "model.keras").stat().st_mtime_ns
    result = invoke(*_args(recipe, synth_data, run))
    assert result.exit_code == 0, result.output
    for stage in STAGES:
        assert f"{stage}: skipped (up to date)" in result.output, result.output
    assert "ran in" not in result.output
    assert (run / "model.keras").stat().st_mtime_ns == model_mtime


def test_library_reports_stage_results(first_run, recipe, synth_data):
    from flower_edge.config import merge_tables
    from flower_edge.pipeline.config import load_pipeline_recipe
    from flower_edge.pipeline.run import run_pipeline

    run, _ = first_run
    cfg = merge_tables(load_pipeline_recipe(recipe), {"data": {"path": str(synth_data)}})
    lines = []
    result = run_pipeline(cfg, str(run), echo=lines.append)
    assert [(s.stage, s.status) for s in result.stages] == [(s, "skipped") for s in STAGES]
    assert len(lines) == 4


def test_failed_stage_keeps_earlier_outputs_and_rerun_continues(first_run, synth_data, tmp_path,
                                                                invoke, monkeypatch):
    import flower_edge.benchmark.run as bench

    run = Path(shutil.copytree(first_run[0], tmp_path / "tiny"))
    model_mtime = (run / "model.keras").stat().st_mtime_ns
    changed = tmp_path / "changed.toml"  # one variant fewer: quantize and later stages are stale
    write_toml(changed, tiny_recipe(image_size=64, variants=("fp32",)))

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(bench, "benchmark_run", broken)
    failed = invoke(*_args(changed, synth_data, run))
    assert_clean_error(failed, code=1, contains="no space left")
    assert "train: skipped (up to date)" in failed.output
    assert "quantize: ran in" in failed.output and "benchmark: failed after" in failed.output
    assert (run / "model.keras").stat().st_mtime_ns == model_mtime
    # The variant no longer asked for is gone, so no stale bundle is benchmarked.
    assert [p.name for p in (run / "export").iterdir() if p.is_dir()] == ["fp32"]
    fp32 = (run / "export" / "fp32" / "model.tflite").read_bytes()

    monkeypatch.undo()
    again = invoke(*_args(changed, synth_data, run))
    assert again.exit_code == 0, again.output
    assert "train: skipped" in again.output and "quantize: skipped" in again.output
    assert "benchmark: ran in" in again.output and "report: ran in" in again.output
    assert (run / "export" / "fp32" / "model.tflite").read_bytes() == fp32
    assert "`int8`" not in (run / "report" / "benchmark.md").read_text()


def test_force_reruns_up_to_date_stages(first_run, recipe, synth_data, tmp_path, invoke):
    run = Path(shutil.copytree(first_run[0], tmp_path / "tiny"))
    model_mtime = (run / "model.keras").stat().st_mtime_ns
    result = invoke(*_args(recipe, synth_data, run, "--force", "--until", "quantize"))
    assert result.exit_code == 0, result.output
    for stage in ("train", "quantize"):
        assert f"{stage}: ran in" in result.output, result.output
    assert "benchmark:" not in result.output  # --until stops after quantize
    assert (run / "model.keras").stat().st_mtime_ns != model_mtime


def test_interrupted_training_is_resumed(first_run, recipe, synth_data, tmp_path):
    """A run whose training stopped after its last epoch (no model.keras yet) resumes, not restarts."""
    from flower_edge.config import merge_tables
    from flower_edge.pipeline.config import load_pipeline_recipe
    from flower_edge.pipeline.run import run_pipeline

    run = Path(shutil.copytree(first_run[0], tmp_path / "tiny"))
    history = (run / "history.csv").read_text()
    for name in ("model.keras", "metrics.json"):
        (run / name).unlink()
    cfg = merge_tables(load_pipeline_recipe(recipe), {"data": {"path": str(synth_data)}})
    result = run_pipeline(cfg, str(run), echo=lambda line: None, until="train")
    assert result.status("train") == "resumed"
    assert (run / "model.keras").is_file()
    assert (run / "history.csv").read_text() == history  # no epoch trained twice


def test_foreign_folder_with_same_name_is_refused(tmp_path, recipe, synth_data, invoke):
    taken = tmp_path / "runs" / "tiny"
    taken.mkdir(parents=True)
    (taken / "notes.txt").write_text("mine")
    result = invoke(*_args(recipe, synth_data, taken))
    assert_clean_error(result, code=2, contains="choose another --out")
    assert (taken / "notes.txt").read_text() == "mine"


def test_recipe_tables_are_strict(tmp_path, synth_data, invoke):
    bad = tmp_path / "bad.toml"
    write_toml(bad, {**tiny_recipe(image_size=64), "quantize2": {"x": 1}})
    assert_clean_error(invoke("pipeline", "--config", bad, "--data", synth_data, "--out", tmp_path),
                       code=2, contains="quantize2")
    wrong = tiny_recipe(image_size=64)
    wrong["benchmark"]["runs"] = "three"
    write_toml(bad, wrong)
    assert_clean_error(invoke("pipeline", "--config", bad, "--data", synth_data, "--out", tmp_path),
                       code=2, contains="benchmark.runs")


def test_any_train_recipe_is_a_pipeline_recipe(tmp_path):
    from flower_edge.pipeline.config import PipelineConfig, load_pipeline_recipe

    path = tmp_path / "train.toml"
    path.write_text('[model]\nname = "mobilenet_v2"\nimage_size = 160\n[train]\nhead_epochs = 3\n')
    cfg = load_pipeline_recipe(path)
    assert cfg.model.image_size == 160 and cfg.train.head_epochs == 3
    assert cfg.quantize == PipelineConfig().quantize and cfg.benchmark == PipelineConfig().benchmark


def test_training_that_fails_before_an_epoch_leaves_no_run_folder(tmp_path, recipe, synth_data, invoke):
    run = tmp_path / "runs" / "tiny"
    result = invoke(*_args(recipe, synth_data, run, "--weights", tmp_path / "missing.h5"))
    assert_clean_error(result, contains="--weights none")  # tiny_cnn has no pretrained weights
    assert "train: failed after" in result.output
    assert not run.exists()
