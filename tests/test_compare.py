"""gzip sizes in every size table, `benchmark --eval-data` (one common image set with a
fingerprint) and `flower-edge compare` across runs, with device latency files."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest
from conftest import assert_clean_error

FAST = ("--no-explain", "--threads", "1", "--runs", "3", "--warmup", "1")


def _gzip_mb(path: Path) -> float:
    return len(gzip.compress(path.read_bytes(), 9)) / 1e6


@pytest.fixture(scope="module")
def invoke():
    from click.testing import CliRunner

    from flower_edge.cli.main import cli

    return lambda *args: CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def eval_set(tmp_path_factory, tiny_run):
    """A labelled set no run trained on, with the tiny run's classes (another seed)."""
    from flower_edge.data.synthetic import write_synthetic

    classes = (Path(tiny_run) / "labels.txt").read_text().split()
    folder = write_synthetic(tmp_path_factory.mktemp("eval") / "eval", classes=len(classes),
                             per_class=10, size=64, seed=7)
    assert sorted(p.name for p in folder.iterdir() if p.is_dir()) == sorted(classes)
    return folder


@pytest.fixture(scope="module")
def runs(tiny_run, eval_set, tmp_path_factory, invoke):
    """Run `a` with fp32 + int8 bundles scored on the eval set; run `b` (its int8 only) scored
    on its own test split first. Both real: quantize and benchmark through the CLI."""
    root = tmp_path_factory.mktemp("compare")
    a = root / "a"
    shutil.copytree(tiny_run, a, ignore=shutil.ignore_patterns("export", "report", "checkpoints", "logs"))
    done = invoke("quantize", a, "--fp32", "--int8", "--calib-samples", "20")
    assert done.exit_code == 0, done.output
    b = root / "b"
    shutil.copytree(a, b)
    shutil.rmtree(b / "export" / "fp32")
    for run, extra in ((a, ("--eval-data", eval_set)), (b, ())):
        done = invoke("benchmark", run, *FAST, *extra)
        assert done.exit_code == 0, done.output
    return a, b


def test_gzip_size_is_the_gzip_of_the_file(tmp_path):
    from flower_edge.io import gzip_size

    path = tmp_path / "blob.bin"
    path.write_bytes(os.urandom(3000) + bytes(200_000) + b"flower" * 5000)
    assert gzip_size(path, chunk=4096) == len(gzip.compress(path.read_bytes(), 9))
    assert gzip_size(path) < path.stat().st_size / 5  # the zeros compress: a real ratio, not a copy


def test_quantize_and_benchmark_tables_carry_gzip_mb(runs, invoke):
    a, _ = runs
    quantized = json.loads((a / "export" / "quantize.json").read_text())["rows"]
    for row in quantized:
        assert row["gzip_mb"] == round(_gzip_mb(Path(row["path"]) / "model.tflite"), 3)
    assert "| gzip MB |" in (a / "export" / "quantize.md").read_text()
    bench = json.loads((a / "report" / "benchmark.json").read_text())
    rows = {r["variant"]: r for r in bench["rows"]}
    assert set(rows) == {"keras", "fp32", "int8"}
    for name in ("fp32", "int8"):
        model = a / "export" / name / "model.tflite"
        assert rows[name]["gzip_mb"] == pytest.approx(_gzip_mb(model), rel=1e-9)
        assert rows[name]["model_sha256"] == hashlib.sha256(model.read_bytes()).hexdigest()
    assert rows["keras"]["gzip_mb"] == pytest.approx(_gzip_mb(a / "model.keras"), rel=1e-9)
    md = (a / "report" / "benchmark.md").read_text()
    header = next(line for line in md.splitlines() if line.startswith("| variant"))
    cells = {line.split("|")[1].strip(" `"): line.split("|") for line in md.splitlines() if line.startswith("| `")}
    column = header.split("|").index(" gzip MB ")
    assert cells["int8"][column].strip() == f"{rows['int8']['gzip_mb']:.3f}"
    done = invoke("report", a)
    assert done.exit_code == 0, done.output
    assert "gzip MB" in (a / "report" / "index.md").read_text()


