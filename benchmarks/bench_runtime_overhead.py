#!/usr/bin/env python3
"""Runtime overhead: Predictor latency / bare interpreter latency, one process, one model.

    python benchmarks/bench_runtime_overhead.py artifacts/mnv2/export/int8 --threads 1

Both sides use the same interpreter class, model file and thread count, and are
timed interleaved call by call (so load and frequency drift hit both alike):
- bare: set_tensor(pre-quantized input) + invoke + get_tensor, nothing else;
- runtime: Predictor.invoke_one(uint8 image) = quantize via the model's own
  scale/zero-point, invoke, dequantize (+ softmax for logits): preprocessing excluded;
- runtime+Pillow: Predictor.predict(path) = decode, resize, crop, invoke, top-k.
Goal: runtime / bare <= 1.1. Needs no TensorFlow.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np


def _time(fn, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=200, help="timed calls per side (in rounds)")
    parser.add_argument("--image", type=Path, help="a photo for the Pillow figure (default: synthetic JPEG)")
    args = parser.parse_args(argv)

    from flower_edge.runtime.interpreter import make_interpreter
    from flower_edge.runtime.predictor import Predictor

    predictor = Predictor(args.bundle, threads=args.threads)
    bare, _ = make_interpreter(predictor.bundle.model_path, args.threads, prefer=predictor.interpreter_name)
    h, w = predictor.image_size
    image = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
    inp, out = bare.get_input_details()[0], bare.get_output_details()[0]
    ready = predictor._lut[image][None]  # the exact input the runtime feeds, prepared once

    def bare_call():
        bare.set_tensor(inp["index"], ready)
        bare.invoke()
        return bare.get_tensor(out["index"])

    np.testing.assert_allclose(  # both sides compute the same thing
        predictor.invoke_one(image), predictor.probabilities(image[None])[0])
    photo = args.image or _synthetic_jpeg(Path(args.bundle), h, w)
    calls = {"bare": bare_call, "runtime": lambda: predictor.invoke_one(image),
             "runtime+pillow": lambda: predictor.predict(photo, top_k=5)}
    for fn in calls.values():
        _time(fn, 10)  # warmup
    times = {k: [] for k in calls}
    for _ in range(args.runs):  # one call of each per round: load spikes hit all sides alike
        for key, fn in calls.items():
            times[key] += _time(fn, 1)
    med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
    print(f"bundle {args.bundle} ({predictor.bundle.variant}, input {np.dtype(inp['dtype']).name}), "
          f"{predictor.interpreter_name}, threads {args.threads}, {len(times['bare'])} calls each")
    for key, ms in med.items():
        print(f"  {key:<15} median {ms:8.3f} ms   min {min(times[key]) * 1e3:8.3f} ms")
    print(f"runtime / bare = {med['runtime'] / med['bare']:.3f}   (goal <= 1.1, preprocessing excluded)")
    print(f"runtime+pillow / bare = {med['runtime+pillow'] / med['bare']:.3f}   "
          f"(decode + resize + crop of {Path(photo).name} included)")
    return 0


def _synthetic_jpeg(bundle: Path, h: int, w: int) -> Path:
    """A 2x-size photo-like JPEG, so the Pillow figure includes a real resize."""
    import tempfile

    from PIL import Image

    yy, xx = np.mgrid[0:2 * h, 0:2 * w]
    rgb = np.stack([(xx * 255 // (2 * w)), (yy * 255 // (2 * h)), (xx + yy) % 256], -1).astype(np.uint8)
    path = Path(tempfile.mkdtemp()) / "synthetic.jpg"
    Image.fromarray(rgb).save(path, quality=90)
    return path


if __name__ == "__main__":
    sys.exit(main())
