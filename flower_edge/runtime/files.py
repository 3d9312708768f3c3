"""Predict many files: expand folders, decode ahead on worker threads, keep input order,
skip (and report) unreadable images."""

from __future__ import annotations

import collections
import dataclasses
import os
from pathlib import Path
from typing import Iterable, Iterator

from flower_edge.errors import DataError, UsageError

# Test-time augmentations a Predictor offers. Declared in this numpy-free module so the
# CLI reads the choices without loading numpy at start-up.
TTA = ("none", "flip")


@dataclasses.dataclass(frozen=True)
class Prediction:
    """One input's result: top-k (label, probability) pairs, or the error that skipped it."""

    path: str
    top: tuple[tuple[str, float], ...] = ()
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict:
        if self.error is not None:
            return {"path": self.path, "error": self.error}
        return {"path": self.path, "label": self.top[0][0], "probability": self.top[0][1],
                "top_k": [{"label": label, "probability": prob} for label, prob in self.top]}


def expand_inputs(inputs: Iterable[str | os.PathLike]) -> list[Path]:
    """Files as given, folders as every image inside them (recursive, sorted).

    A path that does not exist is a DataError; a folder's non-image files (by
    extension) are ignored, but a given file is always tried, whatever its name.
    """
    from flower_edge.runtime.transforms import IMAGE_EXTENSIONS

    files: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*")
                           if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
                           and not any(part.startswith(".") for part in p.relative_to(path).parts))
            if not found:
                raise DataError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) in folder {path}; "
                                f"pass image files or a folder that holds some")
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise DataError(f"no such file or folder: {path} (check the path)")
    return files


def default_workers() -> int:
    """Decode threads for this machine: one core is left to the interpreter (a 4-core Pi: 3)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        cores = os.cpu_count() or 1
    return max(1, min(cores - 1, 4))


def check_workers(workers: int | None) -> int:
    """None -> default_workers(); else a whole number >= 0 (0 = decode in the calling thread)."""
    if workers is None:
        return default_workers()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise UsageError(f"--decode-threads must be a whole number >= 0 (0 = decode in the calling "
                         f"thread), got {workers!r}")
    return workers


def _name(item, index: int) -> str:
    return os.fspath(item) if isinstance(item, (str, os.PathLike)) else f"<image {index}>"


def _scored(predictor, name: str, task, top_k: int) -> Prediction:
    """Finish one input: its decoded pixels (or DataError) -> top-k, on the interpreter's thread."""
    try:
        image = task() if callable(task) else task.result()
    except DataError as exc:
        return Prediction(name, error=str(exc))
    return Prediction(name, tuple(predictor.top_k(predictor.invoke_one(image), top_k)))


def predict_files(predictor, paths: Iterable, top_k: int = 5, workers: int | None = 0) -> Iterator[Prediction]:
    """Yield one Prediction per input, in input order; an unreadable image yields its
    error and the rest go on.

    `workers` threads decode and preprocess ahead (Pillow releases the GIL while it
    decodes and resizes) while this thread runs the interpreter. At most 2 x workers
    inputs are in flight, so any number of files streams in bounded memory. 0 decodes
    in this thread; None picks default_workers().
    """
    workers = check_workers(workers)  # here, not in a generator: a bad value fails at the call
    return _pooled(predictor, paths, top_k, workers) if workers else _inline(predictor, paths, top_k)


def _inline(predictor, paths: Iterable, top_k: int) -> Iterator[Prediction]:
    for index, item in enumerate(paths):
        yield _scored(predictor, _name(item, index), lambda item=item: predictor.preprocess(item), top_k)


def _pooled(predictor, paths: Iterable, top_k: int, workers: int) -> Iterator[Prediction]:
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(workers, thread_name_prefix="flower-edge-decode")
    pending: collections.deque = collections.deque()
    try:
        for index, item in enumerate(paths):
            pending.append((_name(item, index), pool.submit(predictor.preprocess, item)))
            if len(pending) >= 2 * workers:
                yield _scored(predictor, *pending.popleft(), top_k)
        while pending:
            yield _scored(predictor, *pending.popleft(), top_k)
    finally:  # also when the caller stops early: drop what is queued, join the threads
        pool.shutdown(wait=True, cancel_futures=True)
