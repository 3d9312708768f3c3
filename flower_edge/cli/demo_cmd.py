"""`flower-edge demo` (not yet available)."""

import click

from flower_edge.cli.stub import not_available


@click.command("demo", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def demo_cmd(args) -> None:
    """Not yet available.

    \b
    Example:
      flower-edge demo --help
    """
    not_available("demo")


COMMANDS = [demo_cmd]
