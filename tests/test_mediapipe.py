"""MediaPipe as a real client: it runs flower-edge bundles, reads their metadata, and
flower-edge runs classifiers whose metadata MediaPipe's writer wrote.

MediaPipe lives in venvs of its own (make test builds them): $FLOWER_EDGE_MEDIAPIPE_PYTHON
(the latest release, ImageClassifier) and $FLOWER_EDGE_MEDIAPIPE_WRITER_PYTHON (0.10.21,
whose metadata writer and displayer import). Without them these tests skip; under CI=true
they fail. benchmarks/bench_mediapipe_agreement.py measures the same on >= 300 photos.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

CLIENT = Path(__file__).resolve().parents[1] / "benchmarks" / "mediapipe_client.py"
PHOTOS_PER_CLASS = 8


def _python(env: str) -> str:
    python = os.environ.get(env)
    if not python:
        reason = f"set {env} to a python with mediapipe (make test builds it)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must have {reason}")
        pytest.skip(reason)
    return python


def mediapipe(env: str, *args) -> object:
    """Run benchmarks/mediapipe_client.py in the MediaPipe venv; its JSON answer."""
    proc = subprocess.run([_python(env), str(CLIENT), *map(str, args)], capture_output=True, text=True,
                          timeout=600, env={**os.environ, "PYTHONPATH": ""})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def eval_photos() -> list[Path]:
    from conftest import shared_path

    root = shared_path("data", "flowers5-eval")
    return [p for d in sorted(root.iterdir()) if d.is_dir() for p in sorted(d.glob("*.jpg"))[:PHOTOS_PER_CLASS]]


@pytest.mark.parametrize("variant", ["fp32", "int8"])
def test_mediapipe_classifies_bundles_with_flower_edge_labels(quantized_run, eval_photos, variant, tmp_path):
    """No options: MediaPipe's top-1 is `predict`'s on flower-edge's own image (all of them)
    and on the raw photo with a centred-square region of interest (nearly all: its own
    decode and resize differ)."""
    from flower_edge.runtime import Predictor

    bundle = quantized_run.bundle(variant)
    predictor = Predictor(bundle)
    ours = [predictor.predict(p, top_k=1)[0][0] for p in eval_photos]
    jobs = []
    for i, photo in enumerate(eval_photos):
        np.save(tmp_path / f"{i}.npy", predictor.preprocess(photo))
        jobs += [{"path": str(tmp_path / f"{i}.npy")}, {"path": str(photo), "roi": "center-square"}]
    (tmp_path / "jobs.json").write_text(json.dumps(jobs))
    answers = mediapipe("FLOWER_EDGE_MEDIAPIPE_PYTHON", "classify", bundle / "model.tflite", tmp_path / "jobs.json")
    preprocessed, raw = answers[0::2], answers[1::2]
    assert {a["name"] for a in answers} <= set(predictor.labels)
    assert [a["name"] for a in preprocessed] == ours
    agree = np.mean([a["name"] == o for a, o in zip(raw, ours)])
    assert agree >= 0.9, (variant, agree)


def test_mediapipe_displayer_reads_back_the_metadata(quantized_run):
    bundle = quantized_run.bundle("int8")
    shown = mediapipe("FLOWER_EDGE_MEDIAPIPE_WRITER_PYTHON", "display", bundle / "model.tflite")
    manifest = json.loads((bundle / "manifest.json").read_text())
    meta = shown["metadata"]
    assert meta["name"] == manifest["metadata"]["name"] and meta["min_parser_version"] == "1.0.0"
    image = meta["subgraph_metadata"][0]["input_tensor_metadata"][0]
    assert image["content"]["content_properties"]["color_space"] == "RGB"
    size = image["content"]["content_properties"]["default_size"]
    assert [size["height"], size["width"]] == manifest["preprocessing"]["size"]
    assert image["process_units"][0]["options"] == {"mean": [0.0], "std": [1.0]}
    out = meta["subgraph_metadata"][0]["output_tensor_metadata"][0]
    assert out["associated_files"][0]["type"] == "TENSOR_AXIS_LABELS"
    assert shown["files"] == ["labels.txt"] and shown["labels"] == (bundle / "labels.txt").read_text()


LABELS = ["dark", "bright", "grey"]
SHADES = {"dark": 30, "bright": 225, "grey": 128}


def _brightness_model(io_type: str, size: int = 32) -> bytes:
    """Someone else's classifier: input normalized to [-1, 1] (mean 127.5, std 127.5), class
    by mean brightness. Fed 0..255 instead of [-1, 1], every photo would be "bright"."""
    from flower_edge.tfcompat import keras, tf

    k = keras()
    inp = k.Input((size, size, 3))
    dense = k.layers.Dense(3, activation="softmax")
    model = k.Model(inp, dense(k.layers.GlobalAveragePooling2D()(inp)))
    dense.set_weights([np.array([[-10 / 3, 10 / 3, 0]] * 3, np.float32), np.array([-2, -2, 0], np.float32)])
    converter = tf().lite.TFLiteConverter.from_keras_model(model)
    if io_type == "uint8":
        rng = np.random.default_rng(0)
        converter.optimizations = [tf().lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: (  # flat images: the pooled mean spans [-1, 1]
            [np.full((1, size, size, 3), rng.uniform(-1, 1), np.float32)] for _ in range(20))
        converter.target_spec.supported_ops = [tf().lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = converter.inference_output_type = tf().uint8
    return converter.convert()


def _png(shade: int) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (50, 40), (shade,) * 3).save(buf, "PNG")
    return buf.getvalue()


@pytest.mark.parametrize("io_type", ["float32", "uint8"])
def test_predict_and_serve_run_a_classifier_with_mediapipe_written_metadata(io_type, tmp_path, invoke):
    (tmp_path / "labels.txt").write_text("\n".join(LABELS) + "\n")
    (tmp_path / "plain.tflite").write_bytes(_brightness_model(io_type))
    model = tmp_path / "theirs.tflite"
    mediapipe("FLOWER_EDGE_MEDIAPIPE_WRITER_PYTHON", "write", tmp_path / "plain.tflite", model, 127.5, 127.5,
              tmp_path / "labels.txt")
    photos = []
    for name, shade in SHADES.items():
        photos.append(tmp_path / f"{name}.png")
        photos[-1].write_bytes(_png(shade))
    result = invoke("predict", model, *photos, "--json", "--top-k", "1")
    assert result.exit_code == 0, result.output
    got = {Path(p["path"]).stem: p["label"] for p in json.loads(result.output)["predictions"]}
    assert got == {name: name for name in SHADES}

    pytest.importorskip("flask", reason='needs the serve extra: pip install "flower-edge[serve]"')
    from flower_edge.serve.app import create_app
    from flower_edge.serve.pool import PredictorPool

    client = create_app(PredictorPool(str(model), workers=1)).test_client()
    for name, shade in SHADES.items():
        answer = client.post("/v1/classify", data=_png(shade), headers={"X-Filename": f"{name}.png"})
        assert answer.status_code == 200 and answer.get_json()["label"] == name, answer.get_json()


def test_the_readme_snippet_runs(quantized_run, eval_photos, tmp_path):
    """The README's MediaPipe snippet, as printed, on a bundle and an eval photo."""
    from flower_edge.runtime import Predictor

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    start = readme.index("```python\nimport mediapipe")
    snippet = readme[start + len("```python\n"):readme.index("```", start + 10)]
    bundle, photo = quantized_run.bundle("int8"), eval_photos[0]
    script = tmp_path / "snippet.py"
    script.write_text(snippet.replace('"int8/model.tflite"', repr(str(bundle / "model.tflite")))
                      .replace('"rose.jpg"', repr(str(photo))))
    proc = subprocess.run([_python("FLOWER_EDGE_MEDIAPIPE_PYTHON"), str(script)], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": ""})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] in Predictor(bundle).labels
