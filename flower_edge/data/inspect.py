"""`inspect_data`: what a dataset folder holds, as data (rendering is separate)."""

from __future__ import annotations

import os
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path

from flower_edge.data.scan import probe_image
from flower_edge.data.sources import IMAGE_EXTENSIONS, load_data
from flower_edge.data.splits import SPLIT_NAMES
from flower_edge.errors import DataError

EXAMPLES = 5  # unreadable files named in the text report; --json lists them all


@dataclass(frozen=True)
class SizeStats:
    """Image width/height statistics over the readable images, in px."""

    min_width: int
    median_width: float
    max_width: int
    min_height: int
    median_height: float
    max_height: int


@dataclass(frozen=True)
class InspectReport:
    """Detected source, classes, split counts, size stats, unreadable and ignored files."""

    source: str
    root: str
    classes: tuple[str, ...]
    counts: dict[str, int]
    per_class: dict[str, dict[str, int]]
    sizes: SizeStats | None
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def readable(self) -> int:
        return self.total - len(self.unreadable)

    def unreadable_by_reason(self) -> dict[str, int]:
        """How many files are unreadable for each reason (the path taken out), most first."""
        counts: dict[str, int] = {}
        for path, message in self.unreadable:
            reason = " ".join(message.replace(f"'{path}'", "").replace(path, "").split())
            reason = reason.replace(": (", " (").replace(" ;", ";")
            counts[reason] = counts.get(reason, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: -kv[1]))

    def to_dict(self) -> dict:
        out = asdict(self)
        out["classes"] = list(self.classes)
        out["unreadable"] = [{"path": p, "reason": r} for p, r in self.unreadable]
        out["unreadable_by_reason"] = self.unreadable_by_reason()
        out["total"] = self.total
        return out


def inspect_data(path: str | os.PathLike, source: str | None = None, seed: int = 0,
                 show_progress: bool = False) -> InspectReport:
    """Load the dataset as training would, then decode every image to find the bad ones."""
    splits = load_data(path, source=source, seed=seed)
    per_class = {c: {s: 0 for s in SPLIT_NAMES} for c in splits.classes}
    items = []
    for name in SPLIT_NAMES:
        split = splits.split(name)
        for p, y in zip(split.paths, split.labels):
            per_class[splits.classes[y]][name] += 1
            items.append(p)
    if show_progress and len(items) > 200:
        from flower_edge.progress import progress

        items = progress(items, "reading images", length=len(items))
    widths, heights, bad = [], [], []
    for p in items:
        try:
            info = probe_image(p)
            widths.append(info.width)
            heights.append(info.height)
        except DataError as exc:
            bad.append((p, str(exc)))
    sizes = None
    if widths:
        sizes = SizeStats(min(widths), statistics.median(widths), max(widths),
                          min(heights), statistics.median(heights), max(heights))
    ignored = _ignored_files(Path(splits.root), splits.classes) if splits.source != "oxford102" else []
    return InspectReport(splits.source, splits.root, splits.classes, splits.counts(), per_class,
                         sizes, bad, ignored)


def _ignored_files(root: Path, classes) -> list[str]:
    """Files inside class folders that are skipped because of their extension."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        if Path(dirpath) == root:
            continue
        out.extend(str(Path(dirpath) / f) for f in filenames
                   if not f.startswith(".") and Path(f).suffix.lower() not in IMAGE_EXTENSIONS)
    return sorted(out)


def render_text(report: InspectReport) -> str:
    """A human-readable summary (Markdown-flavoured) of an InspectReport."""
    c = report.counts
    lines = [f"source: {report.source}", f"root: {report.root}",
             f"classes: {len(report.classes)}   images: {report.total} "
             f"(train {c['train']}, val {c['val']}, test {c['test']})"]
    if report.sizes:
        s = report.sizes
        lines.append(f"image size (w x h): min {s.min_width}x{s.min_height}, median "
                     f"{s.median_width:g}x{s.median_height:g}, max {s.max_width}x{s.max_height}")
    lines += ["", "| class | images | train | val | test |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {name} | {sum(n.values())} | {n['train']} | {n['val']} | {n['test']} |"
              for name, n in report.per_class.items()]
    if report.unreadable:
        # One line per reason, not per file: a folder of 50,000 bad files is a few lines.
        lines += ["", f"unreadable: {len(report.unreadable)} (skipped by training)"]
        lines += [f"  {n} x {reason}" for reason, n in report.unreadable_by_reason().items()]
        lines += [f"  e.g. {p}" for p, _ in report.unreadable[:EXAMPLES]]
        if len(report.unreadable) > EXAMPLES:
            lines += [f"  ... and {len(report.unreadable) - EXAMPLES} more ('--json' lists every file)"]
    else:
        lines += ["", "unreadable: none"]
    if report.ignored:
        lines += [f"ignored (not an image extension): {len(report.ignored)}"]
        lines += [f"  {p}" for p in report.ignored[:EXAMPLES]]
        if len(report.ignored) > EXAMPLES:
            lines += [f"  ... and {len(report.ignored) - EXAMPLES} more ('--json' lists every file)"]
    return "\n".join(lines)
