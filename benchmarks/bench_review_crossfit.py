#!/usr/bin/env python
"""Study: does a cross-fitted fine-tuned model find planted label flips better than the probe?

Per seed: bench_review_noise's planted copy of flowers5 (5% flips); K folds stratified on the
noisy labels; per fold, `flower-edge train` on the other folds (default recipe, --image-size
SIZE) and that model's probabilities on the held-out fold. The share of flips among the worst
10% of cleanlab's label-quality scores is printed for: the fine-tuned out-of-fold
probabilities, the review's probe (data review's own out_of_fold on its embedding), and
their mean.

    python benchmarks/bench_review_crossfit.py --seeds 0 1 2 --out artifacts/26-crossfit
"""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

import numpy as np
from bench_review_noise import plant
from common import cli


def fold_probs(files, labels, classes, out: Path, args, seed: int) -> np.ndarray:
    from sklearn.model_selection import StratifiedKFold

    from flower_edge.data.pipeline import make_dataset
    from flower_edge.models.build import load_keras_model

    probs = np.zeros((len(files), len(classes)))
    folds = StratifiedKFold(n_splits=args.folds, shuffle=True, random_state=seed)
    for k, (fit, held) in enumerate(folds.split(files, labels)):
        data = out / f"fold{k}" / "data"
        for i in fit:
            dest = data / classes[labels[i]] / Path(files[i]).name
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.symlink_to(Path(files[i]).resolve())
        run = out / f"fold{k}" / "run"
        subprocess.run(cli("train", "--data", data, "--backbone", "mobilenet_v2", "--weights", args.weights,
                           "--image-size", args.size, "--seed", seed, "--split-fractions", "0.9,0.1,0",
                           "--out", run), check=True, stdout=subprocess.DEVNULL)
        model = load_keras_model(run / "model.keras")
        ds = make_dataset([files[i] for i in held], [0] * len(held), image_size=args.size, batch_size=32,
                          training=False, num_classes=1, cache=False)
        probs[held] = np.concatenate([model.predict(x, verbose=0) for x, _ in ds])
    return probs


def recall(scores: np.ndarray, flipped: np.ndarray) -> int:
    worst = np.argsort(scores)[:len(scores) // 10]
    return int(flipped[worst].sum())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data/flowers5"))
    ap.add_argument("--weights", type=Path,
                    default=Path("../shared/weights/mobilenet_v2_imagenet_from_tflite_notop.h5"))
    ap.add_argument("--out", type=Path, default=Path("artifacts/review-crossfit"))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--folds", type=int, default=2)
    ap.add_argument("--size", type=int, default=96)
    args = ap.parse_args()
    from cleanlab.rank import get_label_quality_scores

    from flower_edge.data.review.embed import backbone, embed
    from flower_edge.data.review.findings import out_of_fold

    model, size, _ = backbone(None, str(args.weights), "mobilenet_v2", 0)  # the same base for every seed
    totals = np.zeros(3, int)
    flips = 0
    for seed in args.seeds:
        out = args.out / f"seed{seed}"
        planted = plant(args.data, out, 0.05, seed)
        root = out / "data"
        classes = sorted(p.name for p in root.iterdir() if p.is_dir())
        files = sorted(str(p) for p in root.rglob("*") if p.is_file())
        labels = np.array([classes.index(Path(f).parent.name) for f in files])
        planted_flips = set(planted["flipped"])
        flipped = np.array([f"{Path(f).parent.name}/{Path(f).name}" in planted_flips for f in files])
        tuned = fold_probs(files, labels, classes, out, args, seed)
        probe = out_of_fold(embed(model, size, files), labels, seed)
        found = [recall(get_label_quality_scores(labels, p), flipped) for p in (tuned, probe, (tuned + probe) / 2)]
        totals += found
        flips += int(flipped.sum())
        print(f"seed {seed}: {int(flipped.sum())} flips; in the worst 10%: fine-tuned {found[0]}, "
              f"probe {found[1]}, mean {found[2]}; fine-tuned top-1 on noisy labels "
              f"{np.mean(tuned.argmax(1) == labels):.1%}", flush=True)
    print(f"seeds {args.seeds}: fine-tuned {totals[0]}/{flips} ({totals[0] / flips:.1%}), probe "
          f"{totals[1]}/{flips} ({totals[1] / flips:.1%}), mean {totals[2]}/{flips} ({totals[2] / flips:.1%})")


if __name__ == "__main__":
    main()
