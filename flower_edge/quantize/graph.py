"""A flat tf_keras model's layer graph, and float rewrites made before conversion or QAT:
in-place weight edits (bias correction) and BatchNorm folding."""

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


def weight_name(var) -> str:
    """A variable's own name, without its layer scope and ":0" ("moving_mean", "kernel_min")."""
    return var.name.split("/")[-1].split(":")[0]


def add_to_weight(layer, weight: str, delta: np.ndarray) -> None:
    """layer.<weight> += delta (by variable name: gamma/beta/moving_mean/kernel/bias)."""
    for var in layer.weights:
        if weight_name(var) == weight:
            var.assign(var.numpy() + delta.astype(var.dtype.as_numpy_dtype))
            return
    raise ValueError(f"{layer.name} has no weight '{weight}'")


FOLDABLE = ("Conv2D", "DepthwiseConv2D")


def fold_batchnorm(model):
    """(a copy of `model` with every BatchNormalization that alone follows a linear Conv2D or
    DepthwiseConv2D folded into that conv's kernel and bias, how many were folded).

    Why: the TFLite converter folds each BN into its conv's kernel before quantizing it. tfmot
    fake-quantizes the kernel *before* the BN, so a QAT model trains another kernel than the one
    shipped, and the converter cannot fold the BN any more (an int8 MUL and ADD per BN). With
    the BN in inference mode, as QAT keeps it, folding first changes no float output.
    """
    from flower_edge.tfcompat import keras

    graph = layer_graph(model)
    folds = {}  # BN name -> conv name
    for name, layer in graph.layers.items():
        src = graph.inputs[name]
        if graph.classes[name] != "BatchNormalization" or not src or len(src) != 1:
            continue
        conv = src[0]
        if (graph.classes[conv] in FOLDABLE and graph.consumers[conv] == [name]
                and graph.layers[conv].get_config().get("activation") == "linear"
                and normalizes_last_axis(layer)):
            folds[name] = conv
    if not folds:
        return model, 0
    config = model.get_config()
    rewire = lambda ref: [folds.get(ref[0], ref[0]), *ref[1:]]  # noqa: E731
    layers = []
    for entry in config["layers"]:
        if entry["name"] in folds:
            continue
        if entry["name"] in folds.values():
            entry["config"]["use_bias"] = True
        entry["inbound_nodes"] = [[rewire(ref) for ref in node] for node in entry["inbound_nodes"]]
        layers.append(entry)
    config["layers"] = layers
    config["output_layers"] = [rewire(ref) for ref in config["output_layers"]]
    folded = keras().Model.from_config(config)
    convs = {conv: bn for bn, conv in folds.items()}
    for layer in folded.layers:
        weights = graph.layers[layer.name].get_weights()
        if layer.name in convs:
            weights = _folded(graph.layers[layer.name], graph.layers[convs[layer.name]])
        layer.set_weights(weights)
    return folded, len(folds)


def _folded(conv, bn) -> list[np.ndarray]:
    """[kernel, bias] of conv followed by bn (inference mode), as one conv."""
    values = {weight_name(v): v.numpy() for v in bn.weights}
    mean, var = values["moving_mean"], values["moving_variance"]
    gamma = values.get("gamma", np.ones_like(mean))
    beta = values.get("beta", np.zeros_like(mean))
    scale = gamma / np.sqrt(var + bn.epsilon)
    weights = conv.get_weights()
    kernel = weights[0]
    bias = weights[1] if conv.use_bias else np.zeros_like(mean)
    if type(conv).__name__ == "DepthwiseConv2D":  # (kh, kw, C, M): output channel c*M + m
        kernel = kernel * scale.reshape(1, 1, kernel.shape[2], kernel.shape[3])
    else:
        kernel = kernel * scale
    return [kernel.astype(np.float32), ((bias - mean) * scale + beta).astype(np.float32)]
