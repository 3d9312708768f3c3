"""Real photos through the one loader every stage uses: EXIF orientation, scaled JPEG
decode, training == runtime pixels, and threaded folder prediction in input order."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import assert_clean_error, shared_path
from PIL import Image

from flower_edge.errors import DataError, UsageError
from flower_edge.runtime.predictor import Predictor
from flower_edge.runtime.transforms import _TRANSPOSE, decode_image, load_for_model

# Image.Transpose value that undoes each one (the rotations swap, the flips undo themselves).
_INVERSE = {0: 0, 1: 1, 2: 4, 3: 3, 4: 2, 5: 5, 6: 6}
SIZE = 64  # the runtime_bundles model


@pytest.fixture(scope="module")
def eval_photos():
    """Six real photos of the evaluation set, one or two per class."""
    root = shared_path("data", "flowers5-eval")
    return [sorted(d.glob("*.jpg"))[3] for d in sorted(root.iterdir()) if d.is_dir()] + \
        [sorted((root / "rose").glob("*.jpg"))[10]]


def _exif(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


def _camera_like(path, size=(603, 451)) -> Image.Image:
    """A real photo upsampled to an odd size, so a scaled JPEG decode pads its last block."""
    return Image.open(path).convert("RGB").resize(size, Image.BICUBIC)


@pytest.fixture(scope="module")
def oriented(eval_photos, tmp_path_factory):
    """Each photo upright and stored in all 8 orientations with the EXIF tag, as PNG and JPEG."""
    d = tmp_path_factory.mktemp("exif")
    files = []
    for i, path in enumerate(eval_photos):
        upright = _camera_like(path)
        for orientation in range(1, 9):
            method = _TRANSPOSE.get(orientation)
            stored = upright if method is None else upright.transpose(_INVERSE[method])
            for ext, kw in ((".png", {}), (".jpg", {"quality": 100, "subsampling": 0})):
                name = d / f"p{i}-o{orientation}{ext}"
                stored.save(name, exif=_exif(orientation), **kw)
                files.append((i, orientation, ext, name))
    return files


def test_all_eight_exif_orientations_read_upright(oriented, runtime_bundles):
    predictor = Predictor(runtime_bundles["bundles"]["fp32"])
    upright = {(i, ext): load_for_model(name, SIZE) for i, o, ext, name in oriented if o == 1}
    scores_up = {k: predictor.invoke_one(v) for k, v in upright.items()}
    clear = 0
    for i, orientation, ext, name in oriented:
        got, want, up = load_for_model(name, SIZE), upright[(i, ext)], scores_up[(i, ext)]
        scores = predictor.invoke_one(got)
        top = predictor.predict(name, top_k=1)[0][0]
        if ext == ".png":  # lossless: the very same pixels, so the very same scores
            np.testing.assert_array_equal(got, want, err_msg=f"{name.name}")
            assert top == predictor.labels[int(np.argmax(up))]
        else:  # JPEG re-encoded rotated (blocks differ), decoded at 1/2 scale: near-identical
            assert np.abs(got.astype(int) - want).mean() < 1.5, name.name
            assert np.abs(scores - up).max() < 0.1, name.name
            margin = np.sort(up)[-1] - np.sort(up)[-2]
            if margin > 0.1:  # a photo the model is sure of keeps its top-1 (ties may flip)
                clear += 1
                assert top == predictor.labels[int(np.argmax(up))], name.name
        if orientation != 1:  # the tag matters: without it the stored pixels differ
            raw = np.asarray(Image.open(name).convert("RGB").resize((85, 64)).crop((10, 0, 74, 64)))
            assert np.abs(raw.astype(int) - want).mean() > 5, name.name
    assert clear >= 8  # the top-1 check did run (how many photos are clear cases depends on the model)


def test_scaled_jpeg_decode_covers_the_target_and_keeps_the_window(eval_photos, tmp_path):
    path = tmp_path / "camera.jpg"
    _camera_like(eval_photos[0], (1211, 907)).save(path, quality=90)
    img, full, box = decode_image(path, SIZE, draft=1.0)
    assert full == (1211, 907) and img.size == (152, 114)  # 1/8 scale, last block padded
    assert box == pytest.approx((0, 0, 1211 / 8, 907 / 8))
    assert decode_image(path, SIZE)[0].size == (303, 227)  # default: >= 2x the 85x64 resize, 1/4
    fast, exact = load_for_model(path, SIZE), load_for_model(path, SIZE, draft=None)
    assert decode_image(path, SIZE, draft=None)[0].size == (1211, 907)
    assert 0 < np.abs(fast.astype(int) - exact).mean() < 2.0  # a different decode, same picture
    assert np.abs(fast.astype(int) - np.roll(exact, 2, axis=1)).mean() > 2 * np.abs(
        fast.astype(int) - exact).mean()  # and the same window: a 2 px shift is much further


def test_training_pipeline_sees_the_runtime_pixels(oriented, runtime_bundles):
    from flower_edge.data.pipeline import eval_images, make_dataset

    paths = [str(name) for i, o, ext, name in oriented if i < 2] + [str(p) for p in runtime_bundles["paths"][::100]]
    ds = make_dataset(paths, [0] * len(paths), SIZE, 16, False, num_classes=2, cache=False)
    train_x = np.concatenate([x.numpy() for x, _ in ds])
    predictor = Predictor(runtime_bundles["bundles"]["fp32"])
    runtime_x = np.stack([predictor.preprocess(p) for p in paths]).astype(np.float32)
    np.testing.assert_array_equal(train_x, runtime_x)
    np.testing.assert_array_equal(eval_images(paths, SIZE), runtime_x.astype(np.uint8))  # calibration


@pytest.fixture(scope="module")
def folder(runtime_bundles, tmp_path_factory):
    d = tmp_path_factory.mktemp("many")
    for k, p in enumerate(runtime_bundles["paths"][::12]):
        (d / f"{k:03d}.jpg").write_bytes(p.read_bytes())
    (d / "017.jpg").write_bytes(b"not an image")
    return d


def test_workers_keep_input_order_errors_and_results(folder, runtime_bundles):
    from flower_edge.runtime.files import expand_inputs

    predictor = Predictor(runtime_bundles["bundles"]["int8"])
    paths = expand_inputs([folder])
    runs = {w: [r.to_dict() for r in predictor.predict_iter(paths, top_k=2, workers=w)] for w in (0, 1, 3)}
    assert runs[0] == runs[1] == runs[3]
    assert [r["path"] for r in runs[3]] == [str(p) for p in paths]
    assert "error" in runs[3][17] and sum("error" in r for r in runs[3]) == 1
    assert runs[3][0]["label"] == predictor.predict(paths[0], top_k=1)[0][0]


def test_workers_stream_with_a_bounded_number_in_flight(folder, runtime_bundles):
    predictor = Predictor(runtime_bundles["bundles"]["int8"])
    pulled = []

    def source():
        for p in sorted(folder.iterdir()):
            pulled.append(p)
            yield p

    for done, _ in enumerate(predictor.predict_iter(source(), workers=2), start=1):
        assert len(pulled) <= done + 2 * 2  # never more than 2 x workers ahead
    assert done == len(pulled) == len(list(folder.iterdir()))
    arrays = list(predictor.predict_iter([np.zeros((50, 70, 3), np.uint8)], workers=1))
    assert arrays[0].ok and arrays[0].path == "<image 0>"
    with pytest.raises(UsageError, match="decode-threads"):
        predictor.predict_iter([], workers=-1)


def test_cli_decode_threads_and_benchmark_photos(folder, runtime_bundles, invoke):
    bundle = runtime_bundles["bundles"]["int8"]
    outs = [invoke("predict", bundle, folder, "--json", "--decode-threads", w) for w in ("0", "2")]
    assert all(o.exit_code == 0 for o in outs), outs[0].output
    assert json.loads(outs[0].stdout) == json.loads(outs[1].stdout)
    assert "skipped" in outs[1].stderr
    assert_clean_error(invoke("predict", bundle, folder, "--decode-threads", "-1"), contains="--decode-threads")
    big = folder.parent / "big.jpg"
    Image.open(sorted(folder.glob("0*.jpg"))[0]).resize((1024, 768)).save(big, quality=90)
    for flag, draft in (("--full-decode", None), (None, 2.0)):
        out = invoke("predict", bundle, big, "--json", "--top-k", "5", *([flag] if flag else []))
        want = Predictor(bundle, draft=draft).predict(big, top_k=5)
        assert [(r["label"], r["probability"]) for r in json.loads(out.stdout)["predictions"][0]["top_k"]] == \
            [(label, pytest.approx(prob)) for label, prob in want]
    res = invoke("benchmark", bundle, "--photos", folder, "--threads", "1", "--runs", "3",
                 "--warmup", "0", "--json", "--decode-threads", "1")
    assert res.exit_code == 0, res.output
    timing = json.loads(res.stdout)["images"][0]
    assert timing["images"] == len(list(folder.iterdir())) - 1 and timing["unreadable"] == 1 and timing["workers"] == 1
    assert timing["decode_median_ms"] > 0 and timing["infer_median_ms"] > 0
    assert timing["end_to_end_images_per_s"] > 0 and 0 < timing["decode_share"] < 1
    table = invoke("benchmark", bundle, "--photos", folder, "--threads", "1", "--runs", "3")
    assert table.exit_code == 0 and "decode+preprocess" in table.stdout
    assert_clean_error(invoke("benchmark", folder.parent, "--photos", folder), code=2, contains="pass a BUNDLE")
    assert_clean_error(invoke("benchmark", bundle, "--decode-threads", "1"), code=2, contains="--photos")


def test_unreadable_single_image_is_one_clean_error(runtime_bundles, invoke, tmp_path):
    bad = tmp_path / "x.jpg"
    bad.write_bytes(b"\xff\xd8 truncated")
    res = invoke("predict", runtime_bundles["bundles"]["int8"], bad)
    assert_clean_error(res, contains="not a readable image")
    assert "skipped" not in res.output
    with pytest.raises(DataError):
        load_for_model(bad, SIZE)


def _bomb_png(width: int = 20000, height: int = 20000) -> bytes:
    """A valid PNG header claiming 400 MP (over Pillow's bomb limit) in a few bytes."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) + \
        chunk(b"IEND", b"")


def test_a_decompression_bomb_is_skipped_like_any_unreadable_file(runtime_bundles, tmp_path):
    bomb, photo = tmp_path / "a_bomb.png", tmp_path / "b_photo.jpg"
    bomb.write_bytes(_bomb_png())
    photo.write_bytes(runtime_bundles["paths"][0].read_bytes())
    with pytest.raises(DataError, match="image too large"):
        load_for_model(bomb, SIZE)
    rows = list(Predictor(runtime_bundles["bundles"]["int8"]).predict_iter([bomb, photo], workers=1))
    assert "image too large" in rows[0].error and rows[1].ok
