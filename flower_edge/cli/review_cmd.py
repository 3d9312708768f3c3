"""`flower-edge data review`: parse flags, call flower_edge.data.review."""

from __future__ import annotations

import click

from flower_edge.cli.options import backbone_option, out_option, seed_option, source_option
from flower_edge.errors import UsageError


@click.command("review")
@click.argument("data", type=click.Path(file_okay=False), required=False)
@click.option("--run", "run", type=click.Path(file_okay=False), metavar="RUN",
              help="Embed with this run's backbone and check its train/val/test split for leakage "
                   "[default: the ImageNet base, no split].")
@click.option("--weights", metavar="imagenet|FILE",
              help="Embed with this base instead: imagenet or a notop .h5 of the backbone "
                   "(as train --weights) [default: the run's backbone, else imagenet].")
@backbone_option("Without --run: the backbone to embed with.", default="mobilenet_v2")
@click.option("--image-size", type=click.IntRange(min=1), help="Without --run: input size in px [default: the backbone's].")
@source_option()
@seed_option("Cross-validation seed.", default=0)
@out_option("Folder for review.md/.html/.csv [default: artifacts/review-<data folder>].")
@click.option("--quarantine", "quarantine_dir", type=click.Path(file_okay=False),
              help="Move the approved photos (see --approve) here, mirroring the class folders.")
@click.option("--approve", metavar="CSV|KINDS",
              help="With --quarantine: a review.csv whose action column says 'quarantine', or kinds "
                   "to approve every flagged photo of (label,leakage,cross_class_duplicate,duplicate,outlier).")
@click.option("--undo", "undo_dir", type=click.Path(file_okay=False),
              help="Move every photo of an earlier --quarantine DIR back, byte-identical.")
def review_cmd(data, run, weights, backbone, image_size, source, seed, out, quarantine_dir, approve,
               undo_dir) -> None:
    """Find likely label errors, duplicates, split leakage and non-flower photos.

    Embeds every photo, gets out-of-fold probabilities from a cross-validated linear
    probe and hands both to cleanlab. Writes review.md, review.html (thumbnails, worst
    first) and review.csv (every photo, every score). Nothing in DATA changes unless
    --quarantine moves approved photos out (undo with --undo).

    \b
    Example:
      flower-edge data review flowers/ --weights base_notop.h5
      flower-edge data review flowers/ --run artifacts/mnv2
      flower-edge data review flowers/ --quarantine flowers-quarantine --approve artifacts/review-flowers/review.csv
      flower-edge data review --undo flowers-quarantine
    """
    from flower_edge.data.review import quarantine as q

    if undo_dir:
        if data or quarantine_dir or approve:
            raise UsageError("--undo DIR restores an earlier quarantine on its own; drop the other arguments")
        restored = q.undo(undo_dir)
        click.echo(f"restored {len(restored)} photo(s) from {undo_dir} (sha256 checked)")
        return
    if not data:
        raise UsageError("pass the data folder: flower-edge data review DATA (or --undo DIR)")
    if bool(quarantine_dir) != bool(approve):
        raise UsageError("--quarantine DIR and --approve CSV|KINDS go together: review first, mark the "
                         "photos to move in review.csv's action column, then pass both")
    from flower_edge.data.review.run import ReviewOptions, review_and_quarantine

    opts = ReviewOptions(run=run, weights=weights, model=backbone, image_size=image_size or 0,
                         seed=seed, source=source)
    review_and_quarantine(data, out, opts, quarantine_dir, approve, echo=click.echo)
