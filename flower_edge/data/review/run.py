"""`data review` end to end: list, embed, find, write the reports; quarantine on request."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from flower_edge.data.review.findings import Review
from flower_edge.errors import UsageError


@dataclass(frozen=True)
class ReviewOptions:
    run: str | None = None  # embed with this run's backbone; its split is checked for leakage
    weights: str | None = None  # a base to embed with (imagenet, a .h5); None = the run's, else imagenet
    model: str = "mobilenet_v2"
    image_size: int = 0  # 0 = the model's default size
    seed: int = 0  # cross-validation folds
    source: str | None = None


def default_out(data: str) -> Path:
    from flower_edge.rundir import DEFAULT_ROOT

    return DEFAULT_ROOT / f"review-{Path(data).resolve().name}"


def review_data(data: str, out: str | None, opts: ReviewOptions) -> tuple[Review, Path]:
    """Review DATA and write OUT/review.{md,html,csv} (OUT never inside DATA)."""
    from flower_edge import guard
    from flower_edge.data.review import embed, findings, render
    from flower_edge.data.review.photos import list_photos

    findings.require_extra()
    target = Path(out) if out else default_out(data)
    guard.check_apart(target, [data], "review folder")
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    photos = list_photos(data, opts.run, opts.source)
    model, size, what = embed.backbone(opts.run, opts.weights, opts.model, opts.image_size)
    features = embed.embed(model, size, photos.paths)
    seconds["embed"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    review = findings.find(photos, features, what, opts.seed)
    seconds["find"] = time.perf_counter() - t1
    review.seconds, review.run = seconds, opts.run or ""
    with guard.output_dir(target, "review", "review folder", data=[data]) as work:
        render.write_all(review, Path(work))
    print(f"reviewed {len(review.rows)} photos in {sum(seconds.values()):.1f}s (embedding "
          f"{seconds['embed']:.1f}s, probe + cleanlab {seconds['find']:.1f}s)", file=sys.stderr)
    return review, target


def review_and_quarantine(data: str, out: str | None, opts: ReviewOptions,
                          quarantine_dir: str | None = None, approve: str | None = None,
                          echo: Callable[[str], None] = print) -> None:
    """`data review`: review DATA (unless --approve is a review.csv, which already says what
    to move), then move the approved photos to `quarantine_dir`; each outcome goes to `echo`."""
    from flower_edge.data.review import quarantine as q

    if quarantine_dir:
        q.check_target(data, quarantine_dir)  # before minutes of embedding, not after
    review = None
    if not (approve and approve.endswith(".csv")):
        review, where = review_data(data, out, opts)
        echo(f"review written to {where}/review.md (and review.html, review.csv)")
        for name, count in review.counts().items():
            echo(f"  {name}: {count}")
    if quarantine_dir:
        moved = q.quarantine(data, quarantine_dir, approved(review, approve or "", data))
        echo(f"moved {len(moved)} photo(s) to {quarantine_dir}; undo: "
             f"flower-edge data review --undo {quarantine_dir}")


def approved(review: Review | None, approve: str, data: str) -> list[tuple[str, str, str]]:
    """The photos --approve names: rows marked in a review.csv, or every photo flagged with
    the given kinds (comma-separated) in `review`."""
    from flower_edge.data.review.findings import KINDS
    from flower_edge.data.review.quarantine import approved_from_csv

    if approve.endswith(".csv") or Path(approve).is_file():
        return approved_from_csv(approve, data)
    kinds = [k.strip() for k in approve.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        raise UsageError(f"--approve {approve}: give a review.csv or kinds from {', '.join(KINDS)}")
    assert review is not None
    return [(r.path, r.sha256, ";".join(r.kinds)) for r in review.rows if set(kinds) & set(r.kinds)]
