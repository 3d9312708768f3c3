"""The explanation part of a benchmark: Grad-CAM overlays, the deletion test,
occlusion drift of each TFLite variant, and the misclassification analysis."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from flower_edge.benchmark.rows import BenchmarkReport
from flower_edge.guard import NO_DATA, output_dir  # inside RUN/report, checked
from flower_edge.progress import progress


def run_checks(run, model, data, report: BenchmarkReport, cfg) -> None:
    """Fill the report's explanation fields; writes report/gradcam/ and misclassified.png."""
    from flower_edge.benchmark.misclass import analyse
    from flower_edge.explain.load import open_run
    from flower_edge.explain.occlusion import keras_predict

    loaded = open_run(run.path, model)
    images = data.at(loaded.size)
    predict = keras_predict(model)
    probs = predict(images)
    report.gradcam_images = _overlays(loaded, images, data, probs, run.report / "gradcam", cfg.gradcam_images)
    lime_ok = _lime_available(report, cfg)
    report.deletion = _deletion(loaded, images, cfg, predict, lime_ok)
    if report.deletion.note:
        report.notes.append(f"deletion test: {report.deletion.note}")
    _drift(report, predict, images, probs, data, cfg)
    report.misclassification = analyse(loaded, data, probs, run.report / "misclassified.png", cfg,
                                       predict if lime_ok else None)


def _lime_available(report: BenchmarkReport, cfg) -> bool:
    """LIME runs when its package is installed; otherwise the report says how to get it."""
    from flower_edge.errors import FlowerEdgeError
    from flower_edge.explain.lime import import_lime

    try:
        import_lime()
        return True
    except FlowerEdgeError as err:
        if "lime" in cfg.deletion_methods or cfg.misclassified_examples:
            report.notes.append(f"LIME skipped: {err}")
        return False


def spread_over_classes(labels, count: int) -> list[int]:
    """`count` indices taking each class in turn, so K overlays show K classes, not one."""
    by_class: dict[int, list[int]] = {}
    for index, label in enumerate(labels):
        by_class.setdefault(int(label), []).append(index)
    queues = [by_class[c] for c in sorted(by_class)]
    picks = []
    for rank in range(max((len(q) for q in queues), default=0)):
        picks += [q[rank] for q in queues if rank < len(q)]
    return sorted(picks[:count])


def _overlays(loaded, images, data, probs, out: Path, count: int) -> list[str]:
    from flower_edge.explain.gradcam import gradcam
    from flower_edge.explain.render import overlay, save_grid

    picks = spread_over_classes(data.labels[:len(images)], count)
    if not picks:
        return []
    cams = gradcam(loaded.model, images[picks], loaded.spec.gradcam_layer)
    names = []
    with output_dir(out, "gradcam", "Grad-CAM folder", data=NO_DATA) as tmp:
        for cam, i in zip(cams, picks):
            truth, pred = data.classes[data.labels[i]], data.classes[int(probs[i].argmax())]
            name = f"{i:02d}_{Path(data.paths[i]).stem}.png"
            save_grid(tmp / name, [[(f"true: {truth}", images[i]),
                                    (f"Grad-CAM for: {pred} ({probs[i].max():.2f})", overlay(images[i], cam))]])
            names.append(f"gradcam/{name}")
    return names


def _deletion(loaded, images, cfg, predict, lime_ok: bool, batch: int = 32):
    """Grad-CAM, the other maps of cfg.deletion_methods and random, on the same images."""
    from flower_edge.explain.deletion import deletion_test
    from flower_edge.explain.gradcam import gradcam, keras_scores
    from flower_edge.explain.maps import prediction_maps
    from flower_edge.explain.settings import LimeSettings

    chosen = images[:min(cfg.deletion_images, len(images))]
    cams = np.concatenate([gradcam(loaded.model, chosen[i:i + batch], loaded.spec.gradcam_layer)
                           for i in range(0, len(chosen), batch)])
    score = keras_scores(loaded.model)
    classes = score(chosen).argmax(axis=1) if len(chosen) else np.zeros(0, int)
    settings = LimeSettings(cfg.lime_samples, cfg.lime_segments, cfg.seed)
    others = {m: prediction_maps(m, predict, chosen, classes, settings, f"deletion test: {m}")
              for m in cfg.deletion_methods if lime_ok or m != "lime"}
    return deletion_test(score, chosen, cams, cfg.deletion_fraction, cfg.seed, others=others)


def _drift(report: BenchmarkReport, predict, images, probs, data, cfg) -> None:
    """Occlusion map of each TFLite variant vs the float model's, Spearman over K images."""
    from flower_edge.explain.drift import spearman
    from flower_edge.explain.occlusion import occlusion
    from flower_edge.runtime.predictor import Predictor

    count = min(cfg.drift_images, len(images))
    variants = [r for r in report.rows if r.kind == "tflite" and r.status == "ok"]
    if count == 0 or not variants:
        return
    classes = probs[:count].argmax(axis=1)
    reference = [occlusion(predict, images[i], int(classes[i])) for i in range(count)]
    for row in progress(variants, "explanation drift", len(variants)):
        predictor = Predictor(row.path)
        size = tuple(predictor.image_size)
        if size != images.shape[1:3]:
            report.notes.append(f"{row.variant}: input {size} differs from the Keras model's; no drift")
            continue
        maps = [occlusion(predictor.probabilities, images[i], int(classes[i])) for i in range(count)]
        row.occlusion_spearman = float(np.mean([spearman(a, b) for a, b in zip(reference, maps)]))
