"""`flower-edge serve`: an HTTP API and a web page for a bundle (Flask app on waitress)."""

from __future__ import annotations

import os

import click

from flower_edge.cli.options import threads_option
from flower_edge.errors import UsageError
from flower_edge.serve.limits import Limits


@click.command("serve")
@click.argument("bundle", metavar="BUNDLE")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind. The default serves this machine only; 0.0.0.0 serves your network.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535),
              help="TCP port (0: any free port).")
@click.option("--token", envvar="FLOWER_EDGE_TOKEN", default=None, metavar="SECRET",
              help="Require this shared secret in header X-Token (or Authorization: Bearer) on /v1/. "
                   "Also read from $FLOWER_EDGE_TOKEN, which keeps it out of `ps`.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Interpreters shared by requests; each request borrows one, so 1 is a lock "
                   "(on 2 cores 2 measured no faster: benchmarks/bench_serve.py).")
@threads_option("Threads per interpreter [default: the interpreter's choice].")
@click.option("--http-threads", default=8, show_default=True, type=click.IntRange(1, 256),
              help="waitress request threads (uploads and decoding overlap across them).")
@click.option("--max-mb", default=20.0, show_default=True, type=click.FloatRange(0.01, 1024),
              help="Largest request body in MB (413 above it).")
@click.option("--max-megapixels", default=50.0, show_default=True, type=click.FloatRange(0.001, 500),
              help="Largest image in megapixels (413 above it: decompression bombs).")
@click.option("--top-k", "-k", default=5, show_default=True, type=click.IntRange(min=1),
              help="Classes returned when a request does not say (?top_k=N).")
@click.option("--max-connections", default=Limits.max_connections, show_default=True,
              type=click.IntRange(8, 100_000),
              help="Open connections at most. At the limit a new one closes an idle or slow one "
                   "(from the address holding the most first), never one being answered.")
@click.option("--idle-timeout", default=Limits.idle_timeout, show_default=True,
              type=click.IntRange(1, 3600), metavar="SECONDS",
              help="Close a keep-alive connection after this long without a request.")
@click.option("--header-timeout", default=Limits.header_timeout, show_default=True,
              type=click.IntRange(1, 3600), metavar="SECONDS",
              help="A request's headers must arrive within this long of its first byte (408).")
@click.option("--request-timeout", default=Limits.request_timeout, show_default=True,
              type=click.IntRange(1, 3600), metavar="SECONDS",
              help="A whole request, body included, must arrive within this long (408); "
                   "allow for a --max-mb upload on a slow link.")
def serve_cmd(bundle, host, port, token, workers, threads, http_threads, max_mb, max_megapixels,
              top_k, max_connections, idle_timeout, header_timeout, request_timeout) -> None:
    """Serve BUNDLE over HTTP: POST /v1/classify, GET /v1/model, GET /healthz, and a web page at /.

    BUNDLE is a bundle folder, or a bare .tflite classifier carrying TFLite Model Metadata.

    \b
    Example:
      flower-edge serve int8/                                  # http://127.0.0.1:8000/
      FLOWER_EDGE_TOKEN=s3cret flower-edge serve int8/ --host 0.0.0.0
      curl -F image=@rose.jpg http://127.0.0.1:8000/v1/classify
    """
    from flower_edge.serve.app import create_app, require_flask

    _check_token(token)
    require_flask()  # before the model loads: the missing extra is the first thing to fix
    from flower_edge.serve.pool import PredictorPool
    from flower_edge.serve.server import make_server, start_message
    from flower_edge.serve.stats import ServeStats, report_every

    pool = PredictorPool(bundle, workers=workers, threads=threads)
    max_bytes = int(max_mb * 1e6)
    app = create_app(pool, token=token, max_bytes=max_bytes, max_pixels=int(max_megapixels * 1e6),
                     top_k=top_k)
    limits = Limits(max_connections=max_connections, idle_timeout=idle_timeout,
                    header_timeout=header_timeout, request_timeout=request_timeout)
    stats = ServeStats()
    server = make_server(app, host, port, threads=http_threads, max_bytes=max_bytes, limits=limits,
                         stats=stats)
    info = pool.first
    click.echo(f"{info.bundle.manifest.get('architecture', '?')} {info.bundle.variant} "
               f"({info.interpreter_name}, {workers} interpreter(s)); {start_message(server, host, bool(token))}",
               err=True)
    report_every(stats, lambda: len(server.active_channels), lambda line: click.echo(line, err=True))
    try:
        server.run()
    except KeyboardInterrupt:
        click.echo("stopped", err=True)
    finally:
        server.close()


def _check_token(token: str | None) -> None:
    """An empty secret must not quietly switch authentication off."""
    from_env = os.environ.get("FLOWER_EDGE_TOKEN")
    if (token is not None and not token.strip()) or (token is None and from_env is not None
                                                     and not from_env.strip()):
        raise UsageError("the token is empty (--token or $FLOWER_EDGE_TOKEN); give a secret, "
                         "or unset both to serve without one")


COMMANDS = [serve_cmd]
