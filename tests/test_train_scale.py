"""Scale flags (tf.distribute, mixed precision, XLA) and the LR finder, on CPU."""

from __future__ import annotations

import csv
import json

import pytest
from fixtures_train import train_run


def test_mirrored_mixed_precision_trains_and_saves_float32(synth_data, tmp_path, invoke):
    result = invoke("train", "--data", synth_data, "--backbone", "tiny_cnn", "--weights", "none",
                    "--image-size", "32", "--epochs", "1", "--strategy", "mirrored",
                    "--precision", "mixed_bfloat16", "--out", tmp_path / "s")
    assert result.exit_code == 0, result.output
    from flower_edge.tfcompat import keras

    assert keras().mixed_precision.global_policy().name == "float32"  # restored afterwards
    model = keras().models.load_model(tmp_path / "s" / "model.keras")
    assert {layer.dtype_policy.name for layer in model.layers} == {"float32"}
    cfg = (tmp_path / "s" / "config.toml").read_text()
    assert 'strategy = "mirrored"' in cfg and 'precision = "mixed_bfloat16"' in cfg
    metrics = json.loads((tmp_path / "s" / "metrics.json").read_text())
    assert metrics["test"]["samples"] > 0


@pytest.mark.parametrize("strategy, precision, jit", [
    ("multiworker", "mixed_float16", False),  # one worker without TF_CONFIG
    ("auto", "float32", True),  # XLA
])
def test_strategy_precision_jit_take_a_train_step(strategy, precision, jit):
    import numpy as np

    from flower_edge.models import get_spec
    from flower_edge.models.build import build_model
    from flower_edge.tfcompat import keras
    from flower_edge.train.config import TrainConfig
    from flower_edge.train.model_setup import compile_model, set_phase
    from flower_edge.train.scale import make_strategy, precision_policy

    with precision_policy(precision):
        strat = make_strategy(strategy)
        assert strat.num_replicas_in_sync == 1
        with strat.scope():
            model = build_model(get_spec("tiny_cnn"), 3, 16, None)
            set_phase(model, 1, "all", scratch=True)
            compile_model(model, TrainConfig(jit=jit), 0.01, 3)
        x = np.random.default_rng(0).uniform(0, 255, (4, 16, 16, 3)).astype("float32")
        y = np.eye(3, dtype="float32")[[0, 1, 2, 0]]
        before = model.get_layer("logits").get_weights()[1].copy()
        model.fit(x, y, epochs=1, batch_size=4, verbose=0)
        assert not np.array_equal(before, model.get_layer("logits").get_weights()[1])
        expected = "float16" if precision == "mixed_float16" else "float32"
        assert model.get_layer("conv1").compute_dtype == expected
    assert keras().mixed_precision.global_policy().name == "float32"


def test_sgd_cyclic_class_weights_early_stopping(synth_data, tmp_path):
    """SGD + triangular2 (LR follows the cycle per epoch), class weights, early stopping."""
    run = train_run(tmp_path, "opts", synth_data,
                    model={"name": "tiny_cnn", "image_size": 32, "weights": "none"},
                    train={"optimizer": "sgd", "schedule": "triangular2", "cycle_epochs": 2.0,
                           "head_epochs": 3, "class_weights": True, "early_stopping": 3,
                           "lr": 0.05, "min_lr_ratio": 0.1})
    with open(run.history, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    lrs = [float(r["lr"]) for r in rows]  # end of each epoch: peak is mid-cycle
    assert lrs[0] > lrs[1] and lrs[2] > lrs[1]
    assert json.loads((run.checkpoints / "state.json").read_text())["early_stopping"]["best"] > 0


def test_two_phase_finetune_unfreezes_only_top_layers(mnv2_run, mnv2_weights):
    """mnv2_run: 4 head epochs at lr 3e-3, then 1 epoch on the top 4 layers at 3e-4."""
    from flower_edge.tfcompat import keras

    with open(mnv2_run / "history.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["epoch"], r["phase"]) for r in rows] == [(str(i), "1") for i in range(4)] + [("4", "2")]
    assert float(rows[0]["lr"]) == pytest.approx(3e-3) and float(rows[4]["lr"]) == pytest.approx(3e-4)
    ref = keras().applications.MobileNetV2(include_top=False, weights=str(mnv2_weights),
                                           input_shape=(96, 96, 3))
    model = keras().models.load_model(mnv2_run / "model.keras")
    metrics = json.loads((mnv2_run / "metrics.json").read_text())

    def same(name):
        return all((a == b).all() for a, b in zip(model.get_layer(name).get_weights(),
                                                  ref.get_layer(name).get_weights()))

    if metrics["best_epoch"] == 4:  # the best-on-val weights are the fine-tuned ones
        assert not same("Conv_1")  # among the top 4 layers: trained in phase 2
    assert same("block_16_project") and same("block_1_project")  # frozen throughout
    assert same("Conv_1_bn")  # BatchNorm stays frozen in phase 2
    assert metrics["test"]["top1"] > 0.4 and metrics["val"]["top1"] > 0.4  # chance is 0.2


def test_lr_find_writes_plot_and_suggests(synth_data, tmp_path, invoke):
    result = invoke("train", "--lr-find", "--data", synth_data, "--backbone", "tiny_cnn",
                    "--weights", "none", "--image-size", "32", "--out", tmp_path / "lf")
    assert result.exit_code == 0, result.output
    info = json.loads((tmp_path / "lf" / "lr_find.json").read_text())
    assert 1e-7 < info["suggested_lr"] < 1.0
    assert f"suggested lr: {info['suggested_lr']:.3g}" in result.stdout
    assert (tmp_path / "lf" / "lr_find.png").stat().st_size > 0
    lines = (tmp_path / "lf" / "lr_find.csv").read_text().splitlines()
    lrs = [float(line.split(",")[0]) for line in lines[1:]]
    assert len(lrs) > 10 and lrs == sorted(lrs)
