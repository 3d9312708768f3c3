"""Synthetic flowers (determinism, learnability) and the `data` CLI round trip."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import assert_clean_error

from flower_edge.data.synthetic import flower_classes, write_synthetic
from flower_edge.errors import UsageError


def _files(root):
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_byte_identical_other_seed_differs(tmp_path):
    a = write_synthetic(tmp_path / "a", classes=3, per_class=4, size=32, seed=7)
    b = write_synthetic(tmp_path / "b", classes=3, per_class=4, size=32, seed=7)
    c = write_synthetic(tmp_path / "c", classes=3, per_class=4, size=32, seed=8)
    fa, fb, fc = _files(a), _files(b), _files(c)
    assert len(fa) == 3 * 4 + 2 and fa == fb  # PNGs, synthetic.json and the .flower-edge marker
    assert [k for k in fa if fa[k] != fc.get(k)]  # images differ (the marker records the seed too)


def test_classes_differ_by_petals_colour_and_shape():
    defs = flower_classes(8)
    assert len({c.name for c in defs}) == 8
    assert len({c.petals for c in defs}) >= 4 and len({c.shape for c in defs}) == 4
    hues = sorted(c.hue for c in defs)
    assert min(np.diff(hues)) > 0.1  # distinct colours
    assert len({c.name for c in flower_classes(40)}) == 40


def test_synth_refuses_to_overwrite_a_foreign_folder(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.txt").write_text("precious")
    with pytest.raises(UsageError, match="not a synthetic dataset"):
        write_synthetic(tmp_path / "mine", classes=2, per_class=1, size=16)
    assert (tmp_path / "mine" / "thesis.txt").read_text() == "precious"


def test_synthetic_set_is_learnable_by_a_tiny_cnn(synth_data):
    """A tiny CNN beats chance (25%) by far in a few epochs at 64 px.

    A BatchNorm-free net on purpose: with so few steps BN's moving statistics, not the
    data, would decide the held-out accuracy. Measured 0.75-0.83 over seeds 0-3.
    """
    from flower_edge.data.pipeline import make_dataset
    from flower_edge.data.sources import load_data
    from flower_edge.tfcompat import keras, tf

    tf().random.set_seed(0)
    k = keras()
    d = load_data(synth_data, fractions=(0.6, 0.0, 0.4))
    model = k.Sequential([k.layers.Rescaling(1 / 255.0, input_shape=(64, 64, 3)),
                          k.layers.Conv2D(16, 3, activation="relu"), k.layers.MaxPooling2D(),
                          k.layers.Conv2D(32, 3, activation="relu"), k.layers.MaxPooling2D(),
                          k.layers.GlobalAveragePooling2D(), k.layers.Dense(4, activation="softmax")])
    model.compile(k.optimizers.Adam(3e-3), "categorical_crossentropy", metrics=["accuracy"])
    train = make_dataset(d.train, image_size=64, batch_size=16, training=True, num_classes=4)
    model.fit(train, epochs=10, verbose=0)
    _, acc = model.evaluate(make_dataset(d.test, image_size=64, batch_size=64, num_classes=4), verbose=0)
    print(f"synthetic held-out accuracy: {acc:.3f} (chance 0.25)")
    assert acc >= 0.55, acc


def test_cli_synth_then_inspect_round_trips(invoke, tmp_path):
    result = invoke("data", "synth", "--out", tmp_path / "s", "--classes", 3, "--per-class", 5, "--size", 32,
                    "--seed", 1)
    assert result.exit_code == 0, result.output
    report = json.loads(invoke("data", "inspect", tmp_path / "s", "--json").stdout)
    assert report["source"] == "synthetic" and len(report["classes"]) == 3
    assert report["total"] == 15 and report["unreadable"] == []
    assert all(sum(n.values()) == 5 for n in report["per_class"].values())
    assert report["sizes"]["min_width"] == report["sizes"]["max_height"] == 32
    before = _files(tmp_path / "s")
    assert invoke("data", "synth", "--out", tmp_path / "s", "--classes", 3, "--per-class", 5, "--size", 32,
                  "--seed", 1).exit_code == 0
    assert _files(tmp_path / "s") == before


def test_cli_inspect_flowers5_reports_5_by_100(invoke, flowers5):
    result = invoke("data", "inspect", flowers5)
    assert result.exit_code == 0, result.output
    assert "classes: 5   images: 500" in result.stdout
    for cls in ("daisy", "dandelion", "rose", "sunflower", "tulip"):
        assert f"| {cls} | 100 | 80 | 10 | 10 |" in result.stdout  # the default 80/10/10 split
    report = json.loads(invoke("data", "inspect", flowers5, "--json").stdout)
    assert {c: sum(n.values()) for c, n in report["per_class"].items()} == dict.fromkeys(
        report["classes"], 100)
    assert report["sizes"]["median_width"] == 128


def test_cli_bad_synth_args(invoke, tmp_path):
    assert_clean_error(invoke("data", "synth", "--out", tmp_path / "s", "--classes", 1), code=2,
                       contains="'--classes': 1 is not in the range 2<=x<=100")
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("command", [["data"], ["data", "synth"], ["data", "fetch"], ["data", "inspect"]])
def test_every_data_command_help_has_an_example(invoke, command):
    result = invoke(*command, "--help")
    assert result.exit_code == 0 and "Example:" in result.output
