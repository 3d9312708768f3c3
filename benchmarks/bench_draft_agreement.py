"""Scaled JPEG decode (Image.draft) against the full decode, on camera-size photos.

The photos are real ones (flowers5-eval by default) made camera-size by
benchmarks/camera_photos.py: 12 MP and 1080p, a little noise, JPEG q90. Each is read by
the runtime's loader with every pixel decoded (draft=None, the reference) and with
the scaled decode at draft 1.0 (smallest libjpeg scale still covering the target) and
2.0 and 4.0 (at least 2x / 4x the target). As a noise floor, the same photo re-saved
once more as JPEG q90 and fully decoded. Printed per photo size and decode: decode +
preprocess time, mean |pixel difference| to the reference, and top-1 agreement with
the reference for each bundle (plus accuracy against the class folders).

    python benchmarks/bench_draft_agreement.py --bundle artifacts/mnv2-224/export/int8 \\
        --bundle artifacts/mnv2-224/export/fp32 --limit 0
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path

import numpy as np
from camera_photos import make_camera_photos

DRAFTS = (None, 1.0, 2.0, 4.0)
RESAVED = "resaved"  # the noise floor: the same photo saved once more as JPEG q90, full decode


def _load(path, size, mode):
    from flower_edge.runtime.transforms import load_for_model

    if mode != RESAVED:
        return load_for_model(path, size, draft=mode)
    from PIL import Image

    buf = io.BytesIO()
    with Image.open(path) as img:
        img.save(buf, format="JPEG", quality=90)
    buf.seek(0)
    return load_for_model(buf, size, draft=None)


def measure(paths, predictors, labels) -> list[dict]:
    size = predictors[0].image_size
    modes = (*DRAFTS, RESAVED)
    pixels, seconds = {d: [] for d in modes}, {d: 0.0 for d in modes}
    top1 = {(d, i): [] for d in modes for i in range(len(predictors))}
    for path in paths:
        for d in modes:
            t0 = time.perf_counter()
            x = _load(path, size, d)
            seconds[d] += time.perf_counter() - t0
            pixels[d].append(x)
            for i, p in enumerate(predictors):
                top1[(d, i)].append(int(np.argmax(p.invoke_one(x))))
    rows = []
    for d in modes:
        diff = float(np.mean([np.abs(a.astype(np.int16) - b).mean() for a, b in zip(pixels[d], pixels[None])]))
        row = {"draft": d, "decode_ms": 1e3 * seconds[d] / len(paths), "mean_abs_px_diff": diff}
        for i, p in enumerate(predictors):
            ref, got = np.asarray(top1[(None, i)]), np.asarray(top1[(d, i)])
            row[f"{p.bundle.variant}_agreement"] = float((ref == got).mean())
            row[f"{p.bundle.variant}_disagree"] = int((ref != got).sum())
            row[f"{p.bundle.variant}_accuracy"] = float((got == labels[i]).mean())
        rows.append(row)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", action="append", type=Path, required=True)
    ap.add_argument("--src", type=Path, default=Path("../shared/data/flowers5-eval"))
    ap.add_argument("--limit", type=int, default=0, help="photos per size (0 = all)")
    ap.add_argument("--kinds", default="12mp,1080p")
    ap.add_argument("--jobs", type=int, default=1, help="processes making missing photos")
    ap.add_argument("--out", type=Path, default=Path("artifacts/bench_draft_agreement.json"))
    args = ap.parse_args()
    from flower_edge.runtime.predictor import Predictor

    predictors = [Predictor(b, threads=1) for b in args.bundle]
    result = {"bundles": [str(b) for b in args.bundle], "kinds": {}}
    print("| photos | n | decode | decode+preprocess ms | mean abs px diff vs full | "
          + " | ".join(f"{p.bundle.variant} top-1 agreement | {p.bundle.variant} accuracy" for p in predictors)
          + " |")
    print("|" + "---|" * (5 + 2 * len(predictors)))
    for kind in args.kinds.split(","):
        paths = make_camera_photos(args.src, kind, args.limit, jobs=args.jobs)
        labels = []
        for p in predictors:
            index = {name: i for i, name in enumerate(p.labels)}
            labels.append(np.asarray([index.get(path.parent.name, -1) for path in paths]))
        rows = measure(paths, predictors, labels)
        result["kinds"][kind] = {"photos": len(paths), "rows": rows}
        for r in rows:
            how = {None: "full", RESAVED: "full, file re-saved q90 (noise floor)"}.get(r["draft"])
            cells = [kind, str(len(paths)), how or f"draft {r['draft']:g}",
                     f"{r['decode_ms']:.1f}", f"{r['mean_abs_px_diff']:.2f}"]
            for p in predictors:
                v = p.bundle.variant
                cells += [f"{r[v + '_agreement']:.2%} ({r[v + '_disagree']} differ)", f"{r[v + '_accuracy']:.1%}"]
            print("| " + " | ".join(cells) + " |", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"written: {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
