"""`flower-edge explain` (not yet available)."""

import click

from flower_edge.cli.stub import not_available


@click.command("explain", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def explain_cmd(args) -> None:
    """Not yet available.

    \b
    Example:
      flower-edge explain --help
    """
    not_available("explain")


COMMANDS = [explain_cmd]
