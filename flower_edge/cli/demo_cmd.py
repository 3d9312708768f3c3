"""`flower-edge pipeline`, `flower-edge demo` and `flower-edge report`: parse flags,
call flower_edge.pipeline / flower_edge.report."""

from __future__ import annotations

import click

VARIANTS = ("fp32", "fp16", "dynamic", "int8")


def _variants(ctx, param, value):
    if value is None:
        return None
    chosen = tuple(v.strip() for v in value.split(",") if v.strip())
    unknown = [v for v in chosen if v not in VARIANTS]
    if unknown or not chosen:
        from flower_edge.errors import UsageError

        raise UsageError(f"--variants takes a comma-separated list of {','.join(VARIANTS)}, got {value!r}")
    return chosen


def _echo_stage(line: str) -> None:
    click.echo(line, err=True)


@click.command("pipeline")
@click.option("--config", "recipe", type=click.Path(dir_okay=False),
              help="Recipe .toml: [data] [model] [train] (any train recipe) plus [quantize] [benchmark].")
@click.option("--data", help="Dataset folder (one sub-folder per class, or Oxford 102).")
@click.option("--model", help="Backbone, e.g. mobilenet_v2, inception_v3, baseline_cnn.")
@click.option("--weights", help="imagenet, none, or a notop .h5 of the backbone.")
@click.option("--image-size", type=click.IntRange(min=1), help="Input size in px (default: the model's).")
@click.option("--epochs", type=click.IntRange(min=0), help="Phase 1 epochs (head on a frozen backbone).")
@click.option("--out", help="Root folder for runs (default: artifacts).")
@click.option("--run-name", help="Run folder name (default: the model name).")
@click.option("--variants", callback=_variants, help="TFLite variants, e.g. fp32,int8 [all four].")
@click.option("--force", is_flag=True, help="Rerun every stage, even those that are up to date.")
@click.option("--until", type=click.Choice(["train", "quantize", "benchmark", "report"]),
              help="Stop after this stage.")
def pipeline_cmd(recipe, data, model, weights, image_size, epochs, out, run_name, variants, force,
                 until) -> None:
    """Train, quantize, benchmark and report into one run folder.

    A stage whose outputs are up to date with its inputs and config is skipped;
    after a failure (or Ctrl-C) the same command continues from the failed stage,
    resuming an interrupted training run.

    \b
    Example:
      flower-edge pipeline --data flowers/ --model mobilenet_v2 --out artifacts --run-name mnv2
      flower-edge pipeline --config train/mobilenet_v2.toml --data oxford102/ --variants fp32,int8
      flower-edge pipeline --data flowers/ --model mobilenet_v2 --run-name mnv2 --force
      flower-edge pipeline --data flowers/ --model baseline_cnn --weights none --until quantize
    """
    from flower_edge.pipeline.config import load_pipeline_recipe, merge
    from flower_edge.pipeline.run import run_pipeline

    cfg = merge(load_pipeline_recipe(recipe), {
        "data": {"path": data}, "model": {"name": model, "weights": weights, "image_size": image_size},
        "train": {"head_epochs": epochs}, "quantize": {"variants": variants}})
    result = run_pipeline(cfg, out, run_name, force, echo=_echo_stage, until=until)
    _finish(result)


def _finish(result) -> None:
    """Print the benchmark table and where the report is."""
    import json

    from flower_edge.report.sections import benchmark_rows

    bench = result.run / "report" / "benchmark.json"
    if bench.is_file() and result.status("benchmark") in ("ran", "skipped"):  # never a stale table
        from flower_edge.benchmark.render import table

        data = json.loads(bench.read_text(encoding="utf-8"))
        click.echo(table(benchmark_rows(data), data.get("threads", [])))
    if result.status("report") in ("ran", "skipped"):
        click.echo(f"report: {result.report}")
    else:
        click.echo(f"run: {result.run}")


@click.command("demo")
@click.option("--out", default="artifacts/demo", show_default=True,
              help="Folder for the synthetic data (OUT/data) and the run (OUT/run).")
@click.option("--force", is_flag=True, help="Rerun every stage.")
def demo_cmd(out, force) -> None:
    """The whole product in a few minutes, offline: synthetic flowers, a small CNN,
    four TFLite variants, the benchmark, Grad-CAM and one report.

    \b
    Example:
      flower-edge demo
      flower-edge demo --out ~/flower-demo
    """
    from flower_edge.pipeline.demo import run_demo

    result = run_demo(out, force=force, echo=_echo_stage)
    _finish(result)


@click.command("report")
@click.argument("run_dir", type=click.Path(file_okay=False))
def report_cmd(run_dir) -> None:
    """Rebuild RUN_DIR/report/index.md and index.html from what the run holds.

    \b
    Example:
      flower-edge report artifacts/mnv2
    """
    from flower_edge.report.build import build_report

    click.echo(f"report: {build_report(run_dir)}")


COMMANDS = [pipeline_cmd, demo_cmd, report_cmd]
