"""The int8 knobs, declared once: `Int8Options`, nested as `int8` in both `QuantizationConfig`
(one variant) and `QuantizeRecipe` (the quantize stage), and as the `[int8]` table of a recipe.

Each field has one name, one type (a `Literal` lists its choices) and one default; its
metadata holds the `flower-edge quantize` flag and help, from which the CLI generates its
options (cli/quantize_cmd.py), so a new knob is one field here. TF-free: the Pi-side CLI
imports it.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Literal, get_args

from flower_edge.errors import UsageError

IoType = Literal["uint8", "int8", "float32"]
WeightScales = Literal["max", "mse"]
ActivationRanges = Literal["mse", "minmax"]
Rounding = Literal["nearest", "gptq"]


def _knob(default, flag: str, help: str):
    return field(default=default, metadata={"flag": flag, "help": help})


@dataclass(frozen=True)
class Int8Options:
    """How a model is quantized to int8. Kinds other than int8 ignore these (dynamic reads
    `dense_per_tensor`)."""

    # uint8 input: camera pixels go straight in (scale 1, zero point 0 on 0..255).
    io: IoType = _knob("uint8", "--io", "int8 input type (uint8: camera pixels go straight in).")
    # float32 output: probabilities ready to use. The softmax itself still runs in int8 (a
    # DEQUANTIZE follows it), so its 1/256 resolution remains; measured: same top-1 as uint8.
    output_type: IoType = _knob("float32", "--output-type",
                                "int8 output type (float32: ready-to-use probabilities).")
    calib_samples: int = _knob(300, "--calib-samples",
                               "Training images to calibrate int8 on, stratified by class.")
    per_channel: bool = _knob(True, "--per-channel/--per-tensor", "int8 weight scales per channel or per tensor.")
    # Pre-compensate the mean shift of int8 weight rounding (quantize/int8/bias_correction.py).
    bias_correction: bool = _knob(True, "--bias-correction/--no-bias-correction",
                                  "int8: correct the mean shift of weight rounding (off: variant named '-nobc').")
    # 'max' = the converter's max|w|/127; 'mse' = least rounding error: exact on weights that
    # sit on a coarser grid, but the output error was mixed (docs/int8-fidelity.md), so opt-in.
    weight_scales: WeightScales = _knob(
        "max", "--weight-scales", "int8 weight scale per channel: the converter's max|w|/127, or least "
        "rounding error (exact for weights from an 8-bit model).")
    # Least squared error ranges ('minmax' = the converter's): lower KL to float on both models
    # measured (quantize/int8/refine.py).
    activation_ranges: ActivationRanges = _knob(
        "mse", "--activation-ranges", "int8 activation ranges: least squared error, or the converter's min/max.")
    # Match each layer's per-channel output mean to float's on calibration images, layer by
    # layer, in the int8 file itself (quantize/int8/mean_correction.py); --imx500 does the same
    # on MCT's model (imx500/venv_convert.py).
    mean_correction: bool = _knob(True, "--mean-correction/--no-mean-correction",
                                  "int8 and --imx500: match each layer's output mean to float "
                                  "(off: int8's variant named '-nomc').")
    # 'gptq' learns each weight's rounding layer by layer on the calibration images
    # (quantize/int8/learned_rounding.py; measured in quantize/README.md).
    rounding: Rounding = _knob("nearest", "--rounding", "int8 weight rounding: nearest, or GPTQ learned layer "
                               "by layer on the calibration images (variant named '-gptq').")
    allow_float_fallback: bool = _knob(False, "--allow-float-fallback/--no-float-fallback",
                                       "Let ops that cannot be quantized stay float (variant named '-mixed').")
    # On: what tflite-runtime 2.14 can load (it rejects per-channel FULLY_CONNECTED, op version 12).
    dense_per_tensor: bool = _knob(True, "--dense-per-tensor/--dense-per-channel",
                                   "dynamic: Dense weights per tensor, which tflite-runtime 2.14 can load.")

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(Int8Options)
        for f in dataclasses.fields(self):
            value, choices = getattr(self, f.name), get_args(hints[f.name])
            if typing.get_origin(hints[f.name]) is Literal and value not in choices:
                raise UsageError(f"{flag_name(f)} must be one of {', '.join(choices)}, got {value!r}")
        if self.calib_samples < 1:
            raise UsageError(f"--calib-samples must be at least 1, got {self.calib_samples} "
                             f"(default {DEFAULTS.calib_samples}; more is slower, 100-500 is typical)")


def flag_name(f: dataclasses.Field) -> str:
    """The knob's CLI flag, e.g. '--per-channel' for `per_channel`."""
    return f.metadata["flag"].split("/")[0]


def knobs() -> tuple[dataclasses.Field, ...]:
    return dataclasses.fields(Int8Options)


DEFAULTS = Int8Options()
