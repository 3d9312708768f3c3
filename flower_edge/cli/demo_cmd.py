"""`flower-edge demo`: parse flags, call flower_edge.pipeline.demo."""

from __future__ import annotations

import click

from flower_edge.cli.options import force_option, out_option
from flower_edge.cli.pipeline_cmd import echo_stage


@click.command("demo")
@out_option("Folder for the synthetic data (OUT/data) and the run (OUT/run).", default="artifacts/demo")
@force_option("Rerun every stage, replacing the demo run flower-edge made at --out before.")
def demo_cmd(out, force) -> None:
    """The whole product in a few minutes, offline: synthetic flowers, a small CNN,
    four TFLite variants, the benchmark, Grad-CAM and one report.

    \b
    Example:
      flower-edge demo
      flower-edge demo --out ~/flower-demo
    """
    from flower_edge.pipeline.demo import run_demo
    from flower_edge.pipeline.summary import summary

    click.echo(summary(run_demo(out, force=force, echo=echo_stage)))


COMMANDS = [demo_cmd]
