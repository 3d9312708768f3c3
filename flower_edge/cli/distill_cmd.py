"""`flower-edge distill`: parse flags into a RunConfig with a [distill] table, call the trainer."""

from __future__ import annotations

import click

from flower_edge.cli.options import (
    config_option,
    force_option,
    out_option,
)
from flower_edge.cli.training_options import apply_training_flags, training_options
from flower_edge.errors import UsageError


@click.command("distill")
@click.option("--teacher", required=True, type=click.Path(file_okay=False), metavar="RUN",
              help="The teacher: a finished run of 'flower-edge train' (its split is reused).")
@click.option("--temperature", type=click.FloatRange(min=0, min_open=True),
              help="Softening temperature T [default: the recipe's, else 2].")
@click.option("--alpha", type=click.FloatRange(0, 1),
              help="Weight of the labels' loss; 1 - alpha goes to the teacher "
                   "[default: the recipe's, else 0: the teacher alone].")
@click.option("--unlabeled-data", type=click.Path(file_okay=False), metavar="DIR",
              help="Photos without labels: the teacher labels them (each augmented view anew).")
@config_option()
@training_options
@out_option("The student's run folder [default: artifacts/<backbone>-<date>-<time>].")
@force_option("Replace the run at --out, if flower-edge made it (never the teacher); anything "
              "else there is never replaced.")
def distill_cmd(teacher, temperature, alpha, unlabeled_data, recipe, out, force, **flags) -> None:
    """Train a small student model from a big teacher run (knowledge distillation).

    The student learns from the teacher's softened probabilities on the same augmented
    view it sees, mixed with the labels. It takes every training flag of 'train' (the
    student's); --data defaults to the teacher's folder. The result is an ordinary run
    folder, so quantize, benchmark, explain and predict take it as it is.

    \b
    Example:
      flower-edge distill --teacher artifacts/mnv2 --backbone mobilenet_v2 --image-size 96 --out artifacts/mnv2-96-kd
      flower-edge distill --teacher artifacts/mnv2 --backbone baseline_cnn --epochs 60
      flower-edge distill --teacher artifacts/mnv2 --backbone mobilenet_v2_035 --unlabeled-data more-photos/
    """
    from flower_edge.train.config import load_recipe
    from flower_edge.train.distill import data_path
    from flower_edge.train.trainer import distill_run

    fixed = [f"--{k.replace('_', '-')}" for k in ("source", "split_fractions") if flags[k] is not None]
    if fixed:
        raise UsageError(f"{' and '.join(fixed)}: a student trains on its teacher's split, as it is; "
                         f"drop {'them' if len(fixed) > 1 else 'it'}")
    flags["data"] = flags["data"] or data_path(teacher)
    cfg = apply_training_flags(load_recipe(recipe), flags, distill={
        "teacher": teacher, "temperature": temperature, "alpha": alpha, "unlabeled": unlabeled_data})
    click.echo(str(distill_run(cfg, out, force).path))


COMMANDS = [distill_cmd]
