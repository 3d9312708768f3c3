"""Pruning and clustering (tfmot) through `flower-edge quantize`, read back from the .tflite files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from fixtures_quantize import copy_run
from metadata_checks import assert_carries_metadata

from flower_edge.errors import UsageError
from flower_edge.quantize.config import QuantizationConfig
from flower_edge.quantize.recipe import QuantizeRecipe

PRUNE, CLUSTERS = 0.75, 8


def test_compressed_variant_names_and_bad_values():
    assert [c.variant for c in QuantizeRecipe(variants=(), prune=(0.5,), cluster=(16,)).configs()] == \
        ["fp32-pruned50", "int8-pruned50", "fp32-clustered16", "int8-clustered16"]
    assert [c.variant for c in QuantizeRecipe(variants=(), prune=(0.75,)).configs()] == \
        ["fp32-pruned75", "int8-pruned75"]
    assert [c.variant for c in QuantizeRecipe(variants=("fp16", "int8"), cluster=(32,)).configs()] == \
        ["fp16", "int8", "fp16-clustered32", "int8-clustered32"]
    assert QuantizationConfig.of("int8", calib_samples=1, prune=0.875, io="float32").variant == \
        "int8-pruned87.5-iofloat32"
    for kwargs, fragment in ((dict(prune=1.0), "between 0 and 1"), (dict(cluster=1), "2 to 256"),
                             (dict(prune=0.5, cluster=8), "either pruned or clustered"),
                             (dict(prune=0.5, qat=True), "post-training")):
        with pytest.raises(UsageError, match=fragment):
            QuantizationConfig.of("int8", calib_samples=1, **kwargs)


def test_bad_prune_flag_is_a_usage_error(invoke, tmp_path):
    result = invoke("quantize", tmp_path, "--prune", "lots")
    assert result.exit_code == 2 and "--prune" in result.output and "Traceback" not in result.output


@pytest.fixture(scope="module")
def compressed_run(tiny_run, tmp_path_factory):
    from click.testing import CliRunner

    from flower_edge.cli.main import cli

    run = copy_run(Path(tiny_run), tmp_path_factory.mktemp("compress") / "run")
    result = CliRunner().invoke(cli, ["quantize", str(run), "--fp32", "--int8", "--prune", f"{PRUNE:g}",
                                      "--cluster", str(CLUSTERS), "--calib-samples", "20"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return run / "export"


def _stats(export: Path, variant: str):
    from flower_edge.quantize.weight_stats import kernel_stats

    return kernel_stats((export / variant / "model.tflite").read_bytes())


def test_pruned_kernels_keep_the_target_sparsity_in_the_file(compressed_run):
    plain = [s for s in _stats(compressed_run, "int8") if s.op != "DEPTHWISE_CONV_2D"]
    assert max(s.sparsity for s in plain) < 0.2  # the original model was not pruned in place
    for variant in ("fp32-pruned75", "int8-pruned75"):
        stats = _stats(compressed_run, variant)
        assert {s.op for s in stats} == {"CONV_2D", "FULLY_CONNECTED"}
        for s in stats:  # tfmot zeroes the floor(target * n) smallest weights of every kernel
            n = int(np.prod(s.shape))
            assert s.sparsity * n >= int(PRUNE * n) - 1e-6, (variant, s)
        manifest = json.loads((compressed_run / variant / "manifest.json").read_text())
        assert manifest["quantization"]["compression"]["sparsity"] >= PRUNE - 0.01


def test_clustered_kernels_have_at_most_n_values(compressed_run):
    # fp32: kernels without a folded BatchNorm keep N values per kernel; folding a BN scales
    # each output channel, so there N values per channel. int8 per-channel rounding maps each
    # channel's N values to at most N int8 values (channels differ in scale).
    for s in _stats(compressed_run, "fp32-clustered8"):
        assert s.max_unique_per_channel <= CLUSTERS, s
        if s.name.startswith(("features", "logits")) or s.op == "FULLY_CONNECTED":
            assert s.unique_values <= CLUSTERS, s
    for s in _stats(compressed_run, "int8-clustered8"):
        assert s.dtype == "int8" and s.max_unique_per_channel <= CLUSTERS, s
    assert max(s.max_unique_per_channel for s in _stats(compressed_run, "int8")) > 4 * CLUSTERS


def test_compressed_variants_load_and_run_in_litert(compressed_run):
    from ai_edge_litert.interpreter import Interpreter

    rows = {r["variant"]: r for r in json.loads((compressed_run / "quantize.json").read_text())["rows"]}
    assert set(rows) == {"fp32", "int8", "fp32-pruned75", "int8-pruned75", "fp32-clustered8", "int8-clustered8"}
    for variant in rows:
        interpreter = Interpreter(model_path=str(compressed_run / variant / "model.tflite"))
        interpreter.allocate_tensors()
        inp = interpreter.get_input_details()[0]
        interpreter.set_tensor(inp["index"], np.full(inp["shape"], 100, inp["dtype"]))
        interpreter.invoke()
        out = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
        assert np.isfinite(out).all() and abs(float(out.sum()) - 1) < 0.05, variant
        assert rows[variant]["litert_loads"]
        assert_carries_metadata(compressed_run / variant)  # pruned and clustered too


def test_stripped_models_have_their_own_graph():
    """tfmot's strip reuses unwrapped layers (here the depthwise conv); bias correction probes
    `layer.input`, which must point into the stripped model's graph, not the wrapped one's."""
    from flower_edge.quantize.compress import cluster, prune
    from flower_edge.quantize.int8 import before_conversion
    from flower_edge.tfcompat import keras

    k = keras()
    inp = k.Input((16, 16, 3))
    x = k.layers.Conv2D(8, 3, use_bias=False)(inp)
    x = k.layers.BatchNormalization()(x)
    x = k.layers.DepthwiseConv2D(3)(x)
    x = k.layers.Conv2D(8, 1)(x)
    out = k.layers.Dense(3, activation="softmax")(k.layers.GlobalAveragePooling2D()(x))
    model = k.Model(inp, out)
    images = np.random.default_rng(0).integers(0, 255, (16, 16, 16, 3)).astype(np.uint8)
    before = [w.copy() for w in model.get_weights()]
    for stripped in (prune(model, images, 0.5, 1, 1e-3, batch_size=4), cluster(model, images, 4, 1, 1e-3, 4)):
        assert all(len(layer.inbound_nodes) == 1 for layer in stripped.layers[1:])
        before_conversion(stripped, images, QuantizationConfig.of("int8", calib_samples=16), {})
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))  # original untouched
