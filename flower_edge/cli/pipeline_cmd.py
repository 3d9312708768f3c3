"""`flower-edge pipeline`: parse flags, call flower_edge.pipeline."""

from __future__ import annotations

import click

from flower_edge.cli.options import (
    config_option,
    force_option,
    out_option,
    variant_options,
)
from flower_edge.cli.training_options import apply_training_flags, training_options
from flower_edge.pipeline.run import STAGES


def echo_stage(line: str) -> None:
    """A stage's progress line, on stderr (stdout keeps the table and the report path)."""
    click.echo(line, err=True)


@click.command("pipeline")
@config_option("A recipe .toml: [data] [model] [train] (any train recipe) plus [quantize] "
               "[benchmark]; flags override its keys.")
@training_options
@variant_options
@out_option("The run folder to write; rerun with the same --out to continue "
            "[default: artifacts/<backbone>-<date>-<time>].")
@force_option("Rerun every stage, even those that are up to date, replacing the run at --out "
              "(if flower-edge made it) once the new one is complete.")
@click.option("--until", type=click.Choice(STAGES), help="Stop after this stage [default: report, the last].")
def pipeline_cmd(recipe, variants, out, force, until, **flags) -> None:
    """Train, quantize, benchmark and report into one run folder.

    Takes every training flag of 'train'. A stage whose outputs are up to date with
    its inputs and config is skipped; after a failure (or Ctrl-C) the same command
    continues from the failed stage, resuming an interrupted training run.

    \b
    Example:
      flower-edge pipeline --data flowers/ --backbone mobilenet_v2 --out artifacts/mnv2
      flower-edge pipeline --config train/mobilenet_v2.toml --data flowers/ --source folder --fp32 --int8
      flower-edge pipeline --data flowers/ --backbone mobilenet_v2 --out artifacts/mnv2 --force
      flower-edge pipeline --data flowers/ --backbone baseline_cnn --until quantize
    """
    from flower_edge.pipeline.config import load_pipeline_recipe
    from flower_edge.pipeline.run import run_pipeline
    from flower_edge.pipeline.summary import summary

    cfg = apply_training_flags(load_pipeline_recipe(recipe), flags, quantize={"variants": variants or None})
    click.echo(summary(run_pipeline(cfg, out, force, echo=echo_stage, until=until)))


COMMANDS = [pipeline_cmd]
