"""Classify a stream of frames: preprocess from the array, infer, smooth, show, log, summarise.

Frames go straight from the camera's array through the eval transform (Pillow
resize + center crop, as for stills), with no JPEG round trip.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from collections import Counter
from typing import Callable, Iterable, TextIO

import numpy as np

from flower_edge.runtime.smoothing import Smoother, SmoothingConfig
from flower_edge.runtime.sources import Frame


def frame_input(predictor, rgb: np.ndarray) -> np.ndarray:
    """The model's HxWx3 uint8 input from an RGB frame: the same transform as a still photo."""
    from PIL import Image

    from flower_edge.runtime.transforms import DRAFT, eval_transform

    if rgb.shape == (*predictor.image_size, 3):  # already the model's input (watch: decodes to size)
        return rgb
    return eval_transform(Image.fromarray(rgb), predictor.image_size, getattr(predictor, "draft", DRAFT))


@dataclasses.dataclass(frozen=True)
class FrameResult:
    """One frame: its raw top-1, the smoothed (shown) label and top-k, and how long it took."""

    index: int
    name: str
    time: float
    latency_ms: float
    raw_label: str
    raw_probability: float
    label: str
    probability: float
    top_k: tuple[tuple[str, float], ...]
    changed: bool
    sensor_ms: float | None = None  # the IMX500's own inference time (imx500:), when it reports one

    def to_dict(self) -> dict:
        record = {"frame": self.index, "source": self.name, "time": round(self.time, 4),
                  "latency_ms": round(self.latency_ms, 3), "label": self.label,
                  "probability": round(self.probability, 5), "raw_label": self.raw_label,
                  "raw_probability": round(self.raw_probability, 5), "changed": self.changed,
                  "top_k": [{"label": k, "probability": round(p, 5)} for k, p in self.top_k]}
        if self.sensor_ms is not None:
            record["sensor_dnn_ms"] = round(self.sensor_ms, 3)
        return record


@dataclasses.dataclass
class LiveSummary:
    """What a run did: frames, wall time, per-frame latency and frames per shown label."""

    frames: int = 0
    seconds: float = 0.0
    latencies_ms: list[float] = dataclasses.field(default_factory=list)
    per_label: Counter = dataclasses.field(default_factory=Counter)
    changes: int = 0
    stopped_by: str = "end of source"
    sensor_ms: list[float] = dataclasses.field(default_factory=list)  # imx500: DNN time per frame

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q)) if self.latencies_ms else 0.0

    def to_dict(self) -> dict:
        data = {"frames": self.frames, "seconds": round(self.seconds, 3), "fps": round(self.fps, 2),
                "latency_ms": {"p50": round(self.percentile(50), 3), "p90": round(self.percentile(90), 3)},
                "frames_per_label": dict(self.per_label.most_common()), "label_changes": self.changes,
                "stopped_by": self.stopped_by}
        if self.sensor_ms:
            data["sensor_dnn_ms"] = {"p50": round(float(np.percentile(self.sensor_ms, 50)), 3),
                                     "p90": round(float(np.percentile(self.sensor_ms, 90)), 3)}
        return data

    def render(self) -> str:
        labels = ", ".join(f"{k} {v}" for k, v in self.per_label.most_common()) or "none"
        return (f"{self.frames} frames in {self.seconds:.1f} s ({self.fps:.1f} FPS), latency "
                f"p50 {self.percentile(50):.1f} ms, p90 {self.percentile(90):.1f} ms; "
                f"{self.changes} label change{'' if self.changes == 1 else 's'}; frames per label: {labels} "
                f"({self.stopped_by})"
                + (f"; sensor DNN time p50 {np.percentile(self.sensor_ms, 50):.1f} ms" if self.sensor_ms else ""))


