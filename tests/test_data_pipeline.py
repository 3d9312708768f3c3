"""The tf.data pipeline and the Pillow eval transform: formats, agreement, augmentation, robustness."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_clean_error
from PIL import Image

from flower_edge.data.pipeline import eval_images, make_dataset
from flower_edge.data.scan import drop_unreadable, scan_images
from flower_edge.data.sources import load_data


def _batches(ds):
    xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in ds])
    return np.concatenate(xs), np.concatenate(ys)


@pytest.fixture(scope="module")
def odd_images(tmp_path_factory):
    """One photo-like image saved in every format and colour mode users meet."""
    d = tmp_path_factory.mktemp("odd")
    rng = np.random.default_rng(0)
    base = np.clip(np.cumsum(rng.normal(0, 12, (90, 120, 3)), axis=1) + 128, 0, 255).astype(np.uint8)
    rgb = Image.fromarray(base)
    files = {
        "rgb.jpg": rgb, "gray.jpg": rgb.convert("L"), "cmyk.jpg": rgb.convert("CMYK"),
        "rgba.png": rgb.convert("RGBA"), "palette.png": rgb.convert("P"), "gray16.png":
        Image.fromarray(np.asarray(rgb.convert("L")).astype(np.uint16) * 257),
        "rgb.bmp": rgb, "palette.bmp": rgb.convert("P"), "still.gif": rgb.convert("P"),
    }
    paths = []
    for name, img in files.items():
        img.save(d / name)
        paths.append(str(d / name))
    frames = [rgb.convert("P"), Image.new("RGB", rgb.size, (255, 0, 0)).convert("P")]
    frames[0].save(d / "anim.gif", save_all=True, append_images=frames[1:], duration=100)
    paths.append(str(d / "anim.gif"))
    return paths


def test_tf_pipeline_sees_the_runtime_pixels_on_real_photos(flowers5):
    d = load_data(flowers5)
    paths = list(d.train.paths + d.val.paths + d.test.paths)
    for size in (96, (64, 80)):
        paths = paths if isinstance(size, int) else paths[::5]  # non-square: a 100-image sample
        tf_x, _ = _batches(make_dataset(paths, [0] * len(paths), size, 128, False, num_classes=5,
                                        cache=False))
        pil_x = eval_images(paths, size).astype(np.float32)
        assert tf_x.shape == pil_x.shape == (len(paths), *((size, size) if isinstance(size, int) else size), 3)
        np.testing.assert_array_equal(tf_x, pil_x)  # the same function: identical pixels


def test_every_format_and_mode_becomes_the_same_rgb(odd_images):
    x, y = _batches(make_dataset(odd_images, list(range(len(odd_images))), 48, 4, False,
                                 num_classes=len(odd_images), cache=False))
    assert x.shape == (len(odd_images), 48, 48, 3) and x.dtype == np.float32
    np.testing.assert_array_equal(y, np.eye(len(odd_images), dtype=np.float32))
    np.testing.assert_array_equal(x, eval_images(odd_images, 48).astype(np.float32))
    cmyk = x[[p.endswith("cmyk.jpg") for p in odd_images].index(True)]
    rgb = x[0]
    # Lossy CMYK round trip: close to the RGB original, far from an inverted decode (~100).
    assert np.abs(cmyk - rgb).mean() < 25 and np.abs(255 - cmyk - rgb).mean() > 60


def test_training_pipeline_augments_deterministically(synth_data):
    d = load_data(synth_data)
    def first(seed):
        ds = make_dataset(d.train, image_size=64, batch_size=16, training=True, num_classes=4, seed=seed)
        return [x.numpy() for x, _ in ds.take(1)][0], ds
    a, ds = first(1)
    b, _ = first(1)
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32 and 0 <= a.min() and a.max() <= 255
    epochs = [np.concatenate([x.numpy() for x, _ in ds]) for _ in range(2)]
    assert epochs[0].shape == (len(d.train), 64, 64, 3)
    assert not np.array_equal(epochs[0], epochs[1])  # reshuffled and re-augmented each epoch
    plain, _ = _batches(make_dataset(d.train, image_size=64, batch_size=16, training=False, num_classes=4))
    # The augmented epoch is the same images, altered: per-image means track but differ.
    assert not np.allclose(np.sort(epochs[0].mean(axis=(1, 2, 3))), np.sort(plain.mean(axis=(1, 2, 3))))


def test_labels_integer_mode_and_split_input(synth_data):
    d = load_data(synth_data)
    _, y = _batches(make_dataset(d.val, image_size=32, batch_size=8, one_hot=False))
    assert y.tolist() == list(d.val.labels)


def test_scan_finds_bad_files_and_cmyk_works(tmp_path, odd_images):
    good = tmp_path / "ok.jpg"
    Image.new("RGB", (20, 20), (1, 2, 3)).save(good)
    data = open(odd_images[0], "rb").read()
    (tmp_path / "trunc.jpg").write_bytes(data[: len(data) // 2])
    Image.new("RGB", (1, 1)).save(tmp_path / "tiny.png")
    (tmp_path / "text.jpg").write_text("hello")
    cmyk = [p for p in odd_images if p.endswith("cmyk.jpg")][0]
    readable, bad = scan_images([good, cmyk, tmp_path / "trunc.jpg", tmp_path / "tiny.png",
                                 tmp_path / "text.jpg"])
    assert readable == [str(good), cmyk]
    reasons = dict(bad)
    assert "truncated" in reasons[str(tmp_path / "trunc.jpg")]
    assert "1x1 px" in reasons[str(tmp_path / "tiny.png")]
    assert "cannot identify image" in reasons[str(tmp_path / "text.jpg")]


def test_unreadable_files_are_skipped_with_one_warning_never_crash(tmp_path, synth_data, capsys):
    import shutil

    root = tmp_path / "set"
    shutil.copytree(synth_data, root)
    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    some = next((root / classes[0]).iterdir())
    data = some.read_bytes()
    (root / classes[0] / "zz_trunc.png").write_bytes(data[: len(data) // 2])
    (root / classes[1] / "zz_text.jpg").write_text("not an image")
    Image.new("RGB", (1, 1)).save(root / classes[2] / "zz_tiny.png")
    splits = load_data(root, fractions=(1.0, 0.0, 0.0))
    clean, bad = drop_unreadable(splits, show_progress=False)
    err = capsys.readouterr().err
    assert err.count("warning:") == 1 and "skipping 3 unreadable" in err and "zz_tiny.png" in err
    assert len(bad) == 3 and len(clean.train) == 160
    # Even unscanned, make_dataset drops what it cannot decode instead of crashing mid-epoch.
    ds = make_dataset(splits.train, image_size=32, batch_size=32, training=True, num_classes=4)
    for _ in range(2):
        assert sum(len(x) for x, _ in ds) == 160


def test_cli_inspect_lists_file_level_problems(invoke, tmp_path, odd_images):
    for cls in ("a", "b"):
        (tmp_path / cls).mkdir()
        Image.new("RGB", (30, 20), (9, 9, 9)).save(tmp_path / cls / "ok.jpg")
    (tmp_path / "a" / "fake.jpg").write_text("I am text")
    data = open(odd_images[0], "rb").read()
    (tmp_path / "a" / "cut.jpg").write_bytes(data[: len(data) // 2])
    Image.new("RGB", (1, 1)).save(tmp_path / "b" / "dot.png")
    (tmp_path / "b" / "notes.txt").write_text("x")
    import shutil
    shutil.copy([p for p in odd_images if p.endswith("cmyk.jpg")][0], tmp_path / "b" / "cmyk.jpg")
    import json
    result = invoke("data", "inspect", tmp_path, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    reasons = {r["path"].rsplit("/", 1)[1]: r["reason"] for r in report["unreadable"]}
    assert set(reasons) == {"fake.jpg", "cut.jpg", "dot.png"}  # cmyk.jpg is fine
    assert "cannot identify image" in reasons["fake.jpg"] and "truncated" in reasons["cut.jpg"]
    assert "1x1 px" in reasons["dot.png"]
    assert [p.rsplit("/", 1)[1] for p in report["ignored"]] == ["notes.txt"]
    assert report["total"] == 6


def test_cli_single_bad_file_kinds_do_not_crash(invoke, tmp_path):
    # A folder whose only images are unusable still gives a clean report, not a traceback.
    for cls in ("a", "b"):
        (tmp_path / cls).mkdir()
        (tmp_path / cls / "x.jpg").write_text("junk")
    result = invoke("data", "inspect", tmp_path)
    assert "unreadable: 2" in result.stdout  # the report, then: no readable image is an error
    assert_clean_error(result, code=1, contains="no readable image")
    assert_clean_error(invoke("data", "inspect", tmp_path / "a" / "x.jpg"), contains="is a file")


def test_cli_inspect_summarises_many_unreadable_files_by_reason(invoke, tmp_path):
    """W9: 600 unreadable files are a few lines with a count per reason, and exit non-zero."""
    for cls in ("a", "b"):
        (tmp_path / cls).mkdir()
        for i in range(300):
            (tmp_path / cls / f"{i}.jpg").write_text("junk")
    Image.new("RGB", (1, 1)).save(tmp_path / "a" / "tiny.png")
    result = invoke("data", "inspect", tmp_path)
    assert_clean_error(result, code=1, contains="no readable image")
    lines = result.stdout.splitlines()
    assert len(lines) < 30, result.stdout
    assert "unreadable: 601 (skipped by training)" in lines
    counts = [line.strip() for line in lines if line.startswith("  ") and " x " in line]
    assert len(counts) == 2, counts
    assert counts[0].startswith("600 x not a readable image") and counts[1].startswith("1 x image too small")
    assert str(tmp_path) not in counts[0]
    assert any("and 596 more" in line for line in lines)