def test_eval_data_records_the_image_set(runs, eval_set):
    """kind, count and a fingerprint anyone can recompute from the files (documented format)."""
    a, b = runs
    image_set = json.loads((a / "report" / "benchmark.json").read_text())["image_set"]
    files = sorted(p for p in Path(eval_set).rglob("*.png"))
    lines = sorted(f"{p.relative_to(eval_set).as_posix()}\t{p.parent.name}\t"
                   f"{hashlib.sha256(p.read_bytes()).hexdigest()}" for p in files)
    assert image_set == {"kind": "folder", "name": str(eval_set), "images": len(files),
                         "fingerprint": hashlib.sha256("\n".join(lines).encode()).hexdigest()}
    split_set = json.loads((b / "report" / "benchmark.json").read_text())["image_set"]
    assert split_set["kind"] == "split" and split_set["name"] == "test"
    assert split_set["fingerprint"] != image_set["fingerprint"]


def test_fingerprint_follows_content_and_labels_not_location(tmp_path):
    from flower_edge.benchmark.imageset import fingerprint

    for root in (tmp_path / "one", tmp_path / "two"):
        for cls in ("a", "b"):
            (root / cls).mkdir(parents=True)
            (root / cls / "x.png").write_bytes(cls.encode() * 10)
    paths = lambda root: [str(root / "a" / "x.png"), str(root / "b" / "x.png")]  # noqa: E731
    one = fingerprint(paths(tmp_path / "one"), [0, 1], ["a", "b"], tmp_path / "one")
    assert one == fingerprint(paths(tmp_path / "two"), [0, 1], ["a", "b"], tmp_path / "two")
    assert one != fingerprint(paths(tmp_path / "one"), [1, 0], ["a", "b"], tmp_path / "one")
    (tmp_path / "two" / "b" / "x.png").write_bytes(b"c" * 10)  # same size, other content
    assert one != fingerprint(paths(tmp_path / "two"), [0, 1], ["a", "b"], tmp_path / "two")


def test_eval_data_with_other_classes_is_one_line(runs, eval_set, tmp_path, invoke):
    a, _ = runs
    wrong = tmp_path / "wrong"
    shutil.copytree(eval_set, wrong)
    first = sorted(p for p in wrong.iterdir() if p.is_dir())[0]
    first.rename(wrong / "tulips")
    line = assert_clean_error(invoke("benchmark", a, "--eval-data", wrong, *FAST), code=2, contains="labels.txt")
    assert "tulips" in line and first.name in line
    assert_clean_error(invoke("benchmark", a, "--split", "val", "--eval-data", eval_set), code=2, contains="--split")


def test_compare_refuses_runs_scored_on_different_images(runs, tmp_path, invoke):
    a, b = runs
    out = tmp_path / "cmp"
    line = assert_clean_error(invoke("compare", a, b, "--out", out), code=2, contains="different images")
    assert "--eval-data" in line and "test split" in line
    empty = tmp_path / "fresh"
    shutil.copytree(a, empty, ignore=shutil.ignore_patterns("report"))
    assert_clean_error(invoke("compare", a, empty, "--out", out), code=2, contains="no report/benchmark.json")
    assert not out.exists()


