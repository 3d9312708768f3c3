"""Where live frames come from: a Pi camera, OpenCV (camera index, video file, stream URL),
or a folder that images land in (`watch:DIR`).

Every source yields `Frame`s holding an HxWx3 uint8 RGB array (a folder watch also
yields None while idle). Optional packages
(picamera2, OpenCV) are imported only when their source is asked for, and a missing
one is a one-line error naming what to install.
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from flower_edge.errors import DataError, FlowerEdgeError, UsageError
from flower_edge.runtime.inputs import CAMERA, IMX500, INPUT_HELP, PICAMERA, WATCH

CAMERA_INSTALL = 'pip install "flower-edge[camera]"'
PICAMERA_INSTALL = ("sudo apt install python3-picamera2, and make the venv with "
                    "'python3 -m venv --system-site-packages'")
URL_SCHEMES = ("rtsp://", "rtsps://", "http://", "https://", "udp://", "tcp://", "rtmp://")
# Names that cameras and copy tools give to files still being written.
PARTIAL_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", "~")


@dataclasses.dataclass(frozen=True)
class Frame:
    """One image to classify: RGB pixels, where it came from, and when it was taken in seconds
    (monotonic for cameras and videos, the file's mtime for watch:; only differences are used)."""

    rgb: np.ndarray
    name: str
    time: float
    # A sensor that classifies on-chip (imx500:) hands over its probabilities, and its own
    # inference time in ms; the frame's pixels are then not classified again.
    probabilities: np.ndarray | None = None
    sensor_ms: float | None = None


def open_source(spec: str, **kwargs) -> Iterator[Frame]:
    """`picamera2`, `watch:DIR`, `camera:N`, a video file or a stream URL."""
    if spec == PICAMERA:
        return picamera_frames(**kwargs)
    if spec.startswith(WATCH):
        folder = Path(spec[len(WATCH):] or ".")
        if not folder.is_dir():
            raise DataError(f"watch:{folder}: no such folder; create it or point watch: at the folder "
                            f"your camera writes to")
        return watch_frames(folder, **kwargs)
    if spec.startswith(CAMERA) and spec[len(CAMERA):].isdigit():
        return opencv_frames(int(spec[len(CAMERA):]), spec, live=True)
    if spec.lower().startswith(URL_SCHEMES):
        return opencv_frames(spec, spec, live=True)
    if Path(spec).is_file():
        return opencv_frames(spec, Path(spec).name, live=False)
    raise UsageError(f"unknown --input {spec!r}: use {INPUT_HELP}, or {IMX500}NETWORK.rpk")


def _cv2():
    try:
        import cv2
    except ImportError:
        raise FlowerEdgeError(f"camera indexes, video files and streams need OpenCV: {CAMERA_INSTALL}") \
            from None
    return cv2


def opencv_frames(target, name: str, live: bool) -> Iterator[Frame]:
    """Frames from cv2.VideoCapture; a video file ends, a camera or stream runs until stopped."""
    cv2 = _cv2()
    cap = cv2.VideoCapture(target)
    if not cap.isOpened():
        hint = "check it is connected (ls /dev/video*)" if isinstance(target, int) else \
            "check the path or URL and that OpenCV's FFmpeg can read it"
        raise DataError(f"cannot open video source {target!r}; {hint}")
    if live:
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # classify the newest frame, not a queue of stale ones
    return _read_capture(cap, cv2, name, live)


def _read_capture(cap, cv2, name: str, live: bool) -> Iterator[Frame]:
    failures = 0
    index = 0
    try:
        while True:
            ok, bgr = cap.read()
            if not ok:
                failures += 1
                if not live or failures >= 50:  # a file has ended; a camera has gone away
                    if live:
                        raise DataError(f"video source {name!r} stopped giving frames; check the "
                                        f"camera or stream")
                    return
                time.sleep(0.02)
                continue
            failures = 0
            yield Frame(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), f"{name}#{index}", time.monotonic())
            index += 1
    finally:
        cap.release()


