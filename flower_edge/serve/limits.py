"""What one client may hold on the server: declared once, used by `serve`'s options and
by `connections` (no waitress import here, so `serve --help` works without the extra)."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Limits:
    """Defaults suit a Pi: 1024 open files, a household of clients, photos of a few MB."""

    max_connections: int = 200   # at the limit a new connection closes an idle or slow one
    idle_timeout: int = 30       # s a keep-alive connection may wait for its next request
    header_timeout: int = 10     # s from a request's first byte to the end of its headers
    request_timeout: int = 60    # s from a request's first byte to the end of its body
