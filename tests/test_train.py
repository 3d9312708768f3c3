"""`flower-edge train` end to end on real photos, and its one-line errors."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from conftest import assert_clean_error

RUN_FILES = ("model.keras", "labels.txt", "config.toml", "split.json", "history.csv", "curves.png",
             "metrics.json", "confusion.png", "predictions.png")


@pytest.fixture(scope="module")
def baseline_run(flowers5, tmp_path_factory):
    """The issue's must-show command, run through the CLI in-process."""
    from click.testing import CliRunner

    from flower_edge.cli.main import cli

    run = tmp_path_factory.mktemp("out") / "baseline"
    # No --weights: baseline_cnn's spec has no pretrained weights, so it starts from none.
    result = CliRunner().invoke(cli, ["train", "--data", str(flowers5), "--backbone", "baseline_cnn",
                                      "--image-size", "64", "--epochs", "2", "--out", str(run)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert [p.name for p in run.parent.iterdir()] == ["baseline"]
    assert result.stdout.strip().endswith(str(run))
    return run


def test_run_dir_has_every_file(baseline_run):
    from flower_edge.data.splits import DataSplits
    from flower_edge.rundir import RunDir
    from flower_edge.train.config import load_recipe

    for name in RUN_FILES:
        assert (baseline_run / name).is_file() and (baseline_run / name).stat().st_size > 0, name
    assert any((baseline_run / "logs").rglob("events.out.tfevents.*"))
    run = RunDir(baseline_run)
    splits = DataSplits.load(run.split)
    assert run.read_labels() == list(splits.classes) == ["daisy", "dandelion", "rose", "sunflower", "tulip"]
    cfg = load_recipe(run.config)
    assert (cfg.model.name, cfg.model.image_size, cfg.model.weights) == ("baseline_cnn", 64, "none")
    assert cfg.train.head_epochs == 2 and cfg.train.finetune_epochs == 0
    epochs = [line.split(",")[0] for line in run.history.read_text().splitlines()[1:]]
    assert epochs == ["0", "1"]


def test_weights_changed_by_training(baseline_run):
    from flower_edge.models import get_spec
    from flower_edge.models.build import build_model
    from flower_edge.tfcompat import keras

    trained = keras().models.load_model(baseline_run / "model.keras")

    def initial():
        keras().utils.set_random_seed(0)  # the trainer seeds like this before building
        return build_model(get_spec("baseline_cnn"), 5, 64, None)

    init_a, init_b = initial(), initial()
    for name in ("block1_conv1", "block2_conv2", "logits"):
        w0 = init_a.get_layer(name).get_weights()[0]
        assert np.array_equal(w0, init_b.get_layer(name).get_weights()[0])  # same start, reproducibly
        delta = np.abs(trained.get_layer(name).get_weights()[0] - w0).mean()
        assert delta > 1e-4, (name, delta)


def test_metrics_complete_and_consistent(baseline_run):
    from flower_edge.data.pipeline import eval_images
    from flower_edge.data.splits import DataSplits
    from flower_edge.tfcompat import keras

    metrics = json.loads((baseline_run / "metrics.json").read_text())
    splits = DataSplits.load(baseline_run / "split.json")
    for name in ("val", "test"):
        m = metrics[name]
        cm = np.asarray(m["confusion_matrix"])
        assert cm.shape == (5, 5) and cm.sum() == m["samples"] == len(splits.split(name))
        assert cm.sum(axis=1).tolist() == np.bincount(splits.split(name).labels, minlength=5).tolist()
        assert m["top1"] == pytest.approx(np.trace(cm) / cm.sum(), abs=1e-5)
        recall = np.diag(cm) / cm.sum(axis=1)
        assert m["mean_per_class_accuracy"] == pytest.approx(recall.mean(), abs=1e-5)
        assert m["top1"] <= m["top5"] <= 1.0
        assert [r["class"] for r in m["per_class"]] == metrics["classes"]
        assert [r["recall"] for r in m["worst_classes"]] == sorted(r["recall"] for r in m["worst_classes"])
        assert len(m["worst_classes"]) == 5
    # The matrix matches what the saved model predicts (Pillow eval transform, as on the Pi).
    model = keras().models.load_model(baseline_run / "model.keras")
    test = splits.test
    pred = model.predict(eval_images(test.paths, 64).astype("float32"), verbose=0).argmax(1)
    cm = np.zeros((5, 5), int)
    np.add.at(cm, (np.asarray(test.labels), pred), 1)
    # TF's and Pillow's resize differ slightly; allow a borderline sample or two to flip.
    flips = np.abs(cm - np.asarray(metrics["test"]["confusion_matrix"])).sum() / 2
    assert flips <= max(2, 0.05 * len(test)), flips


def test_existing_run_dir_is_refused_unless_force(baseline_run, invoke, synth_data, tmp_path):
    copy = tmp_path / "runs" / "r"
    shutil.copytree(baseline_run, copy)
    args = ["train", "--data", synth_data, "--backbone", "tiny_cnn", "--weights", "none",
            "--image-size", "32", "--epochs", "1", "--out", copy.parent / "r"]
    assert_clean_error(invoke(*args), code=2, contains="already holds a run")
    result = invoke(*args, "--force")
    assert result.exit_code == 0, result.output
    assert "tiny_cnn" in (copy / "config.toml").read_text()
    assert not (copy / "checkpoints" / "epoch-0001").exists()


def test_resume_refuses_other_flags(baseline_run, invoke):
    assert_clean_error(invoke("train", "--resume", baseline_run, "--epochs", "3"), code=2,
                       contains="--resume")
    result = invoke("train", "--resume", baseline_run)  # a finished run: nothing to do
    assert result.exit_code == 0 and "already finished" in result.output


@pytest.mark.parametrize("args, contains", [
    (["--backbone", "resnet_9000"], "unknown model 'resnet_9000'"),
    (["--backbone", "inception_v3", "--image-size", "64"], "below inception_v3's minimum of 75"),
    (["--backbone", "mobilenet_v2", "--weights", "no/such/file.h5"], "weights file not found"),
    (["--batch-size", "0"], "'--batch-size': 0 is not in the range x>=1"),
    (["--backbone", "baseline_cnn", "--weights", "imagenet"], "no pretrained weights"),
])
def test_bad_flags_give_one_line(invoke, flowers5, tmp_path, args, contains):
    result = invoke("train", "--data", flowers5, "--out", tmp_path / "r", "--epochs", "1",
                    "--image-size", "32", *args)
    assert_clean_error(result, contains=contains)
    assert not any((tmp_path).rglob("model.keras"))


def test_mismatched_weights_file(invoke, flowers5, mnv2_weights, tmp_path):
    result = invoke("train", "--data", flowers5, "--out", tmp_path / "r", "--backbone", "mobilenet_v2_035",
                    "--weights", mnv2_weights, "--image-size", "32", "--epochs", "1")
    assert_clean_error(result, contains="does not fit mobilenet_v2_035")


def test_one_class_data_and_unknown_recipe_key(invoke, flowers5, tmp_path):
    one = tmp_path / "one"
    shutil.copytree(flowers5 / "daisy", one / "daisy")
    assert_clean_error(invoke("train", "--data", one, "--out", tmp_path / "o", "--backbone", "tiny_cnn",
                              "--weights", "none", "--epochs", "1"), contains="at least 2")
    recipe = tmp_path / "r.toml"
    recipe.write_text("[model]\nname = 'tiny_cnn'\nsize = 64\n")
    assert_clean_error(invoke("train", "--config", recipe, "--data", flowers5), code=2,
                       contains="unknown recipe key 'model.size'")
