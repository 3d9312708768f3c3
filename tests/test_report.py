"""report/index.md + index.html: built from whatever a run holds, saying what is missing."""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import assert_clean_error


def _copy(tiny_run, tmp_path) -> Path:
    return Path(shutil.copytree(tiny_run, tmp_path / "run",
                                ignore=shutil.ignore_patterns("export", "report", "checkpoints", "logs")))


def test_report_of_a_trained_only_run_says_what_is_missing(tiny_run, tmp_path, invoke):
    run = _copy(tiny_run, tmp_path)
    result = invoke("report", run)
    assert result.exit_code == 0, result.output
    text = (run / "report" / "index.md").read_text()
    assert f"flower-edge quantize {run}" in text  # names the command that adds the exports
    assert f"flower-edge benchmark {run}" in text
    assert "![learning curves](training/curves.png)" in text
    assert (run / "report" / "training" / "curves.png").is_file()
    # The data table counts every image of split.json once.
    import json

    split = json.loads((run / "split.json").read_text())
    total = sum(len(rows) for rows in split["splits"].values())
    counts = next(line for line in text.splitlines() if line.startswith("| **total**"))
    assert sum(int(c.strip(" *")) for c in counts.split("|")[2:-1]) == total


def test_report_survives_a_corrupt_benchmark_json(tiny_run, tmp_path):
    from flower_edge.report.build import build_report

    run = _copy(tiny_run, tmp_path)
    (run / "report").mkdir()
    (run / "report" / "benchmark.json").write_text("{not json")
    text = build_report(run).read_text()
    assert "Not available: no benchmark yet" in text


def test_report_of_a_folder_without_a_model_is_a_clean_error(tmp_path, invoke):
    assert_clean_error(invoke("report", tmp_path), code=1, contains="no model.keras")


def test_html_converter_renders_the_subset():
    from flower_edge.report.html import to_html

    page = to_html("# Title `x_y`\n\nSome **bold** and _note_ with [a link](b.md).\n\n"
                   "| a | b |\n|---|---|\n| 1 | `c` |\n\n- one\n- two\n\n![pic](gradcam/00_a_b.png)\n")
    assert '<h1 id="title-x_y">Title <code>x_y</code></h1>' in page
    assert "<strong>bold</strong>" in page and "<em>note</em>" in page
    assert '<a href="b.md">a link</a>' in page
    assert "<th>a</th><th>b</th>" in page and "<ul>\n<li>one</li>\n<li>two</li>\n</ul>" in page
    assert '<img alt="pic" src="gradcam/00_a_b.png">' in page  # no <em> inside file names
    assert "<script" not in to_html("<script>alert(1)</script>")
