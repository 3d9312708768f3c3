"""`flower-edge explain`: explanation pictures for given images, one PNG per image."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from flower_edge.data.transforms import load_for_model
from flower_edge.errors import UsageError
from flower_edge.rundir import RunDir

METHODS = ("gradcam", "saliency", "activation-max", "occlusion")
GRADIENT_METHODS = ("gradcam", "saliency", "activation-max")


def explain(run_dir: str | os.PathLike, images: list[str], method: str, class_value: str | None = None,
            out: str | os.PathLike | None = None, bundle: str | None = None) -> list[str]:
    """Write explanation PNGs for `images`; returns their paths."""
    if method not in METHODS:
        raise UsageError(f"unknown --method '{method}' (choose one of {', '.join(METHODS)})")
    if bundle is not None and method != "occlusion":
        raise UsageError(f"--method {method} needs gradients, which a .tflite bundle has not; "
                         f"use --method occlusion with --bundle, or drop --bundle")
    if not images and method != "activation-max":
        raise UsageError(f"pass at least one IMAGE to explain with --method {method}")
    run = RunDir(Path(run_dir))
    suffix = f"-{Path(bundle).name}" if bundle else ""
    folder = Path(out) if out else run.report / "explain" / f"{method}{suffix}"
    if bundle is not None:
        return _bundle_occlusion(run, images, class_value, folder, bundle)
    from flower_edge.explain.load import open_run, resolve_class

    loaded = open_run(run.path)
    cls = resolve_class(class_value, loaded.labels)
    pictures = np.stack([load_for_model(p, loaded.size) for p in images]) if images else None
    if method == "activation-max":
        return _activation_max(loaded, pictures, cls, folder)
    return _per_image(loaded, images, pictures, cls, method, folder)


def _per_image(loaded, paths, pictures, cls, method, folder: Path) -> list[str]:
    from flower_edge.explain.gradcam import gradcam
    from flower_edge.explain.occlusion import for_display, keras_predict, occlusion
    from flower_edge.explain.render import overlay, save_grid
    from flower_edge.explain.saliency import saliency

    predict = keras_predict(loaded.model)
    probs = predict(pictures)
    classes = probs.argmax(axis=1) if cls is None else np.full(len(pictures), cls)
    if method == "gradcam":
        maps = gradcam(loaded.model, pictures, loaded.spec.gradcam_layer, classes)
    elif method == "saliency":
        maps = saliency(loaded.model, pictures, classes)
    else:
        maps = np.stack([for_display(occlusion(predict, img, int(c))) for img, c in zip(pictures, classes)])
    written = []
    for path, img, heat, c, p in zip(paths, pictures, maps, classes, probs):
        title = f"{method} for '{loaded.labels[c]}' (p={p[c]:.2f}; top: {loaded.labels[p.argmax()]})"
        panels = [("input", img), (method, heat), ("overlay", overlay(img, heat))]
        written.append(save_grid(folder / f"{Path(path).stem}_{method}.png", [panels], title))
    return written


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


def _bundle_occlusion(run: RunDir, paths, class_value, folder: Path, bundle: str) -> list[str]:
    """Occlusion on a .tflite bundle through the TF-free runtime."""
    from flower_edge.explain.load import resolve_class
    from flower_edge.explain.occlusion import for_display, occlusion
    from flower_edge.explain.render import overlay, save_grid
    from flower_edge.runtime.predictor import Predictor

    location = Path(bundle) if Path(bundle).is_dir() else run.bundle(bundle)
    predictor = Predictor(location)
    cls = resolve_class(class_value, predictor.labels)
    pictures = np.stack([load_for_model(p, predictor.image_size) for p in paths])
    probs = predictor.probabilities(pictures)
    written = []
    for path, img, p in zip(paths, pictures, probs):
        c = int(p.argmax()) if cls is None else cls
        heat = for_display(occlusion(predictor.probabilities, img, c))
        title = f"occlusion on {location.name} for '{predictor.labels[c]}' (p={p[c]:.2f})"
        panels = [("input", img), ("occlusion", heat), ("overlay", overlay(img, heat))]
        written.append(save_grid(folder / f"{Path(path).stem}_occlusion.png", [panels], title))
    return written
