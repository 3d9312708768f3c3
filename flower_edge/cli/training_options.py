"""The training options: one table of flags, used by train, distill and pipeline.

Each row is a flag and the recipe key it sets ([data], [model] or [train]); the
"[default: ...]" text comes from the config dataclasses, so it cannot drift from them.
"""

from __future__ import annotations

import click

from flower_edge.cli.options import backbone_option, data_option, seed_option, source_option


def _recipe_default(table: str, key: str) -> str:
    from flower_edge.train.config import RunConfig

    value = getattr(getattr(RunConfig(), table), key)
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, tuple):
        return ",".join(f"{v:g}" for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def _dflt(table: str, key: str, shown: str | None = None) -> str:
    return f" [default: the recipe's, else {shown or _recipe_default(table, key)}]."


def _layers(ctx, param, value):
    """'3' -> 3; 'all' and 'spec' as they are."""
    if value is None or value in ("all", "spec"):
        return value
    try:
        layers = int(value)
    except ValueError:
        raise click.BadParameter("must be a number of layers, 'all' or 'spec'") from None
    if layers < 0:
        raise click.BadParameter(f"{layers} is not a number of layers (0 or more), 'all' or 'spec'")
    return layers


def _fractions(ctx, param, value):
    """'0.8,0.1,0.1' -> (0.8, 0.1, 0.1), checked like a recipe's fractions."""
    from flower_edge.data.sources import check_fractions
    from flower_edge.errors import UsageError

    if value is None:
        return None
    try:
        return check_fractions(value.split(","))
    except UsageError:
        raise click.BadParameter(f"{value!r}: give three fractions train,val,test >= 0 summing to 1, "
                                 "with train > 0, e.g. 0.8,0.1,0.1") from None


def _choice(literal) -> click.Choice:
    """A click.Choice of a library Literal's members (the one declaration of the list)."""
    import typing

    return click.Choice(typing.get_args(literal))


def _training_flags() -> tuple[tuple[str, str, str, object], ...]:
    """(parameter, recipe table, recipe key, click option) for every training flag."""
    return _data_model_flags() + _train_table_flags()


def _data_model_flags() -> tuple[tuple[str, str, str, object], ...]:
    """The training flags of the recipe's [data] and [model] tables."""
    return (
        ("data", "data", "path", data_option(
            "The labelled photo folder to learn from: one sub-folder per class, or Oxford 102 "
            "[default: the recipe's [data] path; distill: the teacher's].")),
        ("source", "data", "source",
         source_option("Dataset layout [default: the recipe's, else detected from the folder].")),
        ("split_fractions", "data", "fractions", click.option(
            "--split-fractions", callback=_fractions, metavar="TRAIN,VAL,TEST",
            help="Split fractions for a folder without train/ val/ test/ sub-folders"
                 + _dflt("data", "fractions"))),
        ("seed", "data", "seed", seed_option("Split and training seed" + _dflt("data", "seed"))),
        ("batch_size", "data", "batch_size", click.option(
            "--batch-size", type=click.IntRange(min=1), help="Batch size" + _dflt("data", "batch_size"))),
        ("backbone", "model", "name", backbone_option()),
        ("weights", "model", "weights", click.option(
            "--weights", metavar="imagenet|none|FILE",
            help="Where the backbone starts: imagenet, none (random), or a notop .h5 of the backbone "
                 "[default: the recipe's, else the backbone's own: imagenet where it has pretrained "
                 "weights, none where it has none].")),
        ("image_size", "model", "image_size", click.option(
            "--image-size", type=click.IntRange(min=1),
            help="Input size in px" + _dflt("model", "image_size", "the backbone's"))),
    )


def _train_table_flags() -> tuple[tuple[str, str, str, object], ...]:
    """The training flags of the recipe's [train] table; choices from train.config's Literals."""
    from flower_edge.train import config as c

    pos = click.FloatRange(min=0, min_open=True)
    return (
        ("epochs", "train", "head_epochs", click.option(
            "--epochs", type=click.IntRange(min=0),
            help="Phase 1 epochs: the head on a frozen backbone. Without pretrained weights there is "
                 "one phase, of these epochs" + _dflt("train", "head_epochs"))),
        ("finetune_epochs", "train", "finetune_epochs", click.option(
            "--finetune-epochs", type=click.IntRange(min=0),
            help="Phase 2 epochs: the top backbone layers unfrozen. Without pretrained weights there "
                 "is no phase 2: used only when --epochs is 0 (else a warning says it is unused)"
                 + _dflt("train", "finetune_epochs"))),
        ("finetune_layers", "train", "finetune_layers", click.option(
            "--finetune-layers", callback=_layers, metavar="N|all|spec",
            help="Layers to unfreeze in phase 2: N, all, or spec (the backbone's choice)"
                 + _dflt("train", "finetune_layers"))),
        ("lr", "train", "lr", click.option("--lr", type=pos, help="Phase 1 learning rate" + _dflt("train", "lr"))),
        ("finetune_lr", "train", "finetune_lr", click.option(
            "--finetune-lr", type=pos, help="Phase 2 learning rate" + _dflt("train", "finetune_lr"))),
        ("warmup_epochs", "train", "warmup_epochs", click.option(
            "--warmup-epochs", type=click.FloatRange(min=0),
            help="Epochs at the start of each phase over which the rate ramps up to its peak (0 = off)"
                 + _dflt("train", "warmup_epochs"))),
        ("optimizer", "train", "optimizer", click.option(
            "--optimizer", type=_choice(c.Optimizer), help="Optimizer" + _dflt("train", "optimizer"))),
        ("schedule", "train", "schedule", click.option(
            "--schedule", type=_choice(c.Schedule), help="Learning-rate schedule" + _dflt("train", "schedule"))),
        ("label_smoothing", "train", "label_smoothing", click.option(
            "--label-smoothing", type=click.FloatRange(0, 1, max_open=True),
            help="Label smoothing (0 = off)" + _dflt("train", "label_smoothing"))),
        ("zoom", "train", "zoom", click.option(
            "--zoom", type=(pos, pos), default=None, metavar="LOW HIGH",
            help="Augmentation zoom range, e.g. 1.0 1.5 (>1 crops in)" + _dflt("train", "zoom", "0.8 1.2"))),
        ("mixup", "train", "mixup", click.option(
            "--mixup", type=click.FloatRange(min=0), help="Mixup Beta alpha (0 = off), e.g. 0.2"
                                                          + _dflt("train", "mixup"))),
        ("color", "train", "color", click.option(
            "--color", type=click.FloatRange(0, 1),
            help="Contrast/saturation jitter strength (0 = off), e.g. 0.3" + _dflt("train", "color"))),
        ("layer_lr_ratio", "train", "layer_lr_ratio", click.option(
            "--layer-lr-ratio", type=click.FloatRange(0, 1, min_open=True),
            help="Discriminative rates: the lowest backbone layer's rate / the top's (1 = off), e.g. 0.1"
                 + _dflt("train", "layer_lr_ratio"))),
        ("swa_epochs", "train", "swa_epochs", click.option(
            "--swa-epochs", type=click.IntRange(min=0),
            help="Average the weights of the last N epochs (0 = off)" + _dflt("train", "swa_epochs"))),
        ("refit", "train", "refit", click.option(
            "--refit", type=_choice(c.Refit), is_flag=False, flag_value="val",
            help="After the run, retrain for the epochs it chose on train+val (--refit, = val) or on "
                 "every photo (--refit all) and ship that model; the first pass stays in selection/. "
                 "About 2x the training time" + _dflt("train", "refit"))),
        ("strategy", "train", "strategy", click.option(
            "--strategy", type=_choice(c.Strategy),
            help="Distribution strategy (multiworker: one process per machine, TF_CONFIG)"
                 + _dflt("train", "strategy"))),
        ("precision", "train", "precision", click.option(
            "--precision", type=_choice(c.Precision), help="Compute precision" + _dflt("train", "precision"))),
        ("jit", "train", "jit", click.option(
            "--jit/--no-jit", default=None, help="Compile train steps with XLA" + _dflt("train", "jit"))),
    )


def training_options(func):
    """Every training flag (data, backbone, schedule, augmentation, ...): train, distill and
    pipeline take the same ones. The command gets them as keyword arguments; pass those
    to `recipe_tables` for the recipe keys they set."""
    for _param, _table, _key, option in reversed(_training_flags()):
        func = option(func)
    return func


def recipe_tables(flags: dict) -> dict[str, dict]:
    """Pop every training flag out of `flags` into {table: {key: value}} (None = not given),
    for flower_edge.config.merge_tables over the recipe."""
    tables: dict[str, dict] = {}
    for param, table, key, _option in _training_flags():
        tables.setdefault(table, {})[key] = flags.pop(param)
    return tables


def apply_training_flags(cfg, flags: dict, **extra_tables: dict):
    """The training flags in `flags` (and `extra_tables`) over the loaded recipe `cfg` (a
    RunConfig or a PipelineConfig): the one "flags over recipe" merge. Prints a one-line
    warning when a run without pretrained weights would not use the phase-2 epochs that a
    flag or the recipe chose."""
    from flower_edge.config import merge_tables
    from flower_edge.train.config import TrainConfig, folded_epochs_note

    given_finetune = flags.get("finetune_epochs") is not None
    cfg = merge_tables(cfg, {**recipe_tables(flags), **extra_tables})
    run_cfg = cfg.run_config() if hasattr(cfg, "run_config") else cfg  # a pipeline's train tables
    # Chosen by a flag or a recipe (not the bare default): say when it goes unused.
    chosen = given_finetune or run_cfg.train.finetune_epochs != TrainConfig().finetune_epochs
    note = folded_epochs_note(run_cfg) if chosen else None
    if note:
        click.echo(note, err=True)
    return cfg
