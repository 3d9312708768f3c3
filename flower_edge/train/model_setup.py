"""Phase setup: which layers train, with which optimizer, loss and metrics."""

from __future__ import annotations

from flower_edge.models.build import backbone_layers
from flower_edge.train.config import TrainConfig


def set_phase(model, phase: int, finetune_layers: int | str, scratch: bool = False) -> int:
    """Phase 1: backbone frozen. Phase 2: the top N backbone layers train (BatchNorm
    stays frozen, so it keeps running in inference mode). `scratch` (random backbone):
    everything trains, BatchNorm included. Returns the trainable backbone layer count."""
    from flower_edge.tfcompat import keras

    bn = keras().layers.BatchNormalization
    backbone = backbone_layers(model)
    ids = {id(layer) for layer in backbone}
    for layer in model.layers:
        if id(layer) not in ids:
            # Head trains; preprocessing layers hold fixed constants and never do.
            layer.trainable = not layer.name.startswith("preprocess")
    if scratch:
        for layer in backbone:
            layer.trainable = True
        return len(backbone)
    if phase == 1:
        unfrozen = []
    elif finetune_layers == "all":
        unfrozen = backbone
    else:
        unfrozen = backbone[len(backbone) - int(finetune_layers):] if int(finetune_layers) else []
    chosen = {id(layer) for layer in unfrozen}
    for layer in backbone:
        layer.trainable = id(layer) in chosen and not isinstance(layer, bn)
    return sum(1 for layer in backbone if layer.trainable)


def make_optimizer(cfg: TrainConfig, lr: float, scales: dict[str, float] | None = None):
    """SGD with (Nesterov) momentum, Adam(W) or RMSprop; `scales` (variable name -> step
    scale, from layerwise.layer_scales) gives discriminative learning rates."""
    from flower_edge.tfcompat import keras
    from flower_edge.train.layerwise import scaled_optimizer_class

    opt = keras().optimizers
    kwargs = {"learning_rate": lr, "weight_decay": cfg.weight_decay or None}
    if cfg.optimizer == "sgd":
        cls, kwargs = opt.SGD, {**kwargs, "momentum": cfg.momentum, "nesterov": cfg.momentum > 0}
    elif cfg.optimizer == "rmsprop":
        cls, kwargs = opt.RMSprop, {**kwargs, "momentum": cfg.momentum if cfg.momentum < 1 else 0.0}
    else:
        cls = opt.Adam
    return (scaled_optimizer_class(cls, scales) if scales else cls)(**kwargs)


def compile_model(model, cfg: TrainConfig, lr: float, num_classes: int, loss=None, metrics=None) -> None:
    """Compile for one phase: smoothed cross-entropy, top-1 and top-5 accuracy (or the
    given loss and metrics, e.g. distillation's), with cfg.layer_lr_ratio's rates."""
    from flower_edge.tfcompat import keras
    from flower_edge.train.layerwise import layer_scales

    k = keras()
    model.compile(
        optimizer=make_optimizer(cfg, lr, layer_scales(model, cfg.layer_lr_ratio)),
        loss=loss or k.losses.CategoricalCrossentropy(label_smoothing=cfg.label_smoothing),
        metrics=metrics or [k.metrics.CategoricalAccuracy(name="accuracy"),
                            k.metrics.TopKCategoricalAccuracy(k=min(5, num_classes), name="top5")],
        jit_compile=cfg.jit,
    )


def class_weights(labels, num_classes: int) -> dict[int, float]:
    """Balanced weights n / (k * count_c), so rare classes count as much as common ones."""
    import numpy as np

    counts = np.bincount(np.asarray(labels, dtype=int), minlength=num_classes).astype(float)
    weights = len(labels) / (num_classes * np.maximum(counts, 1.0))
    return {i: float(w) for i, w in enumerate(weights)}
