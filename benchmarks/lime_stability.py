#!/usr/bin/env python
"""How many LIME samples and superpixels give a stable answer? Measured in one run.

For each setting, LIME explains each photo's top class twice, with seeds 0 and 1, and
the script reports how often the two runs agree on the top 5 superpixels: the share
of the top 5 they share (mean over photos) and the share of photos where the two sets
are identical. The default of `flower-edge explain --method lime` is the cheapest
setting whose mean overlap is at least --target.

    python benchmarks/lime_stability.py artifacts/mnv2-224 ../shared/data/flowers5-eval --per-class 2

Photos are taken in turn from each class folder (sorted names), so the set is fixed.
Predictions are cached by image content: LIME's perturbations for N samples are the
first N of those for 2N with the same seed, so larger settings cost only the extra
forward passes. Prints a Markdown table. `--workers N` measures N photos at a time
(with a bundle, each worker's interpreter uses one thread); timings then are per worker.
"""

from __future__ import annotations

import argparse
import hashlib
import time
from pathlib import Path

import numpy as np
from common import photos


class CachedPredict:
    """A predict function that remembers each image's probabilities by content hash."""

    def __init__(self, predict):
        self.predict, self.cache, self.computed = predict, {}, 0

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        keys = [hashlib.blake2b(img.tobytes(), digest_size=16).digest() for img in batch]
        todo = [i for i, k in enumerate(keys) if k not in self.cache]
        if todo:
            out = self.predict(batch[todo])
            self.computed += len(todo)
            for i, row in zip(todo, out):
                self.cache[keys[i]] = row
        return np.stack([self.cache[k] for k in keys])


def open_predict(run: str, bundle: str | None, threads: int | None = None):
    if bundle:
        from flower_edge.rundir import RunDir
        from flower_edge.runtime.predictor import Predictor

        location = Path(bundle) if Path(bundle).is_dir() else RunDir(Path(run)).bundle(bundle)
        predictor = Predictor(location, threads=threads)
        return predictor.probabilities, tuple(predictor.image_size), f"bundle {location.name}"
    from flower_edge.explain.load import open_run
    from flower_edge.explain.occlusion import keras_predict

    loaded = open_run(run)
    return keras_predict(loaded.model), loaded.size, "Keras model"


_WORKER: dict = {}


def _open_worker(run: str, bundle: str | None, threads: int | None) -> None:
    _WORKER["predict"] = open_predict(run, bundle, threads)[0]


def measure_photo(job) -> dict:
    """{(segments, samples): (top-5 overlap, top-3 overlap, seconds per explanation)} for one photo."""
    from flower_edge.explain.lime import lime, top_overlap

    image, segment_counts, sample_counts = job
    predict = _WORKER["predict"]
    c = int(predict(image[None])[0].argmax())
    out = {}
    for segments in segment_counts:
        cached = CachedPredict(predict)  # the largest setting first, the smaller ones reuse its passes
        for samples in sorted(sample_counts, reverse=True):
            start = time.perf_counter()
            a, b = (lime(cached, image, c, samples, segments, seed) for seed in (0, 1))
            out[(segments, samples)] = (top_overlap(a, b, 5), top_overlap(a, b, 3),
                                        (time.perf_counter() - start) / 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run")
    parser.add_argument("photos", type=Path)
    parser.add_argument("--per-class", type=int, default=2)
    parser.add_argument("--samples", default="250,500,1000,2000")
    parser.add_argument("--segments", default="25,50,100")
    parser.add_argument("--bundle", help="use a bundle (e.g. fp32) instead of the Keras model")
    parser.add_argument("--workers", type=int, default=1, help="photos measured in parallel (bundle: 1 thread each)")
    parser.add_argument("--target", type=float, default=0.9, help="mean top-5 overlap to call stable")
    args = parser.parse_args()

    from flower_edge.runtime.transforms import load_for_model

    segment_counts = [int(s) for s in args.segments.split(",")]
    sample_counts = [int(s) for s in args.samples.split(",")]
    _, size, what = open_predict(args.run, args.bundle)
    paths = photos(args.photos, args.per_class)
    jobs = [(load_for_model(p, size), segment_counts, sample_counts) for p in paths]
    threads = 1 if args.workers > 1 else None
    if args.workers > 1:
        import multiprocessing

        with multiprocessing.get_context("spawn").Pool(args.workers, _open_worker,
                                                       (args.run, args.bundle, threads)) as pool:
            results = pool.map(measure_photo, jobs)
    else:
        _open_worker(args.run, args.bundle, threads)
        results = [measure_photo(job) for job in jobs]
    print(f"{len(paths)} photos from {args.photos.name}, {what}, input {size[0]}x{size[1]}, "
          f"{args.workers} worker(s)\n")
    print("| segments | samples | mean top-5 overlap (seed 0 vs 1) | identical top-5 | mean top-3 overlap "
          "| s per explanation |")
    print("|---|---|---|---|---|---|")
    stable = []
    for segments in segment_counts:
        for samples in sorted(sample_counts):
            top5, top3, seconds = (np.array([r[(segments, samples)][i] for r in results]) for i in range(3))
            note = "" if samples == max(sample_counts) else " (cached passes)"
            print(f"| {segments} | {samples} | {top5.mean():.2f} | {np.mean(np.isclose(top5, 1.0)):.0%} | "
                  f"{top3.mean():.2f} | {seconds.mean():.1f}{note} |")
            if top5.mean() >= args.target:
                stable.append((samples, segments, float(top5.mean())))
    if stable:
        samples, segments, mean = min(stable, key=lambda s: (s[0], -s[2]))
        print(f"\ncheapest stable setting (mean top-5 overlap >= {args.target}): {samples} samples, "
              f"{segments} segments (overlap {mean:.2f})")
    else:
        print(f"\nno setting reached a mean top-5 overlap of {args.target}")


if __name__ == "__main__":
    main()
