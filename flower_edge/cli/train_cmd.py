"""`flower-edge train` (not yet available)."""

import click

from flower_edge.cli.stub import not_available


@click.command("train", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def train_cmd(args) -> None:
    """Not yet available.

    \b
    Example:
      flower-edge train --help
    """
    not_available("train")


COMMANDS = [train_cmd]
