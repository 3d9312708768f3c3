"""`flower-edge benchmark RUN_DIR`: one honest table of every variant of a run."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flower_edge import metrics
from flower_edge.benchmark.config import BenchmarkConfig
from flower_edge.benchmark.evaluate import (
    bundle_size,
    model_size,
    split_subset,
    tflite_probabilities,
)
from flower_edge.benchmark.keras_latency import MEMORY_METHOD, measure_keras
from flower_edge.benchmark.rows import BenchmarkReport, BenchmarkRow, LatencyStat
from flower_edge.data.pipeline import eval_images
from flower_edge.errors import FlowerEdgeError, one_line
from flower_edge.guard import adding_to, public_path, run_data
from flower_edge.io import gzip_size
from flower_edge.progress import progress
from flower_edge.rundir import RunDir

KERAS = "keras"


@dataclass
class EvalSet:
    """The evaluation images of one run, kept per input size (variants may differ)."""

    paths: list[str]
    labels: np.ndarray
    classes: list[str]
    images: dict

    def at(self, size: tuple[int, int]) -> np.ndarray:
        if size not in self.images:
            self.images[size] = eval_images(self.paths, size, f"loading images at {size[0]}px")
        return self.images[size]


def benchmark_run(run_dir: str | os.PathLike, cfg: BenchmarkConfig | None = None) -> BenchmarkReport:
    """Benchmark the Keras model and every bundle in RUN_DIR/export; write report/."""
    cfg = cfg or BenchmarkConfig()
    run = RunDir(Path(run_dir)).require_model()
    with adding_to(run.report, "report", "report folder", inside_run=run.path,  # before the slow part
                   data=run_data(run.path)):
        return _benchmark(run, cfg)


def _benchmark(run: RunDir, cfg: BenchmarkConfig) -> BenchmarkReport:
    from flower_edge.models.build import load_keras_model

    paths, labels, classes, image_set = _images(run, cfg)
    model = load_keras_model(run.model)
    data = EvalSet(paths, labels, classes, {})
    data.at(model_size(model))
    bundles = run.bundles()
    report = BenchmarkReport(run=str(public_path(run.path)), split=image_set.name if image_set.kind == "split" else
                             Path(image_set.name).name, images=len(paths), image_set=image_set,
                             threads=list(cfg.threads), runs=cfg.runs, warmup=cfg.warmup, rows=[],
                             memory_method=MEMORY_METHOD + "; TFLite: VmHWM growth while loading "
                             "and invoking the bundle (flower_edge.runtime.latency)")
    if not bundles:
        report.notes.append(f"no TFLite bundles in {run.export}: only the Keras float model was "
                            f"benchmarked; run 'flower-edge quantize {run.path}' to add variants")
    if not paths:
        report.notes.append(_no_images_note(run, cfg.split))
    elif len(classes) <= 5:
        report.notes.append(f"with {len(classes)} classes top-5 accuracy is 1.0 by construction")
    probs = {}
    for item in progress([None, *bundles], "benchmark", len(bundles) + 1):
        row, p = _keras_row(run, model, data, cfg) if item is None else _tflite_row(item, data, cfg)
        report.rows.append(row)
        if p is not None:
            probs[row.variant] = p
    _score(report.rows, probs, labels)
    if cfg.explain and paths:  # the checks look at scored photos
        from flower_edge.benchmark.checks import run_checks

        run_checks(run, model, data, report, cfg)
    from flower_edge.benchmark.render import write_report

    for row in report.rows:  # recorded as they will be once a staged run is swapped in
        row.path = str(public_path(row.path))
    write_report(run.report, report)
    return report


def _images(run: RunDir, cfg: BenchmarkConfig):
    """(paths, labels, classes, ImageSet): the run's split, or --eval-data's labelled folder."""
    from flower_edge.benchmark.imageset import describe, labelled_folder
    from flower_edge.data.splits import DataSplits

    if cfg.eval_data:
        classes = run.read_labels()
        paths, labels = labelled_folder(cfg.eval_data, classes, cfg.max_images, cfg.seed)
        return paths, labels, classes, describe("folder", cfg.eval_data, paths, labels, classes, cfg.eval_data)
    paths, labels, classes = split_subset(run, cfg.split, cfg.max_images, cfg.seed)
    root = DataSplits.load(run.split).root
    return paths, labels, classes, describe("split", cfg.split, paths, labels, classes, root)


def _no_images_note(run: RunDir, split: str) -> str:
    """The one line a run with nothing to score on gets (a refit that trained on the split)."""
    import json

    refit = (json.loads(run.metrics.read_text(encoding="utf-8")).get("refit") or {}
             if run.metrics.is_file() else {})
    why = ("the run was refit on every photo, so nothing is held out" if refit.get("mode") == "all"
           else "the refit trained on it" if split in (refit.get("trained_on") or ()) else "it has no photos")
    return (f"no accuracy: the '{split}' split is empty ({why}); accuracy needs --eval-data DIR, "
            f"a labelled folder with the run's classes that it did not train on (in a recipe: "
            f"[benchmark] eval_data)")


def _keras_row(run: RunDir, model, data: EvalSet, cfg: BenchmarkConfig):
    from flower_edge.explain.occlusion import keras_predict

    row = BenchmarkRow(variant=KERAS, kind="keras", path=str(run.model), interpreter="tf_keras",
                       size_mb=run.model.stat().st_size / 1e6,  # decimal MB, as quantize reports
                       gzip_mb=gzip_size(run.model) / 1e6)
    probs = keras_predict(model)(data.at(model_size(model))) if data.paths else None
    try:
        for threads in cfg.threads:
            m = measure_keras(str(run.model), threads, cfg.runs, cfg.warmup)
            row.latency.append(LatencyStat(threads, m["median_ms"], m["p90_ms"]))
            row.load_ms = m["load_ms"] if row.load_ms is None else row.load_ms
            row.peak_memory_mb = max(row.peak_memory_mb or 0.0, m["peak_memory_mb"])
    except FlowerEdgeError as exc:
        row.status, row.error = "failed", one_line(str(exc))
    return row, probs


def _tflite_row(bundle: Path, data: EvalSet, cfg: BenchmarkConfig):
    """One bundle's row; any failure is recorded in the row, never raised."""
    from flower_edge.runtime.latency import measure_latency
    from flower_edge.runtime.predictor import Predictor

    model_file = bundle / "model.tflite"
    row = BenchmarkRow(variant=bundle.name, kind="tflite", path=str(bundle))
    try:
        row.size_mb = model_file.stat().st_size / 1e6  # decimal MB, as quantize reports
        row.gzip_mb = gzip_size(model_file) / 1e6
        predictor = Predictor(bundle)
        row.model_sha256 = predictor.bundle.manifest["files"]["model"]["sha256"]
        row.interpreter = predictor.interpreter_name
        probs = (tflite_probabilities(predictor, data.at(bundle_size(predictor.bundle.manifest)))
                 if data.paths else None)
        for threads in cfg.threads:
            m = measure_latency(bundle, threads=threads, runs=cfg.runs, warmup=cfg.warmup)
            row.latency.append(LatencyStat(threads, m.median_ms, m.p90_ms))
            row.load_ms = m.load_s * 1000 if row.load_ms is None else row.load_ms
            row.peak_memory_mb = max(row.peak_memory_mb or 0.0, m.added_mb)
        return row, probs
    except Exception as exc:  # noqa: BLE001  (a broken variant must not sink the table)
        row.status, row.error = "failed", one_line(f"{type(exc).__name__}: {exc}")
        return row, None


def _score(rows: list[BenchmarkRow], probs: dict, labels: np.ndarray) -> None:
    """Accuracy per row, and agreement / KL against the Keras model."""
    reference = probs.get(KERAS)
    for row in rows:
        p = probs.get(row.variant)
        if p is None:
            continue
        row.top1 = metrics.top_k_accuracy(labels, p, 1)
        row.top5 = metrics.top_k_accuracy(labels, p, 5)
        row.mean_class_accuracy = metrics.mean_class_accuracy(labels, p)
        if reference is not None:
            row.agreement = metrics.agreement(reference, p)
            row.kl_divergence = metrics.mean_kl(reference, p)
