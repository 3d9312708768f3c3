"""`flower-edge data ...`: synth, fetch, inspect."""

import click

from flower_edge.cli.stub import not_available


@click.group("data")
def data_cmd() -> None:
    """Datasets: make a synthetic set, fetch real ones, inspect a folder.

    \b
    Example:
      flower-edge data synth artifacts/synth --classes 5 --per-class 60 --size 128
      flower-edge data inspect artifacts/synth
    """


@data_cmd.command("synth")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def synth_cmd(args) -> None:
    """Not yet available."""
    not_available("data synth")


COMMANDS = [data_cmd]
