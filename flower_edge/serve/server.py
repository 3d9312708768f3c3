"""Serve the app with waitress: a pure-Python production WSGI server with a thread pool."""

from __future__ import annotations

import errno
import ipaddress
import select
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
                max_bytes: int = 20_000_000, limits=None, stats=None):
    """A waitress server bound to host:port (port 0: any free port; see `.effective_port`).

    `limits` (limits.Limits) bound what each client may hold; `stats` (stats.ServeStats)
    counts what the log's summary line reports.
    """
    from flower_edge.serve.app import too_large_message
    from flower_edge.serve.connections import GuardedServer
    from flower_edge.serve.limits import Limits
    from flower_edge.serve.stats import ServeStats

    limits = limits or Limits()
    _ensure_open_files(limits.max_connections)
    try:
        # waitress answers a body over the app's limit itself (413 JSON, from the headers'
        # Content-Length or a chunked body's running size), so it never buffers more.
        return GuardedServer(app, limits, stats or ServeStats(), too_large_message(max_bytes),
                             host=host, port=port, threads=threads, ident="flower-edge",
                             max_request_body_size=max_bytes + 1, clear_untrusted_proxy_headers=True,
                             log_socket_errors=False, asyncore_use_poll=hasattr(select, "poll"))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise UsageError(f"port {port} on {host} is already in use; choose another with --port") from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise UsageError(f"{host} is not an address of this machine; use --host 0.0.0.0 for all "
                             f"interfaces") from None
        raise


def _ensure_open_files(connections: int) -> None:
    """Each connection is an open file: raise the soft limit if it is too low, or say so."""
    try:
        import resource
    except ImportError:  # not on Windows
        return
    need = connections + 64  # the model, the listening socket, logs, libraries
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= need:
        return
    if hard == resource.RLIM_INFINITY or hard >= need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
        return
    raise UsageError(f"--max-connections {connections} needs {need} open files but this process may "
                     f"open {hard}; lower --max-connections or raise the limit (ulimit -n)")


def url_host(host: str) -> str:
    """host as it goes in a URL: an IPv6 address in brackets."""
    return f"[{host}]" if ":" in host else host


def start_message(server, host: str, token: bool) -> str:
    """Where the server listens: the address it bound, not the one asked for."""
    bound, port = server.effective_host, server.effective_port
    if is_loopback(bound):
        where = (f"http://{url_host(bound)}:{port}/ (this machine only; add --host 0.0.0.0 to serve "
                 f"your network)")
    else:
        any_address = bound in ("0.0.0.0", "::")
        name = socket.gethostname() if any_address else url_host(bound)
        where = f"http://{name}:{port}/ (bound to {url_host(bound)}: your network can reach it)"
        if not token:
            where += "; anyone who can reach it can use it: add --token to require a shared secret"
    return f"serving on {where}"
