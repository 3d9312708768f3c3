"""`flower-edge report RUN`: parse the argument, call flower_edge.report."""

from __future__ import annotations

import click


@click.command("report")
@click.argument("run", type=click.Path(file_okay=False))
def report_cmd(run) -> None:
    """Rebuild RUN/report/index.md and index.html from what the run holds.

    \b
    Example:
      flower-edge report artifacts/mnv2
    """
    from flower_edge.report.build import build_report

    click.echo(f"report: {build_report(run)}")


COMMANDS = [report_cmd]
