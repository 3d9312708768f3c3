"""The workstation half of an IMX500 conversion: what crosses into the conversion venv.

A tf-keras 2.21 model file does not load in the venv's TF 2.15, so the model crosses
as code plus weights: how to rebuild it (the ModelSpec's `extra["imx500"]` route) and
its weights by layer name, without the preprocessing layers (the converter rejects
`Rescaling`; the camera's ISP does that normalization). Calibration photos are the
same training photos, through the same eval transform, as `quantize --int8` uses.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from flower_edge.errors import UsageError
from flower_edge.models.build import HEAD_LAYERS, PREPROCESS_PREFIX
from flower_edge.models.modelspec import ModelSpec

CHIP_BYTES = 8 * 1024 * 1024  # the IMX500's on-chip memory for weights and activations
ROUTE_KEY = "imx500"
# What the left-out preprocessing did, i.e. what the ISP must apply to 0..255 RGB pixels.
NORMALIZATION = {"tf": {"formula": "x / 127.5 - 1", "range": [-1.0, 1.0]},
                 "unit": {"formula": "x / 255", "range": [0.0, 1.0]}}


def supported_names() -> list[str]:
    from flower_edge.models.registry import list_specs

    return [s.name for s in list_specs() if ROUTE_KEY in s.extra]


def check_route(spec: ModelSpec, params: int) -> str:
    """The spec's rebuild route, or a one-line UsageError saying why it is refused."""
    others = ", ".join(supported_names())
    if params > CHIP_BYTES:
        raise UsageError(f"{spec.name} has {params / 1e6:.1f} M parameters: even at int8 they do not fit "
                         f"the IMX500's 8 MB on-chip memory; train one of: {others}")
    if ROUTE_KEY not in spec.extra or spec.preprocessing not in NORMALIZATION:
        raise UsageError(f"{spec.name} has no IMX500 route (its layers are not checked against Sony's "
                         f"converter); train one of: {others}")
    return spec.extra[ROUTE_KEY]


def architecture(spec: ModelSpec, size: int, num_classes: int) -> dict:
    return {"name": spec.name, "rebuild": spec.extra[ROUTE_KEY], "keras_app": spec.keras_app,
            "app_kwargs": dict(spec.app_kwargs), "image_size": size, "num_classes": num_classes,
            "preprocessing": spec.preprocessing}


def layer_weights(model) -> dict[str, np.ndarray]:
    """Every weighted layer's arrays as "<layer>/<index>", preprocessing layers left out."""
    out = {}
    for layer in model.layers:
        if layer.name.startswith(PREPROCESS_PREFIX) or layer.name == HEAD_LAYERS[1]:
            continue
        for i, value in enumerate(layer.get_weights()):
            out[f"{layer.name}/{i}"] = np.asarray(value)
    return out


def write_job(folder: Path, model, arch: dict, calib: np.ndarray, options: dict, labels: list[str],
              eval_dir: str | None, convert: bool = True) -> Path:
    """The job folder venv_convert.py reads; returns job.json."""
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / "weights.npz", **layer_weights(model))
    np.save(folder / "calib.npy", calib)
    reference = model.predict(calib.astype(np.float32), batch_size=32, verbose=0)
    np.save(folder / "reference.npy", reference.astype(np.float32))
    package_root = str(Path(__file__).resolve().parents[2])  # for flower_edge.runtime.transforms only
    job = {"architecture": arch, "options": options, "labels": labels, "eval_dir": eval_dir,
           "out": str(folder / "out"), "package_root": package_root, "convert": convert}
    path = folder / "job.json"
    path.write_text(json.dumps(job, indent=2), encoding="utf-8")
    return path


def count_params(model) -> int:
    return int(sum(int(np.prod(w.shape)) for w in model.weights))

