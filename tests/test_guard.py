"""guard.py: only folders flower-edge made are replaced, atomically; data is never an output."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.common import tree_sha
from flower_edge import guard
from flower_edge.errors import UsageError


def _made(path: Path, kind: str, text: str) -> Path:
    with guard.output_dir(path, kind, "out", data=guard.NO_DATA) as tmp:
        (tmp / "a.txt").write_text(text)
    return path


def _foreign(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "notes.txt").write_text("my notes")
    (path / "photo.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    return path


def test_new_output_is_marked_and_replaced_atomically(tmp_path):
    target = _made(tmp_path / "out", "bundle", "one")
    assert guard.read_marker(target)["kind"] == "bundle"
    _made(target, "bundle", "two")
    assert (target / "a.txt").read_text() == "two"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no staging or old copy left


@pytest.mark.parametrize("replace", [False, True])
def test_foreign_folder_is_refused_with_or_without_replace(tmp_path, replace):
    folder = _foreign(tmp_path / "mine")
    before = tree_sha(folder)
    with pytest.raises(UsageError, match="not made by flower-edge"):
        guard.prepare(folder, "run", "run folder", replace=replace, data=guard.NO_DATA)
    with pytest.raises(UsageError, match="not made by flower-edge"):
        with guard.output_dir(folder, "bundle", "out", data=guard.NO_DATA):
            pass
    assert tree_sha(folder) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]


def test_folder_of_another_kind_is_refused(tmp_path):
    target = _made(tmp_path / "out", "synthetic", "data")
    with pytest.raises(UsageError, match="not made by flower-edge"):
        guard.prepare(target, "run", "run folder", replace=True, data=guard.NO_DATA)
    assert (target / "a.txt").read_text() == "data"


def test_failure_inside_leaves_the_old_folder_byte_identical(tmp_path):
    target = _made(tmp_path / "out", "bundle", "old")
    before = tree_sha(target)
    with pytest.raises(OSError):
        with guard.output_dir(target, "bundle", "out", data=guard.NO_DATA) as tmp:
            (tmp / "a.txt").write_text("new, half-written")
            raise OSError(28, "No space left on device")
    assert tree_sha(target) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


@pytest.mark.parametrize("where", ["data", "inside", "parent", "grandparent"])
def test_data_is_never_an_output(tmp_path, where):
    data = tmp_path / "a" / "flowers"
    (data / "rose").mkdir(parents=True)
    (data / "rose" / "1.jpg").write_bytes(b"photo")
    out = {"data": data, "inside": data / "rose" / "run", "parent": data.parent,
           "grandparent": tmp_path}[where]
    with pytest.raises(UsageError, match="data folder"):
        guard.prepare(out, "run", "run folder", replace=True, data=[data])
    assert tree_sha(tmp_path) == {"a/flowers/rose/1.jpg": hashlib.sha256(b"photo").hexdigest()}


def test_pre_marker_run_is_recognised_but_not_with_a_user_file(tmp_path):
    run = tmp_path / "old"
    (run / "checkpoints").mkdir(parents=True)
    for name in ("config.toml", "split.json", "model.keras", "history.csv"):
        (run / name).write_text(name)
    (run / "checkpoints" / "state.json").write_text('{"epoch": 0, "phase": 1, "checkpoint": "epoch-0000"}')
    assert guard.is_kind(run, "run")
    (run / "notes.txt").write_text("mine")
    assert not guard.is_kind(run, "run")


def test_kill_between_the_two_renames_is_repaired(tmp_path):
    """A folder renamed aside whose replacement never landed comes back on the next run."""
    target = _made(tmp_path / "run", "run", "old")
    before = tree_sha(target)
    os.replace(target, tmp_path / ".run.old-abc123")
    staged = guard.prepare(target, "run", "run folder", replace=True, data=guard.NO_DATA)
    assert tree_sha(target) == before and staged.replacing
    staged.abandon()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_staging_of_a_dead_writer_is_swept_a_live_one_kept(tmp_path):
    target = _made(tmp_path / "run", "run", "old")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    stale = tmp_path / f".run.new-{dead}-abc"
    stale.mkdir()
    guard.write_marker(stale, "run")
    live = tmp_path / f".run.new-{os.getpid()}-def"
    live.mkdir()
    guard.write_marker(live, "run")
    foreign = tmp_path / ".run.new-foreign"  # same name pattern, not ours: never touched
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine")
    guard.prepare(target, "run", "run folder", replace=True, data=guard.NO_DATA).abandon()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([".run.new-foreign", live.name, "run"])


def test_adding_to_refuses_a_foreign_folder_and_marks_a_new_one(tmp_path):
    folder = _foreign(tmp_path / "pictures")
    before = tree_sha(folder)
    with pytest.raises(UsageError, match="did not write"):
        with guard.adding_to(folder, "explain", "--out", data=guard.NO_DATA):
            raise AssertionError("must not run")
    assert tree_sha(folder) == before
    fresh = tmp_path / "fresh"
    with pytest.raises(RuntimeError):
        with guard.adding_to(fresh, "explain", "--out", data=guard.NO_DATA):
            fresh.mkdir()
            (fresh / "x.png").write_bytes(b"png")
            raise RuntimeError("failed after one picture")
    assert guard.is_kind(fresh, "explain")  # what it holds was written by flower-edge
    with guard.adding_to(fresh, "explain", "--out", data=guard.NO_DATA):
        pass
    untouched = tmp_path / "never"
    with guard.adding_to(untouched, "explain", "--out", data=guard.NO_DATA):
        pass
    assert not untouched.exists()  # nothing written: no folder, no marker


def test_sweep_leaves_the_staging_of_an_output_whose_name_starts_alike(tmp_path):
    """`x.new-foo` is another output; its live staging folder must survive a run on `x`."""
    _made(tmp_path / "x", "run", "old")
    other = tmp_path / f".x.new-foo.new-{os.getpid()}-abcdefgh"
    other.mkdir()
    guard.write_marker(other, "run")
    aside = tmp_path / ".x.old-foo.new-1-abcdefgh"  # not a folder _swap made for `x`
    aside.mkdir()
    guard.write_marker(aside, "run")
    guard.prepare(tmp_path / "x", "run", "run folder", replace=True, data=guard.NO_DATA).abandon()
    assert other.is_dir() and aside.is_dir()


def test_commit_refuses_a_foreign_folder_that_appeared_meanwhile(tmp_path):
    target = tmp_path / "out"
    staged = guard.prepare(target, "bundle", "bundle folder", replace=True, stage_new=True,
                           data=guard.NO_DATA)
    (staged.work / "model.tflite").write_bytes(b"new")
    target.mkdir()
    (target / "mine.txt").write_text("a user's file")
    with pytest.raises(UsageError, match="did not make"):
        staged.commit()
    assert (target / "mine.txt").read_text() == "a user's file"
    assert (staged.work / "model.tflite").read_bytes() == b"new"  # the new output is kept too


def test_a_folder_with_synthetic_json_and_a_users_photo_is_not_a_synthetic_set(tmp_path):
    folder = tmp_path / "set"
    (folder / "rose").mkdir(parents=True)
    (folder / "synthetic.json").write_text("{}")
    (folder / "rose" / "rose_0000.png").write_bytes(b"png")
    assert guard.is_kind(folder, "synthetic")
    (folder / "rose" / "my_photo.jpg").write_bytes(b"jpg")
    assert not guard.is_kind(folder, "synthetic")


def test_outputs_get_mkdirs_mode_not_mkdtemps(tmp_path):
    """A staged output ends up as readable as a folder mkdir makes (a Pi service user reads it)."""
    old = os.umask(0o022)
    try:
        with guard.output_dir(tmp_path / "bundle", "bundle", "out", data=guard.NO_DATA) as work:
            (work / "model.tflite").write_bytes(b"x")
        (tmp_path / "plain").mkdir()
    finally:
        os.umask(old)
    assert (tmp_path / "bundle").stat().st_mode & 0o777 == (tmp_path / "plain").stat().st_mode & 0o777 == 0o755


def test_staging_killed_before_its_marker_is_swept(tmp_path):
    """mkdtemp made the folder, the kill came before the marker landed (kill matrix)."""
    target = _made(tmp_path / "export", "export", "old")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    for suffix, content in (("abc", None), ("def", f".{guard.MARKER}.x1y2.tmp")):
        stale = tmp_path / f".export.new-{dead}-{suffix}"
        stale.mkdir()
        if content:
            (stale / content).write_text("{")
    mine = tmp_path / f".export.new-{dead}-ghi"  # a dead writer's name, a user's file: kept
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    guard.tidy(target, "export")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["export", mine.name])


def test_photo_layout_is_class_folders_of_images(tmp_path):
    data = tmp_path / "photos"
    for cls in ("rose", "tulip"):
        (data / cls).mkdir(parents=True)
        (data / cls / "1.jpg").write_bytes(b"x")
    (data / "LICENSE.txt").write_text("cc")
    assert guard.photo_layout(data)
    with pytest.raises(UsageError, match="labelled photos"):
        guard.check_apart(data / "rose" / "run", guard.NO_DATA, "run folder")
    (data / "docs" / "more").mkdir(parents=True)  # a folder that is not a class folder
    assert not guard.photo_layout(data)
    runs = tmp_path / "artifacts"  # runs hold PNGs too, but carry the marker
    for name in ("a", "b"):
        _made(runs / name, "run", name)
        (runs / name / "curves.png").write_bytes(b"png")
    assert not guard.photo_layout(runs)
