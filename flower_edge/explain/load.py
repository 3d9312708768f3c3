"""Open a run for explanation: its Keras model, labels and ModelSpec."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flower_edge.config import load_toml
from flower_edge.errors import FlowerEdgeError, UsageError
from flower_edge.models import ModelSpec, get_spec
from flower_edge.rundir import RunDir


@dataclass
class LoadedRun:
    run: RunDir
    model: object
    labels: list[str]
    spec: ModelSpec

    @property
    def size(self) -> tuple[int, int]:
        shape = self.model.inputs[0].shape
        return int(shape[1]), int(shape[2])


def run_spec(run: RunDir) -> ModelSpec:
    """The ModelSpec named by the run's config.toml [model] name."""
    if not run.config.is_file():
        raise FlowerEdgeError(f"no config.toml in {run.path}: cannot tell which architecture "
                              f"(and Grad-CAM layer) it is; pass a run written by 'flower-edge train'")
    name = load_toml(run.config).get("model", {}).get("name")
    if not name:
        raise FlowerEdgeError(f"{run.config} has no [model] name; pass a run written by 'flower-edge train'")
    return get_spec(name)


def open_run(path, model=None) -> LoadedRun:
    """Load what the explainers need from a run directory (one-line errors)."""
    from flower_edge.models.build import load_keras_model

    run = RunDir(Path(path)).require_model()
    spec = run_spec(run)
    model = model or load_keras_model(run.model)
    labels = run.read_labels() if run.labels.is_file() else [str(i) for i in range(model.outputs[0].shape[-1])]
    return LoadedRun(run, model, labels, spec)


def resolve_class(value: str | None, labels: list[str]) -> int | None:
    """--class as an index or a label name; None stays None (each image's top class)."""
    if value is None:
        return None
    if value in labels:
        return labels.index(value)
    try:
        index = int(value)
    except ValueError:
        raise UsageError(f"--class '{value}' is neither a class index (0..{len(labels) - 1}) nor "
                         f"a label in labels.txt") from None
    if not 0 <= index < len(labels):
        raise UsageError(f"--class {index} is out of range: the model has {len(labels)} classes "
                         f"(0..{len(labels) - 1})")
    return index
