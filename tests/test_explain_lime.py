"""LIME through the `lime` package: seeded, TF-free on a bundle, scored in the deletion
test beside Grad-CAM and occlusion, and shown beside Grad-CAM for misclassified images."""

from __future__ import annotations

import builtins
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_clean_error
from test_core import cli_without_tensorflow

SIZE, PATCH = 48, 16


def _patch_image(top: int, left: int, seed: int = 0) -> np.ndarray:
    """Grey-green noise with one red PATCHxPATCH square: the only evidence for class 1."""
    rng = np.random.default_rng(seed)
    img = rng.integers(60, 120, (SIZE, SIZE, 3)).astype(np.uint8)
    img[..., 0] //= 2
    img[top:top + PATCH, left:left + PATCH] = (230, 30, 30)
    return img


def _redness_predict(images: np.ndarray) -> np.ndarray:
    """A model in numpy: P(class 1) grows with the number of strongly red pixels."""
    x = np.asarray(images, np.float32)
    red = ((x[..., 0] > 180) & (x[..., 1] < 80)).mean(axis=(1, 2))
    p1 = 1.0 / (1.0 + np.exp(-(red - 0.05) * 60.0))
    return np.stack([1.0 - p1, p1], axis=1).astype(np.float32)


def test_lime_is_deterministic_for_a_seed_and_finds_the_evidence():
    from flower_edge.explain.lime import lime, top_overlap

    img = _patch_image(8, 24)
    calls = []
    a = lime(_redness_predict, img, 1, samples=150, segments=24, seed=0, batch_size=32, on_batch=calls.append)
    b = lime(_redness_predict, img, 1, samples=150, segments=24, seed=0, batch_size=32)
    assert sum(calls) == 150 and max(calls) <= 32  # every perturbed copy went through predict, batched
    assert np.array_equal(a.segments, b.segments) and np.array_equal(a.weights, b.weights)
    assert np.array_equal(a.mask(), b.mask()) and top_overlap(a, b) == 1.0
    assert a.segments.shape == (SIZE, SIZE) and a.segments.min() == 0
    assert len(a.weights) == a.segments.max() + 1 >= 10
    other = lime(_redness_predict, img, 1, samples=150, segments=24, seed=1, batch_size=32)
    assert not np.array_equal(a.weights, other.weights)  # the seed does drive the sampling
    # Real behaviour: the strongest superpixel lies on the red square, for either seed.
    patch = np.zeros((SIZE, SIZE), bool)
    patch[8:8 + PATCH, 24:24 + PATCH] = True
    for found in (a, other):
        strongest = found.segments == found.top(1)[0]
        assert (strongest & patch).sum() > 0.5 * strongest.sum()
        assert (found.mask() & patch).sum() > 0.5 * patch.sum()


def test_deletion_table_ranks_maps_and_says_when_gradcam_loses():
    from dataclasses import asdict

    from flower_edge.explain.deletion import deletion_test
    from flower_edge.explain.tables import deletion_table

    boxes = [(t, x) for t in (0, 16, 32) for x in (0, 16, 32)] * 6  # 54 images
    images = np.stack([_patch_image(t, x, seed=i) for i, (t, x) in enumerate(boxes)])
    truth = np.zeros((len(images), SIZE, SIZE), np.float32)
    for m, (t, x) in zip(truth, boxes):
        m[t:t + PATCH, x:x + PATCH] = 1.0

    def logits(x):
        p = np.clip(_redness_predict(x), 1e-6, 1 - 1e-6)
        return np.log(p)

    # A "Grad-CAM" that points away from the square must lose to the map that points at it.
    result = deletion_test(logits, images, 1.0 - truth[:, ::4, ::4], 0.2, others={"lime": truth})
    order = [m.method for m in result.methods]
    assert order[0] == "lime" and result.most_faithful == "lime"
    assert order.index("random") < order.index("gradcam") and not result.passed
    text = "\n".join(deletion_table(asdict(result)))
    assert "**Grad-CAM loses** to LIME and random blobs" in text and "| **LIME** |" in text
    assert result.score("lime").wins > 0.9 and result.score("random").wins is None


