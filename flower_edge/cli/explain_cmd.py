"""`flower-edge explain`: parse flags, call flower_edge.explain.run.explain."""

from __future__ import annotations

from pathlib import Path

import click

METHODS = ("gradcam", "saliency", "activation-max", "occlusion")


@click.command("explain")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.argument("images", nargs=-1, type=click.Path(path_type=Path))
@click.option("--method", type=click.Choice(METHODS), default="gradcam", show_default=True,
              help="gradcam, saliency (|d score/d input|), activation-max (gradient ascent) or "
                   "occlusion (no gradients; works on --bundle).")
@click.option("--class", "class_value", help="Class index or label to explain [each image's top class].")
@click.option("--out", type=click.Path(path_type=Path), help="Output folder [RUN_DIR/report/explain/METHOD].")
@click.option("--bundle", help="Explain a TFLite variant of the run (e.g. int8) or a bundle folder; "
                               "occlusion only.")
def explain_cmd(run_dir, images, method, class_value, out, bundle) -> None:
    """Explain what a run's model looks at in IMAGE(s), as PNG pictures.

    \b
    Example:
      flower-edge explain artifacts/mnv2 rose.jpg tulip.jpg --method gradcam
      flower-edge explain artifacts/mnv2 rose.jpg --method saliency --class rose
      flower-edge explain artifacts/mnv2 --method activation-max --class 3
      flower-edge explain artifacts/mnv2 rose.jpg --method occlusion --bundle int8
    """
    from flower_edge.explain.run import explain

    for path in explain(run_dir, [str(p) for p in images], method, class_value, out, bundle):
        click.echo(path)


COMMANDS = [explain_cmd]
