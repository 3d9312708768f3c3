"""`flower-edge data review`: planted label flips, a duplicate across the split and a
non-flower are found; the data folder is never written; quarantine undoes byte-identically."""

from __future__ import annotations

import csv
import errno
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_clean_error

from benchmarks.common import tree_sha
from flower_edge.errors import UsageError

PER_CLASS = 40
FLIP = 0.05


def _rows(out: Path) -> list[dict]:
    with open(out / "review.csv", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def planted(flowers5, tmp_path_factory):
    """40 photos a class of flowers5, 5% of labels flipped (seeded), an exact copy of a
    training photo planted in the test split, and one synthetic drawing (not a photo)."""
    from flower_edge.data.splits import DataSplits, Split
    from flower_edge.data.synthetic import write_synthetic

    root = tmp_path_factory.mktemp("review") / "flowers"
    rng = np.random.default_rng(0)
    classes = sorted(p.name for p in flowers5.iterdir() if p.is_dir())
    for c in classes:
        (root / c).mkdir(parents=True)
        for p in sorted((flowers5 / c).iterdir())[:PER_CLASS]:
            shutil.copy2(p, root / c / p.name)
    photos = sorted(root.rglob("*.jpg"))
    flipped = []
    for i in rng.choice(len(photos), int(FLIP * len(photos)), replace=False):
        p = photos[i]
        wrong = rng.choice([c for c in classes if c != p.parent.name])
        flipped.append(f"{wrong}/{p.name}")
        p.rename(root / wrong / p.name)
    original = sorted((root / classes[0]).iterdir())[0]
    copy = root / classes[0] / f"copy-{original.name}"
    shutil.copy2(original, copy)
    synth = write_synthetic(root.parent / "synth", classes=2, per_class=1, size=128, seed=3)
    drawing = sorted(Path(synth).rglob("*.png"))[0]
    shutil.copy2(drawing, root / classes[1] / "drawing.png")
    # A run folder holding only the split: original in train, its copy in test.
    files = sorted(str(p) for p in root.rglob("*") if p.is_file())
    label = {f: classes.index(Path(f).parent.name) for f in files}
    test = [str(copy)] + [f for f in files if f != str(copy) and f != str(original)][:20]
    train = [f for f in files if f not in test]
    run = root.parent / "run"
    run.mkdir()
    DataSplits("folder", str(root), tuple(classes), Split("train", tuple(train), tuple(label[f] for f in train)),
               Split("val", (), ()), Split("test", tuple(test), tuple(label[f] for f in test))).save(run / "split.json")
    return {"root": root, "run": run, "flipped": flipped, "copy": f"{classes[0]}/{copy.name}",
            "drawing": f"{classes[1]}/drawing.png"}


@pytest.fixture(scope="module")
def reviewed(planted, mnv2_weights, tmp_path_factory):
    from click.testing import CliRunner

    from flower_edge.cli.main import cli

    before = tree_sha(planted["root"])
    out = tmp_path_factory.mktemp("out") / "review"
    args = ["data", "review", str(planted["root"]), "--run", str(planted["run"]), "--weights",
            str(mnv2_weights), "--image-size", "128", "--out", str(out)]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert tree_sha(planted["root"]) == before  # review writes nothing into the data folder
    return out, result, before


def test_planted_flips_rank_in_the_top_tenth(planted, reviewed):
    rows = sorted(_rows(reviewed[0]), key=lambda r: float(r["label_score"]))
    top = {r["path"] for r in rows[:len(rows) // 10]}
    found = [p for p in planted["flipped"] if p in top]
    # Chance puts 10% of the flips in the top tenth. The goal is 70%; with the ImageNet base's
    # features the full-size benchmark (docs/refit-and-review.md) measured 65% at 224 px, so
    # this small, 128 px copy asserts what the method gives: at least 4x chance.
    assert len(found) >= 0.4 * len(planted["flipped"]), (found, planted["flipped"])


def test_duplicate_across_split_and_non_flower_are_found(planted, reviewed):
    out, result, _ = reviewed
    rows = {r["path"]: r for r in _rows(out)}
    copy = rows[planted["copy"]]
    assert "leakage" in copy["flags"].split(";") and copy["duplicate_kind"] == "exact"
    assert copy["split"] == "test" and rows[copy["duplicate_of"]]["split"] == "train"
    assert "outlier" in rows[planted["drawing"]]["flags"].split(";")
    md = (out / "review.md").read_text()
    assert planted["copy"] in md and planted["drawing"] in md
    html = (out / "review.html").read_text()
    for src in [s.split("'")[0] for s in html.split("src='")[1:]]:
        assert (out / src).is_file()
    assert len(rows) == sum(1 for p in planted["root"].rglob("*") if p.is_file())  # every photo


def test_quarantine_then_undo_is_byte_identical(planted, reviewed, tmp_path, invoke):
    out, _, before = reviewed
    rows = _rows(out)
    for r in rows:
        r["action"] = "quarantine" if r["flags"] else ""
    approve = tmp_path / "approved.csv"
    with open(approve, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    marked = sorted(r["path"] for r in rows if r["action"])
    qdir = tmp_path / "quarantine"
    result = invoke("data", "review", planted["root"], "--quarantine", qdir, "--approve", approve)
    assert result.exit_code == 0, result.output
    assert sorted(str(p.relative_to(qdir)) for p in qdir.rglob("*") if p.is_file()
                  and p.name != "quarantine.json") == marked
    assert not any((planted["root"] / p).exists() for p in marked)
    result = invoke("data", "review", "--undo", qdir)
    assert result.exit_code == 0, result.output
    assert tree_sha(planted["root"]) == before
    assert not (qdir / "quarantine.json").exists()


def test_review_errors_are_one_line(planted, tmp_path, invoke, monkeypatch):
    result = invoke("data", "review", planted["root"], "--quarantine", tmp_path / "q")
    assert_clean_error(result, contains="--approve")
    result = invoke("data", "review", "--undo", tmp_path / "nothing")
    assert_clean_error(result, contains="quarantine.json")
    inside = planted["root"] / "q"
    result = invoke("data", "review", planted["root"], "--quarantine", inside, "--approve", "label")
    assert_clean_error(result)
    assert not inside.exists()
    monkeypatch.setitem(__import__("sys").modules, "cleanlab", None)
    result = invoke("data", "review", planted["root"], "--out", tmp_path / "o")
    assert_clean_error(result, contains="flower-edge[review]")


@pytest.mark.parametrize("hard_links", [True, False])
def test_a_move_never_overwrites_the_destination(tmp_path, monkeypatch, hard_links):
    """Quarantine and undo move photos; a file already at the destination is kept, on one
    file system (hard link) and across two (checked copy)."""
    from flower_edge.data.review import quarantine

    if not hard_links:
        def no_link(src, dest):
            raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))
        monkeypatch.setattr(quarantine.os, "link", no_link)
    src, dest = tmp_path / "a" / "x.jpg", tmp_path / "b" / "x.jpg"
    src.parent.mkdir()
    dest.parent.mkdir()
    src.write_bytes(b"photo")
    dest.write_bytes(b"someone else's")
    with pytest.raises(UsageError, match="already exists"):
        quarantine._move(src, dest)
    assert src.read_bytes() == b"photo" and dest.read_bytes() == b"someone else's"
    dest.unlink()
    quarantine._move(src, dest)
    assert not src.exists() and dest.read_bytes() == b"photo"


def test_embedding_joins_the_specs_review_layers_each_unit_length(planted, mnv2_weights, tiny_run):
    from flower_edge.data.review.embed import backbone, embed

    model, size, _ = backbone(None, str(mnv2_weights), "mobilenet_v2", 96)
    assert [int(o.shape[-1]) for o in model.outputs] == [1280, 160]  # head_gap, pooled block_15_add
    photos = sorted(p for p in planted["root"].rglob("*.jpg"))[:3]
    features = embed(model, size, photos)
    assert features.shape == (3, 1440)
    assert np.allclose(np.linalg.norm(features[:, :1280], axis=1), np.sqrt(0.5), atol=1e-5)
    assert np.allclose(np.linalg.norm(features[:, 1280:], axis=1), np.sqrt(0.5), atol=1e-5)
    # a spec without review layers (the tiny test spec) embeds with head_gap alone
    model, _, _ = backbone(str(tiny_run), None, "mobilenet_v2", 0)
    assert len(model.outputs) == 1
