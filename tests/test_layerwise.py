"""Discriminative (layer-wise) learning rates: each backbone layer's step is scaled,
geometrically from `ratio` at the bottom to 1 at the top, for SGD and for Adam."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from flower_edge.errors import UsageError
from flower_edge.train.config import TrainConfig


def _steps(optimizer: str, ratio: float) -> tuple[dict, dict]:
    """Weights before and after two training steps of tiny_cnn, all layers trainable."""
    from flower_edge.models import get_spec
    from flower_edge.models.build import build_model
    from flower_edge.tfcompat import keras
    from flower_edge.train.model_setup import compile_model, set_phase

    keras().utils.set_random_seed(0)
    model = build_model(get_spec("tiny_cnn"), 3, 32, weights=None, dropout=0.0)
    set_phase(model, 2, "all")
    cfg = TrainConfig(optimizer=optimizer, layer_lr_ratio=ratio)
    compile_model(model, cfg, 1e-2, 3)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (8, 32, 32, 3)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 8)]
    before = {v.name: v.numpy() for v in model.trainable_variables}
    model.fit(x, y, batch_size=4, epochs=1, verbose=0, shuffle=False)
    return before, {v.name: v.numpy() for v in model.trainable_variables}


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_steps_scale_by_depth(optimizer):
    from flower_edge.models import get_spec
    from flower_edge.models.build import build_model
    from flower_edge.train.layerwise import layer_scales

    before, full = _steps(optimizer, 1.0)
    _, scaled = _steps(optimizer, 0.1)
    scales = layer_scales(build_model(get_spec("tiny_cnn"), 3, 32, weights=None), 0.1)
    first = [n for n in scales if scales[n] == pytest.approx(0.1)]
    assert first and max(scales.values()) == pytest.approx(1.0)
    head = [n for n in before if n not in scales]
    assert head  # the head is not scaled
    for name in before:
        want = full[name] - before[name]
        got = scaled[name] - before[name]
        if name in first:
            # Two steps: the second starts from a different point, so the ratio holds
            # for the first layer only approximately; it must be near 0.1, not near 1.
            ratio = np.abs(got).sum() / np.abs(want).sum()
            assert 0.05 < ratio < 0.2, (name, ratio)
        if name in head:
            assert np.abs(got).sum() > 0.3 * np.abs(want).sum()


def test_one_step_is_exactly_scaled():
    from flower_edge.models import get_spec
    from flower_edge.models.build import build_model
    from flower_edge.tfcompat import keras, tf
    from flower_edge.train.layerwise import layer_scales, scaled_optimizer_class

    model = build_model(get_spec("tiny_cnn"), 3, 32, weights=None)
    scales = layer_scales(model, 0.25)
    var = next(v for v in model.trainable_variables if v.name in scales)
    grad = tf().ones_like(var)
    for cls in (keras().optimizers.Adam, keras().optimizers.SGD):
        start = var.numpy()
        plain = cls(learning_rate=0.1)
        plain.apply_gradients([(grad, var)])
        step = var.numpy() - start
        var.assign(start)
        scaled = scaled_optimizer_class(cls, scales)(learning_rate=0.1)
        scaled.apply_gradients([(grad, var)])
        assert np.allclose(var.numpy() - start, scales[var.name] * step, atol=1e-7)
        var.assign(start)


def test_ratio_validated_and_off_by_default():
    from flower_edge.train.layerwise import layer_scales

    assert TrainConfig().layer_lr_ratio == 1.0
    assert layer_scales(None, 1.0) == {}
    with pytest.raises(UsageError, match="layer_lr_ratio"):
        TrainConfig(layer_lr_ratio=0.0)
    with pytest.raises(UsageError, match="layer_lr_ratio"):
        dataclasses.replace(TrainConfig(), layer_lr_ratio=1.5)



MIRRORED = '''
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from flower_edge.models import get_spec
from flower_edge.models.build import build_model
from flower_edge.tfcompat import keras
from flower_edge.train.config import TrainConfig
from flower_edge.train.model_setup import compile_model, set_phase

def first_layer_steps(ratio):
    keras().utils.set_random_seed(0)
    with tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]).scope():
        model = build_model(get_spec("tiny_cnn"), 3, 32, weights=None, dropout=0.0)
        set_phase(model, 2, "all")
        compile_model(model, TrainConfig(optimizer="sgd", momentum=0.0, layer_lr_ratio=ratio), 1e-2, 3)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (8, 32, 32, 3)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 8)]
    var = model.trainable_variables[0]
    before = var.numpy()
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    return [np.abs(copy.numpy() - before).sum() for copy in var.values]

full, scaled = first_layer_steps(1.0), first_layer_steps(0.1)
print("RATIOS", *[s / f for s, f in zip(scaled, full)])
'''


def test_every_replica_takes_the_scaled_step():
    """Under MirroredStrategy the optimizer steps each replica's copy of a variable
    ("conv1/kernel/replica_1:0"); every copy must get the same scale, or they drift apart."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", MIRRORED], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    ratios = [float(r) for r in out.stdout.split("RATIOS")[1].split()]
    assert len(ratios) == 2 and all(abs(r - 0.1) < 1e-3 for r in ratios), ratios
