"""Progress bars on stderr, so stdout stays clean for tables and JSON."""

from __future__ import annotations

import sys
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")


def progress(items: Iterable[T], label: str, length: int | None = None) -> Iterator[T]:
    """Iterate over `items` with a click progress bar on stderr."""
    import click

    with click.progressbar(items, length=length, label=label, file=sys.stderr,
                           show_pos=True, show_eta=True) as bar:
        yield from bar


def bar(length: int, label: str):
    """A manual progress bar (call `.update(n)`), used for downloads and steps."""
    import click

    return click.progressbar(length=length, label=label, file=sys.stderr,
                             show_pos=True, show_eta=True)
