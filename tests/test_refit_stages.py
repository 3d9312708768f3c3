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
