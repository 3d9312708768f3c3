"""`flower-edge benchmark RUN_OR_BUNDLE` as a library call: a run's every variant (with
TensorFlow), or one bundle (TF-free, so it runs on the Pi). The command only prints.

A bundle (a bundle folder or a bare .tflite with TFLite metadata) is told from a run by
its `.flower-edge` marker (guard.run_or_bundle). Scored on `--eval-data DIR`, a bundle's
result carries the same ImageSet as a run's benchmark.json, so `compare` can set it beside
runs scored on the same photos.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from flower_edge.benchmark.config import BenchmarkConfig
from flower_edge.benchmark.rows import BenchmarkRow, ImageSet
from flower_edge.errors import UsageError

SCORE_BATCH = 32  # photos decoded and invoked per chunk: bounded memory on a Pi


@dataclass
class BundleReport:
    """One bundle: its row (size, latency, memory; accuracy when scored), and more."""

    row: BenchmarkRow
    threads: list[int]
    clients: dict | None = None  # where the bundle is known to run (its manifest's)
    image_set: ImageSet | None = None  # the photos it was scored on (--eval-data)
    images: list = field(default_factory=list)  # runtime.throughput.ImagesTiming per thread count

    def to_json(self) -> dict:
        """The row's fields at the top (what `compare --latency FILE.json` reads), plus more."""
        out = {**asdict(self.row), "threads": self.threads, "clients": self.clients,
               "image_set": asdict(self.image_set) if self.image_set else None}
        return {**out, **({"images": [t.to_dict() for t in self.images]} if self.images else {})}

    def as_benchmark(self) -> dict:
        """The shape of a run's report/benchmark.json, for `compare`."""
        return {"image_set": asdict(self.image_set) if self.image_set else None, "threads": self.threads,
                "rows": [asdict(self.row)]}


def load_config(recipe: str | os.PathLike | None, **flags) -> BenchmarkConfig:
    """The recipe (or the defaults) with the given flags over it (None = not given)."""
    from flower_edge.config import from_mapping, load_toml, override

    cfg = from_mapping(BenchmarkConfig, load_toml(recipe)) if recipe else BenchmarkConfig()
    return override(cfg, **flags)


def check_flags(kind: str, *, split=None, eval_data=None, explain=None, images=None,
                decode_threads=None) -> None:
    """Flags that do not apply to a run or a bundle: one line naming the fix (exit 2)."""
    if split is not None and eval_data is not None:
        raise UsageError("--split scores the run's own split, --eval-data a folder: pass one of them")
    if decode_threads is not None and images is None:
        raise UsageError("--decode-threads sets the decode threads of --photos; add --photos PHOTO_OR_DIR")
    if kind == "run" and images is not None:
        raise UsageError("--photos times a bundle on photos: pass a BUNDLE (e.g. RUN/export/int8), not a run")
    if kind == "bundle" and split is not None:
        raise UsageError("--split scores a run's own split; a bundle has none: score it with --eval-data DIR")
    if kind == "bundle" and explain is not None:
        raise UsageError("--explain/--no-explain apply to a run (they need its Keras model); drop it for a bundle")


def score_bundle(predictor, folder: str | os.PathLike, max_images: int = 0,
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray, ImageSet]:
    """(probabilities, labels, ImageSet) of a bundle on a labelled folder whose class
    folders are its labels; decoded as `benchmark RUN --eval-data` decodes, chunk by chunk."""
    from flower_edge.benchmark.imageset import describe, labelled_folder
    from flower_edge.progress import progress

    classes = list(predictor.labels)
    paths, labels = labelled_folder(folder, classes, max_images, seed)
    chunks = [paths[i:i + SCORE_BATCH] for i in range(0, len(paths), SCORE_BATCH)]
    probs = [predictor.probabilities(np.stack([predictor.preprocess(p) for p in chunk]))
             for chunk in progress(chunks, f"scoring on {len(paths)} photos", length=len(chunks))]
    image_set = describe("folder", str(folder), paths, labels, classes, folder)
    return np.concatenate(probs).astype(np.float32), labels, image_set


