"""`flower-edge live`: classify a camera, video, stream or watched folder, with smoothing."""

from __future__ import annotations

import json

import click

from flower_edge.cli.options import json_option, threads_option
from flower_edge.runtime.inputs import IMX500, INPUT_HELP
from flower_edge.runtime.smoothing import DEFAULT_HALF_LIFE, DEFAULT_HOLD, DEFAULT_MARGIN


@click.command("live")
@click.argument("bundle", metavar="[BUNDLE]", required=False)
@click.option("--input", "spec", required=True, metavar="INPUT",
              help=f"{INPUT_HELP}, or {IMX500}NETWORK.rpk (the AI Camera classifies on its sensor; no BUNDLE).")
@click.option("--top-k", "-k", default=3, show_default=True, type=click.IntRange(min=1),
              help="Classes per record in --log.")
@click.option("--half-life", type=click.FloatRange(min=0), default=DEFAULT_HALF_LIFE, show_default=True,
              help="EMA half-life of the probabilities, in frames (0: no averaging).")
@click.option("--half-life-seconds", type=click.FloatRange(min=0), default=None, metavar="S",
              help="The half-life in seconds instead of frames (for slow or irregular frames, e.g. watch:).")
@click.option("--margin", type=click.FloatRange(min=0, max=1, max_open=True), default=DEFAULT_MARGIN,
              show_default=True, help="Lead (smoothed probability) a new label needs over the shown one.")
@click.option("--hold", type=click.IntRange(min=1), default=DEFAULT_HOLD, show_default=True,
              help="Frames in a row that lead must last before the shown label changes.")
@click.option("--no-smoothing", is_flag=True, help="Show each frame's own top-1 (raw).")
@click.option("--log", "log_path", type=click.Path(dir_okay=False, writable=True), default=None,
              metavar="FILE.jsonl", help="Append one JSON record per frame to this file.")
@click.option("--changes-only", is_flag=True, help="With --log: one record per label change only.")
@click.option("--max-frames", type=click.IntRange(min=1), default=None, metavar="N",
              help="Stop after N frames [default: no limit].")
@click.option("--duration", type=click.FloatRange(min=0, min_open=True), default=None, metavar="SECONDS",
              help="Stop after this many seconds [default: no limit].")
@click.option("--existing", is_flag=True, help="With watch:DIR, also classify the files already there.")
@threads_option("Interpreter threads [default: the interpreter's choice].")
@json_option("Print the exit summary as JSON on stdout.")
def live_cmd(bundle, spec, top_k, half_life, half_life_seconds, margin, hold, no_smoothing, log_path,
             changes_only, max_frames, duration, existing, threads, as_json) -> None:
    """Classify frames live with BUNDLE, smoothing the label so it does not flicker.

    BUNDLE is a bundle folder, or a bare .tflite classifier carrying TFLite Model
    Metadata. A TTY shows one line that updates in place; Ctrl-C stops and prints
    the summary (FPS, latency p50/p90, frames per label).

    \b
    Example:
      flower-edge live int8/ --input picamera2
      flower-edge live int8/ --input camera:0 --log labels.jsonl --changes-only
      flower-edge live int8/ --input garden.mp4 --max-frames 300
      flower-edge live int8/ --input watch:/home/pi/timelapse --half-life-seconds 30
      flower-edge live --input imx500:rpk/network.rpk
    """
    from flower_edge.runtime.live_run import LiveOptions, run_live, smoothing_config

    smoothing = smoothing_config(half_life, half_life_seconds, margin, hold, off=no_smoothing)
    options = LiveOptions(top_k=top_k, max_frames=max_frames, duration=duration, existing=existing,
                          threads=threads, log=log_path, changes_only=changes_only)
    summary = run_live(spec, bundle, smoothing, options, echo=lambda line: click.echo(line, err=True))
    if as_json:
        click.echo(json.dumps(summary.to_dict()))
    click.echo(summary.render(), err=True)


COMMANDS = [live_cmd]
