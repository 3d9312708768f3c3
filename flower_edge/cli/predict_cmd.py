"""`flower-edge predict` (not yet available)."""

import click

from flower_edge.cli.stub import not_available


@click.command("predict", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def predict_cmd(args) -> None:
    """Not yet available.

    \b
    Example:
      flower-edge predict --help
    """
    not_available("predict")


COMMANDS = [predict_cmd]
