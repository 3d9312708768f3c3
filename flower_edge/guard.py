"""Guarded output folders: flower-edge replaces only what it made, and only atomically.

Every folder a command creates for its output carries MARKER (written first, before
any other file), naming the tool, its version and the kind of folder. A folder a user
names is then:
  - new or empty: written in place;
  - marked by flower-edge (or, for runs, a run made before markers existed): it may be
    replaced, but only by writing the new one beside it and swapping it in when it is
    complete, so a failed, interrupted or killed rerun leaves the old one whole;
  - anything else: refused with one line, with or without --force.
A folder that holds the input data, lies inside it, or contains it is always refused.

Only folders this module created (a staging folder, or a replaced folder carrying the
marker of the kind being replaced) are ever removed.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from flower_edge.errors import UsageError
from flower_edge.markers import (  # run_or_bundle: commands ask the guard what a path is
    MARKER,
    RUN_ENTRIES,
    is_kind,
    is_model_temp,
    read_marker,
    run_or_bundle,  # noqa: F401
    write_marker,
)
from flower_edge.outputs_apart import (  # NO_DATA, run_data, photo_layout: callers name them as guard's
    NO_DATA,  # noqa: F401
    check_apart,
    data_note,
    holds_photos,
    photo_layout,  # noqa: F401
    run_data,  # noqa: F401
)

STAGING = ".new-"
RETIRED = ".old-"
def public_path(path: str | os.PathLike) -> Path:
    """`path` as it will be once every staging folder on it is swapped into place: what
    messages and recorded paths name (the staging folder no longer exists by then)."""
    staged = re.compile(rf"\.(.+){re.escape(STAGING)}\d+-[a-z0-9_]+")
    parts = [m.group(1) if (m := staged.fullmatch(part)) else part for part in Path(path).parts]
    return Path(*parts) if parts else Path(path)


def _is_empty_dir(path: Path) -> bool:
    return path.is_dir() and not any(path.iterdir())


@dataclass
class Target:
    """Where to write an output folder: `work` is `final` itself for a new folder, or a
    staging folder beside it when an existing one is being replaced."""

    final: Path
    work: Path
    kind: str
    created: bool  # `final` did not exist and was made here

    @property
    def replacing(self) -> bool:
        return self.work != self.final

    def commit(self) -> Path:
        """Make the finished `work` the folder at `final`; remove the replaced one."""
        if self.work == self.final:
            return self.final
        if self.final.exists() and not _is_empty_dir(self.final):
            if not is_kind(self.final, self.kind):  # something else appeared there meanwhile
                raise UsageError(f"{self.final} was replaced by a folder flower-edge did not make "
                                 f"while this command ran; it is kept, and the new output stays "
                                 f"in {self.work}")
            _swap(self.work, self.final, self.kind)
        else:
            os.replace(self.work, self.final)  # onto nothing, or onto an empty folder
        self.work = self.final
        return self.final

    def abandon(self, keep: bool = False) -> None:
        """After a failure: drop the staging folder (the old folder stays as it was), or
        for a new folder drop what was written unless `keep` (it can be resumed)."""
        if self.replacing:
            remove_own(self.work, self.kind)
        elif not keep and read_marker(self.final) is not None:
            if self.created:
                remove_own(self.final, self.kind)
            else:  # the folder was empty before: take back only what a run writes in it
                for child in list(self.final.iterdir()):
                    if child.name in RUN_ENTRIES or is_model_temp(child.name):
                        _remove_own_entry(child)


def prepare(path: str | os.PathLike, kind: str, what: str, replace: bool, *,
            data: Iterable, hint: str = "", stage_new: bool = False) -> Target:
    """A Target for writing `kind` at `path` (see the module docstring for the rules).

    `replace` says the user asked to replace an existing folder of the same kind
    (--force); without it an existing one is refused with `hint` naming the way out.
    `data`: the data folders the output must keep apart from, or NO_DATA.
    `stage_new` writes even a new folder beside its place first (nothing half-written
    ever appears at `path`); without it a new folder is written in place (a training
    run, which must be resumable where it stands after a kill).
    """
    final = Path(path)
    check_apart(final, data, what, kind)
    _sweep(final, kind)
    if final.exists() and not final.is_dir():
        raise UsageError(f"{what} {final} is a file; pass a folder")
    if not final.exists() or _is_empty_dir(final) or _bare(final, kind):
        created = not final.exists()
        if stage_new:
            return _staged(final, kind, created)
        final.mkdir(parents=True, exist_ok=True)
        write_marker(final, kind)
        return Target(final, final, kind, created)
    if not is_kind(final, kind):
        raise UsageError(f"{what} {final} already exists and was not made by flower-edge: it "
                         f"holds files flower-edge did not write (no {MARKER} marker){data_note(final)}; it is never replaced, not even "
                         f"with --force: choose a new or empty folder")
    if not replace:
        raise UsageError(f"{final} already holds a {kind}; {hint or 'pass --force to replace it'}")
    photos = holds_photos(final, kind)
    if photos is not None:
        raise UsageError(f"{what} {final} holds {photos}, a folder of labelled photos (data); it "
                         f"is never replaced: move the photos out, or choose another folder")
    return _staged(final, kind, False)


def _bare(folder: Path, kind: str) -> bool:
    """A folder holding nothing but flower-edge's marker of `kind` (e.g. the staging
    folder a whole `pipeline --force` run is built in): as good as empty."""
    try:
        names = [p.name for p in folder.iterdir()]
    except OSError:
        return False
    return names == [MARKER] and is_kind(folder, kind)


def _staged(final: Path, kind: str, created: bool) -> Target:
    final.parent.mkdir(parents=True, exist_ok=True)
    # The writer's pid in the name lets a later run tell a killed writer's leftovers
    # from a folder another process is still writing.
    work = Path(tempfile.mkdtemp(prefix=f".{final.name}{STAGING}{os.getpid()}-", dir=final.parent))
    # mkdtemp makes 0700; the folder becomes the user's output, so give it mkdir's mode
    # (a bundle copied to a Pi may be served by another user, e.g. a systemd service).
    from flower_edge.io import ordinary_mode

    work.chmod(ordinary_mode(folder=True))
    write_marker(work, kind)
    return Target(final, work, kind, created)


@contextlib.contextmanager
def adding_to(path: str | os.PathLike, kind: str, what: str, inside_run: Path | None = None, *,
              data: Iterable) -> Iterator[Path]:
    """For a folder a command adds files to (explain --out, RUN/report, RUN/export).

    Before the block: the folder must be new or empty, or flower-edge's `kind`, or (made
    before markers existed) lie in a flower-edge run `inside_run`; anything else is
    refused. After it, even after a failure, a folder that was new or empty and now
    holds files is marked as `kind`: everything in it was written here.
    """
    folder = Path(path)
    check_apart(folder, data, what, kind)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{what} {folder} is a file; pass a folder")
    fresh = not folder.exists() or _is_empty_dir(folder)
    if not fresh and not is_kind(folder, kind) and not (
            read_marker(folder) is None and inside_run is not None and is_kind(inside_run, "run")):
        raise UsageError(f"{what} {folder} already holds files flower-edge did not write (no "
                         f"{MARKER} marker){data_note(folder)}; choose a new or empty folder")
    try:
        yield folder
    finally:
        if fresh and folder.is_dir() and any(folder.iterdir()):
            write_marker(folder, kind)


@contextlib.contextmanager
def output_dir(path: str | os.PathLike, kind: str, what: str, replace: bool = True, *,
               data: Iterable, hint: str = "") -> Iterator[Path]:
    """Write a whole output folder: yield where to write, commit on success, and on any
    failure leave `path` as it was (a new folder is not left half-written)."""
    target = prepare(path, kind, what, replace, data=data, hint=hint, stage_new=True)
    try:
        yield target.work
    except BaseException:
        target.abandon()
        raise
    target.commit()


def _swap(new: Path, final: Path, kind: str) -> None:
    """Rename `final` aside, `new` into place, then remove the old folder. A kill between
    the two renames is repaired by _sweep on the next run (the old folder comes back)."""
    old = Path(tempfile.mkdtemp(prefix=f".{final.name}{RETIRED}", dir=final.parent))
    old.rmdir()  # a unique free name for the old folder, which must not exist to rename onto
    os.replace(final, old)
    try:
        os.replace(new, final)
    except BaseException:
        os.replace(old, final)
        raise
    remove_own(old, kind)


def tidy(final: str | os.PathLike, kind: str) -> None:
    """What prepare does first, for a command that writes into `final` in place (a plain
    `pipeline`): repair a swap a kill interrupted, drop dead writers' staging folders."""
    _sweep(Path(final), kind)


