"""`flower-edge train`: parse flags into a RunConfig and call the trainer."""

from __future__ import annotations

import click

from flower_edge.errors import UsageError
from flower_edge.train.config import REFIT_CHOICES

CONFIG_FLAGS = ("data", "source", "split", "model", "weights", "image_size", "epochs", "finetune_epochs",
                "finetune_layers", "batch_size", "lr", "optimizer", "schedule",
                "label_smoothing", "seed", "strategy", "precision", "jit", "finetune_lr", "zoom",
                "mixup", "swa_epochs", "color", "layer_lr_ratio", "refit")


def _layers(value):
    if value is None or value in ("all", "spec"):
        return value
    try:
        layers = int(value)
    except ValueError:
        raise click.BadParameter("must be a number of layers, 'all' or 'spec'") from None
    if layers < 0:
        raise click.BadParameter(f"{layers} is not a number of layers (0 or more), 'all' or 'spec'")
    return layers


def _split(value):
    """'0.8,0.1,0.1' -> (0.8, 0.1, 0.1), checked like a recipe's fractions."""
    from flower_edge.data.sources import check_fractions

    if value is None:
        return None
    try:
        return check_fractions(value.split(","))
    except UsageError:
        raise click.BadParameter(f"{value!r}: give three fractions train,val,test >= 0 summing to 1, "
                                 "with train > 0, e.g. 0.8,0.1,0.1") from None


@click.command("train")
@click.option("--config", "recipe", type=click.Path(dir_okay=False), help="Recipe .toml (see train/*.toml).")
@click.option("--data", help="Dataset folder (one sub-folder per class, or Oxford 102).")
@click.option("--source", type=click.Choice(["folder", "oxford102", "synthetic"]), help="Dataset layout (default: detect).")
@click.option("--split", callback=lambda c, p, v: _split(v), metavar="TRAIN,VAL,TEST",
              help="Split fractions for a folder without train/val/test [0.8,0.1,0.1].")
@click.option("--model", help="Backbone, e.g. mobilenet_v2, inception_v3, baseline_cnn.")
@click.option("--weights", help="imagenet, none, or a notop .h5 of the backbone.")
@click.option("--image-size", type=click.IntRange(min=1), help="Input size in px (default: the model's).")
@click.option("--epochs", type=click.IntRange(min=0), help="Phase 1 epochs (head on a frozen backbone).")
@click.option("--finetune-epochs", type=click.IntRange(min=0), help="Phase 2 epochs (top layers unfrozen).")
@click.option("--finetune-layers", callback=lambda c, p, v: _layers(v), help="Layers to unfreeze in phase 2: N or all.")
@click.option("--batch-size", type=click.IntRange(min=1), help="Batch size.")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), help="Phase 1 learning rate.")
@click.option("--optimizer", type=click.Choice(["sgd", "adam", "rmsprop"]))
@click.option("--schedule", type=click.Choice(["constant", "cosine", "triangular", "triangular2", "exp_range", "plateau"]))
@click.option("--label-smoothing", type=click.FloatRange(0, 1, max_open=True))
@click.option("--finetune-lr", type=click.FloatRange(min=0, min_open=True), help="Phase 2 learning rate.")
@click.option("--zoom", type=(click.FloatRange(min=0, min_open=True), click.FloatRange(min=0, min_open=True)),
              default=None, metavar="LOW HIGH", help="Augmentation zoom range, e.g. 1.0 1.5 (crop in).")
@click.option("--mixup", type=click.FloatRange(min=0), help="Mixup Beta alpha (0 = off), e.g. 0.2.")
@click.option("--color", type=click.FloatRange(0, 1), help="Contrast/saturation jitter strength (0 = off), e.g. 0.3.")
@click.option("--layer-lr-ratio", type=click.FloatRange(0, 1, min_open=True),
              help="Discriminative rates: the lowest backbone layer's rate / the top's (1 = off), e.g. 0.1.")
@click.option("--swa-epochs", type=click.IntRange(min=0), help="Average the weights of the last N epochs (0 = off).")
@click.option("--refit", type=click.Choice(REFIT_CHOICES), is_flag=False, flag_value="val",
              help="After the run, retrain for the epochs it chose on train+val (--refit, = val) or on "
                   "every photo (--refit all) and ship that model; the first pass stays in selection/. "
                   "About 2x the training time.")
