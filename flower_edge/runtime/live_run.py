"""`flower-edge live` as a library call: open the input, classify every frame with
smoothing, show, log, and return the summary. TF-free; the command only parses and prints."""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable

from flower_edge.errors import UsageError
from flower_edge.runtime.inputs import IMX500, WATCH
from flower_edge.runtime.smoothing import SmoothingConfig


@dataclasses.dataclass(frozen=True)
class LiveOptions:
    """What stops the run and what it records, beside the smoothing."""

    top_k: int = 3
    max_frames: int | None = None
    duration: float | None = None
    existing: bool = False  # watch:DIR also classifies the files already there
    threads: int | None = None
    log: str | os.PathLike | None = None  # FILE.jsonl, appended to
    changes_only: bool = False  # the log gets one record per label change

    def check(self, spec: str, bundle) -> None:
        """Contradictions, before any camera starts: one line naming the fix (exit 2)."""
        if self.changes_only and not self.log:
            raise UsageError("--changes-only applies to --log; add --log FILE.jsonl")
        if self.existing and not spec.startswith(WATCH):
            raise UsageError(f"--existing applies to --input {WATCH}DIR only")
        if spec.startswith(IMX500) and (bundle or self.threads):
            raise UsageError(f"--input {IMX500} runs the network on the camera's sensor: drop BUNDLE and "
                             f"--threads (labels come from the .rpk or the files beside it)")
        if not spec.startswith(IMX500) and not bundle:
            raise UsageError(f"missing BUNDLE: pass a bundle folder (e.g. export/int8), or --input "
                             f"{IMX500}NETWORK.rpk")


def smoothing_config(half_life: float, half_life_seconds: float | None, margin: float, hold: int,
                     off: bool = False) -> SmoothingConfig:
    """The smoothing the flags describe: off, a half-life in seconds, or in frames."""
    if off:
        return SmoothingConfig.off()
    if half_life_seconds is not None:
        return SmoothingConfig(half_life_seconds, seconds=True, margin=margin, hold=hold)
    return SmoothingConfig(half_life, margin=margin, hold=hold)


def open_input(spec: str, bundle, options: LiveOptions):
    """(predictor, frames, title) for --input SPEC: the AI Camera's own classifier, or BUNDLE."""
    from flower_edge.runtime.sources import open_source

    if spec.startswith(IMX500):
        from flower_edge.runtime.imx500 import open_sensor

        predictor, frames = open_sensor(spec)
        return predictor, frames, f"IMX500 network {spec[len(IMX500):]}"
    from flower_edge.runtime.predictor import Predictor

    predictor = Predictor(bundle, threads=options.threads)
    title = f"{predictor.bundle.variant} {predictor.bundle.manifest.get('architecture', '?')}"
    kwargs = {}
    if spec.startswith(WATCH):
        from flower_edge.runtime.transforms import load_for_model

        # the model's own decode: a camera-size JPEG decoded at the size needed, upright by EXIF
        kwargs = {"existing": options.existing,
                  "decode": lambda path: load_for_model(path, predictor.image_size, predictor.draft)}
    return predictor, open_source(spec, **kwargs), title


def run_live(spec: str, bundle: str | os.PathLike | None, smoothing: SmoothingConfig,
             options: LiveOptions = LiveOptions(), echo: Callable[[str], None] | None = None):
    """Classify --input SPEC until it ends, a limit, Ctrl-C or SIGTERM: its LiveSummary.
    `echo` gets the start line."""
    from flower_edge.runtime.live import Display, JsonlLog, classify_frames

    options.check(spec, bundle)
    # The log first: a log that cannot be opened must fail before a camera is started.
    log = JsonlLog(options.log, options.changes_only) if options.log else None
    display = Display()
    try:
        predictor, frames, title = open_input(spec, bundle, options)
        if echo is not None:
            echo(f"live: {title} on {spec} ({predictor.interpreter_name}); Ctrl-C stops")

        def on_result(result):
            display(result)
            if log is not None:
                log(result)

        with _sigterm_stops_like_ctrl_c():
            return classify_frames(predictor, frames, smoothing, top_k=options.top_k,
                                   max_frames=options.max_frames, duration=options.duration,
                                   on_result=on_result)
    finally:
        display.close()
        if log is not None:
            log.close()


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
