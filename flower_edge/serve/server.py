"""Serve the app with waitress: a pure-Python production WSGI server with a thread pool."""

from __future__ import annotations

import errno
import ipaddress
import socket

from flower_edge.errors import UsageError


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def make_server(app, host: str = "127.0.0.1", port: int = 8000, threads: int = 8,
                max_bytes: int = 20_000_000):
    """A waitress server bound to host:port (port 0: any free port; see `.effective_port`)."""
    from waitress import create_server

    try:
        # waitress refuses bodies well over Flask's cap itself, so a client cannot make it
        # buffer gigabytes; Flask answers the ordinary oversize case with a JSON 413.
        return create_server(app, host=host, port=port, threads=threads, ident="flower-edge",
                             max_request_body_size=max_bytes + 1024 * 1024, clear_untrusted_proxy_headers=True)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise UsageError(f"port {port} on {host} is already in use; choose another with --port") from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise UsageError(f"{host} is not an address of this machine; use --host 0.0.0.0 for all "
                             f"interfaces") from None
        raise


def start_message(server, host: str, token: bool) -> str:
    port = server.effective_port
    if is_loopback(host):
        where = (f"http://127.0.0.1:{port}/ (this machine only; add --host 0.0.0.0 to serve your "
                 f"network)")
    else:
        name = socket.gethostname() if host in ("0.0.0.0", "::", "") else host
        where = f"http://{name}:{port}/ (bound to {host}: your network can reach it)"
        if not token:
            where += "; anyone who can reach it can use it: add --token to require a shared secret"
    return f"serving on {where}"
