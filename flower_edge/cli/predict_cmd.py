"""`flower-edge predict`: classify images with a bundle, TF-free (the Raspberry Pi path)."""

from __future__ import annotations

import json

import click

from flower_edge.errors import DataError


@click.command("predict")
@click.argument("inputs", nargs=-1, required=True, metavar="IMAGE_OR_DIR...")
@click.option("--model", "-m", "bundle", required=True, metavar="BUNDLE",
              help="Bundle folder (manifest.json, model.tflite, labels.txt) from 'flower-edge quantize'.")
@click.option("--top-k", "-k", default=5, show_default=True, type=click.IntRange(min=1),
              help="How many classes to show per image.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (one object) instead of a table.")
@click.option("--threads", type=click.IntRange(min=1), default=None, metavar="N",
              help="Interpreter threads (default: the interpreter's choice; a Pi 4/5 has 4 cores).")
@click.option("--workers", type=click.IntRange(min=0), default=None, metavar="N",
              help="Threads decoding the next photos while the model runs (0 = none; "
                   "default: cores - 1, at most 4, so 3 on a Pi 4/5).")
@click.option("--full-decode", is_flag=True,
              help="Decode every pixel of large JPEGs (default: libjpeg decodes them at 1/2-1/8 "
                   "scale, still >= 2x the model's input; ~4x faster on 12 MP photos).")
@click.option("--tta", type=click.Choice(["none", "flip"]), default="none", show_default=True,
              help="Test-time augmentation: 'flip' averages the photo and its mirror image "
                   "(two model runs per photo).")
def predict_cmd(inputs, bundle, top_k, as_json, threads, workers, full_decode, tta) -> None:
    """Classify images (files or folders) with a TFLite bundle. Needs no TensorFlow.

    Unreadable images are reported on stderr (and under "errors" in --json)
    and skipped; the command fails only if no image could be read.

    \b
    Example:
      flower-edge predict photo.jpg --model artifacts/mnv2/export/int8
      flower-edge predict photos/ --model bundle/ --top-k 3 --json --workers 3
      flower-edge predict photos/ --model bundle/ --tta flip   # + the mirror image, 2x the time
    """
    from flower_edge.progress import progress
    from flower_edge.runtime.files import expand_inputs, predict_files
    from flower_edge.runtime.interpreter import check_threads
    from flower_edge.runtime.predictor import Predictor

    check_threads(threads)
    paths = expand_inputs(inputs)
    predictor = Predictor(bundle, threads=threads, tta=tta, **({"draft": None} if full_decode else {}))
    # One image: no decode threads (nothing to overlap); its error is the command's error.
    results = predict_files(predictor, paths, top_k, 0 if len(paths) == 1 else workers)
    if len(paths) > 20 and not as_json:
        results = progress(results, "predicting", length=len(paths))
    rows = []
    for row in results:
        if row.error and len(paths) > 1:  # a single image's error is the command's error
            click.echo(f"warning: skipped {row.error}", err=True)
        rows.append(row)
    failed = [r for r in rows if r.error]
    if len(failed) == len(rows):
        raise DataError(failed[0].error if len(rows) == 1 else
                        f"none of the {len(rows)} images could be read (first: {failed[0].error})")
    if as_json:
        click.echo(json.dumps(_json(predictor, rows), indent=2))
    else:
        click.echo(_table(rows))
    if failed:
        click.echo(f"warning: {len(failed)} of {len(rows)} images could not be read and were "
                   f"skipped", err=True)


def _json(predictor, rows) -> dict:
    bundle = predictor.bundle
    return {"bundle": str(bundle.dir), "variant": bundle.variant,
            "interpreter": predictor.interpreter_name, "threads": predictor.threads, "tta": predictor.tta,
            "predictions": [r.to_dict() for r in rows if r.ok],
            "errors": [r.to_dict() for r in rows if not r.ok]}


def _table(rows) -> str:
    ok = [r for r in rows if r.ok]
    if not ok:
        return ""
    width = max(len(r.path) for r in ok)
    lines = []
    for r in ok:
        top = "  ".join(f"{label} {prob:.3f}" for label, prob in r.top)
        lines.append(f"{r.path:<{width}}  {top}")
    return "\n".join(lines)


COMMANDS = [predict_cmd]
