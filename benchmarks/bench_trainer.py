"""Is training input-bound? img/s of the real pipeline + train step vs the same step
fed synthetic tensors, measured in one run. Goal: ratio >= 0.9.

    python benchmarks/bench_trainer.py --data ../shared/data/flowers5 --backbone mobilenet_v2 --size 128

The real pipeline is the trainer's own (decode, resize, cache, shuffle, augment,
prefetch), warmed for one full epoch so the cache is filled, as in epochs 2+.
"""

from __future__ import annotations

import argparse
import json
import math
import time


def _timed_fit(model, dataset, steps: int, repeats: int, batch: int) -> float:
    """Best-of-`repeats` images per second over `steps` train steps."""
    best = 0.0
    for _ in range(repeats):
        t0 = time.perf_counter()
        model.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0)
        best = max(best, steps * batch / (time.perf_counter() - t0))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/flowers5")
    parser.add_argument("--backbone", default="mobilenet_v2", help="a backbone of the ModelSpec registry")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--phase", type=int, choices=(1, 2), default=1,
                        help="1: frozen backbone (head only), 2: fine-tune the top layers")
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    args = parser.parse_args()

    from flower_edge.config import from_mapping
    from flower_edge.models import get_spec
    from flower_edge.models.build import build_model
    from flower_edge.tfcompat import keras, tf
    from flower_edge.train.config import RunConfig, resolve
    from flower_edge.train.model_setup import compile_model, set_phase
    from flower_edge.train.trainer import load_splits, make_datasets

    cfg = resolve(from_mapping(RunConfig, {
        "data": {"path": args.data, "batch_size": args.batch_size},
        "model": {"name": args.backbone, "image_size": args.size, "weights": "none"},
        "train": {"head_epochs": 1, "finetune_epochs": 1}}))
    splits = load_splits(cfg)
    n_cls = len(splits.classes)
    keras().utils.set_random_seed(0)
    model = build_model(get_spec(cfg.model.name), n_cls, args.size, None)
    set_phase(model, args.phase, cfg.train.finetune_layers)
    compile_model(model, cfg.train, 1e-3, n_cls)

    real, _ = make_datasets(cfg, splits)
    real = real.repeat()
    epoch = math.ceil(len(splits.train) / args.batch_size)
    model.fit(real, steps_per_epoch=epoch, epochs=1, verbose=0)  # fills the cache, traces
    t = tf()
    x = t.random.uniform((args.batch_size, args.size, args.size, 3), 0, 255, seed=0)
    y = t.one_hot(t.range(args.batch_size) % n_cls, n_cls)
    synthetic = t.data.Dataset.from_tensors((x, y)).repeat()
    model.fit(synthetic, steps_per_epoch=3, epochs=1, verbose=0)

    real_ips = _timed_fit(model, real, args.steps, args.repeats, args.batch_size)
    synth_ips = _timed_fit(model, synthetic, args.steps, args.repeats, args.batch_size)
    result = {"model": args.backbone, "size": args.size, "batch": args.batch_size,
              "phase": args.phase, "real_img_s": round(real_ips, 1),
              "synthetic_img_s": round(synth_ips, 1), "ratio": round(real_ips / synth_ips, 3)}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{args.backbone}@{args.size} batch {args.batch_size} phase {args.phase}: "
              f"real pipeline {real_ips:.1f} img/s, synthetic {synth_ips:.1f} img/s, "
              f"ratio {real_ips / synth_ips:.3f} (goal >= 0.9)")


if __name__ == "__main__":
    main()