def test_missing_lime_is_one_line_naming_the_extra(invoke, tmp_path, monkeypatch):
    real_import = builtins.__import__

    def no_lime(name, *args, **kwargs):
        if name == "lime" or name.startswith("lime."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_lime)
    image = tmp_path / "rose.png"
    from PIL import Image

    Image.fromarray(_patch_image(0, 0)).save(image)
    result = invoke("explain", tmp_path, image, "--method", "lime", "--variant", "int8")
    line = assert_clean_error(result, code=1, contains='pip install "flower-edge[explain]"')
    assert "lime" in line.lower()
    bad = invoke("explain", tmp_path, image, "--method", "lime", "--lime-samples", "3")
    assert_clean_error(bad, code=2, contains="--lime-samples")


def test_lime_on_a_bundle_runs_with_tensorflow_blocked(runtime_bundles, tmp_path):
    photo, run = runtime_bundles["paths"][0], tmp_path / "run"
    shutil.copytree(runtime_bundles["bundles"]["int8"], run / "export" / "int8")  # a run's variant, TF-free
    out = tmp_path / "pictures"
    done = cli_without_tensorflow("explain", run, photo, "--method", "lime", "--variant", "int8",
                                  "--lime-samples", "80", "--lime-segments", "12", "--out", out,
                                  also="'lime' in sys.modules")
    written = sorted(out.glob("*_lime.png"))
    assert [p.name for p in written] == [f"{photo.stem}_lime.png"] and written[0].stat().st_size > 5000
    assert "lime (1 images)" in done.stderr  # the progress bar


def test_lime_on_the_keras_model_by_label(invoke, tiny_run, tmp_path):
    from flower_edge.data.splits import DataSplits

    photo = DataSplits.load(Path(tiny_run) / "split.json").test.paths[0]
    label = (Path(tiny_run) / "labels.txt").read_text().split()[1]
    args = ("explain", tiny_run, photo, "--method", "lime", "--class", label, "--lime-samples", "60",
            "--lime-segments", "10", "--out", tmp_path)
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    picture = tmp_path / f"{Path(photo).stem}_lime.png"
    assert result.stdout.strip() == str(picture) and picture.stat().st_size > 5000
    first = picture.read_bytes()
    assert invoke(*args).exit_code == 0 and picture.read_bytes() == first  # seeded: the same picture


def test_benchmark_scores_lime_and_shows_it_beside_gradcam(invoke, tiny_run, tmp_path):
    run = tmp_path / "tiny"
    shutil.copytree(tiny_run, run, ignore=shutil.ignore_patterns("export", "report"))
    recipe = tmp_path / "quick.toml"
    recipe.write_text("gradcam_images = 1\ndeletion_images = 8\ndrift_images = 0\nneighbours = 0\n"
                      "misclassified_examples = 2\nlime_samples = 40\nlime_segments = 12\n")
    result = invoke("benchmark", run, "--config", recipe, "--threads", "1", "--runs", "2", "--warmup", "1")
    assert result.exit_code == 0, result.output
    data = json.loads((run / "report" / "benchmark.json").read_text())
    deletion, mis = data["deletion"], data["misclassification"]
    assert sorted(m["method"] for m in deletion["methods"]) == ["gradcam", "lime", "occlusion", "random"]
    assert deletion["most_faithful"] == deletion["methods"][0]["method"]
    drops = [m["drop"] for m in deletion["methods"]]
    assert drops == sorted(drops, reverse=True)
    md = (run / "report" / "benchmark.md").read_text()
    assert "Most faithful by the deletion test" in md and ("| LIME |" in md or "| **LIME** |" in md)
    assert mis["errors"] > 0 and mis["image"] is None  # neighbours = 0: no neighbour picture
    assert (run / "report" / mis["explained"]).stat().st_size > 5000
    assert mis["explained"] in md
    assert "Most faithful" in result.output


@pytest.mark.parametrize("value", ["[\"shap\"]"])
def test_unknown_deletion_method_is_a_usage_error(invoke, tiny_run, tmp_path, value):
    recipe = tmp_path / "bad.toml"
    recipe.write_text(f"deletion_methods = {value}\n")
    assert_clean_error(invoke("benchmark", tiny_run, "--config", recipe), code=2, contains="deletion_methods")


def test_rows_import_the_result_from_explain():
    from flower_edge.benchmark import rows
    from flower_edge.explain import deletion

    assert rows.DeletionResult is deletion.DeletionResult
    assert not hasattr(sys.modules.get("flower_edge.explain.deletion"), "BenchmarkReport")
    assert Path(deletion.__file__).parent.name == "explain"
