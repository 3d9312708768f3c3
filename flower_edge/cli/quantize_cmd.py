"""`flower-edge quantize RUN_DIR`: export checked TFLite bundles (parses flags, calls the library)."""

from __future__ import annotations

import functools
import typing

import click

from flower_edge.cli.options import eval_data_option, variant_options
from flower_edge.quantize.options import Int8Options, knobs


def int8_options(func):
    """The int8 knobs as options, generated from `Int8Options` (flag, choices, help and default
    are declared there, once). The command gets them as one `int8` dict; None = not given."""
    hints = typing.get_type_hints(Int8Options)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        kwargs["int8"] = {f.name: kwargs.pop(f.name) for f in knobs()}
        return func(*args, **kwargs)

    for f in reversed(knobs()):
        flag, hint = f.metadata["flag"], hints[f.name]
        if hint is bool:
            shown = flag.split("/")[0 if f.default else 1]
            kind = {}
        else:
            shown = f.default
            kind = {"type": click.Choice(typing.get_args(hint)) if typing.get_origin(hint) is typing.Literal
                    else hint}
        wrapper = click.option(flag, f.name, default=None, help=f"{f.metadata['help']} [default: {shown}]",
                               **kind)(wrapper)
    return wrapper


@click.command("quantize")
@click.argument("run_dir", metavar="RUN", type=click.Path(file_okay=False, path_type=str))
@variant_options
@int8_options
@click.option("--calib-data", type=click.Path(), default=None,
              help="Dataset folder, if it moved since training (re-roots split.json).")
@click.option("--int16x8", "int16x8", is_flag=True, default=None,
              help="Also export int16x8: int16 activations, int8 weights, float I/O (closest to float).")
@click.option("--qat-epochs", type=click.IntRange(min=0), default=None,
              help="Also export int8-qat: quantization-aware fine-tuning for N epochs.")
@click.option("--prune", "prune", multiple=True, metavar="SPARSITY[,...]",
              help="Also export pruned variants (tfmot, fine-tuned): 0.75 or 75% zeros per conv/dense "
                   "kernel -> int8-pruned75 (+ fp32-pruned75, stored sparse). Repeatable.")
@click.option("--cluster", "cluster", multiple=True, metavar="N[,...]",
              help="Also export clustered variants (tfmot, fine-tuned): N shared values per kernel "
                   "-> int8-clustered16. Repeatable.")
@click.option("--debug", is_flag=True, default=None,
              help="Run the quantization debugger; per-layer report in export/debug/.")
@click.option("--keep-float", default=None, metavar="LAYER,...|auto:K",
              help="Also export int8 with these layers (or the K worst) kept in float.")
@click.option("--imx500", "imx500", is_flag=True,
              help="Export for the Raspberry Pi AI Camera (Sony IMX500): export/imx500/packerOut.zip "
                   "(MobileNetV2 widths, baseline_cnn; builds its converter venv on first use).")
@click.option("--imx500-gptq", type=click.IntRange(min=1), default=None, metavar="EPOCHS",
              help="With --imx500: MCT's GPTQ (learned rounding) for EPOCHS, not plain PTQ.")
@eval_data_option("With --imx500: measure top-1 and agreement with float on these labelled photos "
                  "(one folder per class), with the quantized model as MCT simulates it.")
@click.option("--config", "recipe_path", type=click.Path(), default=None,
              help="A quantize recipe (.toml, see quantize/ in the repo); flags override it.")
def quantize_cmd(run_dir, variants, int8, calib_data, int16x8, qat_epochs, prune, cluster, debug, keep_float,
                 recipe_path, imx500=False, imx500_gptq=None, eval_data=None) -> None:
    """Convert a training run to TFLite bundles and check each against the Keras model.

    Writes RUN_DIR/export/<variant>/{model.tflite,labels.txt,manifest.json} and
    prints size, ratio to fp32 and top-1 agreement with Keras per variant.

    \b
    Example:
      flower-edge quantize artifacts/mnv2                 # fp32, fp16, dynamic, int8
      flower-edge quantize artifacts/mnv2 --int8 --calib-samples 500
      flower-edge quantize artifacts/mnv2 --int8 --debug --keep-float auto:3
      flower-edge quantize artifacts/mnv2 --int8 --qat-epochs 2
      flower-edge quantize artifacts/mnv2 --int8 --int16x8       # + int16 activations
      flower-edge quantize artifacts/mnv2 --prune 0.75 --cluster 16   # int8-pruned75, ...
      flower-edge quantize artifacts/mnv2 --imx500        # Raspberry Pi AI Camera only
    """
    from flower_edge.config import load_recipe_file, merge_tables
    from flower_edge.quantize.export import quantize_run
    from flower_edge.quantize.recipe import QuantizeRecipe

    recipe = load_recipe_file(QuantizeRecipe, recipe_path)
    chosen = list(variants)  # none chosen: the recipe's (all four by default)
    extras_only = not chosen and (qat_epochs or keep_float or int16x8 or prune or cluster)
    recipe = merge_tables(recipe, dict(
        variants=tuple(dict.fromkeys(chosen)) if chosen else (() if extras_only else None),
        int8=int8, int16x8=int16x8, qat_epochs=qat_epochs, debug=debug,
        prune=_numbers(prune, _sparsity, "--prune") if prune else None,
        cluster=_numbers(cluster, int, "--cluster") if cluster else None,
        keep_float=tuple(x for x in keep_float.split(",") if x.strip()) if keep_float else None))
    if (imx500_gptq or eval_data) and not imx500:
        raise click.UsageError("--imx500-gptq and --eval-data apply to --imx500; add --imx500")
    if imx500:
        _imx500(run_dir, int8, calib_data, imx500_gptq, eval_data)
        if not (chosen or extras_only or recipe_path):
            return
    result = quantize_run(run_dir, recipe, calib_data=calib_data)
    click.echo(result.table())
    if recipe.int8.io == "int8":
        from flower_edge.quantize.metadata import IO_INT8_NOTE

        click.echo(f"note: {IO_INT8_NOTE}")
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    if result.debug_report:
        click.echo(f"quantization debugger report: {result.debug_report}")
    click.echo(f"converter log: {result.log}", err=True)


def _imx500(run_dir, int8: dict, calib_data, gptq, eval_dir) -> None:
    """The AI Camera export (flower_edge/imx500), in its own pinned venv."""
    from dataclasses import replace

    from flower_edge.imx500.export import Imx500Options, export_imx500

    options = replace(Imx500Options(), **{k: v for k, v in (
        ("calib_samples", int8["calib_samples"]), ("gptq_epochs", gptq),
        ("weights_bias_correction", int8["bias_correction"]),
        ("mean_correction", int8["mean_correction"])) if v is not None})
    result = export_imx500(run_dir, options, calib_data=calib_data,
                           eval_dir=str(eval_dir) if eval_dir else None,
                           echo=lambda text: click.echo(text, err=True))
    click.echo(result.summary())


def _sparsity(text: str) -> float:
    """'0.75' or '75%' -> 0.75."""
    return float(text[:-1]) / 100 if text.endswith("%") else float(text)


def _numbers(values: tuple[str, ...], parse, flag: str) -> tuple:
    """Repeated and comma-separated values of one flag, parsed; a bad one is a usage error."""
    items = [v.strip() for value in values for v in value.split(",") if v.strip()]
    try:
        return tuple(dict.fromkeys(parse(v) for v in items))
    except ValueError:
        raise click.BadParameter(f"{', '.join(items)} (e.g. {flag} 0.5,0.75 or {flag} 16)",
                                 param_hint=flag) from None


COMMANDS = [quantize_cmd]
