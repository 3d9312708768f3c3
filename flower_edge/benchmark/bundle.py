"""Latency-only benchmark of one bundle, TensorFlow-free: what runs on the Pi itself."""

from __future__ import annotations

import os
from pathlib import Path

from flower_edge.benchmark.rows import BenchmarkRow, LatencyStat
from flower_edge.io import gzip_size


def bench_bundle(bundle: str | os.PathLike, threads: tuple[int, ...], runs: int, warmup: int) -> BenchmarkRow:
    """Size, load time, peak memory and latency per thread count of one bundle."""
    from flower_edge.runtime.bundle import load_bundle
    from flower_edge.runtime.latency import measure_latency

    bundle = Path(bundle)
    loaded = load_bundle(bundle)  # a bundle folder, or a bare .tflite with TFLite metadata
    manifest = loaded.manifest
    row = BenchmarkRow(variant=str(manifest.get("variant", bundle.name)), kind="tflite", path=str(bundle))
    for t in threads:
        m = measure_latency(bundle, threads=t, runs=runs, warmup=warmup)
        row.latency.append(LatencyStat(t, m.median_ms, m.p90_ms))
        row.load_ms = m.load_s * 1000 if row.load_ms is None else row.load_ms
        row.peak_memory_mb = max(row.peak_memory_mb or 0.0, m.added_mb)
        row.interpreter = m.interpreter
    row.size_mb = loaded.model_path.stat().st_size / 1e6  # decimal MB, as quantize reports
    row.gzip_mb = gzip_size(loaded.model_path) / 1e6
    # measure_latency loaded the bundle, which checks the file against this sha256: it is
    # what `flower-edge compare --latency` matches this device measurement by.
    row.model_sha256 = manifest["files"]["model"]["sha256"]
    return row


def clients_line(bundle: str | os.PathLike) -> str:
    """Where the bundle is known to run, from its manifest (quantize/metadata.known_clients)."""
    from flower_edge.runtime.bundle import load_bundle

    manifest = load_bundle(bundle, verify=False).manifest
    clients = manifest.get("clients")
    if clients is None:
        source = manifest["preprocessing"].get("source")
        return (f"clients: flower-edge (labels and normalization from its {source})" if source else
                "clients: not recorded in this bundle; export it again with 'flower-edge quantize'")
    line = "clients: " + ", ".join(clients.get("works", []))
    refused = "; ".join(f"{name} ({why})" for name, why in clients.get("not", {}).items())
    unchecked = ", ".join(clients.get("unchecked", []))
    return line + (f"\nnot in: {refused}" if refused else "") + (f"\nunchecked: {unchecked}" if unchecked else "")


def image_paths(images: str | os.PathLike, max_images: int = 0) -> list[Path]:
    """The photos of --photos (at most max_images); checked before any slow timing starts."""
    from flower_edge.runtime.files import expand_inputs

    paths = expand_inputs([images])
    return paths[:max_images] if max_images else paths


def bench_images(bundle: str | os.PathLike, paths: list[Path], threads: tuple[int, ...],
                 workers: int | None = None) -> list:
    """Decode + preprocess vs inference per image and end-to-end images/s, per thread count."""
    from flower_edge.runtime.throughput import time_images

    return [time_images(bundle, paths, t, workers) for t in threads]


def latency_table(rows: list[BenchmarkRow], threads: tuple[int, ...]) -> str:
    """A Markdown table of the latency-only columns."""
    head = ["variant", "size MB", "gzip MB", "load ms", "peak mem MB", *[f"{t} thr median / p90 ms" for t in threads],
            "interpreter"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = [row.variant, f"{row.size_mb:.3f}", f"{row.gzip_mb:.3f}", f"{row.load_ms:.0f}", f"{row.peak_memory_mb:.1f}"]
        cells += [f"{s.median_ms:.2f} / {s.p90_ms:.2f}" for s in row.latency]
        lines.append("| " + " | ".join(cells + [row.interpreter or "–"]) + " |")
    return "\n".join(lines)
