"""The end of a run: best weights, a clean float32 model.keras, metrics and plots."""

from __future__ import annotations

import os
import sys
import tempfile

import numpy as np

from flower_edge.data.splits import DataSplits
from flower_edge.io import atomic_write_json
from flower_edge.metrics import classification_metrics
from flower_edge.models import get_spec
from flower_edge.rundir import RunDir
from flower_edge.train import checkpoint
from flower_edge.train.config import RunConfig

GRID = 16


def finish_run(cfg: RunConfig, run: RunDir, splits: DataSplits, model, state: dict) -> dict:
    """Save model.keras, evaluate val and test, write metrics.json and the PNGs."""
    from flower_edge.train import plots

    # With SWA the run ends on its weight average (set by the trainer), not one epoch's weights.
    if cfg.train.restore_best and not cfg.train.swa_epochs and (run.checkpoints / "best").is_dir():
        checkpoint.load_weights(run, "best", model)
    model = clean_copy(cfg, model, len(splits.classes))
    save_model(model, run)
    metrics = {"model": cfg.model.name, "image_size": cfg.model.image_size,
               "classes": list(splits.classes), "epochs_run": _epochs(state),
               "best_epoch": (state.get("best") or {}).get("epoch")}
    probs = {}
    for name in ("val", "test"):
        split = splits.split(name)
        probs[name] = predict(model, split.paths, cfg)
        metrics[name] = classification_metrics(split.labels, probs[name], splits.classes)
    atomic_write_json(run.metrics, metrics)
    history = checkpoint.read_history(run)
    first2 = next((int(r["epoch"]) for r in history if int(r["phase"]) == 2), None)
    plots.plot_curves(history, run.path / "curves.png", first2)
    shown = "test" if len(splits.test) else "val"
    plots.plot_confusion(metrics[shown]["confusion_matrix"], splits.classes,
                         run.path / "confusion.png", f"confusion ({shown})")
    _prediction_grid(splits.split(shown), probs[shown], splits.classes, cfg, run)
    if state:
        atomic_write_json(run.checkpoints / checkpoint.STATE, {**state, "done": True})
    _summary(run, metrics)
    return metrics


def clean_copy(cfg: RunConfig, model, num_classes: int):
    """The network as later stages (quantization, QAT) expect it: float32, every layer
    trainable. Under mixed precision it is rebuilt and the weights copied by layer name."""
    from flower_edge.models.build import PREPROCESS_PREFIX, build_model

    if cfg.train.precision == "float32":
        for layer in model.layers:
            layer.trainable = not layer.name.startswith(PREPROCESS_PREFIX)
        return model
    fresh = build_model(get_spec(cfg.model.name), num_classes, cfg.model.image_size, "none",
                        cfg.model.dropout)
    source = {layer.name: layer for layer in model.layers}
    for layer in fresh.layers:
        if layer.weights:
            layer.set_weights(source[layer.name].get_weights())
    return fresh


def save_model(model, run: RunDir) -> None:
    """model.keras via a temp file in the same folder, then rename."""
    from flower_edge.io import ordinary_mode

    fd, tmp = tempfile.mkstemp(prefix=".model.", suffix=".keras", dir=run.path)
    os.fchmod(fd, ordinary_mode())  # mkstemp's 0600 would stay: model.save rewrites the file
    os.close(fd)
    try:
        model.save(tmp)
        os.replace(tmp, run.model)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def predict(model, paths, cfg: RunConfig) -> np.ndarray:
    """Softmax outputs for `paths`, in order, through the eval pipeline."""
    from flower_edge.data.pipeline import make_dataset

    n_out = model.output_shape[-1]
    if not len(paths):
        return np.zeros((0, n_out), dtype=np.float32)
    ds = make_dataset(list(paths), [0] * len(paths), image_size=cfg.model.image_size,
                      batch_size=cfg.data.batch_size, training=False, num_classes=n_out,
                      cache=False)
    probs = model.predict(ds.map(lambda x, y: x), verbose=0)
    if len(probs) != len(paths):
        from flower_edge.errors import DataError

        raise DataError(f"{len(paths) - len(probs)} image(s) failed to decode during evaluation; "
                        f"run `flower-edge data inspect` and remove them")
    return probs


def _prediction_grid(split, probs, classes, cfg: RunConfig, run: RunDir) -> None:
    from flower_edge.data.pipeline import eval_images
    from flower_edge.train.plots import plot_predictions

    rng = np.random.default_rng(cfg.data.seed)
    idx = np.sort(rng.choice(len(split), size=min(GRID, len(split)), replace=False))
    images = eval_images([split.paths[i] for i in idx], cfg.model.image_size)
    plot_predictions(images, [split.labels[i] for i in idx], probs[idx], classes,
                     run.path / "predictions.png")


def _epochs(state: dict) -> int:
    return int(state["epoch"]) + 1 if state and "epoch" in state else 0


def _summary(run: RunDir, metrics: dict) -> None:
    parts = [f"{name} top-1 {metrics[name]['top1']:.3f} mean-per-class "
             f"{metrics[name]['mean_per_class_accuracy']:.3f}"
             for name in ("val", "test") if metrics[name]["samples"]]
    from flower_edge.guard import public_path

    print(f"run saved to {public_path(run.path)}: " + ("; ".join(parts) or "no val or test photos to score on"),
          file=sys.stderr)
