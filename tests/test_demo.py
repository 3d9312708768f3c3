"""`flower-edge demo` on a reduced config: synthetic data drawn, the whole pipeline,
and a report whose every relative link resolves (the folder can be zipped)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
SRC = re.compile(r'(?:src|href)="([^"#][^"]*)"')


@pytest.fixture(scope="module")
def small_demo(tmp_path_factory):
    """run_demo with the DEMO recipe shrunk: tiny_cnn, 2 epochs, two variants, few images."""
    from flower_edge.benchmark.config import BenchmarkConfig
    from flower_edge.pipeline.config import DEMO
    from flower_edge.pipeline.demo import run_demo
    from flower_edge.quantize.options import Int8Options
    from flower_edge.quantize.recipe import QuantizeRecipe

    cfg = dataclasses.replace(
        DEMO, model=dataclasses.replace(DEMO.model, name="tiny_cnn", image_size=64),
        train=dataclasses.replace(DEMO.train, head_epochs=2),
        quantize=QuantizeRecipe(variants=("fp32", "dynamic"), int8=Int8Options(calib_samples=16), val_samples=16),
        benchmark=BenchmarkConfig(threads=(1,), runs=2, warmup=1, gradcam_images=2, deletion_images=6,
                                  drift_images=1, misclassified_examples=2, lime_samples=40))
    out = tmp_path_factory.mktemp("demo")
    lines = []
    result = run_demo(str(out), cfg=cfg, data={"classes": 3, "per_class": 14, "size": 64},
                      echo=lines.append)
    return out, result, lines


def test_demo_writes_data_run_and_report(small_demo):
    out, result, lines = small_demo
    assert (out / "data" / "synthetic.json").is_file()
    assert result.run == out / "run" and result.report == out / "run" / "report" / "index.md"
    assert [s.status for s in result.stages] == ["ran"] * 4, lines
    text = result.report.read_text()
    for title in ("## Data", "## Training", "## Exported variants", "## Benchmark", "## Explanations",
                  "### Grad-CAM", "### Deletion check", "### Explanation drift", "### Misclassifications"):
        assert title in text
    assert "| `dynamic` |" in text and "![pareto plot](pareto.png)" in text
    assert "![learning curves](training/curves.png)" in text
    assert "Not available" not in text  # every piece is there


def test_every_report_link_resolves_relative(small_demo):
    _, result, _ = small_demo
    report = result.report.parent
    page = (report / "index.html").read_text()
    links = LINK.findall(result.report.read_text())
    anchors = [link for link in links if link.startswith("#")]
    md_links = [link for link in links if not link.startswith("#")]
    pictures = [link for link in md_links if link.endswith(".png")]
    assert len(pictures) >= 5  # curves, confusion, pareto, Grad-CAM overlays...
    assert sorted(set(md_links)) == sorted(set(SRC.findall(page)))
    assert len(anchors) == 5 and all(f'id="{a[1:]}"' in page for a in anchors)
    for link in md_links:
        assert not Path(link).is_absolute() and ".." not in Path(link).parts, link
        target = report / link
        assert target.is_file() and target.stat().st_size > 0, link
        if link.endswith(".png"):
            assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_demo_folder_is_marked_as_a_demo(small_demo):
    """OUT is the demo's own: a later demo may write into it, nothing else (guard.py)."""
    from flower_edge import guard

    out, _, _ = small_demo
    assert guard.read_marker(out)["kind"] == "demo" and guard.is_kind(out, "demo")


def test_demo_reuses_its_data(small_demo):
    from flower_edge.pipeline.demo import demo_data

    out, _, _ = small_demo
    marker = out / "data" / "synthetic.json"
    before = marker.stat().st_mtime_ns
    demo_data(out / "data", classes=3, per_class=14, size=64)
    assert marker.stat().st_mtime_ns == before


def test_demo_cli_help_shows_an_example(invoke):
    result = invoke("demo", "--help")
    assert result.exit_code == 0 and "flower-edge demo --out" in result.output


def test_demo_refuses_a_data_folder_it_did_not_draw(tmp_path, invoke):
    from conftest import assert_clean_error

    (tmp_path / "data" / "mine").mkdir(parents=True)
    (tmp_path / "data" / "mine" / "x.txt").write_text("not a synthetic set")
    # OUT holds files demo did not write: refused before OUT/data is even looked at
    assert_clean_error(invoke("demo", "--out", tmp_path), code=2, contains="did not write")
    assert (tmp_path / "data" / "mine" / "x.txt").read_text() == "not a synthetic set"