def picamera_frames(size: tuple[int, int] = (640, 480)) -> Iterator[Frame]:
    """Frames from the Raspberry Pi camera through picamera2."""
    try:
        from picamera2 import Picamera2
    except ImportError:
        raise FlowerEdgeError(f"--input {PICAMERA} needs picamera2: {PICAMERA_INSTALL}; or use a USB "
                              f"camera with --input {CAMERA}0") from None
    camera = Picamera2()
    config = camera.create_video_configuration(main={"format": "RGB888", "size": size})
    camera.configure(config)
    camera.start()
    return _read_picamera(camera)


def _read_picamera(camera) -> Iterator[Frame]:
    index = 0
    try:
        while True:
            # picamera2's "RGB888" is B, G, R in memory; reorder to RGB.
            frame = camera.capture_array("main")[:, :, 2::-1]
            yield Frame(np.ascontiguousarray(frame), f"picamera#{index}", time.monotonic())
            index += 1
    finally:
        camera.stop()
        camera.close()


def watch_frames(folder: Path, poll: float = 0.1, settle: float = 0.3, existing: bool = False,
                 give_up: float = 10.0,
                 decode: Callable[[Path], np.ndarray] | None = None) -> Iterator[Frame | None]:
    """Each image file that appears in `folder` (not its subfolders), once, oldest first;
    None while nothing is ready (so a caller can stop on time).

    A file is read once its size and mtime have not changed for `settle` seconds, so a
    camera still writing it is not caught half-way. One that still fails to decode is
    retried until `give_up` seconds after it settled, then reported and skipped.
    `existing` also classifies the files already there at start. `decode(path)` gives
    the frame's array (default: the full RGB image); `live` passes the model's own
    decode, so a 12 MP JPEG is decoded at the size needed, upright by its EXIF tag.
    """
    # The folder is listed now, not at the first next(): a file that lands after this call is new.
    done: set[str] = set() if existing else {e.name for e in os.scandir(folder)}
    if decode is None:
        from flower_edge.runtime.transforms import load_rgb

        def decode(path):
            return np.asarray(load_rgb(path))
    return _watch(folder, done, poll, settle, give_up, decode)


def _watch(folder: Path, done: set[str], poll: float, settle: float, give_up: float,
           decode) -> Iterator[Frame | None]:
    from flower_edge.runtime.transforms import IMAGE_EXTENSIONS

    pending: dict[str, tuple[int, int, float]] = {}  # name -> (size, mtime_ns, first seen stable)
    while True:
        now = time.monotonic()
        ready = []
        for entry in sorted(os.scandir(folder), key=lambda e: (_mtime(e), e.name)):
            name = entry.name
            if name in done or name.startswith(".") or name.lower().endswith(PARTIAL_SUFFIXES):
                continue
            if not name.lower().endswith(IMAGE_EXTENSIONS) or not entry.is_file():
                continue
            try:
                stat = entry.stat()
            except OSError:  # removed or renamed since the listing (a rotating timelapse)
                continue
            key = (stat.st_size, stat.st_mtime_ns)
            seen = pending.get(name)
            if seen is None or seen[:2] != key:
                pending[name] = (*key, now)
            elif now - seen[2] >= settle and stat.st_size > 0:
                ready.append((name, seen[2]))
        if not ready:
            yield None  # idle: lets the caller check --duration while no file lands
        for name, stable_since in ready:
            try:
                rgb = decode(folder / name)
            except DataError as exc:
                if time.monotonic() - stable_since < give_up:
                    continue  # perhaps still being written in bursts: try again next poll
                done.add(name)
                pending.pop(name, None)
                raise_or_warn(exc)
                continue
            done.add(name)
            pending.pop(name, None)
            yield Frame(rgb, str(folder / name), _mtime_s(folder / name))
        time.sleep(poll)


def _mtime_s(path: Path) -> float:
    """When the photo was written: a timelapse backlog keeps its real spacing for a half-life in seconds."""
    try:
        return path.stat().st_mtime
    except OSError:
        return time.time()


def _mtime(entry) -> int:
    try:
        return entry.stat().st_mtime_ns
    except OSError:
        return 0


def raise_or_warn(exc: Exception) -> None:
    """A folder watch outlives a bad file: say so on stderr and go on."""
    import click

    click.echo(f"\nwarning: skipped {exc}", err=True)