def _sweep(final: Path, kind: str) -> None:
    """Tidy what a killed earlier run left beside `final`: restore a folder renamed aside
    but never replaced, and drop staging folders whose writer is gone."""
    parent = final.parent
    if not parent.is_dir():
        return
    # Only the names _staged and _swap make (mkdtemp's suffix has no '.' or '-'), so the
    # staging folder of another output whose name merely starts with this one's
    # (".x.new-foo.new-<pid>-..." beside "x") is never touched.
    name = re.escape(final.name)
    retired = re.compile(rf"\.{name}{re.escape(RETIRED)}[a-z0-9_]+")
    staging = re.compile(rf"\.{name}{re.escape(STAGING)}(\d+)-[a-z0-9_]+")
    for entry in sorted(parent.glob(f".{final.name}{RETIRED}*")):
        if not retired.fullmatch(entry.name) or not is_kind(entry, kind):
            continue
        if not final.exists():
            os.replace(entry, final)
        else:
            remove_own(entry, kind)
    for entry in parent.glob(f".{final.name}{STAGING}*"):
        match = staging.fullmatch(entry.name)
        if not match or _alive(int(match.group(1))):
            continue
        if is_kind(entry, kind):
            remove_own(entry, kind)
        elif _unmarked_staging(entry):  # killed between mkdtemp and the marker
            shutil.rmtree(entry, ignore_errors=True)


def _unmarked_staging(entry: Path) -> bool:
    """A staging folder (our name, a dead writer) holding nothing, or only the marker's
    own temp file: its writer died before the marker landed."""
    try:
        names = [p.name for p in entry.iterdir()]
    except OSError:
        return False
    return entry.is_dir() and not entry.is_symlink() and all(
        n.startswith(f".{MARKER}.") and n.endswith(".tmp") for n in names)


def _alive(pid) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_own(folder: Path, kind: str) -> None:
    """Remove a folder, but only one that carries flower-edge's marker of `kind` (or is a
    pre-marker run): anything else is left alone."""
    if folder.is_dir() and not folder.is_symlink() and is_kind(folder, kind):
        shutil.rmtree(folder, ignore_errors=True)


def _remove_own_entry(entry: Path) -> None:
    """One entry this process wrote into a folder that was empty when it started."""
    if entry.is_dir() and not entry.is_symlink():
        shutil.rmtree(entry, ignore_errors=True)
    else:
        entry.unlink(missing_ok=True)