def benchmark_bundle(bundle: str | os.PathLike, cfg: BenchmarkConfig, images: str | os.PathLike | None = None,
                     decode_threads: int | None = None) -> BundleReport:
    """Size, latency and memory of one bundle; top-1 on cfg.eval_data when given; decode +
    inference and images/s on the photos of `images` when given. TF-free."""
    from flower_edge import metrics
    from flower_edge.benchmark.bundle import bench_bundle, bench_images, image_paths
    from flower_edge.runtime.bundle import load_bundle
    from flower_edge.runtime.predictor import Predictor

    paths = image_paths(images, cfg.max_images) if images else None  # a bad folder fails now
    row = bench_bundle(bundle, cfg.threads, cfg.runs, cfg.warmup)
    report = BundleReport(row=row, threads=list(cfg.threads),
                          clients=load_bundle(bundle, verify=False).manifest.get("clients"))
    if cfg.eval_data:
        probs, labels, report.image_set = score_bundle(Predictor(bundle), cfg.eval_data, cfg.max_images,
                                                       cfg.seed)
        row.top1 = metrics.top_k_accuracy(labels, probs, 1)
        row.top5 = metrics.top_k_accuracy(labels, probs, 5)
        row.mean_class_accuracy = metrics.mean_class_accuracy(labels, probs)
    if paths:
        report.images = bench_images(bundle, paths, cfg.threads, decode_threads)
    return report


def render_bundle(report: BundleReport, bundle: str | os.PathLike) -> str:
    """The latency table, accuracy when scored, where it runs, and the photo timings."""
    from flower_edge.benchmark.bundle import clients_line, latency_table
    from flower_edge.runtime.throughput import images_table

    lines = [latency_table([report.row], tuple(report.threads))]
    if report.image_set is not None:
        row, s = report.row, report.image_set
        lines.append(f"top-1 {row.top1:.1%}, top-5 {row.top5:.1%}, mean class accuracy "
                     f"{row.mean_class_accuracy:.1%} on {s.images} photos of {s.name}")
    lines.append(clients_line(bundle))
    if report.images:
        lines.append(f"\n{images_table(report.images)}")
    return "\n".join(lines)


def render_run(report) -> str:
    """A run's table, its notes, the Grad-CAM deletion verdict and where the report is."""
    from flower_edge.benchmark.render import table

    lines = [table(report.rows, report.threads, any(r.occlusion_spearman is not None for r in report.rows))]
    lines += [f"note: {note}" for note in report.notes]
    if report.deletion is not None:
        d = report.deletion
        lines.append(f"Grad-CAM deletion test {'PASSED' if d.passed else 'FAILED'}: drop {d.gradcam_drop:.4f} "
                     f"vs random {d.random_drop:.4f} over {d.images} images")
        if len(d.methods) > 2:
            from flower_edge.explain.tables import verdict

            lines.append(verdict(asdict(d)).replace("**", ""))
    lines.append(f"report: {Path(report.run) / 'report' / 'benchmark.md'}")
    return "\n".join(lines)


def benchmark(target: str | os.PathLike, recipe: str | os.PathLike | None = None, *, images=None,
              decode_threads: int | None = None, **flags) -> tuple[str, object]:
    """(kind, report) for RUN_OR_BUNDLE: ("run", BenchmarkReport) or ("bundle", BundleReport).
    `flags` are BenchmarkConfig keys given on the command line (None = not given)."""
    from flower_edge.guard import run_or_bundle

    kind = run_or_bundle(target)
    check_flags(kind, split=flags.get("split"), eval_data=flags.get("eval_data"),
                explain=flags.get("explain"), images=images, decode_threads=decode_threads)
    cfg = load_config(recipe, **flags)
    if kind == "bundle":
        return kind, benchmark_bundle(target, cfg, images, decode_threads)
    from flower_edge.benchmark.run import benchmark_run  # TensorFlow: a run's Keras model

    return kind, benchmark_run(target, cfg)
