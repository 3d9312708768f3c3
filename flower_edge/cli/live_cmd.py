"""`flower-edge live`: classify a camera, video, stream or watched folder, with smoothing."""

from __future__ import annotations

import contextlib
import json

import click

from flower_edge.runtime.smoothing import DEFAULT_HALF_LIFE, DEFAULT_HOLD, DEFAULT_MARGIN


@click.command("live")
@click.argument("bundle", metavar="[BUNDLE]", required=False)
@click.option("--source", "-s", required=True, metavar="SOURCE",
              help="picamera, a camera index (0), a video file, an rtsp:// or http:// URL, watch:DIR "
                   "(each new image file in DIR), or imx500:NETWORK.rpk (the AI Camera classifies on "
                   "its sensor; no BUNDLE).")
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
@click.option("--max-frames", type=click.IntRange(min=1), default=None, help="Stop after N frames.")
@click.option("--duration", type=click.FloatRange(min=0, min_open=True), default=None, metavar="SECONDS",
              help="Stop after this many seconds.")
@click.option("--existing", is_flag=True, help="With watch:DIR, also classify the files already there.")
@click.option("--threads", type=click.IntRange(min=1), default=None, metavar="N",
              help="Interpreter threads (default: the interpreter's choice).")
@click.option("--json-summary", is_flag=True, help="Print the exit summary as JSON on stdout.")
def live_cmd(bundle, source, top_k, half_life, half_life_seconds, margin, hold, no_smoothing, log_path,
             changes_only, max_frames, duration, existing, threads, json_summary) -> None:
    """Classify frames live with a TFLite bundle, smoothing the label so it does not flicker.

    A TTY shows one line that updates in place; Ctrl-C stops and prints the summary
    (FPS, latency p50/p90, frames per label).

    \b
    Example:
      flower-edge live int8/ --source picamera
      flower-edge live int8/ --source 0 --log labels.jsonl --changes-only
      flower-edge live int8/ --source garden.mp4 --max-frames 300
      flower-edge live int8/ --source watch:/home/pi/timelapse --half-life-seconds 30
      flower-edge live --source imx500:rpk/network.rpk
    """
    from flower_edge.errors import UsageError
    from flower_edge.runtime.live import Display, JsonlLog, classify_frames
    from flower_edge.runtime.predictor import Predictor
    from flower_edge.runtime.smoothing import SmoothingConfig
    from flower_edge.runtime.sources import open_source

    if changes_only and not log_path:
        raise UsageError("--changes-only applies to --log; add --log FILE.jsonl")
    if existing and not source.startswith("watch:"):
        raise UsageError("--existing applies to --source watch:DIR only")
    if no_smoothing:
        smoothing = SmoothingConfig.off()
    elif half_life_seconds is not None:
        smoothing = SmoothingConfig(half_life_seconds, seconds=True, margin=margin, hold=hold)
    else:
        smoothing = SmoothingConfig(half_life, margin=margin, hold=hold)
    # The log first: a log that cannot be opened must fail before a camera is started.
    log = JsonlLog(log_path, changes_only) if log_path else None
    if source.startswith("imx500:"):
        if bundle or threads:
            raise UsageError("--source imx500: runs the network on the camera's sensor: drop BUNDLE and "
                             "--threads (labels come from the .rpk or the files beside it)")
        from flower_edge.runtime.imx500 import open_sensor

        predictor, frames = open_sensor(source)
        title = f"IMX500 network {source[len('imx500:'):]}"
    elif not bundle:
        raise UsageError("missing BUNDLE: pass a bundle folder (e.g. export/int8), or --source imx500:NETWORK.rpk")
    else:
        predictor = Predictor(bundle, threads=threads)
        title = f"{predictor.bundle.variant} {predictor.bundle.manifest.get('architecture', '?')}"
    options = {}
    if source.startswith("watch:"):
        from flower_edge.runtime.transforms import load_for_model

        # the model's own decode: a camera-size JPEG decoded at the size needed, upright by EXIF
        options = {"existing": existing,
                   "decode": lambda path: load_for_model(path, predictor.image_size, predictor.draft)}
    display = Display()
    if not source.startswith("imx500:"):
        frames = open_source(source, **options)

    def on_result(result):
        display(result)
        if log is not None:
            log(result)

    click.echo(f"live: {title} on {source} ({predictor.interpreter_name}); Ctrl-C stops", err=True)
    try:
        with _sigterm_stops_like_ctrl_c():
            summary = classify_frames(predictor, frames, smoothing, top_k=top_k, max_frames=max_frames,
                                      duration=duration, on_result=on_result)
    finally:
        display.close()
        if log is not None:
            log.close()
    if json_summary:
        click.echo(json.dumps(summary.to_dict()))
    click.echo(summary.render(), err=True)


@contextlib.contextmanager
def _sigterm_stops_like_ctrl_c():
    """systemd stops a service with SIGTERM: end like Ctrl-C, with the summary."""
    import signal
    import threading

    def stop(signum, frame):
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


COMMANDS = [live_cmd]
