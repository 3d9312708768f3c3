"""`flower-edge quantize` (not yet available)."""

import click

from flower_edge.cli.stub import not_available


@click.command("quantize", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def quantize_cmd(args) -> None:
    """Not yet available.

    \b
    Example:
      flower-edge quantize --help
    """
    not_available("quantize")


COMMANDS = [quantize_cmd]
