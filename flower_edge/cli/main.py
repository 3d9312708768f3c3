"""The `flower-edge` command: parses flags and calls library functions, nothing more.

Errors: a FlowerEdgeError prints `error: <one line>` and exits with its code;
nothing prints a traceback unless FLOWER_EDGE_DEBUG=1.
"""

from __future__ import annotations

import errno
import os
import sys

import click

from flower_edge import __version__
from flower_edge.errors import FlowerEdgeError, one_line


def _fail(message: str, code: int) -> None:
    click.echo(f"error: {one_line(message)}", err=True)
    sys.exit(code)


class FlowerEdgeGroup(click.Group):
    """A click group that turns library errors into one-line messages."""

    def invoke(self, ctx):
        if os.environ.get("FLOWER_EDGE_DEBUG"):
            return super().invoke(ctx)
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":  # a bare group: its help, as click shows it
                raise
            # A bad flag value (e.g. IntRange) is one line too, exit 2, like every other error.
            where = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
            _fail(exc.format_message() + where, 2)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort, SystemExit):
            raise
        except FlowerEdgeError as exc:
            _fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            _fail("interrupted; finished work was kept (resume a training run with train --resume RUN)", 130)
        except OSError as exc:
            _fail(_os_message(exc), 1)
        except Exception as exc:  # noqa: BLE001  (the last line of defence: no traceback)
            if type(exc).__name__ == "ResourceExhaustedError":  # TF's: a full disk or memory
                _fail(_exhausted(exc), 1)
            _fail(f"unexpected {type(exc).__name__}: {exc} (rerun with FLOWER_EDGE_DEBUG=1 for the "
                  f"traceback and report it)", 1)


def _exhausted(exc: Exception) -> str:
    """TF raises ResourceExhaustedError for a full disk (not an OSError) and for memory."""
    text = str(exc)
    if "no space left" in text.lower():
        return _os_message(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), None))
    return ("out of memory (TensorFlow: resource exhausted); lower --batch-size or --image-size "
            "and rerun (resume a training run with train --resume RUN)")


def _os_message(exc: OSError) -> str:
    where = f" ({exc.filename})" if exc.filename else ""
    if exc.errno == errno.ENOSPC:
        return f"no space left on device{where}; free some space and rerun (nothing partial was kept)"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"cannot write{where}: permission denied or read-only; choose a writable --out"
    return f"{exc.strerror or exc}{where}"


@click.group(cls=FlowerEdgeGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="flower-edge")
def cli() -> None:
    """flower-edge: train a flower classifier, compress it to TFLite, run it on a Raspberry Pi.

    \b
    Example:
      flower-edge demo
      flower-edge train --data flowers/ --backbone mobilenet_v2 --out artifacts/mnv2
      flower-edge quantize artifacts/mnv2 --int8
      flower-edge benchmark artifacts/mnv2
      flower-edge predict artifacts/mnv2/export/int8 photo.jpg
    """


def _register() -> None:
    from flower_edge.cli import (
        benchmark_cmd,
        compare_cmd,
        data_cmd,
        demo_cmd,
        distill_cmd,
        explain_cmd,
        live_cmd,
        pipeline_cmd,
        predict_cmd,
        quantize_cmd,
        report_cmd,
        serve_cmd,
        train_cmd,
    )

    for module in (data_cmd, train_cmd, distill_cmd, quantize_cmd, benchmark_cmd, compare_cmd, explain_cmd,
                   predict_cmd, live_cmd, serve_cmd, pipeline_cmd, demo_cmd, report_cmd):
        for command in module.COMMANDS:
            cli.add_command(command)


_register()


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="flower-edge")


if __name__ == "__main__":
    main()
