"""Explanations: Grad-CAM, saliency, activation maximisation, occlusion, deletion test, drift."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import assert_clean_error

SIZE, PATCH = 32, 8


def _patch_images(n: int, rng):
    """Uniform noise; half the images carry a red PATCHxPATCH square at a random place."""
    x = rng.integers(0, 256, (n, SIZE, SIZE, 3)).astype(np.uint8)
    y = rng.integers(0, 2, n)
    boxes = rng.integers(0, SIZE - PATCH + 1, (n, 2))
    for i in np.flatnonzero(y):
        top, left = boxes[i]
        x[i, top:top + PATCH, left:left + PATCH] = (255, 0, 0)
    return x, y, boxes


@pytest.fixture(scope="module")
def patch_model():
    """tiny_cnn trained to tell 'red patch somewhere' (class 1) from plain noise (class 0)."""
    from flower_edge.models import get_spec
    from flower_edge.models.build import build_model
    from flower_edge.tfcompat import keras

    keras().utils.set_random_seed(0)
    x, y, _ = _patch_images(512, np.random.default_rng(0))
    model = build_model(get_spec("tiny_cnn"), 2, SIZE, dropout=0.0)
    model.compile(keras().optimizers.Adam(1e-2), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x.astype("float32"), y, epochs=4, batch_size=32, verbose=0)
    test = _patch_images(64, np.random.default_rng(1))
    assert (model.predict(test[0].astype("float32"), verbose=0).argmax(1) == test[1]).mean() > 0.9
    return model, test


def _on_patch(maps, boxes, margin=2) -> float:
    """Share of maps whose maximum lies on (or within `margin` px of) the patch."""
    hits = []
    for heat, (top, left) in zip(maps, boxes):
        r, c = np.unravel_index(np.argmax(heat), heat.shape)
        hits.append(top - margin <= r < top + PATCH + margin and left - margin <= c < left + PATCH + margin)
    return float(np.mean(hits))


def test_gradcam_shape_range_and_constant_image(patch_model):
    from flower_edge.explain.gradcam import gradcam

    model, (x, _, _) = patch_model
    cams = gradcam(model, x[:5], "features")
    assert cams.shape == (5, SIZE // 4, SIZE // 4) and cams.dtype == np.float32
    assert cams.min() >= 0.0 and cams.max() <= 1.0 and np.isclose(cams.max(), 1.0)
    for value in (0, 128):
        flat = gradcam(model, np.full((2, SIZE, SIZE, 3), value, np.uint8), "features", class_index=1)
        assert np.isfinite(flat).all() and flat.min() >= 0.0


def test_gradcam_and_occlusion_peak_on_the_patch(patch_model):
    from flower_edge.explain.gradcam import gradcam, upsample
    from flower_edge.explain.occlusion import keras_predict, occlusion

    model, (x, y, boxes) = patch_model
    pos = np.flatnonzero(y == 1)
    cams = upsample(gradcam(model, x[pos], "features", class_index=1), (SIZE, SIZE))
    assert _on_patch(cams, boxes[pos]) >= 0.9
    predict = keras_predict(model)
    occ = [occlusion(predict, x[i], 1, patch=8, stride=2) for i in pos[:8]]
    assert _on_patch(occ, boxes[pos[:8]], margin=4) >= 0.75


def test_class_out_of_range_is_a_usage_error(patch_model):
    from flower_edge.errors import UsageError
    from flower_edge.explain.gradcam import gradcam

    model, (x, _, _) = patch_model
    with pytest.raises(UsageError, match="out of range"):
        gradcam(model, x[:1], "features", class_index=2)


def test_saliency_and_activation_max(patch_model):
    from flower_edge.explain.occlusion import keras_predict
    from flower_edge.explain.saliency import activation_max, saliency

    model, (x, y, boxes) = patch_model
    pos = np.flatnonzero(y == 1)[:8]
    sal = saliency(model, x[pos], 1)
    assert sal.shape == (8, SIZE, SIZE) and sal.min() >= 0 and sal.max() <= 1
    # The gradient is largest on or next to the patch far more often than chance (8x8 of 32x32).
    assert _on_patch(sal, boxes[pos], margin=3) >= 0.5
    grey = np.full((1, SIZE, SIZE, 3), 128, np.uint8)
    made = activation_max(model, 1, steps=40)
    assert made.shape == (SIZE, SIZE, 3) and made.dtype == np.uint8
    predict = keras_predict(model)
    assert predict(made[None])[0, 1] > predict(grey)[0, 1] + 0.2


def test_deletion_test_beats_random_on_the_patch_model(patch_model):
    from flower_edge.explain.deletion import deletion_test
    from flower_edge.explain.gradcam import gradcam, keras_scores

    model, _ = patch_model
    x, y, _ = _patch_images(120, np.random.default_rng(2))
    x = x[y == 1][:50]
    result = deletion_test(keras_scores(model), x, gradcam(model, x, "features"), 0.2)
    assert result.images == 50 and result.passed
    assert result.gradcam_drop > result.random_drop and result.wins > 0.5


def test_deletion_verdict_and_spearman():
    from flower_edge.explain.deletion import summarise, top_mask
    from flower_edge.explain.drift import spearman

    assert not summarise(np.full(60, 0.1), np.full(60, 0.2), 0.2).passed
    few = summarise(np.full(10, 0.5), np.full(10, 0.1), 0.2)
    assert not few.passed and "too few" in few.note
    assert summarise(np.full(50, 0.3), np.zeros(50), 0.2).ratio is None
    assert top_mask(np.arange(100.0).reshape(10, 10), 0.2).sum() == 20
    a = np.random.default_rng(0).normal(size=(8, 8))
    assert spearman(a, a) == pytest.approx(1.0)
    assert spearman(a, -a) == pytest.approx(-1.0)
    assert spearman(np.zeros(4), np.ones(4)) == 1.0 and spearman(a, np.zeros((8, 8))) == 0.0


def _test_images(run: Path, n: int) -> list[str]:
    from flower_edge.data.splits import DataSplits

    return list(DataSplits.load(run / "split.json").test.paths[:n])


@pytest.mark.parametrize("method", ["gradcam", "saliency", "occlusion"])
def test_explain_cli_writes_pictures(invoke, tiny_run, tmp_path, method):
    images = _test_images(Path(tiny_run), 2)
    result = invoke("explain", tiny_run, *images, "--method", method, "--out", tmp_path)
    assert result.exit_code == 0, result.output
    written = sorted(tmp_path.glob("*.png"))
    assert len(written) == 2 and all(p.stat().st_size > 2000 for p in written)


def test_explain_cli_activation_max_by_label(invoke, tiny_run, tmp_path):
    label = (Path(tiny_run) / "labels.txt").read_text().split()[1]
    result = invoke("explain", tiny_run, "--method", "activation-max", "--class", label, "--out", tmp_path)
    assert result.exit_code == 0, result.output
    assert len(list(tmp_path.glob("class_001_*.png"))) == 1


def test_explain_cli_occlusion_on_int8_bundle(invoke, quantized_run, tmp_path):
    images = _test_images(quantized_run.path, 1)
    result = invoke("explain", quantized_run.path, *images, "--method", "occlusion", "--variant", "int8",
                    "--out", tmp_path)
    assert result.exit_code == 0, result.output
    assert len(list(tmp_path.glob("*_occlusion.png"))) == 1


def test_explain_cli_bad_input(invoke, tiny_run, tmp_path):
    image = _test_images(Path(tiny_run), 1)[0]
    fake = tmp_path / "notes.jpg"
    fake.write_text("this is not a picture")
    assert_clean_error(invoke("explain", tiny_run, str(fake)), contains="not a readable image")
    assert_clean_error(invoke("explain", tiny_run, image, "--class", "99"), code=2, contains="out of range")
    assert_clean_error(invoke("explain", tiny_run, image, "--class", "orchid"), code=2, contains="label")
    assert_clean_error(invoke("explain", tiny_run, image, "--method", "saliency", "--variant", "int8"),
                       code=2, contains="occlusion")
    assert_clean_error(invoke("explain", tiny_run), code=2, contains="PHOTO_OR_DIR")
    assert_clean_error(invoke("explain", tiny_run, image, "--method", "occlusion", "--variant", "int9"),
                       code=2, contains="no such exported variant")
    assert not list(tmp_path.glob("*.png"))
