"""`flower-edge explain`: parse flags, call flower_edge.explain.run.explain."""

from __future__ import annotations

from pathlib import Path

import click

from flower_edge.explain.settings import DEFAULT_SAMPLES, DEFAULT_SEGMENTS, METHODS, LimeSettings


@click.command("explain")
@click.argument("run_dir", metavar="RUN", type=click.Path(path_type=Path))
@click.argument("images", nargs=-1, metavar="[PHOTO_OR_DIR]...", type=click.Path(path_type=Path))
@click.option("--method", type=click.Choice(METHODS), default="gradcam", show_default=True,
              help="gradcam, saliency (|d score/d input|), activation-max (gradient ascent), "
                   "occlusion or lime (LIME superpixels; both need no gradients and work on --variant).")
@click.option("--class", "class_value", metavar="INDEX|LABEL",
              help="Class index or label to explain [default: each photo's top class].")
@click.option("--out", type=click.Path(path_type=Path), metavar="DIR",
              help="Output folder [default: RUN/report/explain/METHOD].")
@click.option("--variant", metavar="NAME",
              help="Explain this exported TFLite variant of the run (e.g. int8, int8-pruned75) instead of "
                   "its Keras model; occlusion and lime only, TF-free.")
@click.option("--lime-samples", type=click.IntRange(50, 100_000), default=DEFAULT_SAMPLES, show_default=True,
              help="LIME: perturbed copies per image (one forward pass each).")
@click.option("--lime-segments", type=click.IntRange(4, 1000), default=DEFAULT_SEGMENTS, show_default=True,
              help="LIME: SLIC superpixels to ask for.")
def explain_cmd(run_dir, images, method, class_value, out, variant, lime_samples, lime_segments) -> None:
    """Explain what a run's model looks at in photos (files or folders), as PNG pictures.

    \b
    Example:
      flower-edge explain artifacts/mnv2 rose.jpg tulip.jpg --method gradcam
      flower-edge explain artifacts/mnv2 rose.jpg --method saliency --class rose
      flower-edge explain artifacts/mnv2 --method activation-max --class 3
      flower-edge explain artifacts/mnv2 rose.jpg --method occlusion --variant int8
      flower-edge explain artifacts/mnv2 rose.jpg --method lime --variant int8
    """
    from flower_edge.explain.run import explain
    from flower_edge.runtime.files import expand_inputs

    settings = LimeSettings(samples=lime_samples, segments=lime_segments)
    with _guarded(out, run_dir):
        for path in explain(run_dir, [str(p) for p in expand_inputs(images)], method, class_value, out, variant, settings):
            click.echo(path)


def _guarded(out, run_dir):
    """--out must be new, empty or an earlier explain output (files are never overwritten
    in a folder flower-edge did not make), apart from the run's data; the default lies
    inside the run."""
    import contextlib

    from flower_edge.guard import adding_to, run_data

    if out is None:
        return contextlib.nullcontext()
    return adding_to(out, "explain", "--out", data=run_data(run_dir))


COMMANDS = [explain_cmd]
