"""A flat tf_keras model's layer graph, and in-place weight edits, for float rewrites
made before conversion (bias correction)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class LayerGraph:
    layers: dict      # name -> layer
    classes: dict     # name -> class name
    inputs: dict      # name -> [input layer names] (None: a form we do not parse)
    consumers: dict   # name -> [consumer layer names]


def layer_graph(model) -> LayerGraph:
    """The layer graph of a flat tf_keras model, read from its config (never by layer name)."""
    layers = {layer.name: layer for layer in model.layers}
    classes, inputs = {}, {}
    consumers: dict = {name: [] for name in layers}
    for entry in model.get_config()["layers"]:
        name = entry["name"]
        classes[name] = entry["class_name"]
        nodes = entry.get("inbound_nodes") or []
        try:
            if len(nodes) > 1:
                raise TypeError("shared layer")
            names = [str(item[0]) for item in nodes[0]] if nodes else []
        except (TypeError, IndexError, KeyError):
            names = None  # shared layer or an op-lambda call: treat as opaque
        inputs[name] = names
        for src in names or []:
            consumers.setdefault(src, []).append(name)
    for name, names in inputs.items():
        if names is None:  # an opaque consumer of unknown inputs blocks everything feeding it
            for layer in layers:
                consumers[layer].append(name)
    return LayerGraph(layers, classes, inputs, consumers)


def normalizes_last_axis(bn) -> bool:
    """True when a BatchNormalization works per channel on the last axis."""
    axis = bn.axis if isinstance(bn.axis, int) else (bn.axis[0] if len(bn.axis) == 1 else None)
    return axis in (-1, len(bn.input_shape) - 1)


def add_to_weight(layer, weight: str, delta: np.ndarray) -> None:
    """layer.<weight> += delta (by variable name: gamma/beta/moving_mean/kernel/bias)."""
    for var in layer.weights:
        if var.name.split("/")[-1].split(":")[0] == weight:
            var.assign(var.numpy() + delta.astype(var.dtype.as_numpy_dtype))
            return
    raise ValueError(f"{layer.name} has no weight '{weight}'")
