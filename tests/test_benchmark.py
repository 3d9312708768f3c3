"""The benchmark stage: one table per run, every variant, checks in the report."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, assert_clean_error

FAST = ("--threads", "1", "--runs", "3", "--warmup", "1")
QUICK_RECIPE = """
gradcam_images = 2
deletion_images = 50
drift_images = 2
misclassified_examples = 2
neighbours = 2
deletion_methods = ["lime"]
lime_samples = 60
lime_segments = 16
"""


def _table(md: str) -> dict[str, list[str]]:
    """benchmark.md's one table as {variant: cells}."""
    rows = [line for line in md.splitlines() if line.startswith("| `")]
    return {r.split("|")[1].strip(" `"): [c.strip() for c in r.strip("|").split("|")] for r in rows}


@pytest.fixture(scope="module")
def benchmarked(quantized_run, invoke, tmp_path_factory):
    """A copy of the quantized MobileNetV2 run, benchmarked through the CLI."""
    run = tmp_path_factory.mktemp("bench") / "mnv2"
    shutil.copytree(quantized_run.path, run, ignore=shutil.ignore_patterns("report"))
    recipe = run.parent / "quick.toml"
    recipe.write_text(QUICK_RECIPE)
    result = invoke("benchmark", run, "--config", recipe, *FAST)
    assert result.exit_code == 0, result.output
    return run, result.output


@pytest.fixture(scope="module")
def invoke():
    from click.testing import CliRunner

    from flower_edge.cli.main import cli

    return lambda *args: CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_report_has_every_variant_with_every_column(benchmarked):
    run, output = benchmarked
    report = run / "report"
    table = _table((report / "benchmark.md").read_text())
    assert set(table) == {"keras", "fp32", "fp16", "dynamic", "int8"}
    for variant, cells in table.items():
        assert cells[1] == "ok", (variant, cells)
        assert "–" not in cells and all(cells), (variant, cells)
    data = json.loads((report / "benchmark.json").read_text())
    rows = {r["variant"]: r for r in data["rows"]}
    assert rows["keras"]["agreement"] == 1.0 and rows["keras"]["kl_divergence"] == pytest.approx(0, abs=1e-9)
    # fp32 is the same network: it must agree with Keras; int8 is smaller than fp32.
    assert rows["fp32"]["agreement"] >= 0.97 and rows["fp32"]["kl_divergence"] < 1e-3
    assert rows["int8"]["size_mb"] < rows["fp32"]["size_mb"] / 2
    assert rows["int8"]["occlusion_spearman"] is not None and -1 <= rows["int8"]["occlusion_spearman"] <= 1
    assert rows["fp32"]["occlusion_spearman"] > 0.9
    assert all(r["latency"][0]["threads"] == 1 and r["latency"][0]["median_ms"] > 0 for r in rows.values())
    assert "keras" in output and "report:" in output


def test_report_checks_and_pictures(benchmarked):
    run, _ = benchmarked
    report = run / "report"
    data = json.loads((report / "benchmark.json").read_text())
    deletion = data["deletion"]
    assert deletion["images"] == 50 and deletion["gradcam_drop"] is not None
    md = (report / "benchmark.md").read_text()
    assert ("deletion test **PASSED**" in md) == deletion["passed"]
    assert ("deletion test **FAILED**" in md) == (not deletion["passed"])
    mis = data["misclassification"]
    assert mis["worst_classes"] and mis["errors"] >= len(mis["confused_pairs"])
    assert {m["method"] for m in deletion["methods"]} == {"gradcam", "lime", "random"}
    assert "Most faithful by the deletion test" in md
    for name in ["pareto.png", *data["gradcam_images"], mis["image"] or "pareto.png",
                 mis["explained"] or "pareto.png"]:
        assert (report / name).stat().st_size > 5000, name
    assert len(data["gradcam_images"]) == 2


def test_no_exports_benchmarks_keras_and_says_so(invoke, tiny_run, tmp_path):
    run = tmp_path / "tiny"
    shutil.copytree(tiny_run, run, ignore=shutil.ignore_patterns("export", "report"))
    result = invoke("benchmark", run, *FAST, "--no-explain")
    assert result.exit_code == 0, result.output
    assert "no TFLite bundles" in result.output
    md = (run / "report" / "benchmark.md").read_text()
    assert list(_table(md)) == ["keras"] and "no TFLite bundles" in md


