"""Render a CompareReport: compare.json for machines, compare.md and compare.png for people."""

from __future__ import annotations

import io
import math
from pathlib import Path

from flower_edge.benchmark.compare import CompareReport, CompareRow
from flower_edge.io import atomic_write_bytes, atomic_write_json, atomic_write_text

DASH = "–"
STAR = "★"


def _num(value, fmt: str) -> str:
    return DASH if value is None else format(value, fmt)


def table(report: CompareReport) -> str:
    """One row per (run, variant); ★ marks the recommendation."""
    head = ["", "run", "variant", "top-1", "agreement", "size MB", "gzip MB",
            f"latency ms ({report.threads} thr)", "latency from", "frontier", "fits budget"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in report.rows:
        cells = [STAR if row.label == report.recommended else "", row.run, f"`{row.variant}`",
                 _num(row.top1, ".1%"), _num(row.agreement, ".1%"), _num(row.size_mb, ".3f"),
                 _num(row.gzip_mb, ".3f"), _num(row.latency_ms, ".2f"), row.latency_source,
                 ", ".join(row.frontier) or DASH, _fits_text(row)]
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return "\n".join(lines)


def _fits_text(row: CompareRow) -> str:
    if row.status != "ok":
        return f"failed: {row.error}"
    if row.kind == "keras":
        return "reference (not deployable)"
    return {True: "yes", False: "no", None: DASH}[row.fits]


def markdown(report: CompareReport) -> str:
    s, b = report.image_set, report.budgets
    where = f"the `{s.name}` split" if s.kind == "split" else f"`{s.name}`"
    budgets = ", ".join(([f"latency ≤ {b.ms:g} ms"] if b.ms is not None else []) +
                        ([f"{b.size_metric} size ≤ {b.mb:g} MB"] if b.mb is not None else [])) or "none"
    out = ["# Which variant to ship", "",
           f"Runs: {', '.join(f'`{Path(r).name}`' for r in report.runs)}. Accuracy (top-1) on {where}, "
           f"{s.images} images, fingerprint `{s.fingerprint[:16]}` (the same for every run). Agreement: "
           f"top-1 agreement with the run's own Keras float model. gzip MB: the model file after gzip -9, "
           f"what an over-the-air update sends. Latency: batch-1 median at {report.threads} thread(s).",
           "", f"Budgets: {budgets}.", "", f"**Recommendation:** {report.recommendation}", "",
           table(report), "",
           (f"Frontier: `latency` = no other variant is both faster and at least as accurate; `size` = "
            f"the same with the {b.size_metric} size. A variant on neither is never the one to ship."), ""]
    if report.latency_files:
        out.append("Device latency files: " + ", ".join(f"`{Path(f).name}`" for f in report.latency_files)
                   + " (matched to variants by the model's sha256).")
    out += [f"- **note:** {note}" for note in report.notes]
    out += ["", "![accuracy vs latency and size](compare.png)", ""]
    return "\n".join(out)


def pareto_png(report: CompareReport) -> bytes:
    """Accuracy vs latency and vs size; frontiers dashed, budgets shaded, the pick starred."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import PercentFormatter

    metric = report.budgets.size_metric
    rows = [r for r in report.rows if r.candidate]
    runs = list(dict.fromkeys(r.run for r in rows))
    colours = {run: plt.get_cmap("tab10")(i % 10) for i, run in enumerate(runs)}
    fig, axes = plt.subplots(1, 2, figsize=(12, 5))
    panels = ((axes[0], "latency", f"latency median, {report.threads} thread(s) (ms)",
               lambda r: r.latency_ms, report.budgets.ms),
              (axes[1], "size", f"{'gzip size' if metric == 'gzip' else 'file size'} (MB)",
               lambda r: r.size(metric), report.budgets.mb))
    for ax, name, xlabel, cost, budget in panels:
        points = [(cost(r), r.top1, r) for r in rows if cost(r) is not None]
        _draw(ax, points, name, colours, report.recommended)
        if budget is not None:
            ax.axvline(budget, color="tab:red", linestyle=":", linewidth=1.2)
            ax.axvspan(0, budget, color="tab:green", alpha=0.06)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(f"top-1 accuracy ({report.image_set.images} images)")
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.grid(alpha=0.3)
    handles = [plt.Line2D([], [], marker="o", linestyle="", color=colours[r], label=r) for r in runs]
    handles += [plt.Line2D([], [], marker="s", linestyle="", color="gray", label="device latency"),
                plt.Line2D([], [], marker="*", linestyle="", color="gold", markeredgecolor="black",
                           markersize=14, label="recommended")]
    handles.append(plt.Line2D([], [], marker="o", linestyle="--", color="gray", markerfacecolor="none",
                              markersize=11, label="Pareto frontier"))
    fig.legend(handles=handles, fontsize=8, loc="lower center", ncol=min(len(handles), 5))
    fig.suptitle("accuracy vs cost (shaded left of the dotted red line: within budget; "
                 "named: the frontier and the pick)")
    fig.tight_layout(rect=(0, 0.04 + 0.035 * math.ceil(len(handles) / 5), 1, 1))
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def _draw(ax, points, frontier_name: str, colours: dict, recommended: str | None) -> None:
    for i, (x, y, row) in enumerate(points):
        device = row.latency_source.startswith("device") and frontier_name == "latency"
        ax.scatter(x, y, color=colours[row.run], marker="s" if device else "o", zorder=3)
        if row.label == recommended:
            ax.scatter(x, y, marker="*", s=320, color="gold", edgecolors="black", zorder=4)
        # Only the candidates worth reading are named (the colour gives the run, the table the
        # rest): with every variant named, labels of neighbouring points cover each other.
        if frontier_name in row.frontier or row.label == recommended:
            ax.annotate(row.label, (x, y), textcoords="offset points", xytext=(6, 3 - 10 * (i % 2)),
                        fontsize=7)
    front = sorted((x, y) for x, y, row in points if frontier_name in row.frontier)
    if front:
        ax.scatter(*zip(*front), s=130, facecolors="none", edgecolors="gray", zorder=2)
    if len(front) > 1:
        ax.step(*zip(*front), where="post", color="gray", linestyle="--", linewidth=1)


def write_compare(folder: Path, report: CompareReport) -> None:
    """compare.json, compare.md and compare.png, each written atomically."""
    atomic_write_json(folder / "compare.json", report.to_json())
    atomic_write_text(folder / "compare.md", markdown(report))
    atomic_write_bytes(folder / "compare.png", pareto_png(report))
