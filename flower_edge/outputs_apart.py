"""An output never touches the data: the check every guarded output runs first
(guard.prepare / guard.adding_to). A folder that holds the input data, lies inside it or
contains it is refused, and so is a folder of labelled photos (class folders of images)
even where a command has no data folder to name.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from flower_edge.errors import UsageError
from flower_edge.markers import MARKER, is_kind

# Say it explicitly where an output has no data folder to keep apart from: every output
# helper demands `data`, so a new command cannot forget the rule. Folders of labelled
# photos are refused even then (photo_layout).
NO_DATA: tuple = ()
_SCAN_LIMIT = 256  # entries looked at per folder: the test must stay cheap on huge folders


def run_data(run: str | os.PathLike | None) -> list[str]:
    """The data folder a run records in config.toml ([data] path): outputs of commands
    that read a run are kept apart from it as from a --data flag."""
    import tomllib

    if run is None:
        return []
    try:
        with open(Path(run) / "config.toml", "rb") as fh:
            path = tomllib.load(fh).get("data", {}).get("path")
    except (OSError, ValueError):
        return []
    return [path] if isinstance(path, str) and path else []


def _class_folder(folder: Path) -> bool:
    """A folder of photos: image files directly in it, no sub-folders, not flower-edge's."""
    from flower_edge.runtime.transforms import IMAGE_EXTENSIONS

    images = False
    try:
        with os.scandir(folder) as it:
            for n, entry in enumerate(it):
                if n >= _SCAN_LIMIT:
                    break
                if entry.name.startswith("."):
                    if entry.name == MARKER:
                        return False
                    continue
                if entry.is_dir():
                    return False
                images = images or os.path.splitext(entry.name)[1].lower() in IMAGE_EXTENSIONS
    except OSError:
        return False
    return images


def photo_layout(folder: Path) -> bool:
    """True for a labelled-photo layout: two or more class folders of images, and no
    other (unmarked, visible) sub-folder. Such a folder is data, whoever made it."""
    classes = 0
    try:
        with os.scandir(folder) as it:
            subs = [Path(e.path) for n, e in zip(range(_SCAN_LIMIT), it)
                    if not e.name.startswith(".") and e.is_dir(follow_symlinks=False)]
    except OSError:
        return False
    for sub in subs:
        if (sub / MARKER).exists():
            continue
        if not _class_folder(sub):
            return False
        classes += 1
    return classes >= 2


def check_apart(path: Path, data: Iterable, what: str, kind: str | None = None) -> None:
    """Refuse an output `path` that is a data folder, lies inside one, or contains one.

    `data` lists the data folders known to the command (a flag, or recorded in the run);
    any folder of labelled photos on the way from `path` to the root counts as data too
    (a synthetic set flower-edge made may be replaced by another: `kind` "synthetic")."""
    out = Path(path).resolve()
    for item in data:
        if not item:
            continue
        src = Path(item).resolve()
        if out == src or src in out.parents:
            where = "is the data folder" if out == src else "is inside the data folder"
            raise UsageError(f"{what} {path} {where} {item}; write outputs outside the data "
                             f"(e.g. --out artifacts)")
        if out in src.parents:
            raise UsageError(f"{what} {path} contains the data folder {item}; choose an output "
                             f"folder that does not hold the data (e.g. --out artifacts)")
    for folder in (out, *out.parents):
        if folder == out and kind == "synthetic" and is_kind(out, "synthetic"):
            continue
        if photo_layout(folder):
            where = "is" if folder == out else f"is inside {folder},"
            raise UsageError(f"{what} {path} {where} a folder of labelled photos (class folders "
                             f"of images), which is data; write outputs outside it (e.g. --out "
                             f"artifacts)")


def data_note(folder: Path) -> str:
    """', and contains the data folder X' for a refused folder holding labelled photos."""
    try:
        with os.scandir(folder) as it:
            subs = [Path(e.path) for _, e in zip(range(_SCAN_LIMIT), it) if e.is_dir()]
    except OSError:
        return ""
    found = next((sub for sub in subs if photo_layout(sub)), None)
    return f", and contains the data folder {found.name}" if found else ""


def holds_photos(folder: Path, kind: str) -> Path | None:
    """A labelled-photo layout anywhere inside a folder about to be replaced, if any: a
    dataset someone put into an output folder goes with it otherwise."""
    for root, dirs, _files in os.walk(folder):
        here = Path(root)
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        if here == folder and kind == "synthetic":
            continue
        if photo_layout(here):
            return here
    return None
