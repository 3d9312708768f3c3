"""`flower-edge benchmark` (not yet available)."""

import click

from flower_edge.cli.stub import not_available


@click.command("benchmark", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def benchmark_cmd(args) -> None:
    """Not yet available.

    \b
    Example:
      flower-edge benchmark --help
    """
    not_available("benchmark")


COMMANDS = [benchmark_cmd]
