"""`flower-edge benchmark`: parse flags, call flower_edge.benchmark.target. No TF import
here: a bundle is benchmarked on a Pi that has only the TF-free runtime."""

from __future__ import annotations

import json
from pathlib import Path

import click

from flower_edge.cli.options import (
    config_option,
    decode_threads_option,
    eval_data_option,
    json_option,
    threads_option,
)
from flower_edge.data.splits import SPLIT_NAMES


@click.command("benchmark")
@click.argument("target", metavar="RUN_OR_BUNDLE", type=click.Path(path_type=Path))
@config_option("A benchmark recipe .toml (e.g. benchmark/default.toml); flags override its keys.")
@click.option("--split", type=click.Choice(SPLIT_NAMES),
              help="The run's split to score on [default: the recipe's, else test].")
@eval_data_option("Score accuracy on this labelled folder (one sub-folder per class, named as the "
                  "labels) instead of the run's split: the common photo set 'flower-edge compare' "
                  "needs across runs and bundles.")
@threads_option("Thread count to time; repeatable: --threads 1 --threads 4 [default: the recipe's, "
                "else 1, 2 and 4].", multiple=True)
@click.option("--runs", type=click.IntRange(min=1),
              help="Timed batch-1 runs per thread count [default: the recipe's, else 50].")
@click.option("--warmup", type=click.IntRange(min=0),
              help="Untimed runs before timing [default: the recipe's, else 5].")
@click.option("--max-images", type=click.IntRange(min=0), metavar="N",
              help="Score on at most N photos (0 = all) [default: the recipe's, else 0].")
@click.option("--explain/--no-explain", default=None,
              help="A run's Grad-CAM overlays, deletion test, drift and misclassifications "
                   "[default: the recipe's, else on].")
@click.option("--photos", "images", type=click.Path(exists=True, path_type=Path), metavar="PHOTO_OR_DIR",
              help="With a BUNDLE: also time decode + preprocess vs inference per photo, and end-to-end "
                   "photos/s, on these photos (at most --max-images of them).")
@decode_threads_option
@json_option("Print the result as JSON instead of a table.")
def benchmark_cmd(target, recipe, split, eval_data, threads, runs, warmup, max_images, explain,
                  images, decode_threads, as_json) -> None:
    """Size, latency, memory and accuracy of a run's Keras model and every exported
    variant, or of one bundle.

    RUN_OR_BUNDLE is told by its .flower-edge marker. A run writes
    RUN/report/benchmark.json, benchmark.md (one table), pareto.png, gradcam/ and
    misclassified.png. A bundle (a bundle folder, or a bare .tflite classifier with
    TFLite Model Metadata) is timed without TensorFlow, so it runs on the Pi; with
    --eval-data it is scored too.

    \b
    Example:
      flower-edge benchmark artifacts/mnv2 --threads 1 --threads 4 --runs 50
      flower-edge benchmark artifacts/mnv2 --max-images 200 --no-explain
      flower-edge benchmark artifacts/mnv2 --eval-data flowers-eval/ --no-explain
      flower-edge benchmark artifacts/mnv2/export/int8 --threads 1 --threads 4
      flower-edge benchmark artifacts/mnv2/export/int8 --photos photos/ --threads 4
      flower-edge benchmark model.tflite --eval-data flowers-eval/ --json
    """
    from flower_edge.benchmark.target import benchmark, render_bundle, render_run

    kind, report = benchmark(target, recipe, images=images, decode_threads=decode_threads, split=split,
                             eval_data=str(eval_data) if eval_data else None, threads=threads or None,
                             runs=runs, warmup=warmup, max_images=max_images, explain=explain)
    if as_json:
        click.echo(json.dumps(report.to_json(), default=lambda o: o.__dict__, indent=2))
    else:
        click.echo(render_bundle(report, target) if kind == "bundle" else render_run(report))


COMMANDS = [benchmark_cmd]
