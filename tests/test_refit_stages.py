"""A refit run through the other stages: benchmark of a run with nothing held out,
pipeline with a refit recipe, distill of a refit student, int8 calibration on the
refit's training photos."""

from __future__ import annotations

import json

import pytest

FAST = ("--threads", "1", "--runs", "3", "--warmup", "1", "--no-explain")


@pytest.fixture(scope="module")
def refit_all_run(tiny_run, tmp_path_factory):
    """tiny_run refit on every photo (its first pass reused, 2 tiny_cnn epochs)."""
    from flower_edge.train.trainer import derive_refit

    return derive_refit(str(tiny_run), "all", str(tmp_path_factory.mktemp("refit") / "all")).path


def test_benchmark_of_a_refit_all_run_says_accuracy_needs_eval_data(refit_all_run, synth_data, invoke):
    assert json.loads((refit_all_run / "split.json").read_text())["splits"]["test"] == []
    result = invoke("benchmark", refit_all_run, *FAST)
    assert result.exit_code == 0, result.output
    report = json.loads((refit_all_run / "report" / "benchmark.json").read_text())
    keras = report["rows"][0]
    assert keras["status"] == "ok" and keras["size_mb"] > 0 and keras["latency"][0]["median_ms"] > 0
    assert keras["top1"] is None and report["images"] == 0
    notes = [n for n in report["notes"] if "--eval-data DIR" in n]
    assert len(notes) == 1 and "nothing is held out" in notes[0], report["notes"]
    assert sum("--eval-data DIR" in line for line in result.output.splitlines()) == 1, result.output
    assert "--eval-data DIR" in (refit_all_run / "report" / "benchmark.md").read_text()

    result = invoke("benchmark", refit_all_run, *FAST, "--eval-data", synth_data, "--max-images", "20")
    assert result.exit_code == 0, result.output
    report = json.loads((refit_all_run / "report" / "benchmark.json").read_text())
    assert report["images"] == 20 and report["rows"][0]["top1"] is not None
    assert not [n for n in report["notes"] if "--eval-data DIR" in n]


def test_report_of_a_refit_all_run_says_nothing_is_held_out(refit_all_run):
    from flower_edge.report.build import build_report

    index = build_report(refit_all_run).read_text()
    assert "final refit on train + val + test" in index and "**no held-out estimate**" in index
    assert "Float model test top-1" not in index  # not "– on 0 images"


def _calibration_spy(monkeypatch, samples: int) -> list:
    """Record the photos quantize draws `samples` calibration photos from (split name, paths)."""
    from flower_edge.quantize import calibration

    seen, real = [], calibration.stratified

    def spy(split, n, seed=0):
        if n == samples:
            seen.append((split.name, sorted(map(str, split.paths))))
        return real(split, n, seed)

    monkeypatch.setattr(calibration, "stratified", spy)
    return seen


def _splits(run):
    return {k: sorted(map(str, v)) for k, v in _rows(run / "split.json").items()}


def _rows(path):
    from flower_edge.data.splits import DataSplits

    splits = DataSplits.load(path)
    return {name: splits.split(name).paths for name in ("train", "val", "test")}


def test_pipeline_with_a_refit_recipe_ships_the_refit(synth_data, tmp_path, invoke, monkeypatch):
    """pipeline with refit = "val": the first pass in selection/, int8 calibrated on
    train + val, the benchmark scored on the test split neither model trained on."""
    from benchmarks.common import tiny_recipe, write_toml

    recipe = tiny_recipe(image_size=32, calib_samples=300, deletion_images=4)
    recipe["train"]["refit"] = "val"
    recipe["benchmark"]["explain"] = False
    seen = _calibration_spy(monkeypatch, 300)
    run = tmp_path / "run"
    args = ("pipeline", "--config", write_toml(tmp_path / "r.toml", recipe), "--data", synth_data, "--out", run)
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    first, refit = _splits(run / "selection"), _splits(run)
    assert refit["train"] == sorted(first["train"] + first["val"]) and refit["test"] == first["test"]
    assert seen == [("train", refit["train"])]  # every refit training photo, none held out
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["refit"]["mode"] == "val" and metrics["refit"]["held_out_estimate"] is not None
    bench = json.loads((run / "report" / "benchmark.json").read_text())
    assert bench["images"] == len(first["test"]) and bench["rows"][0]["top1"] is not None
    index = (run / "report" / "index.md").read_text()
    assert "final refit on train + val" in index and "is the held-out estimate" in index, index[:2000]
    again = invoke(*args)
    assert again.exit_code == 0 and again.output.count("skipped (up to date)") == 4, again.output


def test_distill_with_refit_refits_the_student(tiny_run, tmp_path, invoke, monkeypatch):
    """The student's first pass uses the teacher's split; its refit adds val; int8
    calibrates on the refit's training photos."""
    student = tmp_path / "kd"
    result = invoke("distill", "--teacher", tiny_run, "--backbone", "tiny_cnn", "--weights", "none",
                    "--image-size", "32", "--epochs", "2", "--out", student, "--refit")
    assert result.exit_code == 0, result.output
    teacher = _splits(tiny_run)
    assert _splits(student / "selection") == teacher
    refit = _splits(student)
    assert refit["train"] == sorted(teacher["train"] + teacher["val"]) and refit["val"] == []
    assert refit["test"] == teacher["test"]
    for folder in (student, student / "selection"):
        assert "[distill]" in (folder / "config.toml").read_text()
    assert json.loads((student / "metrics.json").read_text())["refit"]["mode"] == "val"
    seen = _calibration_spy(monkeypatch, 300)
    result = invoke("quantize", student, "--int8", "--calib-samples", "300")
    assert result.exit_code == 0, result.output
    assert seen == [("train", refit["train"])]
