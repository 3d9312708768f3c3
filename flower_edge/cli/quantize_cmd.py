"""`flower-edge quantize RUN_DIR`: export checked TFLite bundles (parses flags, calls the library)."""

from __future__ import annotations

import click

VARIANT_FLAGS = ("fp32", "fp16", "dynamic", "int8")


@click.command("quantize")
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=str))
@click.option("--fp32", "fp32", is_flag=True, help="Export the float32 TFLite model.")
@click.option("--fp16", "fp16", is_flag=True, help="Export float16 weights (half the size).")
@click.option("--dynamic", "dynamic", is_flag=True, help="Export dynamic-range int8 weights.")
@click.option("--int8", "int8", is_flag=True, help="Export a full-integer int8 model (calibrated).")
@click.option("--all", "all_", is_flag=True, help="fp32, fp16, dynamic and int8 (the default).")
@click.option("--variant", "variants", multiple=True, metavar="NAME",
              help="A variant by name (repeatable): fp32, fp16, dynamic, int8.")
@click.option("--io", type=click.Choice(["uint8", "int8", "float32"]), default=None,
              help="int8 input type [default: uint8, camera pixels go straight in].")
@click.option("--output", "output_type", type=click.Choice(["float32", "uint8", "int8"]), default=None,
              help="int8 output type [default: float32, ready-to-use probabilities].")
@click.option("--calib-samples", type=click.IntRange(min=1), default=None,
              help="Training images to calibrate int8 on, stratified by class [default: 300].")
@click.option("--calib-data", type=click.Path(), default=None,
              help="Dataset folder, if it moved since training (re-roots split.json).")
@click.option("--per-tensor", is_flag=True, default=None, help="int8 weights per tensor, not per channel.")
@click.option("--int16x8", "int16x8", is_flag=True, default=None,
              help="Also export int16x8: int16 activations, int8 weights, float I/O (closest to float).")
@click.option("--no-bias-correction", is_flag=True, default=None,
              help="int8: skip the weight-rounding bias correction (variant named '-nobc').")
@click.option("--weight-scales", type=click.Choice(["max", "mse"]), default=None,
              help="int8 weight scale per channel: the converter's max|w|/127, or least rounding error "
                   "(exact for weights from an 8-bit model) [default: max].")
@click.option("--activation-ranges", type=click.Choice(["mse", "minmax"]), default=None,
              help="int8 activation ranges: least squared error, or the converter's min/max [default: mse].")
@click.option("--rounding", type=click.Choice(["nearest", "gptq"]), default=None,
              help="int8 weight rounding: nearest, or GPTQ learned layer by layer on the calibration "
                   "images (variant named '-gptq') [default: nearest].")
@click.option("--no-mean-correction", is_flag=True, default=None,
              help="int8: skip matching each layer's output mean to float (variant named '-nomc').")
@click.option("--allow-float-fallback", is_flag=True, default=None,
              help="Let ops that cannot be quantized stay float (variant named '-mixed').")
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
@click.option("--imx500-eval", type=click.Path(file_okay=False, exists=True), default=None, metavar="DIR",
              help="With --imx500: measure top-1 and agreement with float on labelled photos "
                   "(one folder per class), with the quantized model as MCT simulates it.")
@click.option("--config", "recipe_path", type=click.Path(), default=None,
              help="A quantize recipe (.toml, see quantize/ in the repo); flags override it.")
def quantize_cmd(run_dir, fp32, fp16, dynamic, int8, all_, variants, io, output_type, calib_samples,
                 calib_data, per_tensor, int16x8, no_bias_correction, weight_scales, activation_ranges,
                 no_mean_correction, allow_float_fallback, qat_epochs, prune, cluster, debug, keep_float,
                 recipe_path, rounding=None, imx500=False, imx500_gptq=None, imx500_eval=None) -> None:
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
    from flower_edge.config import from_mapping, load_toml, override
    from flower_edge.quantize.export import quantize_run
    from flower_edge.quantize.recipe import QuantizeRecipe

    recipe = from_mapping(QuantizeRecipe, load_toml(recipe_path)) if recipe_path else QuantizeRecipe()
    chosen = [name for name, on in zip(VARIANT_FLAGS, (fp32, fp16, dynamic, int8)) if on] + list(variants)
    if all_:
        chosen = list(VARIANT_FLAGS)
    extras_only = not chosen and (qat_epochs or keep_float or int16x8 or prune or cluster)
    recipe = override(
        recipe,
        variants=tuple(dict.fromkeys(chosen)) if chosen else (() if extras_only else None),
        io=io, output=output_type, calib_samples=calib_samples,
        per_channel=False if per_tensor else None,
        bias_correction=False if no_bias_correction else None, int16x8=int16x8,
        weight_scales=weight_scales, activation_ranges=activation_ranges,
        mean_correction=False if no_mean_correction else None, rounding=rounding,
        allow_float_fallback=allow_float_fallback,
        qat_epochs=qat_epochs, debug=debug,
        prune=_numbers(prune, _sparsity, "--prune") if prune else None,
        cluster=_numbers(cluster, int, "--cluster") if cluster else None,
        keep_float=tuple(x for x in keep_float.split(",") if x.strip()) if keep_float else None)
    if (imx500_gptq or imx500_eval) and not imx500:
        raise click.UsageError("--imx500-gptq and --imx500-eval apply to --imx500; add --imx500")
    if imx500:
        _imx500(run_dir, calib_samples, calib_data, no_bias_correction, imx500_gptq, imx500_eval)
        if not (chosen or extras_only or recipe_path):
            return
    result = quantize_run(run_dir, recipe, calib_data=calib_data)
    click.echo(result.table())
    if recipe.io == "int8":
        from flower_edge.quantize.metadata import IO_INT8_NOTE

        click.echo(f"note: {IO_INT8_NOTE}")
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    if result.debug_report:
        click.echo(f"quantization debugger report: {result.debug_report}")
    click.echo(f"converter log: {result.log}", err=True)


def _imx500(run_dir, calib_samples, calib_data, no_bias_correction, gptq, eval_dir) -> None:
    """The AI Camera export (flower_edge/imx500), in its own pinned venv."""
    from dataclasses import replace

    from flower_edge.imx500.export import Imx500Options, export_imx500

    options = replace(Imx500Options(), **{k: v for k, v in (
        ("calib_samples", calib_samples), ("gptq_epochs", gptq),
        ("weights_bias_correction", False if no_bias_correction else None)) if v is not None})
    result = export_imx500(run_dir, options, calib_data=calib_data, eval_dir=eval_dir,
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