def test_compare_end_to_end_with_device_latency(runs, eval_set, tmp_path, invoke):
    a, b = runs
    done = invoke("benchmark", b, *FAST, "--eval-data", eval_set)  # now on the same images as a
    assert done.exit_code == 0, done.output
    timed = invoke("benchmark", a / "export" / "int8", "--json", "--threads", "1", "--runs", "3")
    assert timed.exit_code == 0, timed.output
    device = json.loads(timed.output)
    assert device["model_sha256"] and device["gzip_mb"] > 0
    pi = tmp_path / "pi-int8.json"
    pi.write_text(timed.output)
    out = tmp_path / "cmp"
    done = invoke("compare", a, b, "--latency", pi, "--out", out)
    assert done.exit_code == 0, done.output
    report = json.loads((out / "compare.json").read_text())
    rows = {f"{r['run']}/{r['variant']}": r for r in report["rows"]}
    assert set(rows) == {"a/keras", "a/fp32", "a/int8", "b/keras", "b/int8"}
    # b's int8 is the same file as a's: one device measurement covers both (matched by sha256).
    for key in ("a/int8", "b/int8"):
        assert rows[key]["latency_ms"] == device["latency"][0]["median_ms"]
        assert rows[key]["latency_source"] == "device: pi-int8.json"
    assert rows["a/fp32"]["latency_source"] == "this machine"
    assert report["image_set"]["fingerprint"] == json.loads(
        (a / "report" / "benchmark.json").read_text())["image_set"]["fingerprint"]
    deployable = [r for r in report["rows"] if r["kind"] == "tflite"]
    best = max(r["top1"] for r in deployable)
    assert rows[report["recommended"]]["top1"] == best and rows[report["recommended"]]["kind"] == "tflite"
    assert all(rows[k]["fits"] is None for k in ("a/keras", "b/keras"))
    assert any("latency" in r["frontier"] for r in deployable)
    md = (out / "compare.md").read_text()
    assert "device: pi-int8.json" in md and "★" in md and "![" in md
    assert (out / "compare.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # The same device file, from a slow device: a budget below its latency rules out int8.
    slow = dict(device, latency=[dict(device["latency"][0], median_ms=50.0)])
    pi.write_text(json.dumps(slow))
    fp32_ms = rows["a/fp32"]["latency_ms"]
    done = invoke("compare", a, b, "--latency", pi, "--budget-ms", 40, "--out", out, "--json")
    assert done.exit_code == 0, done.output
    again = json.loads(done.output)
    picked = {f"{r['run']}/{r['variant']}": r for r in again["rows"]}
    assert picked["a/int8"]["latency_ms"] == 50.0 and picked["a/int8"]["fits"] is False
    assert fp32_ms < 40 and again["recommended"] == "a/fp32"
    done = invoke("compare", a, b, "--latency", pi, "--budget-ms", 0.000001, "--out", out)
    assert done.exit_code == 0 and "nothing fits 1e-06 ms" in done.output
    assert "nothing fits" in (out / "compare.md").read_text()  # the folder was replaced


def test_compare_output_folder_and_bad_latency_files(runs, tmp_path, invoke):
    a, _ = runs
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    assert_clean_error(invoke("compare", a, "--out", mine), code=2, contains="not made by flower-edge")
    assert (mine / "notes.txt").read_text() == "keep me"
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"variant": "int8", "latency": [{"threads": 1, "median_ms": 1, "p90_ms": 1}]}))
    assert_clean_error(invoke("compare", a, "--latency", old, "--out", tmp_path / "c"), code=2,
                       contains="model_sha256")
    assert_clean_error(invoke("compare", a, "--threads", "3", "--out", tmp_path / "c"), code=2,
                       contains="--threads 3")


def _row(run, variant, top1, ms, gz, kind="tflite", status="ok"):
    from flower_edge.benchmark.compare import CompareRow

    return CompareRow(run=run, variant=variant, kind=kind, status=status, top1=top1, agreement=None,
                      size_mb=gz * 1.25, gzip_mb=gz, latency_ms=ms, latency_source="this machine")


def test_frontiers_and_recommendation_under_budgets():
    """Teacher, students and compressed variants as they typically relate (numbers invented)."""
    from flower_edge.benchmark.compare import Budgets, mark_frontiers, recommend

    def fresh():
        return [_row("teacher", "fp32", 0.74, 30.0, 8.2), _row("teacher", "int8", 0.73, 9.0, 2.2),
                _row("teacher", "int8-pruned75", 0.72, 9.1, 0.9), _row("student96", "int8", 0.68, 1.8, 2.2),
                _row("small", "int8", 0.60, 1.2, 0.5), _row("small", "fp16", 0.59, 3.0, 1.0),
                _row("teacher", "keras", 0.75, 40.0, 24.0, kind="keras"),
                _row("broken", "int8", None, None, 1.0, status="failed")]

    rows = fresh()
    mark_frontiers(rows, "gzip")
    front = {r.label: r.frontier for r in rows}
    assert front["teacher/fp32"] == ["latency", "size"] and front["teacher/int8"] == ["latency", "size"]
    assert front["teacher/int8-pruned75"] == ["size"]  # slower than int8 and less accurate, but smaller
    assert front["student96/int8"] == ["latency"] and front["small/int8"] == ["latency", "size"]
    assert front["small/fp16"] == [] and front["teacher/keras"] == [] and front["broken/int8"] == []
    best, why = recommend(rows, Budgets(ms=2.0, mb=1.5))
    assert best.label == "small/int8" and "within 2 ms and 1.5 MB (gzip)" in why
    best, _ = recommend(fresh(), Budgets(ms=2.0, mb=2.5))
    assert best.label == "student96/int8"
    best, _ = recommend(fresh(), Budgets(mb=1.0))
    assert best.label == "teacher/int8-pruned75"
    best, _ = recommend(fresh(), Budgets(mb=1.0, size_metric="file"))  # 0.9 gzip is 1.125 file
    assert best.label == "small/int8"
    best, _ = recommend(fresh(), Budgets())
    assert best.label == "teacher/fp32"  # the Keras model is more accurate but never shipped
    best, why = recommend(fresh(), Budgets(ms=1.0, mb=0.4))
    assert best is None and "nothing fits 1 ms and 0.4 MB (gzip)" in why
    assert "the fastest is small/int8 at 1.20 ms" in why and "the smallest is small/int8 at 0.50 MB" in why


