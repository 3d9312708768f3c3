"""`flower-edge train`: parse flags into a RunConfig and call the trainer."""

from __future__ import annotations

import click

from flower_edge.cli.options import (
    config_option,
    force_option,
    out_option,
)
from flower_edge.cli.training_options import apply_training_flags, training_options
from flower_edge.errors import UsageError


@click.command("train")
@config_option()
@training_options
@out_option("The run folder to write [default: artifacts/<backbone>-<date>-<time>].")
@click.option("--resume", "resume", type=click.Path(file_okay=False), metavar="RUN",
              help="Continue the interrupted run RUN with its saved config (no other flags).")
@force_option("Replace the run at --out, if flower-edge made it (atomically, once the new one is "
              "finished); anything else there is never replaced.")
@click.option("--lr-find", is_flag=True, help="Run an LR range test (lr_find.png/csv), don't train.")
def train_cmd(recipe, out, resume, force, lr_find, **flags) -> None:
    """Fine-tune a flower classifier and write a run folder.

    Phase 1 trains the head on a frozen backbone, phase 2 unfreezes the top
    layers at a lower learning rate. Flags override the recipe's keys.

    \b
    Example:
      flower-edge train --data flowers/ --backbone mobilenet_v2 --out artifacts/mnv2
      flower-edge train --config train/mobilenet_v2.toml --data flowers/ --source folder
      flower-edge train --data flowers/ --backbone baseline_cnn --image-size 64 --epochs 2
      flower-edge train --resume artifacts/mnv2
    """
    from flower_edge.train import launch, trainer
    from flower_edge.train.config import load_recipe

    if resume:
        given = sorted(k for k, v in flags.items() if v is not None)
        if given or recipe or out or force or lr_find:
            raise UsageError("--resume continues a run with its saved config.toml; drop the other "
                             "flags (or start a new run without --resume)")
        run = trainer.resume_run(resume)
    else:
        cfg = apply_training_flags(load_recipe(recipe), flags)
        if lr_find:
            from flower_edge.train.lr_find import lr_find_run

            result = lr_find_run(cfg, out, force)
            click.echo(f"suggested lr: {result['suggested_lr']:.3g} (plot: {result['plot']})")
            return
        run = launch.start_training(cfg, out, force)
    click.echo(str(run.path))


COMMANDS = [train_cmd]
