"""The recipe-study levers: zoom range, colour jitter, mixup, weight averaging (SWA), --tta flip."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import assert_clean_error


def _square(size=64, side=16):
    """A black image with a white centred square (1/16 of the area)."""
    img = np.zeros((1, size, size, 3), np.float32)
    lo = (size - side) // 2
    img[:, lo:lo + side, lo:lo + side] = 255.0
    return img


def test_zoom_range_crops_in():
    from flower_edge.data.pipeline import augment_batch
    from flower_edge.tfcompat import tf

    batch = np.repeat(_square(), 8, axis=0)
    seed = tf().constant([3, 4], tf().int64)
    plain = augment_batch(batch, seed, zoom=(1.0, 1.0)).numpy()
    zoomed = augment_batch(batch, seed, zoom=(2.0, 2.0)).numpy()
    # Brightness scales pixel values, not the bright area; rotation keeps the area.
    area = lambda x: (x.mean(axis=-1) > 40).mean(axis=(1, 2))  # noqa: E731
    assert np.allclose(area(plain), 1 / 16, atol=0.02)
    assert np.allclose(area(zoomed), 4 / 16, atol=0.05)


def test_mixup_blends_images_and_labels_alike():
    from flower_edge.data.mixing import mixup_batch
    from flower_edge.tfcompat import tf

    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (6, 8, 8, 3)).astype(np.float32)
    labels = np.eye(6, dtype=np.float32)  # one class per image, so the label shows lam
    x, y = mixup_batch(images, labels, tf().constant([1, 2], tf().int64), 0.4)
    x, y = x.numpy(), y.numpy()
    assert np.allclose(y.sum(axis=1), 1.0)
    lam = y[np.arange(6), np.arange(6)]
    assert 0 < lam.min() and lam.max() < 1 and lam.std() > 0.01  # drawn per image
    expected = lam[:, None, None, None] * images + (1 - lam[:, None, None, None]) * images[::-1]
    assert np.allclose(x, expected, atol=1e-3)
    again, _ = mixup_batch(images, labels, tf().constant([1, 2], tf().int64), 0.4)
    assert np.array_equal(x, again.numpy())  # stateless: same seed, same blend


def test_color_jitter_scales_contrast_and_saturation_only():
    from flower_edge.data.photometric import color_jitter
    from flower_edge.tfcompat import tf

    rng = np.random.default_rng(0)
    images = rng.uniform(60, 190, (8, 8, 8, 3)).astype(np.float32)
    images[0] = images[0].mean(axis=-1, keepdims=True)  # a grey photo
    seed = tf().constant([5, 6], tf().int64)
    out = color_jitter(images, seed, 0.4).numpy()
    assert np.allclose(out[0], out[0][..., :1], atol=1e-3)  # grey stays grey: no hue shift
    assert np.allclose(out.mean(axis=(1, 2, 3)), images.mean(axis=(1, 2, 3)), atol=0.5)
    ratio = out.std(axis=(1, 2, 3)) / images.std(axis=(1, 2, 3))
    assert ratio.min() < 0.95 and ratio.max() > 1.05  # a different factor per image
    assert np.array_equal(out, color_jitter(images, seed, 0.4).numpy())
    assert np.allclose(color_jitter(images, seed, 0.0).numpy(), images, atol=1e-3)


def test_mixup_reaches_training_batches(flowers5):
    from flower_edge.data.pipeline import make_dataset
    from flower_edge.data.sources import load_data

    train = load_data(str(flowers5), None, 0, (0.7, 0.15, 0.15)).train
    args = dict(image_size=32, batch_size=16, training=True, num_classes=5, seed=0, augment=False)
    _, plain = next(iter(make_dataset(train.paths[::10], train.labels[::10], **args)))
    _, mixed = next(iter(make_dataset(train.paths[::10], train.labels[::10], mixup=0.4, **args)))
    assert set(np.unique(plain.numpy())) <= {0.0, 1.0}
    assert np.allclose(mixed.numpy().sum(axis=1), 1.0)
    assert ((mixed.numpy() > 0.01) & (mixed.numpy() < 0.99)).any()


@pytest.mark.parametrize("train, contains", [
    ({"zoom": [1.2, 1.0]}, "zoom"), ({"zoom": [0.0, 1.0]}, "zoom"),
    ({"mixup": -0.1}, "mixup"), ({"color": 1.5}, "color"), ({"swa_epochs": -1}, "swa_epochs"),
])
def test_bad_lever_values_are_refused(train, contains):
    from flower_edge.config import from_mapping
    from flower_edge.errors import UsageError
    from flower_edge.train.config import TrainConfig

    with pytest.raises(UsageError, match=contains):
        from_mapping(TrainConfig, {"head_epochs": 10, "finetune_epochs": 15, **train})


def _dense_fit(tmp_path):
    """A one-layer model, a callback recording its weights after each epoch, a run folder, data."""
    from flower_edge.rundir import RunDir
    from flower_edge.tfcompat import keras

    k = keras()
    model = k.Sequential([k.layers.Input((4,)), k.layers.Dense(3)])
    model.compile(optimizer=k.optimizers.SGD(0.1), loss="mse")
    seen = []
    record = k.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: seen.append(model.get_weights()))
    x, y = np.random.default_rng(0).normal(size=(32, 4)), np.random.default_rng(1).normal(size=(32, 3))
    return model, seen, record, RunDir(tmp_path), x, y


def test_swa_callback_is_a_running_mean(tmp_path):
    from flower_edge.train.averaging import apply_mean, make_swa, read_mean

    model, seen, record, run, x, y = _dense_fit(tmp_path)
    model.fit(x, y, epochs=4, verbose=0, callbacks=[make_swa(run, 1), record])
    mean, count = read_mean(run, 3)
    assert count == 3
    for i, m in enumerate(mean):
        assert np.allclose(m, np.mean([w[i] for w in seen[1:]], axis=0), atol=1e-6)
    assert apply_mean(run, model, 3) == 3 and np.allclose(model.get_weights()[0], mean[0])
    assert apply_mean(run, model, 7) == 0  # no mean for that epoch: weights left alone


def test_swa_mean_continues_across_a_resume(tmp_path):
    """A run killed after epoch 2 and resumed (a new process: new callback, same folder)
    ends on the same mean as one that never stopped."""
    from flower_edge.train.averaging import make_swa, read_mean

    model, seen, record, run, x, y = _dense_fit(tmp_path)
    model.fit(x, y, epochs=3, verbose=0, callbacks=[make_swa(run, 1), record])
    model.fit(x, y, initial_epoch=3, epochs=5, verbose=0, callbacks=[make_swa(run, 1), record])
    mean, count = read_mean(run, 4)
    assert count == 4
    assert np.allclose(mean[0], np.mean([w[0] for w in seen[1:]], axis=0), atol=1e-6)
    assert sorted(f.name for f in run.checkpoints.glob("swa-*")) == ["swa-0003.npz", "swa-0004.npz"]


def test_train_cli_levers_and_a_run_that_ends_on_its_weight_mean(invoke, flowers5, tmp_path):
    from flower_edge.rundir import RunDir
    from flower_edge.tfcompat import keras
    from flower_edge.train import checkpoint
    from flower_edge.train.averaging import read_mean

    result = invoke("train", "--data", flowers5, "--backbone", "tiny_cnn", "--weights", "none",
                    "--image-size", "32", "--epochs", "3", "--zoom", "1.0", "1.5", "--mixup", "0.2",
                    "--color", "0.3", "--swa-epochs", "2", "--schedule", "constant", "--finetune-lr", "3e-5",
                    "--out", tmp_path / "r")
    assert result.exit_code == 0, result.output
    run = RunDir(tmp_path / "r")
    text = run.config.read_text()
    for line in ("zoom = [1.0, 1.5]", "mixup = 0.2", "color = 0.3", "swa_epochs = 2", "finetune_lr = 3e-05"):
        assert line in text, text
    mean, count = read_mean(run, 2)
    assert count == 2 and read_mean(run, 0) is None  # epoch 1 is not averaged
    saved = keras().models.load_model(run.model, compile=False)
    assert all(np.allclose(a, b, atol=1e-6) for a, b in zip(saved.get_weights(), mean))
    # ... and the mean is not the last epoch's weights (nor the best-on-val epoch's).
    state = json.loads((run.checkpoints / "state.json").read_text())
    for name in (state["checkpoint"], "best"):
        checkpoint.load_weights(run, name, saved)
        assert any(not np.allclose(a, b, atol=1e-6) for a, b in zip(saved.get_weights(), mean))
    bad = invoke("train", "--data", flowers5, "--backbone", "tiny_cnn", "--weights", "none",
                 "--epochs", "1", "--zoom", "1.5", "1.0", "--out", tmp_path / "bad")
    assert_clean_error(bad, contains="zoom")


def test_tta_flip_averages_the_mirror_image(runtime_bundles):
    rb = runtime_bundles
    from flower_edge.runtime.predictor import Predictor

    image = rb["images"][0]
    assert not np.array_equal(image, image[:, ::-1])
    for variant in ("int8", "fp32-logits"):
        plain = Predictor(rb["bundles"][variant])
        flip = Predictor(rb["bundles"][variant], tta="flip")
        expected = (plain.invoke_one(image) + plain.invoke_one(image[:, ::-1])) / 2
        got = flip.invoke_one(image)
        assert np.allclose(got, expected, atol=1e-6) and np.isclose(got.sum(), 1.0, atol=0.01)
        assert not np.allclose(got, plain.invoke_one(image))


def test_predict_cli_tta(invoke, runtime_bundles):
    rb = runtime_bundles
    bundle, photo = rb["bundles"]["int8"], rb["paths"][0]
    out = {t: json.loads(invoke("predict", bundle, photo, "--json", "--tta", t).output)
           for t in ("none", "flip")}
    assert out["flip"]["tta"] == "flip" and out["none"]["tta"] == "none"
    assert out["flip"]["predictions"][0]["top_k"] != out["none"]["predictions"][0]["top_k"]
    bad = invoke("predict", bundle, photo, "--tta", "rotate")
    assert bad.exit_code != 0 and "rotate" in bad.output


def test_cli_flags_map_onto_the_config():
    from flower_edge.cli.train_cmd import train_cmd
    from flower_edge.cli.training_options import apply_training_flags
    from flower_edge.train.config import RunConfig

    ctx = train_cmd.make_context("train", ["--data", "x", "--split-fractions", "0.9,0.05,0.05",
                                           "--layer-lr-ratio", "0.2", "--warmup-epochs", "1.5"])
    flags = {k: v for k, v in ctx.params.items()
             if k not in ("recipe", "out", "resume", "force", "lr_find")}
    cfg = apply_training_flags(RunConfig(), flags)
    assert cfg.data.fractions == (0.9, 0.05, 0.05)
    assert cfg.train.layer_lr_ratio == 0.2 and cfg.train.warmup_epochs == 1.5


@pytest.mark.parametrize("args, fix", [(["--split-fractions", "0.8,0.3,0.1"], "summing to 1"),
                                       (["--split-fractions", "a,b"], "three fractions"),
                                       (["--layer-lr-ratio", "0"], "layer-lr-ratio")])
def test_bad_flags_are_one_line_errors(args, fix):
    from click.testing import CliRunner

    from flower_edge.cli.main import cli

    result = CliRunner().invoke(cli, ["train", "--data", "x", *args])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert fix in result.output
