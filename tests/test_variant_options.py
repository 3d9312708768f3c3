"""The one variant-selection decorator (`--variant NAME` plus `--fp32 --fp16 --dynamic
--int8 --all`): what a command receives, and that its choices are the variant registry's."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from flower_edge.cli.options import variant_options
from flower_edge.quantize.config import KINDS


@click.command()
@variant_options
def chosen(variants):
    click.echo(",".join(variants) or "-")


@pytest.mark.parametrize("args,expected", [
    ([], "-"),
    (["--int8"], "int8"),
    (["--int8", "--fp32"], "fp32,int8"),  # shortcuts in registry order
    (["--variant", "dynamic", "--fp16", "--variant", "fp16"], "fp16,dynamic"),  # no duplicates
    (["--all"], ",".join(KINDS)),
    (["--all", "--variant", "int8"], ",".join(KINDS)),
])
def test_variant_options_fold_into_one_tuple(args, expected):
    result = CliRunner().invoke(chosen, args)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == expected


def test_variant_choices_are_the_registry():
    result = CliRunner().invoke(chosen, ["--variant", "int4"])
    assert result.exit_code == 2 and "int4" in result.output
    for kind in KINDS:
        assert CliRunner().invoke(chosen, [f"--{kind}"]).output.strip() == kind