@click.option("--seed", type=click.IntRange(min=0), help="Split and training seed.")
@click.option("--strategy", type=click.Choice(["auto", "mirrored", "multiworker"]))
@click.option("--precision", type=click.Choice(["float32", "mixed_float16", "mixed_bfloat16"]))
@click.option("--jit/--no-jit", default=None, help="Compile train steps with XLA.")
@click.option("--out", help="Root folder for runs (default: artifacts).")
@click.option("--run-name", help="Run folder name (default: <model>-<date>-<time>).")
@click.option("--resume", "resume", type=click.Path(file_okay=False), help="Continue an interrupted run.")
@click.option("--force", is_flag=True, help="Overwrite an existing run folder.")
@click.option("--lr-find", is_flag=True, help="Run an LR range test (lr_find.png/csv), don't train.")
def train_cmd(recipe, out, run_name, resume, force, lr_find, **flags) -> None:
    """Fine-tune a flower classifier and write a run directory.

    Phase 1 trains the head on a frozen backbone, phase 2 unfreezes the top
    layers at a lower learning rate. Flags override the recipe's keys.

    \b
    Example:
      flower-edge train --data flowers/ --model mobilenet_v2 --out artifacts --run-name mnv2
      flower-edge train --config train/mobilenet_v2.toml --data oxford102/
      flower-edge train --data flowers/ --model baseline_cnn --weights none --image-size 64 --epochs 2
      flower-edge train --resume artifacts/mnv2
    """
    from flower_edge.train import trainer

    if resume:
        given = sorted(k for k, v in flags.items() if v is not None)
        if given or recipe or out or run_name or force or lr_find:
            raise UsageError("--resume continues a run with its saved config.toml; drop the other "
                             "flags (or start a new run without --resume)")
        run = trainer.resume_run(resume)
    else:
        cfg = _config(recipe, flags)
        if lr_find:
            from flower_edge.train.lr_find import lr_find_run

            result = lr_find_run(cfg, out, run_name, force)
            click.echo(f"suggested lr: {result['suggested_lr']:.3g} (plot: {result['plot']})")
            return
        run = _start(cfg, out, run_name, force)
    click.echo(str(run.path))


def _start(cfg, out, run_name, force):
    """One training run, or this process's part of a multi-worker job (TF_CONFIG)."""
    from flower_edge.train import trainer
    from flower_edge.train.cluster import cluster_size

    if cfg.train.strategy == "multiworker" and cluster_size() > 1:
        if cfg.train.refit != "off":
            raise UsageError("--refit is single-worker: drop it, or refit afterwards on one machine")
        from flower_edge.train.multiworker import start_worker

        return start_worker(cfg, out, run_name, force)
    return trainer.start_run(cfg, out, run_name, force)


def _config(recipe, flags):
    from flower_edge.train.config import apply_overrides, load_recipe

    cfg = load_recipe(recipe)
    data = {"path": flags["data"], "source": flags["source"], "seed": flags["seed"], "fractions": flags["split"],
            "batch_size": flags["batch_size"]}
    model = {"name": flags["model"], "image_size": flags["image_size"], "weights": flags["weights"]}
    train = {"head_epochs": flags["epochs"], "finetune_epochs": flags["finetune_epochs"],
             "finetune_layers": flags["finetune_layers"], "lr": flags["lr"],
             "optimizer": flags["optimizer"], "schedule": flags["schedule"],
             "label_smoothing": flags["label_smoothing"], "strategy": flags["strategy"],
             "finetune_lr": flags["finetune_lr"], "zoom": flags["zoom"], "mixup": flags["mixup"],
             "swa_epochs": flags["swa_epochs"], "color": flags["color"],
             "layer_lr_ratio": flags["layer_lr_ratio"], "refit": flags["refit"],
             "precision": flags["precision"], "jit": flags["jit"]}
    return apply_overrides(cfg, data, model, train)


COMMANDS = [train_cmd]
