"""Safe tar extraction: every member is checked before anything is written."""

from __future__ import annotations

import os
import posixpath
import tarfile
from pathlib import Path

from flower_edge.errors import DataError


def _escapes(name: str) -> bool:
    """True if a member path is absolute or climbs out of the destination."""
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return True
    norm = posixpath.normpath(name.replace("\\", "/"))
    return norm == ".." or norm.startswith("../")


def check_members(tar: tarfile.TarFile, archive: str) -> list[tarfile.TarInfo]:
    """All members, or DataError naming the first unsafe one (absolute, ../, escaping link, device)."""
    members = tar.getmembers()
    for m in members:
        why = None
        if _escapes(m.name):
            why = "has an absolute or ../ path"
        elif m.issym() or m.islnk():
            target = m.linkname if m.islnk() else posixpath.join(posixpath.dirname(m.name), m.linkname)
            if m.linkname.startswith("/") or _escapes(target):
                why = f"links outside the destination ({m.linkname})"
        elif m.isdev() or m.isfifo():
            why = "is a device or fifo"
        if why:
            raise DataError(f"unsafe archive {archive}: member '{m.name}' {why}; nothing was "
                            f"extracted (the download is corrupt or tampered with, delete it)")
    return members


def safe_extract(archive: str | os.PathLike, dest: str | os.PathLike) -> None:
    """Extract a tar(.gz) into `dest` after checking every member; filter='data' as a backstop."""
    archive = Path(archive)
    try:
        with tarfile.open(archive) as tar:
            members = check_members(tar, archive.name)
            tar.extractall(dest, members=members, filter="data")
    except tarfile.FilterError as exc:
        raise DataError(f"unsafe archive {archive.name}: {exc}; nothing was kept") from None
    except (tarfile.TarError, EOFError) as exc:
        raise DataError(f"{archive.name} is not a readable tar archive ({exc}); delete it and "
                        f"download again") from None
