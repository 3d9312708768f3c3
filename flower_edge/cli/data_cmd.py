"""`flower-edge data ...`: synth, fetch, inspect, review. Parses flags, calls flower_edge.data."""

import json

import click

from flower_edge.cli.options import json_option, out_option, seed_option, source_option


@click.group("data")
def data_cmd() -> None:
    """Datasets: make a synthetic set, fetch real ones, inspect a folder.

    \b
    Example:
      flower-edge data synth --out artifacts/synth --classes 5 --per-class 60 --size 128
      flower-edge data inspect artifacts/synth
      flower-edge data fetch tf_flowers --out data/flowers
    """


@data_cmd.command("synth")
@out_option("The folder to draw the dataset into (new, empty, or an earlier synthetic set).",
            default="artifacts/synth")
@click.option("--classes", default=5, show_default=True, type=click.IntRange(2, 100), help="Number of flower classes (2-100).")
@click.option("--per-class", default=60, show_default=True, type=click.IntRange(min=1), help="Images per class.")
@click.option("--size", default=128, show_default=True, type=click.IntRange(16, 1024), help="Image side in px.")
@seed_option("Same seed, byte-identical images.", default=0)
def synth_cmd(out, classes, per_class, size, seed) -> None:
    """Draw a synthetic flower dataset, one folder per class (PNG).

    \b
    Example:
      flower-edge data synth --out artifacts/synth --classes 5 --per-class 60 --size 128 --seed 0
    """
    from flower_edge.data.synthetic import write_synthetic

    out = write_synthetic(out, classes=classes, per_class=per_class, size=size, seed=seed,
                          show_progress=True)
    click.echo(f"wrote {classes} classes x {per_class} images ({size} px, seed {seed}) to {out}")


@data_cmd.command("fetch")
@click.argument("dataset", type=click.Choice(["oxford102", "tf_flowers"]))
@out_option("The folder to download into (must not exist, or be empty).", default=None)
@click.option("--base-url", default=None,
              help="Mirror to download from instead of the official host "
                   "(also FLOWER_EDGE_FETCH_URL).")
def fetch_cmd(dataset, out, base_url) -> None:
    """Download a real dataset: resumable, md5-checked, safely extracted.

    \b
    Example:
      flower-edge data fetch oxford102 --out data/oxford102
      flower-edge data fetch tf_flowers --out data/flower_photos
    """
    from flower_edge.data.fetch import fetch
    from flower_edge.errors import UsageError

    if not out:
        raise UsageError(f"pass the folder to download into: flower-edge data fetch {dataset} --out DIR")
    out = fetch(dataset, out, base_url=base_url)
    click.echo(f"{dataset} is ready in {out}; next: flower-edge data inspect {out}")


@data_cmd.command("inspect")
@click.argument("data", type=click.Path())
@source_option()
@seed_option("Split seed for folder datasets.", default=0)
@json_option("Print the report as JSON.")
def inspect_cmd(data, source, seed, as_json) -> None:
    """Show source, classes, split counts, image sizes and unreadable files.

    \b
    Example:
      flower-edge data inspect data/flower_photos
      flower-edge data inspect data/oxford102 --json > oxford.json
    """
    from flower_edge.data.inspect import inspect_data, render_text
    from flower_edge.errors import DataError

    report = inspect_data(data, source=source, seed=seed, show_progress=True)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        click.echo(render_text(report))
    if report.total and not report.readable:
        raise DataError(f"no readable image in {data}: all {report.total} files are unreadable "
                        f"(reasons above); replace them with JPEG or PNG photos")


def _add_review() -> None:
    from flower_edge.cli.review_cmd import review_cmd

    data_cmd.add_command(review_cmd)


_add_review()
COMMANDS = [data_cmd]
