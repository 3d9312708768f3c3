"""Move approved photos out of the data folder into DIR/<class>/..., and back.

DIR/quarantine.json (the manifest) lists every move: the photo's path relative to the
data folder, the data folder, and the file's sha256. It is written before each move and
after it, so a kill never leaves a moved photo unlisted. `undo` moves every listed
photo back, checks its sha256, and refuses to overwrite anything at the original path.
"""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

from flower_edge.data.review.photos import sha256
from flower_edge.errors import UsageError
from flower_edge.io import atomic_write_json

MANIFEST = "quarantine.json"


def approved_from_csv(path: str, data: str) -> list[tuple[str, str, str]]:
    """(relative path, sha256, reason) of rows whose action is 'quarantine' in a review.csv."""
    from flower_edge.data.review.render import APPROVE

    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as exc:
        raise UsageError(f"--approve {path}: cannot read it ({exc.strerror}); pass the review.csv "
                         f"'data review' wrote, with 'quarantine' in the action column") from None
    if rows and not {"path", "action"} <= set(rows[0]):
        raise UsageError(f"--approve {path} has no path/action columns; pass a review.csv of 'data review'")
    return [(r["path"], r.get("sha256", ""), r.get("flags", "") or "approved")
            for r in rows if (r.get("action") or "").strip().lower() == APPROVE]


def quarantine(data: str, dest: str, approved: list[tuple[str, str, str]]) -> list[str]:
    """Move each approved photo (checked unchanged by sha256) to DEST; returns the paths moved."""
    root, qdir = Path(data).resolve(), Path(dest)
    manifest = check_target(data, dest)
    todo = _check(root, qdir, approved)
    qdir.mkdir(parents=True, exist_ok=True)
    moved = []
    for rel, digest, reason in todo:
        manifest["moved"].append({"path": rel, "sha256": digest, "reason": reason})
        atomic_write_json(qdir / MANIFEST, manifest)  # listed before it moves
        _move(root / rel, qdir / rel)
        moved.append(rel)
    return moved


def check_target(data: str, dest: str) -> dict:
    """DEST's manifest (a new one for a new folder), or a one-line error: DEST must lie
    outside DATA and be new, empty, or an earlier quarantine of the same DATA."""
    from flower_edge import guard

    root, qdir = Path(data).resolve(), Path(dest)
    manifest = _load(qdir) if (qdir / MANIFEST).is_file() else None
    if manifest is None:  # an earlier quarantine here is itself class folders of photos
        guard.check_apart(qdir, [root], "quarantine folder")
    if manifest is None and qdir.exists() and any(qdir.iterdir()):
        raise UsageError(f"--quarantine {dest} is not empty and holds no {MANIFEST}; pass a new "
                         f"folder (outside the data folder)")
    if manifest is not None and Path(manifest["data"]) != root:
        raise UsageError(f"--quarantine {dest} holds photos of {manifest['data']}; use another folder")
    return manifest or {"tool": "flower-edge", "data": str(root), "moved": []}


def _check(root: Path, qdir: Path, approved) -> list[tuple[str, str, str]]:
    """Every approved photo exists, is unchanged since the review and has a free place."""
    todo, seen = [], set()
    for rel, expected, reason in approved:
        src = root / rel
        if rel in seen:
            continue
        seen.add(rel)
        if Path(rel).is_absolute() or ".." in Path(rel).parts or not src.is_file():
            raise UsageError(f"approved photo {rel} is not in {root}; was it moved already? "
                             f"(re-run 'data review' for a fresh review.csv)")
        digest = sha256(src)
        if expected and digest != expected:
            raise UsageError(f"{rel} changed since the review (sha256 differs); re-run 'data review'")
        if (qdir / rel).exists():
            raise UsageError(f"{qdir / rel} already exists; undo the earlier quarantine first")
        todo.append((rel, digest, reason))
    return todo


def _move(src: Path, dest: Path) -> None:
    """Move one photo without ever overwriting `dest`: a hard link, or a checked copy."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    taken = UsageError(f"{dest} already exists; move it away and run again (nothing was moved)")
    try:
        os.link(src, dest)  # fails if dest exists
    except FileExistsError:
        raise taken from None
    except OSError:  # another file system (or no hard links): copy, check, then remove
        try:
            with open(src, "rb") as fin, open(dest, "xb") as fout:  # "x": never overwrites
                shutil.copyfileobj(fin, fout)
        except FileExistsError:
            raise taken from None
        shutil.copystat(src, dest)
        if sha256(dest) != sha256(src):
            dest.unlink()  # the copy just made, never a file that was there
            raise UsageError(f"copying {src} to {dest} changed its bytes; nothing was moved") from None
    os.unlink(src)


def undo(dest: str) -> list[str]:
    """Move every photo of DEST's manifest back; returns the paths restored."""
    qdir = Path(dest)
    if not (qdir / MANIFEST).is_file():
        raise UsageError(f"--undo {dest}: no {MANIFEST} there; pass the folder given to --quarantine")
    manifest = _load(qdir)
    root = Path(manifest["data"])
    restored, left = [], []
    for entry in manifest["moved"]:
        src, back = qdir / entry["path"], root / entry["path"]
        if not src.is_file() and back.is_file() and sha256(back) == entry["sha256"]:
            restored.append(entry["path"])  # moved back by an earlier, interrupted undo
            continue
        if back.exists():
            left.append(entry)
            continue
        _move(src, back)
        if sha256(back) != entry["sha256"]:
            raise UsageError(f"{back} does not match its sha256 in {MANIFEST}; it was changed in quarantine")
        restored.append(entry["path"])
    if left:
        manifest["moved"] = left
        atomic_write_json(qdir / MANIFEST, manifest)
        raise UsageError(f"{len(left)} photo(s) not restored: a file already exists at "
                         f"{root / left[0]['path']}; move it away and run --undo again")
    (qdir / MANIFEST).unlink()
    for folder in sorted((p for p in qdir.rglob("*") if p.is_dir()), reverse=True):
        if not any(folder.iterdir()):
            folder.rmdir()  # only the empty class folders quarantine made
    return restored


def _load(qdir: Path) -> dict:
    import json

    try:
        manifest = json.loads((qdir / MANIFEST).read_text(encoding="utf-8"))
        assert isinstance(manifest.get("moved"), list) and manifest.get("data")
        return manifest
    except (OSError, ValueError, AssertionError, AttributeError):
        raise UsageError(f"{qdir / MANIFEST} is not a quarantine manifest of flower-edge") from None
