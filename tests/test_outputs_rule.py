"""One rule for every output (docs/outputs.md): never the data folder, inside it or
containing it, whether the data is a flag or recorded in the run; a folder of labelled
photos is data whoever names it; demo writes only into a folder of its own."""

from __future__ import annotations

import shutil
from pathlib import Path

import click
import pytest
from conftest import assert_clean_error
from test_guard import tree_sha

from flower_edge import guard

TINY = ("--backbone", "tiny_cnn", "--weights", "none", "--image-size", "32", "--epochs", "1")


@pytest.fixture()
def world(synth_data, tiny_run, tmp_path):
    """A data folder (two classes of the synthetic set) and a copy of a run recording it."""
    data = tmp_path / "photos" / "flowers"
    for cls in sorted(p for p in Path(synth_data).iterdir() if p.is_dir())[:2]:
        shutil.copytree(cls, data / cls.name)
    run = Path(shutil.copytree(tiny_run, tmp_path / "runs" / "tiny"))
    text = (run / "config.toml").read_text(encoding="utf-8")
    (run / "config.toml").write_text(text.replace(str(synth_data), str(data)), encoding="utf-8")
    assert guard.run_data(run) == [str(data)]
    return data, run


def _image(data: Path) -> Path:
    return next(data.rglob("*.png"))


# How each command with an --out is called (--out is the folder it writes, itself): a run...
RUN_STYLE = {
    ("train",): lambda d, r, out: ["train", "--data", d, *TINY, "--out", out, "--force"],
    ("distill",): lambda d, r, out: ["distill", "--teacher", r, *TINY, "--out", out, "--force"],
    ("pipeline",): lambda d, r, out: ["pipeline", "--data", d, *TINY[:6], "--out", out, "--force"],
}
# ... or another folder.
FOLDER_STYLE = {
    ("explain",): lambda d, r, out: ["explain", r, _image(d), "--out", out],
    ("compare",): lambda d, r, out: ["compare", r, "--out", out],
    ("demo",): lambda d, r, out: ["demo", "--out", out, "--force"],
    ("data", "review"): lambda d, r, out: ["data", "review", d, "--out", out],
    ("data", "synth"): lambda d, r, out: ["data", "synth", "--out", out, "--classes", "2", "--per-class", "2",
                                          "--size", "16"],
    ("data", "fetch"): lambda d, r, out: ["data", "fetch", "tf_flowers", "--out", out],
}


def _commands_with_out(group: click.Group, path=()) -> set[tuple]:
    found = set()
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            found |= _commands_with_out(cmd, (*path, name))
        elif any(isinstance(p, click.Option) and "--out" in p.opts for p in cmd.params):
            found.add((*path, name))
    return found


def test_every_command_with_an_out_is_covered():
    """A new command with --out fails here until it is added to the walk below."""
    from flower_edge.cli.main import cli

    assert _commands_with_out(cli) <= set(RUN_STYLE) | set(FOLDER_STYLE)


def _exists(command: tuple) -> bool:
    from flower_edge.cli.main import cli

    group = cli
    for name in command:
        group = getattr(group, "commands", {}).get(name)
        if group is None:
            return False
    return True


@pytest.mark.parametrize("where", ["is", "inside", "contains"])
@pytest.mark.parametrize("command", sorted(RUN_STYLE) + sorted(FOLDER_STYLE))
def test_no_command_writes_into_or_around_the_data(world, invoke, command, where, tmp_path):
    if not _exists(command):
        pytest.skip(f"no command {' '.join(command)} in this build")
    if command == ("data", "review"):
        pytest.importorskip("cleanlab")  # its extra is checked before the output
    data, run = world
    before = tree_sha(tmp_path / "photos")
    target = {"is": data, "inside": data / "newclass", "contains": data.parent}[where]
    args = {**RUN_STYLE, **FOLDER_STYLE}[command](data, run, target)
    result = invoke(*args)
    line = assert_clean_error(result, code=2)
    assert "data" in line, line
    assert tree_sha(tmp_path / "photos") == before
    assert sorted(p.name for p in (tmp_path / "photos").iterdir()) == ["flowers"]


def test_explain_keeps_apart_from_the_runs_recorded_data_even_when_unrecognisable(world, invoke):
    """F2: the run's data folder is the rule's input, not only folders that look like data."""
    data, run = world
    (data / "docs" / "notes").mkdir(parents=True)  # no longer a pure class-folder layout
    assert not guard.photo_layout(data)
    before = tree_sha(data)
    result = invoke("explain", run, _image(data), "--out", data / "newclass")
    assert_clean_error(result, code=2, contains="data folder")
    assert tree_sha(data) == before


def test_train_out_another_dataset_is_refused(world, synth_data, invoke, tmp_path):
    """W8: an eval set given as --out is data, though training reads another folder."""
    data, _ = world
    other = Path(shutil.copytree(data, tmp_path / "eval-set"))
    before = tree_sha(other)
    for root, name in ((other, "run"), (other.parent, other.name)):
        result = invoke("train", "--data", synth_data, *TINY, "--out", root / name, "--force")
        assert_clean_error(result, code=2, contains="labelled photos")
    assert tree_sha(other) == before


def test_a_dataset_put_into_an_output_folder_is_never_replaced(tmp_path, world):
    data, _ = world
    target = tmp_path / "cmp"
    with guard.output_dir(target, "compare", "compare folder", data=guard.NO_DATA) as work:
        (work / "compare.md").write_text("ours")
    shutil.copytree(data, target / "flowers")
    before = tree_sha(target)
    with pytest.raises(guard.UsageError, match="labelled photos"):
        with guard.output_dir(target, "compare", "compare folder", data=guard.NO_DATA):
            pass
    assert tree_sha(target) == before


def test_users_config_split_model_folder_is_not_a_run(synth_data, tmp_path, invoke):
    """W7: config.toml + split.json + model.keras of one's own is not a pre-marker run."""
    mine = tmp_path / "runs" / "mine"
    mine.mkdir(parents=True)
    for name in ("config.toml", "split.json", "model.keras"):
        (mine / name).write_text(f"my {name}")
    before = tree_sha(mine)
    assert not guard.is_kind(mine, "run")
    result = invoke("train", "--data", synth_data, *TINY, "--out", mine.parent / "mine", "--force")
    assert_clean_error(result, code=2, contains="not made by flower-edge")
    assert tree_sha(mine) == before


def test_demo_refuses_a_folder_it_did_not_make(tmp_path, invoke):
    """F3: demo --out an existing folder of one's own files writes nothing there."""
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    for extra in ((), ("--force",)):
        assert_clean_error(invoke("demo", "--out", mine, *extra), code=2, contains="did not write")
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]


def test_demo_out_a_file_exits_2(tmp_path, invoke):
    """W10: the documented contract for a file where a folder is expected."""
    path = tmp_path / "a-file"
    path.write_text("x")
    assert_clean_error(invoke("demo", "--out", path), code=2, contains="is a file")
    assert path.read_text() == "x"