def _prepared(predictor, frames: Iterable[Frame | None], ahead: int = 2):
    """Yield (frame, model input, resize ms) with the next frames read and resized on a
    reader thread while this one runs the interpreter: reading a camera or video and
    Pillow's resize release the GIL, so they overlap inference (benchmarks/bench_live.py).
    At most `ahead` frames wait; an error in the reader is raised here."""
    import queue
    import threading

    done, stop = object(), threading.Event()
    waiting: queue.Queue = queue.Queue(maxsize=ahead)

    def put(item) -> bool:
        while not stop.is_set():
            try:
                waiting.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for frame in frames:
                if frame is None:
                    item = (None, None, 0.0)
                elif frame.probabilities is not None:  # classified on the sensor (imx500:)
                    item = (frame, None, 0.0)
                else:
                    t0 = time.perf_counter()
                    pixels = frame_input(predictor, frame.rgb)
                    item = (frame, pixels, (time.perf_counter() - t0) * 1000.0)
                if not put(item):
                    return
            put(done)
        except BaseException as exc:  # noqa: BLE001  (handed to the loop, which raises it)
            put(exc)
        finally:  # this thread iterates the source, so it is the one to close it
            close = getattr(frames, "close", None)
            if close is not None:
                close()  # releases the camera even when stopped early

    reader = threading.Thread(target=read, name="flower-edge-live-reader", daemon=True)
    reader.start()
    try:
        while True:
            item = waiting.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()  # the reader drops what it holds and ends at its next frame
        reader.join(timeout=5.0)


def classify_frames(predictor, frames: Iterable[Frame | None], smoothing: SmoothingConfig, top_k: int = 3,
                    max_frames: int | None = None, duration: float | None = None,
                    on_result: Callable[[FrameResult], None] | None = None) -> LiveSummary:
    """Run the loop until the source ends, max_frames, duration or Ctrl-C; return the summary."""
    smoother = Smoother(smoothing)
    summary = LiveSummary()
    labels = predictor.labels
    start = time.monotonic()
    shown = None
    prepared = _prepared(predictor, frames)
    try:
        for frame, pixels, prep_ms in prepared:
            if frame is None:  # an idle source (watch:): only the clock can stop the run
                if duration is not None and time.monotonic() - start >= duration:
                    summary.stopped_by = "--duration"
                    break
                continue
            t0 = time.perf_counter()
            if frame.probabilities is not None:
                probs = frame.probabilities
            else:
                probs = predictor.probabilities(pixels[None])[0]
            latency = prep_ms + (time.perf_counter() - t0) * 1000.0  # resize + inference
            label, smoothed = smoother.update(probs, frame.time)
            raw = int(np.argmax(probs))
            changed = shown is not None and label != shown
            shown = label
            result = FrameResult(summary.frames, frame.name, time.monotonic() - start, latency, labels[raw],
                                 float(probs[raw]), labels[label], float(smoothed[label]),
                                 tuple(predictor.top_k(smoothed, top_k)), changed, frame.sensor_ms)
            summary.frames += 1
            summary.latencies_ms.append(latency)
            if frame.sensor_ms is not None:
                summary.sensor_ms.append(frame.sensor_ms)
            summary.per_label[labels[label]] += 1
            summary.changes += changed
            if on_result is not None:
                on_result(result)
            if max_frames is not None and summary.frames >= max_frames:
                summary.stopped_by = "--max-frames"
                break
            if duration is not None and time.monotonic() - start >= duration:
                summary.stopped_by = "--duration"
                break
    except KeyboardInterrupt:
        summary.stopped_by = "Ctrl-C"
    finally:
        prepared.close()  # stops the reader, which closes the source
    summary.seconds = time.monotonic() - start
    return summary


class Display:
    """A one-line status on a TTY (rewritten in place); one line per label change otherwise."""

    def __init__(self, stream: TextIO = sys.stderr, tty: bool | None = None):
        self.stream = stream
        self.tty = stream.isatty() if tty is None else tty
        self._t0 = time.monotonic()
        self._width = 0

    def __call__(self, r: FrameResult) -> None:
        if self.tty:
            fps = (r.index + 1) / max(1e-9, time.monotonic() - self._t0)
            line = (f"{r.label:<14} {r.probability:5.2f}  (frame {r.raw_label} {r.raw_probability:.2f})"
                    f"  #{r.index}  {fps:5.1f} FPS  {r.latency_ms:6.1f} ms")
            self.stream.write("\r" + line.ljust(self._width))
            self._width = len(line)
            self.stream.flush()
        elif r.changed or r.index == 0:
            self.stream.write(f"frame {r.index}: {r.label} {r.probability:.2f}\n")
            self.stream.flush()

    def close(self) -> None:
        if self.tty and self._width:
            self.stream.write("\n")
            self.stream.flush()


class JsonlLog:
    """Append one JSON record per frame (or per label change) to a file, flushed line by line."""

    def __init__(self, path, changes_only: bool = False):
        self.changes_only = changes_only
        self._file = open(path, "a", encoding="utf-8")  # append: never clobber an earlier run's log

    def __call__(self, r: FrameResult) -> None:
        if self.changes_only and not (r.changed or r.index == 0):
            return
        self._file.write(json.dumps(r.to_dict()) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()
