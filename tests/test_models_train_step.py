"""Every user-facing spec builds flat and takes one real fine-tuning step at a small size."""

from __future__ import annotations

import numpy as np
import pytest

from flower_edge.models import get_spec, list_specs

USER_SPECS = ("inception_v3", "mobilenet_v2", "mobilenet_v2_035", "mobilenet_v2_050",
              "mobilenet_v2_075", "vgg16", "vgg19", "resnet50", "baseline_cnn")


def test_registry_lists_exactly_the_user_specs():
    assert sorted(s.name for s in list_specs()) == sorted(USER_SPECS)


@pytest.mark.parametrize("name", USER_SPECS)
def test_spec_builds_and_trains_one_step(name):
    from flower_edge.models.build import backbone_layers, build_model
    from flower_edge.tfcompat import keras
    from flower_edge.train.config import TrainConfig
    from flower_edge.train.model_setup import compile_model, set_phase

    spec = get_spec(name)
    size = max(spec.min_size, 32)
    keras().backend.clear_session()
    model = build_model(spec, 3, size, None, 0.2)
    assert model.input_shape == (None, size, size, 3) and model.output_shape == (None, 3)
    assert model.get_layer(spec.gradcam_layer) is not None
    assert not any(isinstance(layer, keras().Model) for layer in model.layers)  # flat
    scratch = not spec.pretrained
    trainable = set_phase(model, 2, 5, scratch=scratch)
    backbone = backbone_layers(model)
    assert trainable == (len(backbone) if scratch else sum(
        1 for layer in backbone[-5:] if not isinstance(layer, keras().layers.BatchNormalization)))
    compile_model(model, TrainConfig(optimizer="sgd", lr=0.05), 0.05, 3)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (2, size, size, 3)).astype("float32")
    y = np.eye(3, dtype="float32")[[0, 2]]
    before = [w.numpy().copy() for w in model.trainable_weights]
    # One eager step: tracing a 300-layer train function costs more than the step itself.
    model.run_eagerly = True
    loss = model.train_on_batch(x, y, return_dict=True)["loss"]
    assert np.isfinite(loss)
    changed = [not np.array_equal(b, w.numpy()) for b, w in zip(before, model.trainable_weights)]
    # The logits bias always moves (a random backbone at 32 px may output all-zero
    # features, so the kernel's gradient can legitimately be zero).
    assert changed[-1]
