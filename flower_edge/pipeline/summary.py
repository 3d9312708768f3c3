"""What `pipeline` and `demo` print at the end: the benchmark table and where the report is."""

from __future__ import annotations

import json

from flower_edge.pipeline.run import PipelineResult


def summary(result: PipelineResult) -> str:
    """The benchmark table (only when this call ran or kept the benchmark, never a stale
    one), then `report: PATH`, or `run: PATH` when the report stage did not finish."""
    from flower_edge.benchmark.render import table
    from flower_edge.report.sections import benchmark_rows

    lines = []
    bench = result.run / "report" / "benchmark.json"
    if bench.is_file() and result.status("benchmark") in ("ran", "skipped"):
        data = json.loads(bench.read_text(encoding="utf-8"))
        lines.append(table(benchmark_rows(data), data.get("threads", [])))
        lines += [f"note: {note}" for note in data.get("notes", [])]  # as `benchmark RUN` prints them
    if result.status("report") in ("ran", "skipped"):
        lines.append(f"report: {result.report}")
    else:
        lines.append(f"run: {result.run}")
    return "\n".join(lines)
