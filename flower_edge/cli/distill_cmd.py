"""`flower-edge distill`: parse flags into a RunConfig with a [distill] table, call the trainer."""

from __future__ import annotations

import click

from flower_edge.cli.train_cmd import _layers


@click.command("distill")
@click.option("--teacher", required=True, type=click.Path(file_okay=False),
              help="The teacher: a finished run of 'flower-edge train' (its split is reused).")
@click.option("--model", help="The student's backbone, e.g. mobilenet_v2, mobilenet_v2_035, baseline_cnn.")
@click.option("--image-size", type=click.IntRange(min=1), help="The student's input size in px (default: the model's).")
@click.option("--weights", help="The student's start: imagenet, none, or a notop .h5 of the backbone.")
@click.option("--temperature", type=click.FloatRange(min=0, min_open=True), help="Softening temperature T [2].")
@click.option("--alpha", type=click.FloatRange(0, 1), help="Weight of the labels' loss; 1 - alpha goes to the teacher [0: the teacher alone].")
@click.option("--unlabeled", type=click.Path(file_okay=False), metavar="DIR",
              help="Photos without labels: the teacher labels them (each augmented view anew).")
@click.option("--config", "recipe", type=click.Path(dir_okay=False), help="Recipe .toml (see train/*.toml).")
@click.option("--data", help="The teacher's dataset folder, if it moved since the teacher trained.")
@click.option("--epochs", type=click.IntRange(min=0), help="Phase 1 epochs (head on a frozen backbone).")
@click.option("--finetune-epochs", type=click.IntRange(min=0), help="Phase 2 epochs (top layers unfrozen).")
@click.option("--finetune-layers", callback=lambda c, p, v: _layers(v), help="Layers to unfreeze in phase 2: N or all.")
@click.option("--batch-size", type=click.IntRange(min=1), help="Batch size.")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), help="Phase 1 learning rate.")
@click.option("--finetune-lr", type=click.FloatRange(min=0, min_open=True), help="Phase 2 learning rate.")
@click.option("--seed", type=click.IntRange(min=0), help="Training seed.")
@click.option("--out", help="Root folder for runs (default: artifacts).")
@click.option("--run-name", help="Run folder name (default: <model>-<date>-<time>).")
@click.option("--force", is_flag=True, help="Replace an existing run of this name (only a flower-edge run).")
def distill_cmd(teacher, recipe, out, run_name, force, **flags) -> None:
    """Train a small student model from a big teacher run (knowledge distillation).

    The student learns from the teacher's softened probabilities on the same augmented
    view it sees, mixed with the labels. The result is an ordinary run folder, so
    quantize, benchmark, explain and predict take it as it is.

    \b
    Example:
      flower-edge distill --teacher artifacts/mnv2 --model mobilenet_v2 --image-size 96 --run-name mnv2-96-kd
      flower-edge distill --teacher artifacts/mnv2 --model baseline_cnn --weights none --epochs 60
      flower-edge distill --teacher artifacts/mnv2 --model mobilenet_v2_035 --unlabeled more-photos/
    """
    from flower_edge.train.config import apply_overrides, load_recipe
    from flower_edge.train.distill import data_path
    from flower_edge.train.trainer import distill_run

    cfg = load_recipe(recipe)
    data = {"path": flags["data"] or data_path(teacher), "seed": flags["seed"],
            "batch_size": flags["batch_size"]}
    model = {"name": flags["model"], "image_size": flags["image_size"], "weights": flags["weights"]}
    train = {"head_epochs": flags["epochs"], "finetune_epochs": flags["finetune_epochs"],
             "finetune_layers": flags["finetune_layers"], "lr": flags["lr"], "finetune_lr": flags["finetune_lr"]}
    distill = {"teacher": teacher, "temperature": flags["temperature"], "alpha": flags["alpha"],
               "unlabeled": flags["unlabeled"]}
    cfg = apply_overrides(cfg, data, model, train, distill)
    click.echo(str(distill_run(cfg, out, run_name, force).path))


COMMANDS = [distill_cmd]
