"""Silence native chatter (C++/absl logs written straight to fds 1 and 2).

TensorFlow and LiteRT print `I0000 ...` lines from C++ before absl logging is
initialised, so no environment variable hides them; only redirecting the file
descriptors does. FLOWER_EDGE_DEBUG=1 turns the redirect off.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path


@contextlib.contextmanager
def quiet(log_path: Path | str | None = None):
    """Send fds 1 and 2 to `log_path` (appending) or /dev/null for the block."""
    if os.environ.get("FLOWER_EDGE_DEBUG"):
        yield
        return
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    target = open(log_path, "ab") if log_path else open(os.devnull, "wb")  # noqa: SIM115
    saved = [os.dup(1), os.dup(2)]
    try:
        os.dup2(target.fileno(), 1)
        os.dup2(target.fileno(), 2)
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)
        target.close()
