"""Top-1 agreement of MediaPipe Tasks' ImageClassifier with `flower-edge predict`, per bundle.

    python benchmarks/bench_mediapipe_agreement.py RUN_DIR EVAL_DIR [--per-class 60] [--variants fp32,int8]

MediaPipe runs in its own venv ($FLOWER_EDGE_MEDIAPIPE_PYTHON, `make test` builds
.venv-mediapipe) on each photo three ways: flower-edge's preprocessed image, the raw photo
with a centred-square region of interest (what flower-edge crops), and the raw photo as is
(MediaPipe stretches it to a square). Prints a Markdown table and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from common import photos

CLIENT = Path(__file__).resolve().parent / "mediapipe_client.py"
MODES = {"preprocessed": None, "raw, centred-square ROI": "center-square", "raw, whole frame": None}


def measure(bundle: Path, paths: list[Path], python: str, tmp: Path) -> dict:
    from flower_edge.runtime import Predictor

    predictor = Predictor(bundle)
    top2 = [predictor.predict(p, top_k=2) for p in paths]
    ours = [t[0][0] for t in top2]
    margins = np.array([t[0][1] - t[1][1] for t in top2])  # predict's top-1 minus top-2 probability
    truth = [p.parent.name for p in paths]
    jobs = []
    for i, p in enumerate(paths):
        np.save(tmp / f"{i}.npy", predictor.preprocess(p))
        jobs += [{"path": str(tmp / f"{i}.npy")}, {"path": str(p), "roi": "center-square"}, {"path": str(p)}]
    (tmp / "jobs.json").write_text(json.dumps(jobs))
    proc = subprocess.run([python, str(CLIENT), "classify", str(bundle / "model.tflite"), str(tmp / "jobs.json")],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": ""})
    if proc.returncode:
        sys.exit(proc.stderr[-2000:])
    answers = json.loads(proc.stdout.strip().splitlines()[-1])
    row = {"photos": len(paths), "predict_accuracy": float(np.mean([o == t for o, t in zip(ours, truth)]))}
    for k, mode in enumerate(MODES):
        names = [a["name"] for a in answers[k::3]]
        same = np.array([n == o for n, o in zip(names, ours)])
        row[mode] = float(same.mean())
        # where they differ, how close predict's own top two were (a near-tie flips on any resize)
        row[f"{mode}: median margin where they differ"] = float(np.median(margins[~same])) if (~same).any() else None
    row["median margin, all photos"] = float(np.median(margins))
    row["labels_named"] = all(a["name"] in predictor.labels for a in answers)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("eval", type=Path)
    parser.add_argument("--per-class", type=int, default=60)
    parser.add_argument("--variants", default="fp32,int8")
    args = parser.parse_args()
    python = os.environ.get("FLOWER_EDGE_MEDIAPIPE_PYTHON") or sys.exit(
        "set FLOWER_EDGE_MEDIAPIPE_PYTHON to a python with mediapipe (make .venv-mediapipe/.installed)")
    paths = photos(args.eval, args.per_class)
    rows = {}
    for variant in args.variants.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            rows[variant] = measure(args.run / "export" / variant, paths, python, Path(tmp))
    print("| bundle | photos | " + " | ".join(MODES) + " | predict top-1 accuracy |")
    print("|---|---|" + "---|" * len(MODES) + "---|")
    for variant, r in rows.items():
        print(f"| {variant} | {r['photos']} | " + " | ".join(f"{100 * r[m]:.1f}%" for m in MODES)
              + f" | {100 * r['predict_accuracy']:.1f}% |")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
