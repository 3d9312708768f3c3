"""Atomic file writes: nothing half-written is ever left behind (whole folders:
`guard.output_dir`, which also checks that what it replaces is flower-edge's)."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any


def ordinary_mode(folder: bool = False) -> int:
    """The mode open() or mkdir() would give under the current umask (0644 / 0755 under
    022). mkstemp and mkdtemp make 0600 / 0700; a bundle must stay readable by another
    user, e.g. the service user of a systemd unit, so temp outputs get this instead."""
    mask = os.umask(0o022)  # the only way to read the umask portably: set and restore
    os.umask(mask)
    return (0o777 if folder else 0o666) & ~mask


def write_error(exc: BaseException, path: str | os.PathLike) -> OSError:
    """The OSError a failed write of `path` stands for when the writer raised something
    else (TensorFlow's errors are not OSErrors, so the CLI's one-line 'no space left'
    would never be used): ENOSPC when the message or the disk says so, else EIO."""
    import errno

    text = " ".join(str(exc).split())
    try:
        st = os.statvfs(Path(path).parent)
        full = st.f_bavail * st.f_frsize < (1 << 20)
    except OSError:
        full = False
    if full or type(exc).__name__ == "ResourceExhaustedError" or "no space left" in text.lower():
        return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
    return OSError(errno.EIO, f"cannot write ({text[:200]})", str(path))


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to a temp file beside `path`, fsync it, then rename into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, ordinary_mode())
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Atomically write UTF-8 text."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Atomically write `obj` as indented JSON."""
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, streamed."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def gzip_size(path: str | os.PathLike, level: int = 9, chunk: int = 1 << 20) -> int:
    """Bytes of `path` gzip-compressed at `level`: what a model costs over the air.

    Streamed through zlib (wbits=31 writes the gzip header and trailer), so the file is
    never held whole in memory on a Pi; the count equals len(gzip.compress(data, level))."""
    import zlib

    compressor = zlib.compressobj(level, zlib.DEFLATED, 31)
    total = 0
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            total += len(compressor.compress(block))
    return total + len(compressor.flush())
