#!/usr/bin/env python
"""Does this CPU's XNNPACK take its sparse path? Dense vs EXPERIMENTAL_SPARSITY latency, two graphs.

XNNPACK runs a subgraph on sparse kernels only when it starts with a 3x3 stride-2 conv
padded 1 on each side and holds only 1x1 convs (>= 2/3 zeros), 3x3/5x5 depthwise convs
padded symmetrically, and a few elementwise ops (its README, "Sparse Inference").
This builds two small random networks with the same 85%-zero 1x1 convs:
  eligible  - ZeroPadding2D(1) + 3x3/2 conv (XNNPACK fuses the pad), stride-1 blocks;
  keras     - the first conv with padding="same" and a stride-2 block padded (0, 1), as
              Keras' MobileNetV2 does.
Each is converted dense and with EXPERIMENTAL_SPARSITY; median ms per invoke, batch 1,
with the default XNNPACK delegate and with TFLite's builtin kernels alone (a sparse-stored
file that runs at the builtin kernels' speed was not taken by XNNPACK).

    python benchmarks/bench_sparse_kernels.py --threads 2
    python benchmarks/bench_sparse_kernels.py --bundles RUN/export/fp32 RUN/export/fp32-pruned75

--bundles times two exported bundles instead, interleaved (8 rounds of 25 invokes each),
so a change of machine load hits both alike.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
from common import load_average

SPARSITY = 0.85


def build(eligible: bool, size: int, width: int):
    from flower_edge.tfcompat import keras

    k = keras()
    inp = k.Input((size, size, 3))
    if eligible:
        x = k.layers.Conv2D(32, 3, strides=2, padding="valid")(k.layers.ZeroPadding2D(1)(inp))
    else:
        x = k.layers.Conv2D(32, 3, strides=2, padding="same")(inp)
    x = k.layers.ReLU()(x)
    for i in range(6):
        x = k.layers.ReLU()(k.layers.Conv2D(width, 1)(x))
        if i == 2 and not eligible:
            x = k.layers.ZeroPadding2D(((0, 1), (0, 1)))(x)
            x = k.layers.DepthwiseConv2D(3, strides=2, padding="valid")(x)
        else:
            x = k.layers.DepthwiseConv2D(3, padding="same")(x)
        x = k.layers.ReLU()(x)
    x = k.layers.GlobalAveragePooling2D()(x)
    model = k.Model(inp, k.layers.Dense(5)(x))
    rng = np.random.default_rng(0)
    for layer in model.layers:
        if isinstance(layer, k.layers.Conv2D) and layer.kernel_size == (1, 1):
            w, b = layer.get_weights()
            w[rng.random(w.shape) < SPARSITY] = 0.0
            layer.set_weights([w, b])
    return model


def latency(model_bytes: bytes, threads: int, runs: int, xnnpack: bool = True) -> float:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    resolver = OpResolverType.AUTO if xnnpack else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    interp = Interpreter(model_content=model_bytes, num_threads=threads, experimental_op_resolver_type=resolver)
    interp.allocate_tensors()
    inp = interp.get_input_details()[0]
    interp.set_tensor(inp["index"], np.random.default_rng(1).random(inp["shape"], np.float32))
    for _ in range(10):
        interp.invoke()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        interp.invoke()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def interleaved(bundles: list[str], threads: int, rounds: int = 8, per_round: int = 25) -> None:
    from ai_edge_litert.interpreter import Interpreter

    interps = {}
    for bundle in bundles:
        interp = Interpreter(model_path=os.path.join(bundle, "model.tflite"), num_threads=threads)
        interp.allocate_tensors()
        inp = interp.get_input_details()[0]
        interp.set_tensor(inp["index"], np.full(inp["shape"], 100, inp["dtype"]))
        for _ in range(10):
            interp.invoke()
        interps[bundle] = interp
    times: dict = {b: [] for b in bundles}
    for _ in range(rounds):
        for bundle, interp in interps.items():
            for _ in range(per_round):
                start = time.perf_counter()
                interp.invoke()
                times[bundle].append((time.perf_counter() - start) * 1000)
    first = statistics.median(times[bundles[0]])
    for bundle in bundles:
        ms = statistics.median(times[bundle])
        print(f"{bundle}: median {ms:.2f} ms ({ms / first:.2f}x the first), {len(times[bundle])} invokes")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--size", type=int, default=112)
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--bundles", nargs=2, default=None, help="two bundles to time against each other")
    args = ap.parse_args()
    if args.bundles:
        print(f"load average {load_average()}, {args.threads} threads")
        return interleaved(args.bundles, args.threads)
    from flower_edge.quiet import quiet
    from flower_edge.tfcompat import tf

    print(f"load average {load_average()}; {SPARSITY:.0%} zeros in the 1x1 convs")
    for eligible in (True, False):
        model = build(eligible, args.size, args.width)
        ms = {}
        for sparse in (False, True):
            converter = tf().lite.TFLiteConverter.from_keras_model(model)
            converter.optimizations = [tf().lite.Optimize.EXPERIMENTAL_SPARSITY] if sparse else []
            with quiet():
                data = bytes(converter.convert())
            ms[sparse] = latency(data, args.threads, args.runs)
            ms[(sparse, "builtin")] = latency(data, args.threads, args.runs, xnnpack=False)
        name = "eligible" if eligible else "keras-style"
        print(f"{name}: XNNPACK dense {ms[False]:.2f} ms, sparse-stored {ms[True]:.2f} ms "
              f"(ratio {ms[True] / ms[False]:.2f}x); without XNNPACK dense {ms[(False, 'builtin')]:.2f} ms, "
              f"sparse-stored {ms[(True, 'builtin')]:.2f} ms", flush=True)


if __name__ == "__main__":
    main()
