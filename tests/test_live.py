"""`flower-edge live` on a video file made from real photos, and on watch:DIR while files land."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_clean_error, shared_path

FRAME = (160, 120)  # a small camera frame, wider than tall: the center crop matters


@pytest.fixture(scope="module")
def photos() -> list[Path]:
    root = shared_path("data", "flowers5-eval")
    return [p for name in ("daisy", "rose", "sunflower") for p in sorted((root / name).glob("*.jpg"))[:8]]


@pytest.fixture(scope="module")
def video(photos, tmp_path_factory) -> Path:
    cv2 = pytest.importorskip("cv2", reason='needs the camera extra: pip install "flower-edge[camera]"')
    from PIL import Image

    path = tmp_path_factory.mktemp("video") / "flowers.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, FRAME)
    for photo in photos:
        rgb = np.asarray(Image.open(photo).convert("RGB").resize(FRAME, Image.BILINEAR))
        writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    writer.release()
    assert path.stat().st_size > 10_000
    return path


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_live_on_a_video_of_real_photos(runtime_bundles, video, photos, invoke, tmp_path):
    from PIL import Image

    from flower_edge.runtime.predictor import Predictor

    bundle = runtime_bundles["bundles"]["int8"]
    log = tmp_path / "frames.jsonl"
    result = invoke("live", bundle, "--input", video, "--log", log, "--max-frames", 20)
    assert result.exit_code == 0, result.output
    rows = records(log)
    assert [r["frame"] for r in rows] == list(range(20))
    assert "20 frames in" in result.output and "p90" in result.output and "(--max-frames)" in result.output
    # Each frame's own top-1 and probability are exactly what `Predictor.predict` gives on
    # the same decoded frame array: the same transform as a still, no JPEG round trip.
    import cv2

    capture, frames = cv2.VideoCapture(str(video)), []
    while len(frames) < 20:
        ok, bgr = capture.read()
        assert ok
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    capture.release()
    predictor = Predictor(bundle)
    expected = [predictor.predict(f, top_k=1)[0] for f in frames]
    assert [r["raw_label"] for r in rows] == [label for label, _ in expected]
    assert [r["raw_probability"] for r in rows] == pytest.approx([p for _, p in expected], abs=1e-5)
    # and the frames are the photos: nearly always the photo's own top-1 at this size
    stills = [predictor.predict(np.asarray(Image.open(p).convert("RGB").resize(FRAME, Image.BILINEAR)),
                                top_k=1)[0][0] for p in photos[:20]]
    assert np.mean([r["raw_label"] == e for r, e in zip(rows, stills)]) >= 0.8
    assert all(r["latency_ms"] > 0 and len(r["top_k"]) == 3 for r in rows)


def test_live_changes_only_log_and_summary(runtime_bundles, video, invoke, tmp_path):
    log = tmp_path / "changes.jsonl"
    log.write_text('{"earlier": "run"}\n')  # appended to, never overwritten
    result = invoke("live", runtime_bundles["bundles"]["int8"], "--input", video, "--log", log,
                    "--changes-only", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(next(line for line in result.output.splitlines() if line.startswith("{")))
    assert summary["frames"] == 24 and summary["stopped_by"] == "end of source"
    assert sum(summary["frames_per_label"].values()) == 24
    assert summary["fps"] > 0 and summary["latency_ms"]["p90"] >= summary["latency_ms"]["p50"] > 0
    rows = records(log)
    assert rows[0] == {"earlier": "run"}
    assert len(rows) - 1 == summary["label_changes"] + 1  # the first frame, then each change
    assert all(r["changed"] for r in rows[2:])


def _write_slowly(src: Path, dest: Path) -> None:
    """Write a file in two halves with a pause, as a camera or a slow copy does."""
    data = src.read_bytes()
    with open(dest, "wb") as f:
        f.write(data[: len(data) // 2])
        f.flush()
        time.sleep(0.5)
        f.write(data[len(data) // 2:])


def test_live_watch_dir_while_files_are_copied_in_and_ctrl_c(runtime_bundles, photos, tmp_path):
    from flower_edge.runtime.predictor import Predictor

    bundle = runtime_bundles["bundles"]["int8"]
    watched = tmp_path / "incoming"
    watched.mkdir()
    shutil.copy(photos[0], watched / "old.jpg")  # there before the start: not classified
    log = tmp_path / "watch.jsonl"
    cmd = [sys.executable, "-m", "flower_edge.cli.main", "live", str(bundle), "--input", f"watch:{watched}",
           "--log", str(log)]
    # A suite started in the background inherits SIGINT ignored; the child must see Ctrl-C.
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        assert "live:" in proc.stderr.readline()
        new = photos[1::4][:5]
        for i, photo in enumerate(new):
            if i % 2:
                _write_slowly(photo, watched / f"{i}.jpg")
            else:  # rsync style: a temporary name, then a rename
                shutil.copy(photo, watched / f".{i}.jpg.part")
                (watched / f".{i}.jpg.part").rename(watched / f"{i}.jpg")
        (watched / "notes.txt").write_text("not an image")
        deadline = time.monotonic() + 30
        while (not log.exists() or len(log.read_text().splitlines()) < len(new)) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
        err = proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "Traceback" not in err and "warning" not in err, err
    assert f"{len(new)} frames in" in err and "(Ctrl-C)" in err, err
    rows = records(log)
    assert sorted(Path(r["source"]).name for r in rows) == [f"{i}.jpg" for i in range(len(new))]
    predictor = Predictor(bundle)
    for row in rows:
        photo = new[int(Path(row["source"]).stem)]
        assert row["raw_label"] == predictor.predict(photo, top_k=1)[0][0]


def test_live_source_errors_are_one_line(runtime_bundles, invoke, monkeypatch, tmp_path):
    bundle = runtime_bundles["bundles"]["int8"]
    assert_clean_error(invoke("live", bundle, "--input", "nonsense"), contains="unknown --input")
    # the spellings before `--input camera:N` and `picamera2` are refused, naming the new ones
    for old in ("0", "picamera"):
        assert_clean_error(invoke("live", bundle, "--input", old), code=2, contains="camera:N")
    assert_clean_error(invoke("live", bundle, "--input", f"watch:{tmp_path / 'no'}"), contains="no such folder")
    monkeypatch.setitem(sys.modules, "picamera2", None)
    assert_clean_error(invoke("live", bundle, "--input", "picamera2"), contains="python3-picamera2")
    monkeypatch.setitem(sys.modules, "cv2", None)
    assert_clean_error(invoke("live", bundle, "--input", "camera:0"), contains='pip install "flower-edge[camera]"')
    assert_clean_error(invoke("live", bundle, "--input", "camera:0", "--changes-only"), contains="--log")
    assert invoke("live", bundle, "--input", "camera:0", "--max-frames", 0).exit_code == 2


def test_live_duration_stops_an_idle_folder_watch(runtime_bundles, invoke, tmp_path):
    started = time.monotonic()
    result = invoke("live", runtime_bundles["bundles"]["int8"], "--input", f"watch:{tmp_path}",
                    "--duration", 0.5, "--json")
    assert result.exit_code == 0, result.output
    assert time.monotonic() - started < 10
    summary = json.loads(next(line for line in result.output.splitlines() if line.startswith("{")))
    assert summary["frames"] == 0 and summary["stopped_by"] == "--duration"
