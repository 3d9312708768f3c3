"""Mean-centre the linear (no-activation) streams of a tf_keras model before int8 conversion.

Why: a network whose BatchNorm was folded into its convolutions (pass-through BN,
beta = bias) carries large constant per-channel offsets in its linear bottleneck and
residual tensors (MobileNetV2 pretrained: offsets up to +-23, range -32..35, with a
small signal on top). TFLite gives each activation tensor ONE int8 scale, so the
offsets set the scale and the signal is rounded away, block after block.

The rewrite is exact in float (bias absorption, Nagel et al., "Data-Free Quantization",
2019): every BatchNormalization whose output is linear and only feeds Add layers and
"absorbing" consumers gets its per-channel mean C subtracted from beta. Add outputs then
shift by the sum of their inputs' C. Each absorbing consumer puts W^T C back:
1x1 Conv2D / Dense add it to their bias, or, without a bias, through the BatchNorm that
follows (BN(x - D) with moving_mean - D equals BN(x)). GlobalAveragePooling and Dropout
pass a constant shift through. Anything else (a k>1 conv with zero padding, ReLU, a
concat, ...) cannot absorb a shift exactly, so the whole residual group it touches is
left alone. The graph is walked from the model config, never by layer name.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

TRANSPARENT = ("GlobalAveragePooling2D", "GlobalAveragePooling1D", "Dropout")


@dataclass(frozen=True)
class CenteringReport:
    """What `center_linear_streams` changed and the stream ranges it measured."""

    centered: tuple[str, ...]          # BatchNorm layers whose beta was shifted
    streams: tuple[str, ...]           # every shifted tensor (BN and Add outputs)
    skipped: tuple[str, ...] = ()      # linear BNs left alone (a consumer cannot absorb a shift)
    range_before: float = 0.0          # widest (max - min) over the stream tensors
    range_after: float = 0.0
    per_tensor: dict = field(default_factory=dict)  # name -> (range before, range after)

    def to_dict(self) -> dict:
        return {"centered": len(self.centered), "skipped": list(self.skipped),
                "range_before": round(self.range_before, 4), "range_after": round(self.range_after, 4)}


@dataclass
class _Graph:
    layers: dict      # name -> layer
    classes: dict     # name -> class name
    inputs: dict      # name -> [input layer names] (None: a form we do not parse)
    consumers: dict   # name -> [consumer layer names]


def _graph(model) -> _Graph:
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
    return _Graph(layers, classes, inputs, consumers)


def _absorber(g: _Graph, name: str) -> tuple | None:
    """(layer, 'bias' | BN layer) that puts a constant input shift back, or None."""
    layer, cls = g.layers[name], g.classes[name]
    if cls == "Conv2D":
        if tuple(layer.kernel_size) != (1, 1) or getattr(layer, "groups", 1) != 1:
            return None
    elif cls != "Dense":
        return None
    if len(g.inputs.get(name) or []) != 1:
        return None
    if layer.use_bias:
        return layer, "bias"
    nxt = g.consumers.get(name, [])
    if len(nxt) == 1 and g.classes.get(nxt[0]) == "BatchNormalization" and _last_axis(g.layers[nxt[0]]):
        return layer, g.layers[nxt[0]]
    return None


def _absorbers(g: _Graph, name: str, depth: int = 0) -> list | None:
    """All absorbers reached from tensor `name` through transparent layers; None if any cannot."""
    found = []
    for consumer in g.consumers.get(name, []):
        if g.classes.get(consumer) in TRANSPARENT and depth < 4:
            sub = _absorbers(g, consumer, depth + 1)
            if sub is None:
                return None
            found += sub
        elif g.classes.get(consumer) != "Add":
            hit = _absorber(g, consumer)
            if hit is None:
                return None
            found.append(hit)
    return found


def _last_axis(bn) -> bool:
    axis = bn.axis if isinstance(bn.axis, int) else (bn.axis[0] if len(bn.axis) == 1 else None)
    return axis in (-1, len(bn.input_shape) - 1)


def _stream_groups(g: _Graph) -> tuple[list[list[str]], list[str]]:
    """Groups of linear tensors tied by Add layers, and the linear BNs that must be skipped."""
    linear = {n for n, c in g.classes.items()
              if c == "BatchNormalization" and _last_axis(g.layers[n]) and g.layers[n].center
              and g.inputs.get(n) is not None}
    stream = set(linear)
    for name, cls in g.classes.items():  # config order is topological
        if cls == "Add" and g.inputs.get(name) and all(i in stream for i in g.inputs[name]):
            stream.add(name)
    parent = {n: n for n in stream}

    def find(n):
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    for name in stream:
        if g.classes[name] == "Add":
            for src in g.inputs[name]:
                parent[find(src)] = find(name)
    groups: dict = {}
    for name in stream:
        groups.setdefault(find(name), []).append(name)
    kept, skipped = [], []
    for members in groups.values():
        ok = all(_absorbers(g, n) is not None
                 and all(c in stream for c in g.consumers.get(n, []) if g.classes.get(c) == "Add")
                 for n in members)
        has_add = any(g.classes[n] == "Add" for n in members)
        if ok:
            kept.append(members)
        elif has_add or any(_feeds_only_linear(g, n) for n in members):
            skipped += [n for n in members if n in linear]
    return kept, sorted(skipped)


def _feeds_only_linear(g: _Graph, name: str) -> bool:
    """A BN with no activation after it (worth reporting when it cannot be centred)."""
    return all(g.classes.get(c) not in ("ReLU", "Activation") for c in g.consumers.get(name, []))


def _channel_stats(model, names: list[str], images: np.ndarray, batch_size: int):
    """Per-channel mean, min and max of each named layer's output over `images`."""
    from flower_edge.tfcompat import keras

    probe = keras().Model(model.inputs, [model.get_layer(n).output for n in names])
    total, lo, hi = {}, {}, {}
    for start in range(0, len(images), batch_size):
        outs = probe(images[start:start + batch_size].astype(np.float32), training=False)
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        for name, value in zip(names, outs):
            v = np.asarray(value, dtype=np.float64)
            axes = tuple(range(v.ndim - 1))
            total[name] = total.get(name, 0.0) + v.sum(axis=axes)
            lo[name] = np.minimum(lo.get(name, np.inf), v.min(axis=axes))
            hi[name] = np.maximum(hi.get(name, -np.inf), v.max(axis=axes))
    per = {n: total[n] / _positions(model.get_layer(n).output.shape, len(images)) for n in names}
    return per, lo, hi


