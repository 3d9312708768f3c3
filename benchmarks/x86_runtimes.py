#!/usr/bin/env python
"""Two Pi runtimes on this machine: tflite-runtime 2.14 against ai-edge-litert, per bundle.

`benchmarks/check-aarch64.sh` compares arm64 runs with x86_64's ai-edge-litert. Where an
integer variant differs there, this script says whether the architecture is the cause or
the runtime's kernels: it runs the same bundles on the same photos on x86_64 in both
runtimes and prints the same columns (top-1 agreement, largest probability difference).

    python benchmarks/x86_runtimes.py --images ../shared/data/flowers5-eval --limit 200 \
        --tflite-runtime-python .venv-tflrt/bin/python RUN/export/{int8,int8-qat,dynamic}

The photos are chosen as check-aarch64.sh chooses them (evenly over the sorted folder) and
decoded once with flower-edge's eval transform; each runtime gets the same pixels, one
thread, one photo per invoke. The tflite-runtime side needs only numpy in its venv.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from common import load_average

# Runs in the other venv: numpy and one interpreter, no flower-edge.
_INVOKE = """
import sys, numpy as np
try:
    from tflite_runtime.interpreter import Interpreter
except ImportError:
    from ai_edge_litert.interpreter import Interpreter
x = np.load(sys.argv[2])
it = Interpreter(model_path=sys.argv[1], num_threads=1)
it.allocate_tensors()
i, o = it.get_input_details()[0], it.get_output_details()[0]
out = []
for im in x:
    it.set_tensor(i["index"], im[None].astype(i["dtype"]))
    it.invoke()
    out.append(it.get_tensor(o["index"])[0].astype(np.float64))
np.save(sys.argv[3], np.array(out))
"""


def chosen(folder: Path, limit: int) -> list[Path]:
    """check-aarch64.sh's choice: `limit` photos spread evenly over the sorted folder."""
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    n = min(limit, len(paths))
    return [paths[i * len(paths) // n] for i in range(n)]


def probabilities(python: str, model: Path, pixels: Path, tmp: Path) -> np.ndarray:
    out = tmp / "out.npy"
    subprocess.run([python, "-c", _INVOKE, str(model), str(pixels), str(out)], check=True,
                   capture_output=True, text=True)
    return np.load(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bundles", nargs="+", type=Path)
    ap.add_argument("--images", type=Path, required=True)
    ap.add_argument("--limit", type=int, default=200)
    ap.add_argument("--tflite-runtime-python", required=True)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    from flower_edge.runtime.bundle import load_bundle
    from flower_edge.runtime.transforms import load_for_model

    photos = chosen(args.images, args.limit)
    rows = []
    with tempfile.TemporaryDirectory(prefix="x86-runtimes-") as tmp:
        for folder in args.bundles:
            bundle = load_bundle(folder)
            pixels = Path(tmp) / f"x{bundle.image_size}.npy"
            if not pixels.exists():
                np.save(pixels, np.stack([load_for_model(p, bundle.image_size) for p in photos]))
            litert = probabilities(sys.executable, bundle.model_path, pixels, Path(tmp))
            tflrt = probabilities(args.tflite_runtime_python, bundle.model_path, pixels, Path(tmp))
            rows.append({"bundle": str(folder), "images": len(photos),
                         "agreement": float(np.mean(litert.argmax(1) == tflrt.argmax(1))),
                         "max_abs_prob_diff": float(np.abs(litert - tflrt).max())})
            print(json.dumps(rows[-1]), flush=True)
    print(f"\nx86_64, tflite-runtime 2.14 against ai-edge-litert; load {load_average()}")
    print("| bundle | images | top-1 agreement | max abs prob diff |\n|---|---|---|---|")
    for r in rows:
        print(f"| {Path(r['bundle']).name} | {r['images']} | {r['agreement']:.1%} | {r['max_abs_prob_diff']:.2g} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
