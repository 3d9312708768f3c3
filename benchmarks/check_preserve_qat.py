#!/usr/bin/env python
"""Does tfmot's pruning-/cluster-preserving QAT work on a run's model? One line per scheme.

Prunes the run's model to 50% (tfmot, no fine-tuning: the check is about the int8
conversion, not accuracy), wraps it with each 8-bit QAT scheme, sets the fake-quant
ranges from training photos as `--qat-epochs` does, converts to int8 and reports the
int8 file's top-1 agreement with the pruned float model on validation photos and the
sparsity of its conv/dense kernels. No QAT training: a scheme that already loses the
float decisions here has nothing for fine-tuning to keep.

    python benchmarks/check_preserve_qat.py artifacts/mnv2-224-new
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("--images", type=int, default=100)
    args = ap.parse_args()

    import tensorflow_model_optimization as tfmot

    from flower_edge.data.pipeline import eval_images
    from flower_edge.models.build import load_keras_model
    from flower_edge.quantize import calibration as cal
    from flower_edge.quantize.compress import prune
    from flower_edge.quantize.qat import quantize_aware_model
    from flower_edge.quantize.qat_schemes import calibrate_ranges, freeze_batchnorm
    from flower_edge.quantize.weight_stats import kernel_stats, summary
    from flower_edge.rundir import RunDir
    from flower_edge.tfcompat import tf

    run = RunDir(args.run)
    model = load_keras_model(run.model)
    size = int(model.input_shape[1])
    splits = cal.load_splits(run)
    train = eval_images(cal.stratified(splits.train, 200)[0], size, "training photos")
    val = eval_images(cal.stratified(splits.val, args.images)[0], size, "validation photos")
    pruned = prune(model, train, 0.5, epochs=1, learning_rate=0.0)  # zeroes only, weights unchanged
    reference = pruned.predict(val.astype(np.float32), verbose=0).argmax(1)
    qk = tfmot.quantization.keras
    schemes = {"flower-edge per-channel (--qat-epochs)": None,
               "tfmot Default8BitQuantizeScheme": qk.default_8bit.Default8BitQuantizeScheme(),
               "tfmot Default8BitPrunePreserveQuantizeScheme":
                   tfmot.experimental.combine.Default8BitPrunePreserveQuantizeScheme()}
    for name, scheme in schemes.items():
        start = time.time()
        try:
            if scheme is None:
                qat = quantize_aware_model(pruned)
            else:
                qat = qk.quantize_apply(_annotate(pruned), scheme)
                freeze_batchnorm(qat)
            calibrate_ranges(qat, train[:128])
            converter = tf().lite.TFLiteConverter.from_keras_model(qat)
            converter.optimizations = [tf().lite.Optimize.DEFAULT]
            data = bytes(converter.convert())
        except Exception as exc:  # noqa: BLE001  (report any failure as the finding)
            print(f"{name}: FAILED {type(exc).__name__}: {' '.join(str(exc).split())[:300]}", flush=True)
            continue
        from ai_edge_litert.interpreter import Interpreter

        interp = Interpreter(model_content=data)
        interp.allocate_tensors()
        inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
        preds = []
        for img in val:
            interp.set_tensor(inp["index"], img[None].astype(inp["dtype"]))
            interp.invoke()
            preds.append(int(interp.get_tensor(out["index"])[0].argmax()))
        facts = summary(kernel_stats(data))
        print(f"{name}: int8 agrees with the pruned float on {np.mean(np.array(preds) == reference):.1%} of "
              f"{len(val)} val photos; conv/dense sparsity in the file {facts['sparsity']:.1%} "
              f"({time.time() - start:.0f} s)", flush=True)


def _annotate(model):
    """Annotate the layers tfmot's default registry supports (the preprocessing layers are not)."""
    import tensorflow_model_optimization as tfmot
    from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (
        default_8bit_quantize_registry as reg,
    )

    from flower_edge.tfcompat import keras

    registry = reg.Default8BitQuantizeRegistry()

    def annotate(layer):
        fresh = layer.__class__.from_config(layer.get_config())
        return tfmot.quantization.keras.quantize_annotate_layer(fresh) if registry.supports(layer) else fresh

    annotated = keras().models.clone_model(model, clone_function=annotate)
    annotated.set_weights(model.get_weights())
    return annotated


if __name__ == "__main__":
    sys.exit(main())
