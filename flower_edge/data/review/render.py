"""review.csv (every photo), review.md and review.html (findings, worst first, thumbnails)."""

from __future__ import annotations

import csv
import html
import io
from pathlib import Path

from flower_edge.data.review.findings import KIND_TITLES, KINDS, PhotoFinding, Review
from flower_edge.io import atomic_write_text

SHOWN = 24  # thumbnails per kind in the reports; review.csv has every photo
THUMB = 96
CSV_FIELDS = ("path", "label", "suggested_label", "suggested_prob", "label_score", "outlier_score",
              "duplicate_score", "duplicate_of", "duplicate_kind", "split", "flags", "sha256", "action")
APPROVE = "quarantine"  # what a user writes in the action column to approve a move


def write_all(review: Review, out: Path) -> None:
    thumbs = out / "thumbs"
    thumbs.mkdir(exist_ok=True)
    shown = {r.path for kind in KINDS for r in review.flagged(kind)[:SHOWN]}
    shown |= {r.duplicate_of for r in review.rows if r.path in shown and r.duplicate_of}
    names = {path: f"{i:05d}.jpg" for i, path in enumerate(sorted(shown))}
    for path, name in names.items():
        _thumb(Path(review.data) / path, thumbs / name)
    atomic_write_text(out / "review.csv", to_csv(review))
    atomic_write_text(out / "review.md", to_markdown(review, names))
    atomic_write_text(out / "review.html", to_html(review, names))


def _thumb(src: Path, dest: Path) -> None:
    from PIL import Image, ImageOps

    with Image.open(src) as im:
        im = ImageOps.exif_transpose(im).convert("RGB")
        im.thumbnail((THUMB, THUMB))
        im.save(dest, quality=85)


def to_csv(review: Review) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for r in sorted(review.rows, key=lambda r: r.label_score):
        writer.writerow([r.path, r.label, r.suggested, f"{r.suggested_prob:.4f}", f"{r.label_score:.4f}",
                         f"{r.outlier_score:.4f}", f"{r.duplicate_score:.4f}", r.duplicate_of,
                         r.duplicate_kind, r.split, ";".join(r.kinds), r.sha256, ""])
    return buf.getvalue()


def summary_lines(review: Review) -> list[str]:
    counts = review.counts()
    total = len(review.rows)
    lines = [f"{total} photos in {len(review.classes)} classes, embedded with {review.embedder}; "
             f"out-of-fold linear-probe accuracy {review.probe_accuracy:.1%}."]
    lines += [f"- {KIND_TITLES[k]}: {counts[k]}" for k in KINDS
              if k != "leakage" or review.has_split]
    if not review.has_split and review.run:
        lines.append(f"- leakage across a split: not checked (no photo here is in the split of "
                     f"{review.run}: it was trained on another folder)")
    elif not review.has_split:
        lines.append("- leakage across a split: not checked (pass --run RUN to check the run's split)")
    per_class = ", ".join(f"{c} {n}" for c, n in review.class_counts.items())
    verdict = "imbalanced (cleanlab flags the rarest class)" if review.imbalanced else "balanced enough"
    lines.append(f"- class sizes: {per_class}: {verdict}")
    if review.unreadable:
        lines.append(f"- unreadable files (skipped): {len(review.unreadable)}")
    return lines


def _detail(r: PhotoFinding, kind: str) -> str:
    if kind == "label":
        return f"labelled {r.label}, looks like {r.suggested} ({r.suggested_prob:.0%}); score {r.label_score:.3f}"
    if kind == "outlier":
        return f"labelled {r.label}; outlier score {r.outlier_score:.3f}"
    where = f" ({r.split} vs the kept copy)" if r.split else ""
    return (f"{r.duplicate_kind} copy of {r.duplicate_of}{where}; labelled {r.label}; "
            f"score {r.duplicate_score:.3f}")


def to_markdown(review: Review, names: dict[str, str]) -> str:
    out = [f"# Data review: {Path(review.data).name}", "", *summary_lines(review), "",
           "Scores are cleanlab's, 0 to 1, lower is worse. Every photo, with every score, is in "
           "review.csv; write `quarantine` in its action column and run "
           "`flower-edge data review DATA --quarantine DIR --approve review.csv` to move those photos "
           "out (undo: `flower-edge data review --undo DIR`).", ""]
    for kind in KINDS:
        rows = review.flagged(kind)
        if not rows:
            continue
        out += [f"## {KIND_TITLES[kind]} ({len(rows)})", ""]
        for r in rows[:SHOWN]:
            pair = f" ![](thumbs/{names[r.duplicate_of]})" if r.duplicate_of in names and kind != "label" and kind != "outlier" else ""
            out.append(f"- ![](thumbs/{names[r.path]}){pair} `{r.path}`: {_detail(r, kind)}")
        if len(rows) > SHOWN:
            out.append(f"- ... and {len(rows) - SHOWN} more in review.csv")
        out.append("")
    return "\n".join(out)


def to_html(review: Review, names: dict[str, str]) -> str:
    e = html.escape
    parts = [f"<!doctype html><html><head><meta charset='utf-8'>"
             f"<meta name='viewport' content='width=device-width, initial-scale=1'><title>Data review: "
             f"{e(Path(review.data).name)}</title><style>{_CSS}</style></head><body>",
             f"<h1>Data review: {e(Path(review.data).name)}</h1><ul>"]
    parts += [f"<li>{e(line.lstrip('- '))}</li>" for line in summary_lines(review)]
    parts.append("</ul><p>Scores are cleanlab's, 0 to 1, lower is worse; worst first. "
                 "Every photo is in <a href='review.csv'>review.csv</a>.</p>")
    for kind in KINDS:
        rows = review.flagged(kind)
        if not rows:
            continue
        parts.append(f"<h2>{e(KIND_TITLES[kind])} ({len(rows)})</h2><div class='grid'>")
        for r in rows[:SHOWN]:
            imgs = f"<img src='thumbs/{names[r.path]}' alt='{e(r.path)}'>"
            if r.duplicate_of in names and kind not in ("label", "outlier"):
                imgs += f"<img src='thumbs/{names[r.duplicate_of]}' alt='{e(r.duplicate_of)}'>"
            path = e(r.path).replace("/", "/<wbr>")  # a long path breaks after its folder first
            parts.append(f"<figure>{imgs}<figcaption><b>{path}</b><br>{e(_detail(r, kind))}"
                         f"</figcaption></figure>")
        parts.append("</div>")
        if len(rows) > SHOWN:
            parts.append(f"<p>... and {len(rows) - SHOWN} more in review.csv</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


_CSS = ("body{font-family:system-ui,sans-serif;margin:1.5em;max-width:72em}"
        ".grid{display:flex;flex-wrap:wrap;gap:10px}"
        "figure{margin:0;width:15em;border:1px solid #ccc;padding:6px;border-radius:4px}"
        "figure img{width:96px;height:96px;object-fit:cover;margin-right:4px}"
        "figcaption{font-size:.8em;overflow-wrap:anywhere}")
