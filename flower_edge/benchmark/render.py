"""Render a BenchmarkReport: JSON for machines, one Markdown table and a Pareto PNG for people."""

from __future__ import annotations

import io
from pathlib import Path

from flower_edge.benchmark.rows import BenchmarkReport, BenchmarkRow
from flower_edge.io import atomic_write_bytes, atomic_write_json, atomic_write_text

DASH = "–"


def _num(value, fmt: str) -> str:
    return DASH if value is None else format(value, fmt)


def table(rows: list[BenchmarkRow], threads: list[int], drift: bool = False) -> str:
    """The one Markdown table: a row per variant, a latency column pair per thread count."""
    head = ["variant", "status", "size MB", "gzip MB", "load ms", "peak mem MB"]
    head += [f"{t} thr median / p90 ms" for t in threads]
    head += ["top-1", "top-5", "mean class acc", "agreement", "KL", *(["occlusion ρ"] if drift else []),
             "interpreter"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = [f"`{row.variant}`", row.status if row.status == "ok" else f"failed: {row.error}",
                 _num(row.size_mb, ".3f"), _num(row.gzip_mb, ".3f"), _num(row.load_ms, ".0f"), _num(row.peak_memory_mb, ".1f")]
        for t in threads:
            stat = row.latency_at(t)
            cells.append(DASH if stat is None else f"{stat.median_ms:.2f} / {stat.p90_ms:.2f}")
        cells += [_num(row.top1, ".3f"), _num(row.top5, ".3f"), _num(row.mean_class_accuracy, ".3f"),
                  _num(row.agreement, ".3f"), _num(row.kl_divergence, ".4f")]
        if drift:
            cells.append("reference" if row.kind == "keras" else _num(row.occlusion_spearman, ".3f"))
        cells.append(row.interpreter or DASH)
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return "\n".join(lines)


def markdown(report: BenchmarkReport) -> str:
    """benchmark.md: the table, then the checks as short text."""
    drift = any(r.occlusion_spearman is not None for r in report.rows)
    out = [f"# Benchmark of `{Path(report.run).name}`", "",
           (f"{images_text(report.image_set, report.images, report.split)}; latency: batch 1, median "
            f"and p90 of {report.runs} runs after {report.warmup} warmup. Agreement and KL are against "
            f"`keras`. gzip MB: the model file after gzip -9, what an over-the-air update sends."),
           "", table(report.rows, report.threads, drift), ""]
    out += [f"- **note:** {note}" for note in report.notes]
    out += [f"- Peak memory: {report.memory_method}."]
    if drift:
        out.append("- Occlusion ρ: Spearman correlation of the variant's occlusion map with the "
                   "float model's, averaged over images (1 = looks at the same places).")
    out += _deletion_lines(report) + _misclass_lines(report)
    out += ["", "![size and latency vs accuracy](pareto.png)"]
    if report.gradcam_images:
        out += ["", "Grad-CAM overlays: " + ", ".join(f"[{Path(p).stem}]({p})" for p in report.gradcam_images)]
    return "\n".join(out) + "\n"


def images_text(image_set, images: int, split: str) -> str:
    """'75 images of the `test` split' or '1500 images of `DIR` (--eval-data, fingerprint ab12…)'."""
    if image_set is None:  # a benchmark.json written before image sets were recorded
        return f"{images} images of the `{split}` split"
    get = image_set.get if isinstance(image_set, dict) else lambda key: getattr(image_set, key)
    if get("kind") == "split":
        return f"{get('images')} images of the `{get('name')}` split (fingerprint {get('fingerprint')[:12]})"
    return f"{get('images')} images of `{get('name')}` (--eval-data, fingerprint {get('fingerprint')[:12]})"


def _deletion_lines(report: BenchmarkReport) -> list[str]:
    d = report.deletion
    if d is None:
        return []
    verdict = "PASSED" if d.passed else "FAILED"
    ratio = "n/a (random blur did not lower the score)" if d.ratio is None else f"{d.ratio:.2f}×"
    return [(f"- Grad-CAM deletion test **{verdict}**: blurring the top {d.fraction:.0%} Grad-CAM pixels "
             f"drops the class score (logit) by {d.gradcam_drop:.3f} on average vs {d.random_drop:.3f} for "
             f"random regions of the same shape (ratio {ratio}; Grad-CAM wins on {d.wins:.0%} of "
             f"{d.images} images).")] + _methods_table(d)


def _methods_table(d) -> list[str]:
    """The other maps scored on the same images (LIME, occlusion), most faithful first."""
    from dataclasses import asdict

    from flower_edge.explain.tables import deletion_table

    if len(d.methods) <= 2:  # Grad-CAM and random only: the sentence above says it all
        return []
    return ["", *deletion_table(asdict(d)), ""]


def _misclass_lines(report: BenchmarkReport) -> list[str]:
    m = report.misclassification
    if m is None:
        return []
    worst = ", ".join(f"{c} {a:.0%} (n={n})" for c, a, n in m.worst_classes)
    pairs = ", ".join(f"{t} → {p} ×{n}" for t, p, n in m.confused_pairs) or "none"
    lines = [f"- Float model errors: {m.errors}. Worst classes: {worst}. Most confused: {pairs}."]
    if m.image:
        lines.append(f"- Nearest training images of misclassified ones: [{m.image}]({m.image})")
    if m.explained:
        lines.append(f"- Grad-CAM beside LIME for the predicted class of misclassified ones: "
                     f"[{m.explained}]({m.explained})")
    return lines


def pareto_png(report: BenchmarkReport) -> bytes:
    """Size vs top-1 and latency (first thread count) vs top-1, frontier drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [r for r in report.rows if r.status == "ok" and r.top1 is not None]
    threads = report.threads[0]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, label, key in ((axes[0], "file size (MB)", lambda r: r.size_mb),
                           (axes[1], f"latency median, {threads} thread(s) (ms)",
                            lambda r: getattr(r.latency_at(threads), "median_ms", None))):
        points = [(key(r), r.top1, r.variant) for r in ok if key(r) is not None]
        for i, (x, y, name) in enumerate(points):
            ax.scatter(x, y, color="tab:red" if name == "keras" else "tab:blue")
            # Alternate label heights: variants often sit on top of each other.
            ax.annotate(name, (x, y), textcoords="offset points", xytext=(4, 4 + 9 * (i % 3)), fontsize=8)
        front = frontier([(x, y) for x, y, _ in points])
        if len(front) > 1:
            ax.step(*zip(*front), where="post", color="gray", linestyle="--", linewidth=1)
        ax.set_xlabel(label)
        ax.set_ylabel(f"top-1 accuracy ({report.split})")
        ax.grid(alpha=0.3)
    fig.suptitle(f"{Path(report.run).name}: cost vs accuracy (dashed: Pareto frontier)")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()


def frontier(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Points no other point beats on both cost (lower) and accuracy (higher), by cost."""
    best, out = float("-inf"), []
    for x, y in sorted(points, key=lambda p: (p[0], -p[1])):
        if y > best:
            out.append((x, y))
            best = y
    return out


def write_report(folder: Path, report: BenchmarkReport) -> None:
    """report/benchmark.json, benchmark.md and pareto.png, each written atomically."""
    atomic_write_json(folder / "benchmark.json", report.to_json())
    atomic_write_text(folder / "benchmark.md", markdown(report))
    atomic_write_bytes(folder / "pareto.png", pareto_png(report))
