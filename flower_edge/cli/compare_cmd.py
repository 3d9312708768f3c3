"""`flower-edge compare`: parse flags, call flower_edge.benchmark.compare. No TF import:
it reads runs' benchmark.json files and scores bundles with the TF-free runtime."""

from __future__ import annotations

import json
from pathlib import Path

import click

from flower_edge.benchmark.config import SIZE_METRICS
from flower_edge.cli.options import eval_data_option, json_option, threads_option

DEFAULT_OUT = Path("artifacts") / "compare"


@click.command("compare")
@click.argument("runs", nargs=-1, required=True, metavar="RUN_OR_BUNDLE...", type=click.Path(path_type=Path))
@click.option("--budget-ms", type=click.FloatRange(min=0, min_open=True), metavar="MS",
              help="Latency budget: the median at --threads must be at most this [default: no limit].")
@click.option("--budget-mb", type=click.FloatRange(min=0, min_open=True), metavar="MB",
              help="Size budget, on the gzip size unless --size-metric file [default: no limit].")
@click.option("--size-metric", type=click.Choice(SIZE_METRICS), default="gzip", show_default=True,
              help="Size for --budget-mb and the size frontier: gzip (over the air) or file (on the card).")
@click.option("--latency", "latency_files", multiple=True, metavar="FILE.json",
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="'flower-edge benchmark BUNDLE --json' output measured on the device; replaces this "
                   "machine's latency for the variant with the same model sha256. Repeatable.")
@threads_option("Thread count whose latency is compared [default: the smallest every run's benchmark "
                "timed; 1 with only bundles].")
@eval_data_option("Score each BUNDLE on this labelled folder (one sub-folder per class) [default: the "
                  "folder the runs were benchmarked on].")
@click.option("--out", type=click.Path(path_type=Path), default=DEFAULT_OUT, show_default=True,
              help="Folder for compare.md, compare.json, compare.png (a compare folder is replaced atomically).")
@json_option("Print compare.json instead of the table.")
def compare_cmd(runs, budget_ms, budget_mb, size_metric, latency_files, threads, eval_data, out,
                as_json) -> None:
    """One table and one Pareto plot across runs, bundles and variants; recommends what to ship.

    Each RUN needs report/benchmark.json from 'flower-edge benchmark RUN --eval-data DIR',
    with the same DIR for every run: runs scored on other images are refused. Each
    BUNDLE (a bundle folder, or a bare .tflite classifier with TFLite Model Metadata,
    told from a run by its .flower-edge marker) is scored and timed here, TF-free, on
    the runs' photos (or --eval-data DIR).

    \b
    Example:
      flower-edge benchmark artifacts/teacher --eval-data flowers-eval/ --no-explain
      flower-edge benchmark artifacts/student --eval-data flowers-eval/ --no-explain
      flower-edge compare artifacts/teacher artifacts/student --budget-ms 2 --budget-mb 1.5
      flower-edge compare artifacts/teacher artifacts/student --threads 4 --latency pi-int8.json
      flower-edge compare artifacts/student model_maker.tflite   # a MediaPipe Model Maker export
    """
    from flower_edge.benchmark.compare import Budgets, compare_runs
    from flower_edge.benchmark.compare_render import table, write_compare
    from flower_edge.guard import output_dir, run_data

    budgets = Budgets(ms=budget_ms, mb=budget_mb, size_metric=size_metric)
    data = [d for run in runs for d in run_data(run)] + ([str(eval_data)] if eval_data else [])
    with output_dir(out, "compare", "compare folder", data=data) as folder:  # checked first
        report = compare_runs(list(runs), budgets, list(latency_files), threads, eval_data)
        write_compare(folder, report)
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
        return
    click.echo(table(report))
    for note in report.notes:
        click.echo(f"note: {note}")
    click.echo(f"recommendation: {report.recommendation}")
    click.echo(f"report: {out / 'compare.md'}")


COMMANDS = [compare_cmd]
