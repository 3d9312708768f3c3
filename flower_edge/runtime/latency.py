"""TF-free latency of a bundle: load time, median/p90 invoke time, peak memory.

Used by `flower-edge benchmark BUNDLE` on the Pi itself. Timing covers
`set_tensor + invoke + get_tensor` on a fixed random image (preprocessing is
not timed). Memory is read from /proc/self/status on Linux:

- `peak_rss_mb`: the process's peak resident set (VmHWM) during load and runs.
  The peak counter is reset first by writing "5" to /proc/self/clear_refs, so a
  large earlier peak (e.g. TensorFlow in the same process) does not hide it.
- `added_mb`: that peak minus the resident set just before loading the bundle,
  i.e. what the model and interpreter cost.
Where /proc is missing (macOS), `resource.getrusage` ru_maxrss is used and
`memory_source` says so; then the peak cannot be reset.
"""

from __future__ import annotations

import dataclasses
import os
import time

import numpy as np


@dataclasses.dataclass(frozen=True)
class LatencyResult:
    """One latency measurement of one bundle (times in ms, memory in MB)."""

    bundle: str
    variant: str
    interpreter: str
    threads: int | None
    runs: int
    load_s: float
    median_ms: float
    p90_ms: float
    mean_ms: float
    min_ms: float
    peak_rss_mb: float
    added_mb: float
    memory_source: str

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _status_mb(field: str) -> float | None:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024.0  # kB
    except OSError:
        return None
    return None


class _PeakMemory:
    """Peak-RSS tracking: VmHWM after a reset where possible, else ru_maxrss."""

    def __init__(self) -> None:
        self.source = "VmHWM"
        try:
            with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
                fh.write("5")  # reset the peak RSS counter (Linux >= 4.0)
        except OSError:
            self.source = "VmHWM (not reset)" if _status_mb("VmHWM") is not None else "ru_maxrss"
        self.before = self._current()

    def _current(self) -> float:
        rss = _status_mb("VmRSS")
        return rss if rss is not None else self._maxrss()

    @staticmethod
    def _maxrss() -> float:
        import resource
        import sys

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0

    def peak(self) -> float:
        hwm = _status_mb("VmHWM")
        return hwm if hwm is not None else self._maxrss()


def measure_latency(bundle_path: str | os.PathLike, threads: int | None = 1, runs: int = 50,
                    warmup: int = 5, seed: int = 0, interpreter: str | None = None) -> LatencyResult:
    """Time the bundle's load (sha256 check, interpreter build, allocate), then `runs`
    batch-1 invokes after `warmup` untimed ones."""
    from flower_edge.errors import UsageError
    from flower_edge.runtime.predictor import Predictor

    if runs < 1 or warmup < 0:
        raise UsageError(f"runs must be >= 1 and warmup >= 0, got runs={runs} warmup={warmup}")
    from flower_edge.runtime.interpreter import interpreter_class

    interpreter_class(interpreter)  # import the module outside the timed load
    memory = _PeakMemory()
    start = time.perf_counter()
    predictor = Predictor(bundle_path, threads=threads, interpreter=interpreter)
    load_s = time.perf_counter() - start
    h, w = predictor.image_size
    image = np.random.default_rng(seed).integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    times = np.asarray(time_invokes(predictor, image, runs, warmup)) * 1e3
    peak = memory.peak()
    return LatencyResult(
        bundle=str(bundle_path), variant=predictor.bundle.variant,
        interpreter=predictor.interpreter_name, threads=threads, runs=runs, load_s=round(load_s, 4),
        median_ms=float(np.median(times)), p90_ms=float(np.percentile(times, 90)),
        mean_ms=float(times.mean()), min_ms=float(times.min()),
        peak_rss_mb=round(peak, 1), added_mb=round(max(0.0, peak - memory.before), 1),
        memory_source=memory.source)


def time_invokes(predictor, image: np.ndarray, runs: int, warmup: int) -> list[float]:
    """Seconds per `predictor.invoke_one(image)` call, after `warmup` untimed calls."""
    for _ in range(warmup):
        predictor.invoke_one(image)
    times = []
    clock = time.perf_counter
    for _ in range(runs):
        t0 = clock()
        predictor.invoke_one(image)
        times.append(clock() - t0)
    return times
