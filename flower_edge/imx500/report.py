"""Read what Sony's converter wrote (its memory report), and list a folder's files with sha256s."""

from __future__ import annotations

import json
from pathlib import Path

from flower_edge.io import sha256_file

CHIP_BYTES = 8 * 1024 * 1024  # the IMX500's on-chip memory (Sony: 8 MB for weights and activations)


def _norm(key: str) -> str:
    return "".join(ch for ch in str(key).lower() if ch.isalnum())


def _walk(data, prefix=""):
    """(normalized key path, value) for every leaf of a JSON document."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _walk(value, f"{prefix}/{_norm(key)}")
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _walk(value, f"{prefix}/{i}")
    else:
        yield prefix, data


def read_memory_report(folder: Path) -> dict:
    """The converter's *MemoryReport.json: whether the network fits in the chip and the
    share of on-chip memory it takes. Keys are matched loosely (spaces, case): the report
    is Sony's format, not ours; the file itself is kept in the bundle either way."""
    report = next(iter(sorted(folder.rglob("*MemoryReport*.json"))), None)
    if report is None:
        return {"report": None, "fits_in_chip": None}
    try:
        data = json.loads(report.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"report": report.name, "path": report, "fits_in_chip": None}
    leaves = dict(_walk(data))

    def find(name: str):
        return next((v for k, v in leaves.items() if k.endswith("/" + name)), None)

    used, total = _bytes(find("memoryusage")), _bytes(find("totalmemoryavailableonchip"))
    out = {"report": report.name, "path": report, "fits_in_chip": _bool(find("fitinchip")),
           "bytes_used": used, "chip_bytes": total or CHIP_BYTES,
           "model_bytes": _bytes(find("modelmemoryphysicalsize")),
           "runtime_bytes": _bytes(find("runtimememoryphysicalsize")),
           "utilization_reported": find("memoryutilization")}
    if used is not None:
        out["share_used"] = round(used / out["chip_bytes"], 4)
    return out


_UNITS = {"b": 1, "kb": 1024, "mb": 1024 ** 2, "gb": 1024 ** 3}


def _bytes(text) -> int | None:
    """'148.41KB' -> 151972 (the report's sizes: binary units, as its '8.00MB' chip is 8 MiB)."""
    if isinstance(text, (int, float)):
        return int(text)
    value = str(text or "").strip().lower().replace(" ", "")
    for unit in ("kb", "mb", "gb", "b"):
        if value.endswith(unit):
            try:
                return int(round(float(value[:-len(unit)]) * _UNITS[unit]))
            except ValueError:
                return None
    return None


def _bool(value):
    if isinstance(value, bool) or value is None:
        return value
    return str(value).strip().lower() in ("true", "yes", "1")


def bundle_files(folder: Path) -> dict:
    """{name: {sha256, bytes}} for every file in `folder` (the marker and manifest excepted)."""
    return {p.name: {"sha256": sha256_file(p), "bytes": p.stat().st_size}
            for p in sorted(folder.iterdir()) if p.is_file() and not p.name.startswith(".")}
