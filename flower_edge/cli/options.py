"""Shared CLI options: each option that several commands take is declared here, once, so
its name, type, help and default are the same in every command (docs/cli.md).

Importing this module must stay TF-free: `predict`, `live` and `serve` run on a Pi.
"""

from __future__ import annotations

import functools
from pathlib import Path

import click

from flower_edge.quantize.config import KINDS  # the one variant registry (TF-free module)

_VARIANT_HELP = {"fp32": "float32 weights and activations (the reference)",
                 "fp16": "float16 weights (half the size)",
                 "dynamic": "dynamic-range int8 weights",
                 "int8": "full-integer int8, calibrated"}


def variant_options(func):
    """`--variant NAME` (repeatable, choices from the variant registry) plus the shortcuts
    `--fp32 --fp16 --dynamic --int8 --all`; the command receives them folded into one
    `variants` tuple, in registry order then --variant order, () when none was chosen."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        chosen = [kind for kind in KINDS if kwargs.pop(f"variant_{kind}")] + list(kwargs.pop("variant_names"))
        if kwargs.pop("variant_all"):
            chosen = list(KINDS)
        kwargs["variants"] = tuple(dict.fromkeys(chosen))
        return func(*args, **kwargs)

    options = [click.option("--variant", "variant_names", multiple=True, type=click.Choice(KINDS),
                            metavar="NAME", help=f"A variant by name, repeatable: {', '.join(KINDS)}.")]
    options += [click.option(f"--{kind}", f"variant_{kind}", is_flag=True, help=f"The {kind} variant: "
                             f"{_VARIANT_HELP.get(kind, kind)}.") for kind in KINDS]
    options.append(click.option("--all", "variant_all", is_flag=True,
                                help=f"Every variant: {', '.join(KINDS)}."))
    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper


def decode_threads_option(func):
    """Threads that decode the next photos while the interpreter runs (predict, benchmark)."""
    return click.option("--decode-threads", type=click.IntRange(min=0), default=None, metavar="N",
                        help="Threads decoding the next photos while the model runs (0 = none) "
                             "[default: cores - 1, at most 4, so 3 on a Pi 4/5].")(func)


def eval_data_option(help_text: str):
    """`--eval-data DIR`: a labelled photo folder (one sub-folder per class) to score on."""
    return click.option("--eval-data", type=click.Path(exists=True, file_okay=False, path_type=Path),
                        default=None, metavar="DIR", help=help_text)


# --- Options every command spells the same way ----------------------------------------
# Defaults are shown one way: show_default=True where the default is a value,
# "[default: ...]" in the help where it is derived (from a recipe, a spec, a run).


def out_option(help_text: str, default: str | None = None):
    """`--out DIR`: the folder the command writes, itself."""
    return click.option("--out", type=click.Path(file_okay=False), default=default,
                        show_default=default is not None, metavar="DIR", help=help_text)


def force_option(help_text: str = "Redo, replacing the outputs flower-edge made there before "
                                  "(never anything else)."):
    """`--force`: redo, replacing what flower-edge made before (never anything else)."""
    return click.option("--force", is_flag=True, help=help_text)


def seed_option(help_text: str, default: int | None = None):
    """`--seed N`: a random seed (0 or more)."""
    return click.option("--seed", type=click.IntRange(min=0), default=default,
                        show_default=default is not None, help=help_text)


def config_option(help_text: str = "A recipe .toml (see train/*.toml); flags override its keys."):
    """`--config FILE`: a recipe; the command's flags override its keys."""
    return click.option("--config", "recipe", type=click.Path(dir_okay=False), default=None,
                        metavar="FILE", help=help_text)


def json_option(help_text: str = "Print the result as JSON (for machines) instead of text."):
    """`--json`: machine-readable output on stdout."""
    return click.option("--json", "as_json", is_flag=True, help=help_text)


def threads_option(help_text: str, multiple: bool = False):
    """`--threads N`: interpreter threads (repeatable where a command times several)."""
    return click.option("--threads", type=click.IntRange(min=1), multiple=multiple, metavar="N",
                        default=() if multiple else None, help=help_text)


def data_option(help_text: str = "The labelled photo folder to learn from: one sub-folder per "
                                 "class, or Oxford 102 [default: the recipe's [data] path]."):
    """`--data DIR`: the labelled photo folder a command learns from."""
    return click.option("--data", type=click.Path(file_okay=False), default=None, metavar="DIR",
                        help=help_text)


def source_option(help_text: str = "Dataset layout [default: detected from the folder]."):
    """`--source`: a dataset layout; choices from the library's Source Literal."""
    from flower_edge.data.sources import SOURCES

    return click.option("--source", type=click.Choice(SOURCES), default=None, help=help_text)


def backbone_option(help_text: str | None = None, default: str | None = None):
    """`--backbone NAME`: a ModelSpec registry name."""
    text = help_text or ("Backbone (model registry name), e.g. mobilenet_v2, inception_v3, "
                         "baseline_cnn [default: the recipe's, else mobilenet_v2].")
    return click.option("--backbone", default=default, show_default=default is not None,
                        metavar="NAME", help=text)
