#!/usr/bin/env python
"""Which explanation is most faithful? The deletion test on real photos, in one run.

Grad-CAM, LIME, occlusion and random blobs rank the pixels of the same photos; the top
20% of each ranking is blurred and the drop of the predicted class's logit is measured
(flower_edge.explain.deletion). The larger the drop, the more the map pointed at what the
model actually uses. Prints the Markdown table and the verdict, and says plainly if
Grad-CAM loses.

    python benchmarks/deletion_faithfulness.py artifacts/mnv2-224 ../shared/data/flowers5-eval \\
        --per-class 10 --bundle fp32

Photos are the first --per-class of each class folder (sorted names), never training
photos when the folder is an evaluation set. Grad-CAM and the logits come from the
run's Keras model; LIME and occlusion need only probabilities, which --bundle takes
from a TFLite bundle of the same float model (fp32: same network, about twice as fast
on a CPU) instead of the Keras model.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
from common import photos


def main() -> None:
    from flower_edge.explain.settings import DEFAULT_SAMPLES, DEFAULT_SEGMENTS

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run")
    parser.add_argument("photos", type=Path)
    parser.add_argument("--per-class", type=int, default=10)
    parser.add_argument("--fraction", type=float, default=0.2)
    parser.add_argument("--lime-samples", type=int, default=DEFAULT_SAMPLES)
    parser.add_argument("--lime-segments", type=int, default=DEFAULT_SEGMENTS)
    parser.add_argument("--bundle", help="probabilities for LIME and occlusion from this bundle (e.g. fp32)")
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args()

    from flower_edge.explain.deletion import deletion_test
    from flower_edge.explain.gradcam import gradcam, keras_scores
    from flower_edge.explain.load import open_run
    from flower_edge.explain.maps import prediction_maps
    from flower_edge.explain.occlusion import keras_predict
    from flower_edge.explain.settings import LimeSettings
    from flower_edge.explain.tables import deletion_table
    from flower_edge.runtime.predictor import Predictor
    from flower_edge.runtime.transforms import load_for_model

    loaded = open_run(args.run)
    paths = photos(args.photos, args.per_class)
    images = np.stack([load_for_model(p, loaded.size) for p in paths])
    score = keras_scores(loaded.model)
    classes = score(images).argmax(axis=1)
    if args.bundle:
        location = Path(args.bundle) if Path(args.bundle).is_dir() else loaded.run.bundle(args.bundle)
        predict, source = Predictor(location).probabilities, f"bundle {location.name}"
    else:
        predict, source = keras_predict(loaded.model), "Keras model"
    seconds = {}
    start = time.perf_counter()
    cams = np.concatenate([gradcam(loaded.model, images[i:i + 25], loaded.spec.gradcam_layer, classes[i:i + 25])
                           for i in range(0, len(images), 25)])
    seconds["gradcam"] = time.perf_counter() - start
    settings = LimeSettings(args.lime_samples, args.lime_segments)
    others = {}
    for method in ("lime", "occlusion"):
        start = time.perf_counter()
        others[method] = prediction_maps(method, predict, images, classes, settings)
        seconds[method] = time.perf_counter() - start
    result = deletion_test(score, images, cams, args.fraction, others=others)
    accuracy = float(np.mean([loaded.labels[c] == p.parent.name for c, p in zip(classes, paths)]))
    print(f"{len(paths)} photos from {args.photos.name} ({args.per_class} per class), run "
          f"{Path(args.run).name}, input {loaded.size[0]}x{loaded.size[1]}, top-1 on them {accuracy:.0%}; "
          f"LIME {settings.samples} samples / {settings.segments} segments and occlusion on the {source}\n")
    print("\n".join(deletion_table(asdict(result))))
    print("\nseconds for the maps of all photos: " + ", ".join(f"{k} {v:.0f}" for k, v in seconds.items()))
    if args.json:
        args.json.write_text(json.dumps({**asdict(result), "seconds": seconds, "photos": [str(p) for p in paths]},
                                        indent=2))


if __name__ == "__main__":
    main()
