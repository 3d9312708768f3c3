"""Where the time goes on real photos, TF-free: decode + preprocess beside inference,
and end-to-end images/s with decode threads. Used by `flower-edge benchmark
BUNDLE --photos DIR` on the device itself.

One serial pass times each image's `Predictor.preprocess` (read, scaled decode, EXIF
orientation, resize, crop) and its `invoke_one` separately; a second pass runs
`Predictor.predict_iter` with `workers` decode threads and times the whole stream.
"""

from __future__ import annotations

import dataclasses
import os
import time

import numpy as np


@dataclasses.dataclass(frozen=True)
class ImagesTiming:
    """Per-image decode and inference times (ms) and images/s, for one thread count."""

    images: int
    unreadable: int
    threads: int | None
    workers: int
    decode_median_ms: float
    decode_p90_ms: float
    infer_median_ms: float
    infer_p90_ms: float
    decode_share: float  # of decode + inference time in the serial pass
    serial_images_per_s: float
    end_to_end_images_per_s: float

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _serial_pass(predictor, paths) -> tuple[list[float], list[float], int]:
    from flower_edge.errors import DataError

    decode, infer, bad = [], [], 0
    clock = time.perf_counter
    for path in paths:
        t0 = clock()
        try:
            image = predictor.preprocess(path)
        except DataError:
            bad += 1
            continue
        t1 = clock()
        predictor.invoke_one(image)
        t2 = clock()
        decode.append(t1 - t0)
        infer.append(t2 - t1)
    return decode, infer, bad


def time_images(bundle: str | os.PathLike, paths, threads: int | None = None,
                workers: int | None = None) -> ImagesTiming:
    """Time decode + preprocess and inference per image, then the threaded stream."""
    from flower_edge.errors import DataError
    from flower_edge.runtime.files import check_workers
    from flower_edge.runtime.predictor import Predictor

    paths = list(paths)
    workers = check_workers(workers)
    predictor = Predictor(bundle, threads=threads)
    decode, infer, bad = _serial_pass(predictor, paths)
    if not decode:
        raise DataError(f"none of the {len(paths)} images could be read; pass a folder of photos")
    start = time.perf_counter()
    for _ in predictor.predict_iter(paths, top_k=1, workers=workers):
        pass
    stream_s = time.perf_counter() - start
    d, i = np.asarray(decode) * 1e3, np.asarray(infer) * 1e3
    return ImagesTiming(
        images=len(decode), unreadable=bad, threads=threads, workers=workers,
        decode_median_ms=float(np.median(d)), decode_p90_ms=float(np.percentile(d, 90)),
        infer_median_ms=float(np.median(i)), infer_p90_ms=float(np.percentile(i, 90)),
        decode_share=float(d.sum() / (d.sum() + i.sum())),
        serial_images_per_s=len(decode) / float((d.sum() + i.sum()) / 1e3),
        end_to_end_images_per_s=len(decode) / stream_s)


def images_table(rows: list[ImagesTiming]) -> str:
    """A Markdown table: which of decode and inference dominates, and the images/s."""
    head = ["threads", "images", "decode+preprocess median / p90 ms", "inference median / p90 ms",
            "decode share", "serial img/s", "workers", "end-to-end img/s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [str(r.threads or "default"), str(r.images),
                 f"{r.decode_median_ms:.2f} / {r.decode_p90_ms:.2f}",
                 f"{r.infer_median_ms:.2f} / {r.infer_p90_ms:.2f}", f"{r.decode_share:.0%}",
                 f"{r.serial_images_per_s:.1f}", str(r.workers), f"{r.end_to_end_images_per_s:.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
