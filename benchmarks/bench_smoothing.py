"""Measure live smoothing on sequences of real photos: label flips and switch delay, raw vs smoothed.

A sequence is runs of one class (a camera on a rose bed, then on tulips ...) with
short distractor bursts of another class inside each run (a tulip held in front of
the roses for 1-3 frames). Each frame is a different real photo of its class, as
when a camera pans along a bed. The classifier runs once per photo; sequences reuse
those probabilities, so a sweep of settings is cheap.

- false flips: changes of the shown label other than the first one after each run boundary;
- switch delay: frames from a run's first frame until the shown label is its class
  (runs never shown as their class are "missed", e.g. a misclassified steady photo);
- wrong frames: frames whose shown label is not the scene's class (flicker and delay both count).

The chosen setting has the fewest false flips (pan + steady) among those that, on
both, cut false flips >= 5x, switch within 10 frames at p90 and 5 on average, and
miss at most 1% more runs than raw; ties go to fewer wrong frames.

Settings are chosen on sequences built from half of the photos (even indexes) and
reported on sequences from the other half, so the chosen defaults are not fitted to
the figures shown. Usage:

    python benchmarks/bench_smoothing.py --bundle artifacts/mnv2-224/export/int8 \
        --images ../shared/data/flowers5-eval
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np
from common import photos

from flower_edge.runtime.predictor import Predictor
from flower_edge.runtime.smoothing import SmoothingConfig, smooth_sequence


def photo_probs(predictor, images: Path, limit: int):
    classes = predictor.labels
    probs = {}
    for name in classes:
        paths = photos(images / name)[:limit]
        probs[name] = np.stack([predictor.probabilities(predictor.preprocess(p)[None])[0] for p in paths])
    return probs


def make_sequence(probs: dict, rng, runs: int, half: int, steady: bool = False):
    """Frames' probabilities [N, C], the scene class per frame, and run start indexes.

    pan (default): every frame is another photo of its class; steady: one photo per
    photo per run and one per distractor, repeated (a fixed camera on
    one flower, a distractor held still in front of it)."""
    classes = list(probs)
    rows, scene, starts = [], [], []
    current = None
    for _ in range(runs):
        current = rng.choice([c for c in classes if c != current])
        other = rng.choice([c for c in classes if c != current])
        first, burst, second = int(rng.integers(15, 31)), int(rng.integers(1, 4)), int(rng.integers(15, 31))
        starts.append(len(rows))
        fixed = {c: int(rng.integers(0, len(probs[c][half::2]))) for c in (current, other)}
        for cls, n in ((current, first), (other, burst), (current, second)):
            pool = probs[cls][half::2]
            picks = np.full(n, fixed[cls]) if steady else rng.integers(0, len(pool), n)
            rows += [pool[i] for i in picks]
            scene += [classes.index(current)] * n
    return np.stack(rows), np.asarray(scene), np.asarray(starts)


def score(shown: np.ndarray, scene: np.ndarray, starts: np.ndarray) -> dict:
    flips = int(np.count_nonzero(shown[1:] != shown[:-1]))
    delays, switched = [], 0
    ends = list(starts[1:]) + [len(shown)]
    for start, end in zip(starts[1:], ends[1:]):
        hit = np.flatnonzero(shown[start:end] == scene[start])
        if len(hit):  # a run never shown as its class is a miss, counted apart (steady: misclassified photo)
            delays.append(int(hit[0]))
        # The first change after a boundary is the run's switch, even to a misclassified photo's label.
        switched += bool(np.any(shown[start:end] != shown[start - 1]))
    false = flips - switched
    per100 = 100.0 / len(shown)
    return {"flips": flips * per100, "false": false * per100, "wrong": float(np.mean(shown != scene)) * 100,
            "missed": 100.0 * (1 - len(delays) / (len(starts) - 1)), "delay_mean": float(np.mean(delays)),
            "delay_p90": float(np.percentile(delays, 90)), "delay_max": int(np.max(delays))}


def grid():
    for half_life, margin, hold in itertools.product((0, 1, 1.5, 2, 3, 4, 6), (0.0, 0.05, 0.1, 0.2, 0.3),
                                                     (1, 2, 3, 4, 5)):
        yield SmoothingConfig(float(half_life), margin=margin, hold=hold)


def choose(probs, seed: int, runs, min_ratio: float, max_delay: float):
    """The setting with the fewest false flips (pan + steady) that meets the goals on both."""
    seqs = [make_sequence(probs, np.random.default_rng(seed), runs, half=0, steady=steady)
            for steady in (False, True)]
    raws = [score(smooth_sequence(q, SmoothingConfig.off()), sc, st) for q, sc, st in seqs]
    best = None
    for cfg in grid():
        scores = [score(smooth_sequence(q, cfg), sc, st) for q, sc, st in seqs]
        if all(s["false"] * min_ratio <= r["false"] and s["delay_p90"] <= max_delay
               and s["delay_mean"] <= max_delay / 2 and s["missed"] <= r["missed"] + 1.0
               for s, r in zip(scores, raws)):
            key = (sum(s["false"] for s in scores), sum(s["wrong"] for s in scores))
            if best is None or key < best[0]:
                best = (key, cfg, scores[0])
    return best


def fmt(name: str, s: dict) -> str:
    return (f"| {name} | {s['flips']:.2f} | {s['false']:.2f} | {s['delay_mean']:.2f} | {s['delay_p90']:.0f} | "
            f"{s['delay_max']} | {s['missed']:.1f}% | {s['wrong']:.1f}% |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", required=True)
    ap.add_argument("--images", required=True, type=Path, help="folder-per-class real photos (eval set)")
    ap.add_argument("--limit", type=int, default=300, help="photos per class")
    ap.add_argument("--runs", type=int, default=300, help="runs per sequence")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--min-ratio", type=float, default=5.0)
    ap.add_argument("--max-delay", type=float, default=10.0)
    args = ap.parse_args()
    predictor = Predictor(args.bundle)
    t0 = time.perf_counter()
    probs = photo_probs(predictor, args.images, args.limit)
    n = sum(len(v) for v in probs.values())
    acc = np.mean([np.mean(np.argmax(v, 1) == predictor.labels.index(k)) for k, v in probs.items()])
    print(f"{n} photos classified in {time.perf_counter() - t0:.1f} s; per-photo top-1 accuracy {acc:.3f}")
    chosen = choose(probs, args.seed, args.runs, args.min_ratio, args.max_delay)
    if chosen is None:
        print(f"no setting reaches >= {args.min_ratio}x fewer false flips with p90 delay <= {args.max_delay}")
        return 1
    _, cfg, fit = chosen
    print(f"chosen on the even-indexed photos: half_life={cfg.half_life} frames, margin={cfg.margin}, "
          f"hold={cfg.hold} (selection sequence: false flips {fit['false']:.2f}/100, "
          f"mean delay {fit['delay_mean']:.2f}, wrong frames {fit['wrong']:.1f}%)")
    rows = [("chosen", cfg), ("current defaults", SmoothingConfig())]
    rows += [(f"EMA only, half-life {h}", SmoothingConfig(h, margin=0.0, hold=1)) for h in (2.0, 4.0)]
    rows += [("hysteresis only", SmoothingConfig(0.0, margin=0.1, hold=3))]
    for steady in (False, True):
        seq, scene, starts = make_sequence(probs, np.random.default_rng(args.seed + 1), args.runs, half=1,
                                           steady=steady)
        print(f"\nheld-out {'steady' if steady else 'pan'} sequence: {len(seq)} frames, {len(starts)} runs, "
              f"odd-indexed photos")
        print("| labels | flips/100 frames | false flips/100 | switch delay mean | p90 | max | runs missed "
              "| wrong frames |")
        print("|---|---|---|---|---|---|---|---|")
        raw = score(smooth_sequence(seq, SmoothingConfig.off()), scene, starts)
        print(fmt("raw (per-frame top-1)", raw))
        for name, c in rows:
            s = score(smooth_sequence(seq, c), scene, starts)
            ratio = raw["false"] / s["false"] if s["false"] else float("inf")
            print(fmt(f"{name} (h={c.half_life}, m={c.margin}, k={c.hold})", s)
                  + f" {ratio:.1f}x fewer false flips")
    return 0


if __name__ == "__main__":
    sys.exit(main())
