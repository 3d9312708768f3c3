"""Device latency for `flower-edge compare --latency FILE.json`: files written by
`flower-edge benchmark BUNDLE --json` on the Pi, matched to the compared variants by
the sha256 of their model file (the manifest's), never by name: `int8` of two runs are
different models, and a copied bundle is the same one."""

from __future__ import annotations

import json
from pathlib import Path

from flower_edge.benchmark.rows import BenchmarkRow
from flower_edge.errors import UsageError

HOST = "this machine"


def read_device_latency(path: Path) -> list[BenchmarkRow]:
    """Rows of a `flower-edge benchmark BUNDLE --json` file (one object, or a list of them)."""
    fix = "pass the output of 'flower-edge benchmark BUNDLE --json' measured on the device"
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"--latency {path} is unreadable ({type(exc).__name__}): {fix}") from None
    items = data if isinstance(data, list) else [data]
    rows = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("latency"), list):
            raise UsageError(f"--latency {path} holds no latency measurements: {fix}")
        if not item.get("model_sha256"):
            raise UsageError(f"--latency {path} has no model_sha256 to match a variant by (measured with "
                             f"an older flower-edge): re-run 'flower-edge benchmark BUNDLE --json' "
                             f"on the device with this version")
        try:
            rows.append(BenchmarkRow.from_dict(item))
        except (KeyError, TypeError, ValueError):
            raise UsageError(f"--latency {path} is malformed (a latency entry lacks threads, median_ms "
                             f"or p90_ms): {fix}") from None
    return rows


def apply_device_latency(rows: list, files: list[Path], threads: int, notes: list[str]) -> None:
    """Replace this machine's latency by the device's for every row whose model it timed."""
    by_sha: dict[str, list] = {}
    for row in rows:
        if row.kind == "tflite" and row.model_sha256:
            by_sha.setdefault(row.model_sha256, []).append(row)
    for path in files:
        for device in read_device_latency(path):
            targets = by_sha.get(device.model_sha256, [])
            stat = device.latency_at(threads)
            if not targets:
                notes.append(f"{Path(path).name}: its model ({device.variant}, sha256 "
                             f"{device.model_sha256[:12]}) is none of the compared variants; ignored")
            elif stat is None:
                timed = ", ".join(str(s.threads) for s in device.latency) or "none"
                notes.append(f"{Path(path).name} timed {device.variant} at {timed} thread(s), not "
                             f"{threads}: kept this machine's latency (use --threads to pick a count "
                             f"the device timed)")
            else:
                for row in targets:
                    row.latency_ms, row.latency_source = stat.median_ms, f"device: {Path(path).name}"
    if files:
        host = [r.label for r in rows if r.candidate and r.latency_source == HOST]
        if host:
            notes.append(f"latency of {', '.join(host)} is this machine's, not the device's (no --latency "
                         f"file measured that model): compare those with care")