def _positions(shape, n_images: int) -> float:
    return float(n_images * np.prod([d for d in shape[1:-1]]))


def center_linear_streams(model, images: np.ndarray, batch_size: int = 32, alpha: float = 0.0):
    """Return (an exact float copy of `model` with mean-centred linear streams, CenteringReport).

    `images`: calibration images as the model takes them (uint8 or float, 0..255).
    The original model is not modified.
    """
    from flower_edge.tfcompat import keras

    g = _graph(model)
    groups, skipped = _stream_groups(g)
    names = [n for members in groups for n in members]
    if not names:
        return model, CenteringReport((), (), tuple(skipped))
    mean, lo, hi = _channel_stats(model, names, images, batch_size)
    shift = {}
    for name in [e["name"] for e in model.get_config()["layers"] if e["name"] in set(names)]:
        shift[name] = (mean[name] if g.classes[name] == "BatchNormalization"
                       else sum(shift[i] for i in g.inputs[name]))
    scale = _group_scales(groups, shift, lo, hi, alpha)
    clone = keras().models.clone_model(model)
    clone.set_weights(model.get_weights())
    cg = _graph(clone)
    for name, c in shift.items():
        s = scale[name]
        if cg.classes[name] == "BatchNormalization":
            _add_to(cg.layers[name], "beta", -c)
            _mul(cg.layers[name], ("gamma", "beta"), s)
        for layer, via in _absorbers(cg, name):
            d = c @ layer.get_weights()[0].reshape(len(c), -1)
            if via == "bias":
                _add_to(layer, "bias", d)
            else:
                _add_to(via, "moving_mean", -d)
            _mul(layer, ("kernel",), 1.0 / s)
    per = {n: (float(hi[n].max() - lo[n].min()),
               float(((hi[n] - shift[n]) * scale[n]).max() - ((lo[n] - shift[n]) * scale[n]).min()))
           for n in names}
    centered = tuple(n for n in names if g.classes[n] == "BatchNormalization")
    return clone, CenteringReport(centered, tuple(names), tuple(skipped),
                                  max(b for b, _ in per.values()), max(a for _, a in per.values()), per)


def _group_scales(groups, shift, lo, hi, alpha: float) -> dict:
    """Per-channel scale of each stream tensor: (widest channel / channel range) ** alpha, shared
    by a residual group (an Add needs its inputs on one scale)."""
    scale = {}
    for members in groups:
        r = np.max([np.maximum(hi[n] - shift[n], shift[n] - lo[n]) for n in members], axis=0)
        s = (r.max() / np.maximum(r, 1e-6 * r.max())) ** alpha if alpha else np.ones_like(r)
        for n in members:
            scale[n] = s
    return scale


def _mul(layer, weights: tuple, factor: np.ndarray) -> None:
    """Scale the last (channel) axis of a BN's gamma/beta, or the input axis of a 1x1 kernel."""
    for var in layer.weights:
        if var.name.split("/")[-1].split(":")[0] in weights:
            value = var.numpy()
            if value.ndim > 1:  # kernel (1, 1, in, out) or (in, out): scale the input axis
                value = value * factor.reshape((-1, 1)).astype(value.dtype)
            else:
                value = value * factor.astype(value.dtype)
            var.assign(value)


def _add_to(layer, weight: str, delta: np.ndarray) -> None:
    """layer.<weight> += delta (by variable name: gamma/beta/moving_mean/kernel/bias)."""
    for var in layer.weights:
        if var.name.split("/")[-1].split(":")[0] == weight:
            var.assign(var.numpy() + delta.astype(var.dtype.as_numpy_dtype))
            return
    raise ValueError(f"{layer.name} has no weight '{weight}'")
