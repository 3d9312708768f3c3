"""`flower-edge benchmark`: parse flags, call flower_edge.benchmark. No TF import here:
`--bundle` must run on a Pi that has only the TF-free runtime."""

from __future__ import annotations

import json
from pathlib import Path

import click

from flower_edge.errors import UsageError


def _config(recipe, **flags):
    from flower_edge.benchmark.config import BenchmarkConfig, parse_threads
    from flower_edge.config import from_mapping, load_toml, override

    cfg = from_mapping(BenchmarkConfig, load_toml(recipe)) if recipe else BenchmarkConfig()
    if flags.get("threads") is not None:
        flags["threads"] = parse_threads(flags["threads"])
    return override(cfg, **flags)


@click.command("benchmark")
@click.argument("run_dir", required=False, type=click.Path(path_type=Path))
@click.option("--bundle", type=click.Path(path_type=Path),
              help="Time one bundle only (latency, size, memory), or a bare .tflite carrying TFLite metadata; "
                   "needs no TensorFlow, so it runs on the Pi.")
@click.option("--config", "recipe", type=click.Path(path_type=Path), help="A recipe, e.g. benchmark/default.toml.")
@click.option("--split", type=click.Choice(["train", "val", "test"]), help="Split to score on [test].")
@click.option("--eval-data", type=click.Path(exists=True, file_okay=False, path_type=Path), metavar="DIR",
              help="Score accuracy on this folder-per-class set (classes = the run's labels) instead of "
                   "the split: the common image set 'flower-edge compare' needs across runs.")
@click.option("--threads", help="Comma-separated thread counts to time [1,2,4].")
@click.option("--runs", type=click.IntRange(min=1), help="Timed batch-1 runs per thread count [50].")
@click.option("--warmup", type=click.IntRange(min=0), help="Untimed runs before timing [5].")
@click.option("--max-images", type=click.IntRange(min=0), help="Score on at most N images of the split (0 = all).")
@click.option("--explain/--no-explain", default=None,
              help="Grad-CAM overlays, deletion test, drift and misclassifications [on].")
@click.option("--images", type=click.Path(path_type=Path), metavar="DIR",
              help="With --bundle: also time decode + preprocess vs inference per image, and "
                   "end-to-end images/s, on these photos (at most --max-images of them).")
@click.option("--workers", type=click.IntRange(min=0), default=None, metavar="N",
              help="With --images: decode threads for the end-to-end pass [cores - 1, at most 4].")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON instead of a table.")
def benchmark_cmd(run_dir, bundle, recipe, split, eval_data, threads, runs, warmup, max_images, explain,
                  images, workers, as_json) -> None:
    """Size, latency, memory and accuracy of a run's Keras model and every exported variant.

    Writes RUN_DIR/report/benchmark.json, benchmark.md (one table), pareto.png,
    gradcam/ and misclassified.png. With --bundle, times one bundle TF-free.

    \b
    Example:
      flower-edge benchmark artifacts/mnv2 --threads 1,2,4 --runs 50
      flower-edge benchmark artifacts/mnv2 --max-images 200 --no-explain
      flower-edge benchmark artifacts/mnv2 --eval-data ../shared/data/flowers5-eval --no-explain
      flower-edge benchmark --bundle artifacts/mnv2/export/int8 --threads 1,4
      flower-edge benchmark --bundle artifacts/mnv2/export/int8 --images photos/ --threads 4
    """
    if split is not None and eval_data is not None:
        raise UsageError("--split scores the run's own split, --eval-data a folder: pass one of them")
    cfg = _config(recipe, split=split, eval_data=str(eval_data) if eval_data else None, threads=threads,
                  runs=runs, warmup=warmup, max_images=max_images, explain=explain)
    if bundle is not None:
        if run_dir is not None:
            raise UsageError("pass either RUN_DIR or --bundle, not both")
        if eval_data is not None:
            raise UsageError("--eval-data scores a run's variants on labelled photos: pass RUN_DIR, not --bundle")
        from flower_edge.benchmark.bundle import (
            bench_bundle,
            bench_images,
            clients_line,
            image_paths,
            latency_table,
        )
        from flower_edge.runtime.throughput import images_table

        if workers is not None and images is None:
            raise UsageError("--workers sets the decode threads of --images; add --images DIR")
        paths = image_paths(images, cfg.max_images) if images else None  # a bad folder fails now
        row = bench_bundle(bundle, cfg.threads, cfg.runs, cfg.warmup)
        timings = bench_images(bundle, paths, cfg.threads, workers) if paths else None
        if as_json:
            out = {**row.__dict__, **({"images": [t.to_dict() for t in timings]} if timings else {})}
            click.echo(json.dumps(out, default=lambda o: o.__dict__, indent=2))
        else:
            click.echo(latency_table([row], cfg.threads))
            click.echo(clients_line(bundle))
            if timings:
                click.echo(f"\n{images_table(timings)}")
        return
    if images is not None:
        raise UsageError("--images times a bundle on photos: pass it with --bundle BUNDLE")
    if run_dir is None:
        raise UsageError("pass a RUN_DIR written by 'flower-edge train' (or --bundle BUNDLE for latency only)")
    from flower_edge.benchmark.render import table
    from flower_edge.benchmark.run import benchmark_run

    report = benchmark_run(run_dir, cfg)
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
        return
    click.echo(table(report.rows, report.threads, any(r.occlusion_spearman is not None for r in report.rows)))
    for note in report.notes:
        click.echo(f"note: {note}")
    if report.deletion is not None:
        d = report.deletion
        click.echo(f"Grad-CAM deletion test {'PASSED' if d.passed else 'FAILED'}: drop {d.gradcam_drop:.4f} "
                   f"vs random {d.random_drop:.4f} over {d.images} images")
        if len(d.methods) > 2:
            from dataclasses import asdict

            from flower_edge.explain.tables import verdict

            click.echo(verdict(asdict(d)).replace("**", ""))
    click.echo(f"report: {Path(report.run) / 'report' / 'benchmark.md'}")


COMMANDS = [benchmark_cmd]
