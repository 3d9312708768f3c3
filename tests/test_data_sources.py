"""Data sources: folder (stratified or pre-split), oxford102, synthetic; detection and errors."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from conftest import assert_clean_error
from PIL import Image

from flower_edge.data.sources import detect_source, load_data
from flower_edge.data.splits import DataSplits
from flower_edge.errors import DataError, UsageError


def _img(path: Path, size=(16, 16), colour=(10, 200, 30), fmt=None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path, fmt)
    return path


def test_flowers5_stratified_split_is_deterministic_and_disjoint(flowers5, tmp_path):
    d = load_data(flowers5, seed=3)
    assert d.source == "folder"
    assert d.classes == ("daisy", "dandelion", "rose", "sunflower", "tulip")
    assert d.counts() == {"train": 400, "val": 50, "test": 50}
    for split in (d.train, d.val, d.test):  # stratified: every class in the same proportion
        assert set(Counter(split.labels).values()) == {len(split) // 5}
    all_paths = d.train.paths + d.val.paths + d.test.paths
    assert len(set(all_paths)) == 500
    assert load_data(flowers5, seed=3) == d
    assert load_data(flowers5, seed=4).test.paths != d.test.paths
    d.save(tmp_path / "split.json")
    assert DataSplits.load(tmp_path / "split.json") == d


def test_fractions_and_their_validation(flowers5):
    d = load_data(flowers5, fractions=(0.7, 0.15, 0.15))
    assert d.counts() == {"train": 350, "val": 75, "test": 75}
    with pytest.raises(UsageError, match="sum"):
        load_data(flowers5, fractions=(0.8, 0.3, 0.1))


def test_presplit_folders_are_used_as_given(tmp_path):
    for split, n in (("train", 3), ("valid", 2), ("test", 1)):
        for cls in ("b_tulip", "a_rose"):
            for i in range(n):
                _img(tmp_path / split / cls / f"{i}.jpg")
    d = load_data(tmp_path)
    assert d.classes == ("a_rose", "b_tulip")
    assert d.counts() == {"train": 6, "val": 4, "test": 2}
    assert all("/valid/" in p for p in d.val.paths)
    assert [Path(p).parent.name for p in d.test.paths] == [d.classes[y] for y in d.test.labels]


def test_presplit_missing_split_and_unknown_class(tmp_path):
    _img(tmp_path / "train" / "a" / "1.jpg")
    _img(tmp_path / "test" / "a" / "1.jpg")
    with pytest.raises(DataError, match="valid/ or val/"):
        load_data(tmp_path)
    _img(tmp_path / "val" / "zzz" / "1.jpg")
    _img(tmp_path / "train" / "b" / "1.jpg")
    with pytest.raises(DataError, match="'zzz' is in val/ but not in train/"):
        load_data(tmp_path)


@pytest.mark.parametrize("layout, message", [
    ({"a/x.jpg": True}, "only one class folder"),
    ({"x.jpg": True}, "no class folders"),
    ({"a/readme.txt": False, "b/notes.md": False}, "no images"),
])
def test_unusable_layouts(tmp_path, layout, message):
    for rel, is_image in layout.items():
        if is_image:
            _img(tmp_path / rel)
        else:
            (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / rel).write_text("not an image")
    with pytest.raises(DataError, match=message):
        load_data(tmp_path)


def test_oxford102_official_split_and_labels(oxford_layout, oxford102_meta):
    import json

    import scipy.io

    assert detect_source(oxford_layout) == "oxford102"
    d = load_data(oxford_layout)
    assert d.source == "oxford102" and len(d.classes) == 102
    assert d.counts() == {"train": 1020, "val": 1020, "test": 6149}
    names = json.loads((oxford102_meta / "class_names.json").read_text())
    assert list(d.classes) == [names[str(i)] for i in range(1, 103)]  # id order, documented
    labels = scipy.io.loadmat(oxford102_meta / "imagelabels.mat")["labels"].ravel()
    setid = scipy.io.loadmat(oxford102_meta / "setid.mat")
    for split, key in (("train", "trnid"), ("val", "valid"), ("test", "tstid")):
        s = d.split(split)
        ids = [int(Path(p).stem.split("_")[1]) for p in s.paths]
        assert ids == setid[key].ravel().tolist()
        assert [y + 1 for y in s.labels] == [int(labels[i - 1]) for i in ids]


def test_oxford102_missing_image_names_it(oxford_layout, tmp_path):
    import shutil

    root = tmp_path / "ox"
    (root / "jpg").mkdir(parents=True)
    for name in ("imagelabels.mat", "setid.mat"):
        shutil.copyfile(oxford_layout / name, root / name)
    with pytest.raises(DataError, match="image missing: .*image_"):
        load_data(root)


def test_synthetic_marker_is_detected(synth_data):
    d = load_data(synth_data)
    assert d.source == "synthetic" and len(d.classes) == 4
    assert sum(d.counts().values()) == 160


# ---- bad input through the CLI: one line, non-zero exit, no traceback ----

def test_cli_path_does_not_exist(invoke, tmp_path):
    assert_clean_error(invoke("data", "inspect", tmp_path / "nope"), contains="does not exist")


def test_cli_empty_class_folder(invoke, tmp_path):
    _img(tmp_path / "rose" / "1.jpg")
    _img(tmp_path / "tulip" / "1.jpg")
    (tmp_path / "daisy").mkdir()
    assert_clean_error(invoke("data", "inspect", tmp_path), contains="class folder 'daisy'")


def test_cli_missing_setid_mat(invoke, oxford_layout, tmp_path):
    import shutil

    root = tmp_path / "ox"
    root.mkdir()
    shutil.copyfile(oxford_layout / "imagelabels.mat", root / "imagelabels.mat")
    line = assert_clean_error(invoke("data", "inspect", root), contains="missing setid.mat")
    assert "data fetch oxford102" in line


def test_cli_mat_with_wrong_keys(invoke, oxford_layout, tmp_path):
    import shutil

    import numpy as np
    import scipy.io

    root = tmp_path / "ox"
    root.mkdir()
    shutil.copyfile(oxford_layout / "imagelabels.mat", root / "imagelabels.mat")
    scipy.io.savemat(root / "setid.mat", {"train": np.arange(1, 4), "test": np.arange(4, 6)})
    line = assert_clean_error(invoke("data", "inspect", root), contains="setid.mat lacks key(s)")
    assert "trnid" in line and "found: test, train" in line
