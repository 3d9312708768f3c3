"""Placeholder for stages that are not built yet."""

import click


def not_available(name: str) -> None:
    """Say the stage is not available and exit 2."""
    click.echo(f"error: '{name}' is not yet available in this version of flower-edge", err=True)
    raise SystemExit(2)
