#!/usr/bin/env python
"""`data review`'s probe with the BLAS library's default threads against one thread.

Embeds a labelled folder once (the ImageNet base, as `data review --weights BASE`), then
times `findings.cross_validated` (out_of_fold's logistic-regression probe) with
OpenBLAS's default thread count and under `threadpool_limits(1)`, alternating, and prints
each time, their ratio measured in the same run, the largest probability difference and
the load average.

    python benchmarks/bench_review_probe.py --data ../shared/data/flowers5-eval \
        --weights ../shared/weights/mobilenet_v2_imagenet_from_tflite_notop.h5
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from common import load_average


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--weights", required=True)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()

    from threadpoolctl import threadpool_info, threadpool_limits

    from flower_edge.benchmark.imageset import labelled_folder
    from flower_edge.data.review import findings
    from flower_edge.data.review.embed import backbone, embed

    classes = sorted(p.name for p in args.data.iterdir() if p.is_dir())
    paths, labels = labelled_folder(args.data, classes)
    model, size, _ = backbone(None, args.weights, "mobilenet_v2", 224)
    features, labels = embed(model, size, paths), np.asarray(labels)
    print(f"{len(labels)} photos, {features.shape[1]} features; BLAS: "
          f"{[(i['internal_api'], i['num_threads']) for i in threadpool_info()]}; load {load_average()}")
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        many = findings.cross_validated(features, labels, 0, 5, 3)  # the library's default threads
        default = time.perf_counter() - t0
        with threadpool_limits(1):  # as out_of_fold runs it
            t0 = time.perf_counter()
            one = findings.cross_validated(features, labels, 0, 5, 3)
            single = time.perf_counter() - t0
        print(f"default threads {default:.1f} s, one thread {single:.1f} s, ratio {default / single:.2f}, "
              f"largest probability difference {np.abs(many - one).max():.1e}")
    print(f"load at the end: {load_average()}")


if __name__ == "__main__":
    main()
