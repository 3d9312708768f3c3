"""Pure parts of the trainer: schedules, plateau, metrics, LR finder maths, phase plans, recipes."""

from __future__ import annotations

import itertools
import math
import re
from pathlib import Path

import numpy as np
import pytest

from flower_edge.config import merge_tables
from flower_edge.errors import UsageError
from flower_edge.metrics import classification_metrics
from flower_edge.train import config as cfgmod
from flower_edge.train.lr_find import lr_range
from flower_edge.train.schedules import Plateau, scheduled_lr
from flower_edge.train.trainer import next_phase

ROOT = Path(__file__).resolve().parents[1]


def test_cosine_starts_at_base_and_ends_at_floor():
    lrs = [scheduled_lr("cosine", s, 100, 1e-2, 0.01) for s in range(101)]
    assert lrs[0] == pytest.approx(1e-2)
    assert lrs[50] == pytest.approx(0.5 * (1e-2 + 1e-4))
    assert lrs[100] == pytest.approx(1e-4)
    assert all(a >= b for a, b in itertools.pairwise(lrs))


def test_warmup_ramps_up_linearly():
    lrs = [scheduled_lr("cosine", s, 100, 1.0, 0.0, warmup_steps=10) for s in range(12)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert lrs[10] == pytest.approx(1.0)


def test_cyclic_schedules_follow_smith():
    tri = [scheduled_lr("triangular", s, 1000, 1.0, 0.1, cycle_steps=20) for s in range(41)]
    assert tri[0] == pytest.approx(0.1) and tri[10] == pytest.approx(1.0)
    assert tri[20] == pytest.approx(0.1) and tri[30] == pytest.approx(1.0)
    tri2 = [scheduled_lr("triangular2", s, 1000, 1.0, 0.1, cycle_steps=20) for s in range(41)]
    assert tri2[10] == pytest.approx(1.0) and tri2[30] == pytest.approx(0.1 + 0.9 / 2)
    exp = [scheduled_lr("exp_range", s, 1000, 1.0, 0.1, cycle_steps=20) for s in range(41)]
    assert exp[30] < exp[10] < 1.0
    assert scheduled_lr("constant", 57, 100, 0.3) == 0.3


def test_plateau_reduces_after_patience_and_round_trips():
    p = Plateau(factor=0.5, patience=2)
    for loss in (1.0, 0.9, 0.95, 0.96):
        p.update(loss)
    assert p.scale == 0.5
    q = Plateau(factor=0.5, patience=2)
    q.load_state(p.state())
    assert (q.scale, q.best, q.wait) == (p.scale, p.best, p.wait)


def test_metrics_are_consistent_with_a_known_confusion():
    y = [0, 0, 1, 1, 2, 2]
    probs = np.eye(3)[[0, 1, 1, 1, 0, 2]] * 0.8 + 0.2 / 3
    m = classification_metrics(y, probs, ["a", "b", "c"])
    assert m["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert m["top1"] == pytest.approx(4 / 6, abs=1e-6)
    assert m["mean_per_class_accuracy"] == pytest.approx((0.5 + 1 + 0.5) / 3, abs=1e-6)
    assert m["top5"] == 1.0
    rows = {r["class"]: r for r in m["per_class"]}
    assert rows["b"]["precision"] == pytest.approx(2 / 3, abs=1e-6) and rows["b"]["recall"] == 1.0
    assert [r["class"] for r in m["worst_classes"]] == ["a", "c", "b"]


def test_lr_range_suggests_a_tenth_of_the_minimum():
    lrs = list(np.logspace(-6, 0, 60))
    losses = [2.0 - 1.5 * math.exp(-((math.log10(lr) + 2) ** 2)) for lr in lrs]
    _, smooth, suggested = lr_range(losses, lrs, beta=0.0)
    assert suggested == pytest.approx(lrs[int(np.argmin(smooth))] / 10)
    assert 1e-4 < suggested < 1e-2


def _cfg(**train):
    return cfgmod.RunConfig(train=cfgmod.TrainConfig(**train))


def test_next_phase_fresh_early_stopped_and_after_a_kill():
    cfg = _cfg(head_epochs=3, finetune_epochs=4)
    assert next_phase(cfg, None) == (1, 0, 3, False)
    assert next_phase(cfg, {"phase": 1, "epoch": 1, "phase_start": 0}) == (1, 2, 3, True)
    assert next_phase(cfg, {"phase": 1, "epoch": 2, "phase_start": 0}) == (2, 3, 7, False)
    stopped = {"phase": 1, "epoch": 1, "phase_start": 0, "stopped": True}
    assert next_phase(cfg, stopped) == (2, 2, 6, False)
    assert next_phase(cfg, {"phase": 2, "epoch": 4, "phase_start": 3}) == (2, 5, 7, True)
    assert next_phase(cfg, {"phase": 2, "epoch": 6, "phase_start": 3}) is None
    assert next_phase(_cfg(head_epochs=0, finetune_epochs=2), None) == (2, 0, 2, False)
    assert next_phase(_cfg(head_epochs=2, finetune_epochs=0),
                      {"phase": 1, "epoch": 1, "phase_start": 0}) is None


def test_recipes_load_strictly_and_resolve(tmp_path):
    for name in ("smoke", "mobilenet_v2", "inception_v3"):
        cfg = cfgmod.resolve(cfgmod.load_recipe(ROOT / "train" / f"{name}.toml"))
        assert cfg.model.image_size >= 32 and cfg.train.total_epochs > 0
    bad = tmp_path / "bad.toml"
    bad.write_text("[train]\nlearning_rate = 0.1\n")
    with pytest.raises(UsageError, match="unknown recipe key 'train.learning_rate'"):
        cfgmod.load_recipe(bad)


def test_flags_override_recipe_and_resolve_fills_spec_defaults():
    cfg = cfgmod.load_recipe(ROOT / "train" / "mobilenet_v2.toml")
    cfg = merge_tables(cfg, {"data": {"batch_size": 8}, "model": {"image_size": None}, "train": {"lr": 0.05}})
    assert cfg.data.batch_size == 8 and cfg.train.lr == 0.05 and cfg.model.image_size == 224
    default = cfgmod.resolve(cfgmod.RunConfig())
    assert default.model.image_size == 224 and default.train.finetune_layers == "all"
    scratch = cfgmod.resolve(merge_tables(cfgmod.RunConfig(), {"model": {"weights": "none"},
                                                               "train": {"head_epochs": 2}}))
    assert scratch.train.finetune_epochs == 0 and scratch.train.head_epochs == 2
    with pytest.raises(UsageError, match="batch size"):
        merge_tables(cfgmod.RunConfig(), {"data": {"batch_size": 0}})
    with pytest.raises(UsageError, match="unknown recipe key 'train.epochs'"):
        merge_tables(cfgmod.RunConfig(), {"train": {"epochs": 3}})


def test_weights_default_to_the_backbones_own():
    """Unset weights resolve from the spec: ImageNet where it has them, none where not."""
    assert cfgmod.RunConfig().model.weights == "spec"
    assert cfgmod.resolve(cfgmod.RunConfig()).model.weights == "imagenet"
    scratch = cfgmod.resolve(merge_tables(cfgmod.RunConfig(), {"model": {"name": "baseline_cnn"}}))
    assert scratch.model.weights == "none" and scratch.train.finetune_epochs == 0
    assert "weights = \"none\"" in cfgmod.dumps(scratch)  # the saved config names the choice


def test_from_scratch_run_says_when_finetune_epochs_go_unused():
    both = merge_tables(cfgmod.RunConfig(), {"model": {"weights": "none"},
                                             "train": {"head_epochs": 10, "finetune_epochs": 20}})
    note = cfgmod.folded_epochs_note(both)
    assert "--finetune-epochs 20 is not used" in note and "--epochs 30" in note
    assert cfgmod.resolve(both).train.total_epochs == 10  # what the note says happens
    only_ft = merge_tables(both, {"train": {"head_epochs": 0}})
    assert cfgmod.folded_epochs_note(only_ft) is None and cfgmod.resolve(only_ft).train.head_epochs == 20
    assert cfgmod.folded_epochs_note(cfgmod.RunConfig()) is None  # pretrained: two phases, as asked


def test_default_run_folder_is_backbone_date_time(tmp_path, monkeypatch):
    import time

    from flower_edge.train.rundirs import default_run_path

    monkeypatch.chdir(tmp_path)
    first = default_run_path("tiny_cnn")
    assert first.parent == Path("artifacts") and re.fullmatch(r"tiny_cnn-\d{8}-\d{6}", first.name)
    monkeypatch.setattr(time, "strftime", lambda fmt: "20260101-120000")
    (tmp_path / "artifacts" / "tiny_cnn-20260101-120000").mkdir(parents=True)
    assert default_run_path("tiny_cnn") == Path("artifacts/tiny_cnn-20260101-120000-2")  # never an existing one
