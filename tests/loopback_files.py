"""A loopback HTTP file server, shared by the fetch tests and the doc-test's `data fetch`.

GET .../NAME serves `files.data[NAME]` (404 otherwise), honours a `Range: bytes=N-` resume
with a 206, and sends a name in `files.cut` half-way once, then hangs up: what a real
download server and a dropped connection do, with no network.
"""

from __future__ import annotations

import contextlib
import io
import tarfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Files:
    """What the server serves: name -> bytes; names in `cut` are sent half-way once."""

    def __init__(self, data: dict[str, bytes] | None = None):
        self.data, self.cut, self.ranges = dict(data or {}), set(), []
        self.url = ""


@contextlib.contextmanager
def serving(files: Files) -> Iterator[Files]:
    """Serve `files` on 127.0.0.1 until the block ends; `files.url` is the base URL."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            name = self.path.rsplit("/", 1)[-1]
            if name not in files.data:
                self.send_error(404)
                return
            body, start = files.data[name], 0
            rng = self.headers.get("Range")
            if rng:
                files.ranges.append((name, rng))
                start = int(rng.split("=")[1].split("-")[0])
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            else:
                self.send_response(200)
            self.send_header("Content-Length", str(len(body) - start))
            self.end_headers()
            if name in files.cut:  # promise everything, send half, hang up
                files.cut.discard(name)
                self.wfile.write(body[start:start + (len(body) - start) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body[start:])

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    files.url = f"http://127.0.0.1:{httpd.server_address[1]}/files/"
    try:
        yield files
    finally:
        httpd.shutdown()
        httpd.server_close()


def tgz(members: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    """A .tar.gz of `members` (name -> bytes), plus symlinks `links` (name -> target)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return buf.getvalue()
