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


def json_option(help_text: str = "Print the result as JSON (for machines) instead of text."):
    """`--json`: machine-readable output on stdout."""
    return click.option("--json", "as_json", is_flag=True, help=help_text)


def threads_option(help_text: str, multiple: bool = False):
    """`--threads N`: interpreter threads (repeatable where a command times several)."""
    return click.option("--threads", type=click.IntRange(min=1), multiple=multiple, metavar="N",
                        default=() if multiple else None, help=help_text)