def test_broken_variant_gets_a_failed_row(invoke, tiny_run, tmp_path):
    run = tmp_path / "tiny"
    shutil.copytree(tiny_run, run, ignore=shutil.ignore_patterns("export", "report"))
    broken = run / "export" / "int8"
    broken.mkdir(parents=True)
    (broken / "manifest.json").write_text("{not json")
    (broken / "model.tflite").write_bytes(b"garbage")
    result = invoke("benchmark", run, *FAST, "--no-explain", "--max-images", "10")
    assert result.exit_code == 0, result.output
    data = json.loads((run / "report" / "benchmark.json").read_text())
    rows = {r["variant"]: r for r in data["rows"]}
    assert data["images"] == 10
    assert rows["keras"]["status"] == "ok" and rows["int8"]["status"] == "failed"
    assert "re-export" in rows["int8"]["error"]


def test_bad_flags_are_clean_errors(invoke, tiny_run, tmp_path):
    assert_clean_error(invoke("benchmark", tiny_run, "--threads", "0"), code=2, contains="--threads")
    assert_clean_error(invoke("benchmark", tiny_run, "--threads", "two"), code=2, contains="--threads")
    assert_clean_error(invoke("benchmark", tmp_path / "nope"), contains="run directory not found")
    bad = tmp_path / "bad.toml"
    bad.write_text("thread = [1]\n")
    assert_clean_error(invoke("benchmark", tiny_run, "--config", bad), code=2, contains="unknown recipe key")
    assert not (Path(tiny_run) / "report" / "benchmark.md").exists()


def test_recipes_map_onto_the_config():
    from flower_edge.benchmark.config import BenchmarkConfig
    from flower_edge.config import from_mapping, load_toml

    for recipe in sorted((ROOT / "benchmark").glob("*.toml")):
        cfg = from_mapping(BenchmarkConfig, load_toml(recipe))
        assert cfg.threads and cfg.runs >= 1, recipe
    assert from_mapping(BenchmarkConfig, load_toml(ROOT / "benchmark" / "default.toml")) == BenchmarkConfig()


def test_bundle_latency_runs_without_tensorflow(quantized_run):
    code = ("import sys; sys.modules['tensorflow'] = None; sys.modules['tf_keras'] = None\n"
            "from flower_edge.cli.main import cli\n"
            f"cli(['benchmark', {str(quantized_run.bundle('int8'))!r}, '--threads', '1', '--threads', '2', "
            "'--runs', '3', '--warmup', '1'], prog_name='flower-edge')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if line.startswith("| int8")]
    assert len(lines) == 1 and lines[0].count("/") == 2


def test_metrics_on_known_values():
    from flower_edge import metrics
    from flower_edge.benchmark.misclass import nearest, worst_and_confused
    from flower_edge.benchmark.render import frontier

    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.5, 0.4, 0.1], [0.2, 0.7, 0.1]])
    labels = np.array([0, 1, 1, 1])
    assert metrics.top_k_accuracy(labels, probs, 1) == 0.5
    assert metrics.top_k_accuracy(labels, probs, 2) == 1.0
    assert metrics.mean_class_accuracy(labels, probs) == pytest.approx((1.0 + 1 / 3) / 2)
    assert metrics.agreement(probs, probs[::-1]) == 0.0
    assert metrics.mean_kl(probs, probs) == pytest.approx(0.0, abs=1e-9)
    assert metrics.mean_kl(probs, probs[:, ::-1]) > 0.1
    worst, pairs = worst_and_confused(labels, probs.argmax(1), ["a", "b", "c"])
    assert worst[0] == ("b", pytest.approx(1 / 3), 3)
    assert ("b", "c", 1) in pairs and ("b", "a", 1) in pairs
    idx, sims = nearest(np.array([[1.0, 0.0]]), np.array([[0.0, 1.0], [2.0, 0.1], [1.0, 1.0]]), 2)
    assert list(idx[0]) == [1, 2] and sims[0, 0] > sims[0, 1]
    assert frontier([(1, 0.5), (2, 0.4), (3, 0.9), (0.5, 0.1)]) == [(0.5, 0.1), (1, 0.5), (3, 0.9)]


def test_gradcam_overlays_spread_over_classes():
    from flower_edge.benchmark.checks import spread_over_classes

    labels = [0, 0, 0, 0, 1, 1, 2]
    assert spread_over_classes(labels, 3) == [0, 4, 6]
    assert spread_over_classes(labels, 5) == [0, 1, 4, 5, 6]
    assert spread_over_classes(labels, 0) == [] and spread_over_classes([], 4) == []
