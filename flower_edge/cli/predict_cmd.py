"""`flower-edge predict`: classify images with a bundle, TF-free (the Raspberry Pi path)."""

from __future__ import annotations

import json

import click

from flower_edge.cli.options import decode_threads_option, json_option, threads_option
from flower_edge.runtime.files import TTA


@click.command("predict")
@click.argument("bundle", metavar="BUNDLE")
@click.argument("inputs", nargs=-1, required=True, metavar="PHOTO_OR_DIR...")
@click.option("--top-k", "-k", default=5, show_default=True, type=click.IntRange(min=1),
              help="How many classes to show per image.")
@json_option("Print JSON (one object) instead of a table.")
@threads_option("Interpreter threads [default: the interpreter's choice; a Pi 4/5 has 4 cores].")
@decode_threads_option
@click.option("--full-decode", is_flag=True,
              help="Decode every pixel of large JPEGs (without it libjpeg decodes them at 1/2-1/8 "
                   "scale, still >= 2x the model's input; ~4x faster on 12 MP photos).")
@click.option("--tta", type=click.Choice(TTA), default="none", show_default=True,
              help="Test-time augmentation: 'flip' averages the photo and its mirror image "
                   "(two model runs per photo).")
def predict_cmd(bundle, inputs, top_k, as_json, threads, decode_threads, full_decode, tta) -> None:
    """Classify photos (files or folders) with BUNDLE. Needs no TensorFlow.

    BUNDLE is a bundle folder from 'flower-edge quantize', or a bare .tflite
    classifier carrying TFLite Model Metadata. Unreadable photos are reported on
    stderr (and under "errors" in --json) and skipped; the command fails only if
    no photo could be read.

    \b
    Example:
      flower-edge predict artifacts/mnv2/export/int8 photo.jpg
      flower-edge predict bundle/ photos/ --top-k 3 --json --decode-threads 3
      flower-edge predict bundle/ photos/ --tta flip   # + the mirror image, 2x the time
    """
    from flower_edge.runtime.classify import classify

    result = classify(bundle, inputs, top_k=top_k, threads=threads, decode_threads=decode_threads,
                      full_decode=full_decode, tta=tta, show_progress=not as_json,
                      on_skip=lambda error: click.echo(f"warning: skipped {error}", err=True))
    click.echo(json.dumps(result.to_json(), indent=2) if as_json else result.table())
    if result.failed:
        click.echo(f"warning: {len(result.failed)} of {len(result.rows)} images could not be read and "
                   f"were skipped", err=True)


COMMANDS = [predict_cmd]
