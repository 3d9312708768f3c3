"""`flower-edge explain`: explanation pictures for given images, one PNG per image."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from flower_edge.errors import UsageError
from flower_edge.explain.lime import import_lime
from flower_edge.explain.settings import METHODS, PREDICTION_MAPS, LimeSettings
from flower_edge.rundir import RunDir
from flower_edge.runtime.transforms import load_for_model


def explain(run_dir: str | os.PathLike, images: list[str], method: str, class_value: str | None = None,
            out: str | os.PathLike | None = None, variant: str | None = None,
            lime_settings: LimeSettings = LimeSettings()) -> list[str]:
    """Write explanation PNGs for `images`; returns their paths."""
    if method not in METHODS:
        raise UsageError(f"unknown --method '{method}' (choose one of {', '.join(METHODS)})")
    if variant is not None and method not in PREDICTION_MAPS:
        raise UsageError(f"--method {method} needs gradients, which a .tflite variant has not; "
                         f"use --method occlusion or lime with --variant, or drop --variant")
    if method == "lime":
        import_lime()  # a missing package is one line before any model is loaded
    if not images and method != "activation-max":
        raise UsageError(f"pass at least one PHOTO_OR_DIR to explain with --method {method}")
    run = RunDir(Path(run_dir))
    suffix = f"-{variant}" if variant else ""
    folder = Path(out) if out else run.report / "explain" / f"{method}{suffix}"
    if variant is not None:
        return _bundle(run, images, class_value, folder, variant, method, lime_settings)
    from flower_edge.explain.load import open_run, resolve_class

    loaded = open_run(run.path)
    cls = resolve_class(class_value, loaded.labels)
    pictures = np.stack([load_for_model(p, loaded.size) for p in images]) if images else None
    if method == "activation-max":
        return _activation_max(loaded, pictures, cls, folder)
    if method in PREDICTION_MAPS:
        from flower_edge.explain.occlusion import keras_predict

        return _by_prediction(keras_predict(loaded.model), loaded.labels, images, pictures, cls, folder,
                              method, lime_settings, "")
    return _per_image(loaded, images, pictures, cls, method, folder)


def _per_image(loaded, paths, pictures, cls, method, folder: Path) -> list[str]:
    from flower_edge.explain.gradcam import gradcam
    from flower_edge.explain.occlusion import keras_predict
    from flower_edge.explain.render import overlay, save_grid
    from flower_edge.explain.saliency import saliency

    probs = keras_predict(loaded.model)(pictures)
    classes = probs.argmax(axis=1) if cls is None else np.full(len(pictures), cls)
    if method == "gradcam":
        maps = gradcam(loaded.model, pictures, loaded.spec.gradcam_layer, classes)
    else:
        maps = saliency(loaded.model, pictures, classes)
    written = []
    for path, img, heat, c, p in zip(paths, pictures, maps, classes, probs):
        title = f"{method} for '{loaded.labels[c]}' (p={p[c]:.2f}; top: {loaded.labels[p.argmax()]})"
        panels = [("input", img), (method, heat), ("overlay", overlay(img, heat))]
        written.append(save_grid(folder / f"{Path(path).stem}_{method}.png", [panels], title))
    return written


def _by_prediction(predict, labels, paths, pictures, cls, folder: Path, method: str,
                   settings: LimeSettings, source: str) -> list[str]:
    """Occlusion or LIME pictures from a predict function (Keras or a bundle), one bar for all."""
    from flower_edge.explain.render import save_grid
    from flower_edge.progress import bar

    probs = predict(pictures)
    per_image = settings.samples if method == "lime" else 1
    written = []
    with bar(len(pictures) * per_image, f"{method} ({len(pictures)} images)") as progress:
        for path, img, p in zip(paths, pictures, probs):
            c = int(p.argmax()) if cls is None else cls
            panels = _prediction_panels(method, predict, img, c, settings, progress.update)
            if method != "lime":
                progress.update(1)
            title = f"{method}{source} for '{labels[c]}' (p={p[c]:.2f}; top: {labels[int(p.argmax())]})"
            written.append(save_grid(folder / f"{Path(path).stem}_{method}.png", [[("input", img), *panels]],
                                     title))
    return written


def _prediction_panels(method: str, predict, img, c: int, settings: LimeSettings, on_batch):
    """(caption, picture) panels of one occlusion or LIME explanation."""
    from flower_edge.explain import lime, occlusion
    from flower_edge.explain.render import outline, overlay

    if method == "occlusion":
        heat = occlusion.for_display(occlusion.occlusion(predict, img, c))
        return [("occlusion", heat), ("overlay", overlay(img, heat))]
    found = lime.lime(predict, img, c, settings.samples, settings.segments, settings.seed, on_batch=on_batch)
    heat = lime.for_display(found)
    return [("LIME weight (positive)", heat), ("overlay", overlay(img, heat)),
            (f"top {lime.TOP_SEGMENTS} superpixels", outline(img, found.mask()))]


def _activation_max(loaded, pictures, cls, folder: Path) -> list[str]:
    from flower_edge.explain.occlusion import keras_predict
    from flower_edge.explain.render import save_grid
    from flower_edge.explain.saliency import activation_max

    if cls is not None:
        classes = [cls]
    elif pictures is not None:
        classes = sorted({int(c) for c in keras_predict(loaded.model)(pictures).argmax(axis=1)})
    else:
        raise UsageError("--method activation-max needs --class C (or images whose top class to use)")
    written = []
    for c in classes:
        picture = activation_max(loaded.model, c)
        name = loaded.labels[c].replace("/", "_").replace(" ", "_")
        written.append(save_grid(folder / f"class_{c:03d}_{name}_activation-max.png",
                                 [[(f"maximises '{loaded.labels[c]}'", picture)]],
                                 "activation maximisation", cell=3.5))
    return written


def _bundle(run: RunDir, paths, class_value, folder: Path, variant: str, method: str,
            settings: LimeSettings) -> list[str]:
    """Occlusion or LIME on a run's .tflite variant through the TF-free runtime."""
    from flower_edge.explain.load import resolve_class
    from flower_edge.runtime.predictor import Predictor

    location = run.bundle(variant)
    if location not in run.bundles():
        names = ", ".join(p.name for p in run.bundles()) or "none yet"
        raise UsageError(f"--variant {variant}: {run.path} has no such exported variant (it has: {names}); "
                         f"export it with 'flower-edge quantize {run.path}'")
    predictor = Predictor(location)
    cls = resolve_class(class_value, predictor.labels)
    pictures = np.stack([load_for_model(p, predictor.image_size) for p in paths])
    return _by_prediction(predictor.probabilities, predictor.labels, paths, pictures, cls, folder, method,
                          settings, f" on {location.name}")