def test_compare_scores_a_bare_tflite_beside_a_run(runs, eval_set, tmp_path, invoke):
    """Someone else's classifier (metadata, no manifest) is scored TF-free on the photos the
    run was benchmarked on, and timed, so it is compared like a variant of a run."""
    a, _ = runs
    bare = tmp_path / "theirs" / "flowers.tflite"
    bare.parent.mkdir()
    shutil.copy(a / "export" / "int8" / "model.tflite", bare)  # quantize wrote its metadata
    out = tmp_path / "cmp-bare"
    done = invoke("compare", a, bare, "--out", out)
    assert done.exit_code == 0, done.output
    report = json.loads((out / "compare.json").read_text())
    rows = {f"{r['run']}/{r['variant']}": r for r in report["rows"]}
    ours, theirs = rows["a/int8"], rows["flowers.tflite/flowers"]
    assert theirs["kind"] == "tflite" and theirs["status"] == "ok"
    assert theirs["top1"] == ours["top1"] and theirs["latency_ms"] > 0  # the same model on the same photos
    assert theirs["model_sha256"] == hashlib.sha256(bare.read_bytes()).hexdigest()
    assert report["image_set"]["fingerprint"] == json.loads(
        (a / "report" / "benchmark.json").read_text())["image_set"]["fingerprint"]
    # only bundles (a bare .tflite and a bundle folder): --eval-data names the photos
    only = invoke("compare", bare, a / "export" / "fp32", "--eval-data", eval_set, "--out", tmp_path / "o", "--json")
    assert only.exit_code == 0, only.output
    assert {r["variant"]: r["top1"] for r in json.loads(only.stdout)["rows"]}["flowers"] == ours["top1"]
    assert_clean_error(invoke("compare", bare, "--out", tmp_path / "x"), code=2, contains="--eval-data DIR")
    # a run scored on its own split: a bundle cannot be scored on the same photos
    split_run = tmp_path / "split-run"
    shutil.copytree(a, split_run)
    bench = json.loads((split_run / "report" / "benchmark.json").read_text())
    bench["image_set"].update(kind="split", name="test")
    (split_run / "report" / "benchmark.json").write_text(json.dumps(bench))
    assert_clean_error(invoke("compare", split_run, bare, "--out", tmp_path / "y"), code=2,
                       contains="not all scored on one --eval-data folder")
    assert_clean_error(invoke("compare", a, "--eval-data", eval_set, "--out", tmp_path / "z"), code=2,
                       contains="--eval-data scores the BUNDLEs")


def test_benchmark_scores_a_bundle_on_eval_data_tf_free_like_its_run(runs, eval_set, invoke):
    a, _ = runs
    bench = json.loads((a / "report" / "benchmark.json").read_text())
    row = next(r for r in bench["rows"] if r["variant"] == "int8")
    done = invoke("benchmark", a / "export" / "int8", "--eval-data", eval_set, "--threads", "1", "--runs", "2",
                  "--json")
    assert done.exit_code == 0, done.output
    alone = json.loads(done.stdout)
    assert alone["top1"] == row["top1"] and alone["mean_class_accuracy"] == row["mean_class_accuracy"]
    assert alone["image_set"] == bench["image_set"] and alone["clients"]["works"]
    table = invoke("benchmark", a / "export" / "int8", "--eval-data", eval_set, "--threads", "1", "--runs", "2")
    assert f"top-1 {row['top1']:.1%}" in table.stdout
    for flags, fix in ((["--split", "val"], "--eval-data DIR"), (["--no-explain"], "apply to a run")):
        assert_clean_error(invoke("benchmark", a / "export" / "int8", *flags), code=2, contains=fix)
