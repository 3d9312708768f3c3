"""Quantize stage: configs, bad input, and the slower paths (QAT, debugger) on a tiny run."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_clean_error
from fixtures_quantize import copy_run
from metadata_checks import assert_carries_metadata

from flower_edge.errors import UsageError
from flower_edge.quantize.config import QuantizationConfig
from flower_edge.quantize.recipe import QuantizeRecipe


# --- configs (no TF) -------------------------------------------------------------------------
def test_variant_names_say_what_the_file_is():
    assert QuantizationConfig("fp32").variant == "fp32"
    assert QuantizationConfig("fp16").variant == "fp16"
    assert QuantizationConfig("dynamic").variant == "dynamic"
    assert QuantizationConfig("int8").variant == "int8"
    assert QuantizationConfig.of("int8", qat=True).variant == "int8-qat"
    assert QuantizationConfig.of("int8", keep_float=("auto:3",)).variant == "int8-keep-auto3"
    assert QuantizationConfig.of("int8", keep_float=("logits",)).variant == "int8-keep-logits"
    assert QuantizationConfig.of("int8", io="float32").variant == "int8-iofloat32"
    assert QuantizationConfig.of("int8", output_type="uint8").variant == "int8-outuint8"
    assert QuantizationConfig.of("int8", per_channel=False).variant == "int8-pertensor"
    assert QuantizationConfig.of("int8", allow_float_fallback=True).variant == "int8-mixed"
    assert QuantizationConfig("int8").full_integer
    assert not QuantizationConfig.of("int8", allow_float_fallback=True).full_integer


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(calib_samples=0), "--calib-samples"),
    (dict(io="int4"), "--io"),
    (dict(keep_float=("auto:0",)), "auto:K"),
    (dict(keep_float=("auto:2", "logits")), "not both"),
    (dict(keep_float=("logits",), qat=True), "cannot be combined"),
])
def test_bad_int8_configs_are_one_line_errors(kwargs, fragment):
    with pytest.raises(UsageError, match=fragment):
        QuantizationConfig.of("int8", **kwargs)


def test_recipe_expands_in_order_and_rejects_unknown_variants():
    recipe = QuantizeRecipe(qat_epochs=1, keep_float=("auto:2",))
    assert [c.variant for c in recipe.configs()] == ["fp32", "fp16", "dynamic", "int8", "int8-qat",
                                                     "int8-keep-auto2"]
    assert QuantizeRecipe().configs()[2].int8.dense_per_tensor  # loads in tflite-runtime 2.14
    assert QuantizationConfig(kind="dynamic").int8.dense_per_tensor  # a bare one too: one default


def test_int8_knobs_are_one_table_in_recipes_and_one_flag_each(tmp_path):
    """QuantizationConfig and QuantizeRecipe share Int8Options; a recipe's [int8] table and the
    quantize flags use its field names, and an old spelling is an unknown key."""
    from dataclasses import fields

    from flower_edge.cli.quantize_cmd import quantize_cmd
    from flower_edge.config import load_recipe_file
    from flower_edge.quantize.options import Int8Options

    recipe = tmp_path / "r.toml"
    recipe.write_text('variants = ["int8", "dynamic"]\n[int8]\noutput_type = "uint8"\ndense_per_tensor = false\n')
    loaded = load_recipe_file(QuantizeRecipe, recipe)
    assert [(c.variant, c.int8.dense_per_tensor) for c in loaded.configs()] == \
        [("dynamic", False), ("int8-outuint8", True)]
    assert QuantizationConfig(kind="fp32", int8=loaded.int8) == QuantizationConfig("fp32")  # int8-only knobs
    for old in ('output = "uint8"', "activations16 = true", "dynamic_dense_per_tensor = true"):
        recipe.write_text(f"[int8]\n{old}\n")
        with pytest.raises(UsageError, match="unknown recipe key"):
            load_recipe_file(QuantizeRecipe, recipe)
    recipe.write_text("calib_samples = 10\n")  # a flat int8 key, as recipes had it: names its table
    with pytest.raises(UsageError, match=r"'calib_samples' belongs in the \[int8\] table"):
        load_recipe_file(QuantizeRecipe, recipe)
    flags = {p.name: p.opts + p.secondary_opts for p in quantize_cmd.params}
    for f in fields(Int8Options):
        assert flags[f.name] == f.metadata["flag"].split("/"), f.name
    with pytest.raises(UsageError, match="unknown variant 'int4'"):
        QuantizeRecipe(variants=("int4",))


def test_recipes_in_the_repo_load():
    from flower_edge.config import from_mapping, load_toml

    folder = Path(__file__).resolve().parents[1] / "quantize"
    recipes = sorted(folder.glob("*.toml"))
    assert recipes
    for path in recipes:
        assert from_mapping(QuantizeRecipe, load_toml(path)).configs()


def test_calibration_is_stratified_by_class():
    from flower_edge.data.splits import Split
    from flower_edge.quantize.calibration import stratified

    labels = (0,) * 50 + (1,) * 30 + (2,) * 5
    split = Split("train", tuple(f"img{i}.jpg" for i in range(len(labels))), labels)
    _, ys = stratified(split, 15)
    assert np.bincount(ys).tolist() == [5, 5, 5]
    _, ys = stratified(split, 30)
    assert np.bincount(ys).tolist() == [13, 12, 5]


# --- bad input on a real (tiny) run ---------------------------------------------------------
@pytest.fixture()
def tiny_copy(tiny_run, tmp_path):
    return copy_run(Path(tiny_run), tmp_path / "run")


def _no_bundle(run: Path) -> None:
    export = run / "export"
    left = [p.name for p in export.iterdir() if p.name != ".flower-edge"] if export.exists() else []  # the marker is not a bundle
    assert not [n for n in left if n in ("fp32", "fp16", "dynamic") or n.startswith(("int8", "."))], left


def test_run_without_model(invoke, tmp_path):
    (tmp_path / "empty").mkdir()
    assert_clean_error(invoke("quantize", tmp_path / "empty"), contains="no model.keras")
    _no_bundle(tmp_path / "empty")


def test_corrupt_model(invoke, tiny_copy):
    (tiny_copy / "model.keras").write_bytes(b"PK\x03\x04 not really a zip")
    assert_clean_error(invoke("quantize", tiny_copy, "--fp32"), contains="corrupt")
    _no_bundle(tiny_copy)


def test_calib_samples_zero(invoke, tiny_copy):
    assert_clean_error(invoke("quantize", tiny_copy, "--int8", "--calib-samples", "0"), code=2,
                       contains="--calib-samples")
    _no_bundle(tiny_copy)


def test_unknown_variant(invoke, tiny_copy):
    assert_clean_error(invoke("quantize", tiny_copy, "--variant", "int4"), code=2, contains="--variant")
    _no_bundle(tiny_copy)


def test_unwritable_output(invoke, tiny_copy, monkeypatch):
    import flower_edge.io as fio

    real = fio.tempfile.mkdtemp

    def refuse(*args, **kwargs):
        if kwargs.get("prefix", "").startswith(".fp32"):
            raise PermissionError(13, "Permission denied", str(kwargs.get("dir")))
        return real(*args, **kwargs)

    monkeypatch.setattr(fio.tempfile, "mkdtemp", refuse)
    assert_clean_error(invoke("quantize", tiny_copy, "--fp32"), contains="permission denied")
    _no_bundle(tiny_copy)


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores permissions")
def test_read_only_run_dir(invoke, tiny_copy):
    os.chmod(tiny_copy, 0o555)
    try:
        assert_clean_error(invoke("quantize", tiny_copy, "--fp32"), contains="permission denied")
    finally:
        os.chmod(tiny_copy, 0o755)


def test_moved_data_names_the_place_and_accepts_calib_data(invoke, tiny_copy, tmp_path):
    split = json.loads((tiny_copy / "split.json").read_text())
    real_root = split["root"]
    split["root"] = str(tmp_path / "gone")
    (tiny_copy / "split.json").write_text(json.dumps(split))
    line = assert_clean_error(invoke("quantize", tiny_copy, "--int8", "--calib-samples", "10"),
                              contains="--calib-data")
    assert str(tmp_path / "gone") in line
    _no_bundle(tiny_copy)
    result = invoke("quantize", tiny_copy, "--int8", "--calib-samples", "10", "--calib-data", real_root)
    assert result.exit_code == 0, result.output
    manifest = json.loads((tiny_copy / "export" / "int8" / "manifest.json").read_text())
    assert manifest["input"]["dtype"] == "uint8" and manifest["quantization"]["calib_samples"] == 10


# --- the agreement check warns on a model whose decisions int8 cannot keep ------------------
def test_warns_when_int8_disagrees(invoke, tiny_copy):
    from flower_edge.tfcompat import keras

    model = keras().models.load_model(str(tiny_copy / "model.keras"), compile=False)
    kernel, bias = model.get_layer("logits").get_weights()
    # near-tie logits: every class within a hair, so int8 rounding flips the argmax
    model.get_layer("logits").set_weights([kernel * 1e-4, np.zeros_like(bias) + 0.0])
    model.save(str(tiny_copy / "model.keras"))
    config = tiny_copy / "config.toml"
    config.write_text(re.sub(r"label_smoothing = [0-9.]+", "label_smoothing = 0.1", config.read_text()))
    result = invoke("quantize", tiny_copy, "--fp32", "--int8", "--calib-samples", "20")
    assert result.exit_code == 0, result.output
    warnings = [ln for ln in result.output.splitlines() if ln.startswith("warning: int8 agrees")]
    assert len(warnings) == 1, result.output
    assert "--keep-float auto:" in warnings[0] and "--qat-epochs" in warnings[0]
    # a run trained with label smoothing is told to retrain without it first (measured cause)
    assert "label smoothing 0.1" in warnings[0] and "--label-smoothing 0" in warnings[0]
    rows = json.loads((tiny_copy / "export" / "quantize.json").read_text())["rows"]
    by = {r["variant"]: r for r in rows}
    assert by["fp32"]["top1_agreement"] == 1.0 and by["int8"]["top1_agreement"] < 0.97


# --- QAT and selective quantization (tiny model: the paths, not the accuracy) ---------------
def test_qat_and_keep_float_variants_load(invoke, tiny_copy):
    from ai_edge_litert.interpreter import Interpreter

    from flower_edge.quantize.convert import float_ops

    result = invoke("quantize", tiny_copy, "--qat-epochs", "1", "--debug", "--keep-float", "auto:2",
                    "--calib-samples", "20")
    assert result.exit_code == 0, result.output
    export = tiny_copy / "export"
    assert sorted(p.name for p in export.iterdir() if (p / "manifest.json").is_file()) == \
        ["int8-keep-auto2", "int8-qat"]
    qat = (export / "int8-qat" / "model.tflite").read_bytes()
    assert float_ops(qat) == []  # QAT int8 is full-integer too
    keep = json.loads((export / "int8-keep-auto2" / "manifest.json").read_text())
    assert len(keep["quantization"]["float_nodes"]) == 2
    assert set(float_ops((export / "int8-keep-auto2" / "model.tflite").read_bytes()))  # some stay float
    for variant in ("int8-qat", "int8-keep-auto2"):
        interpreter = Interpreter(model_path=str(export / variant / "model.tflite"))
        interpreter.allocate_tensors()
        assert_carries_metadata(export / variant)  # QAT and keep-float too
    lines = (export / "debug" / "layers.csv").read_text().splitlines()
    assert lines[0].startswith("tensor_name,op_name,rmse,scale,rmse_scale") and len(lines) > 3
    ranks = [float(line.split(",")[4]) for line in lines[1:]]
    assert ranks == sorted(ranks, reverse=True)
    assert "worst first" in (export / "debug" / "layers.md").read_text()


def test_agreement_warning_needs_more_than_chance():
    """On 50 val photos 2 disagreements (96%) are what a 97% model shows by chance; 5 are
    not. The warning fires on evidence, not on one or two photos."""
    from flower_edge.quantize.verify import VariantRow, agreement_warnings

    def row(agree, n):
        return VariantRow("int8", "x", 2.7, 0.3, agree, 0.1, n, "uint8", "float32", True, None)

    assert agreement_warnings([row(0.96, 50)], 0.97) == []
    assert len(agreement_warnings([row(0.90, 50)], 0.97)) == 1
    assert len(agreement_warnings([row(0.867, 75)], 0.97)) == 1  # the label-smoothing case
    assert agreement_warnings([row(0.98, 50)], 0.97) == []
    assert len(agreement_warnings([row(0.94, 1500)], 0.97)) == 1  # 90 of 1,500: a real gap
