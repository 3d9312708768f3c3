"""The int8 steps as code: one `Int8Job` goes through each step function in order.

Every step has the same signature, `step(job) -> None`, and decides from `job.config`
whether it applies, so the order in `KERAS_STEPS + FLATBUFFER_STEPS` is the order that
runs (`quantize/int8/__init__.py` lists it; `export` and `convert` call the runners).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from flower_edge.quantize.config import QuantizationConfig


@dataclass
class Int8Job:
    """What the steps read and write. `images`: calibration images as the float model takes them."""

    config: QuantizationConfig
    images: list
    report: dict = field(default_factory=dict)
    model: object = None            # Keras model (steps before conversion)
    converter: object = None        # the TFLiteConverter with config applied
    float_reference: Callable[[], bytes] | None = None  # the original model as float TFLite
    calibrated: bytes | None = None  # float flatbuffer with each tensor's min/max
    quantized: bytes | None = None   # the int8 flatbuffer


def correct_bias(job: Int8Job) -> None:
    """Float copy whose biases pre-compensate the mean shift of int8 weight rounding."""
    from flower_edge.quantize.int8.bias_correction import correct_weight_bias

    if not job.config.int8.bias_correction:
        return
    job.model, report = correct_weight_bias(job.model, np.asarray(job.images), per_channel=job.config.int8.per_channel,
                                            weight_scales=job.config.rounding_rule)
    job.report["bias_correction"] = report.to_dict()


def calibrate(job: Int8Job) -> None:
    """The converter's calibration alone: min/max of every tensor on the images."""
    from flower_edge.quantize.int8.refine import calibrated_model

    job.calibrated = calibrated_model(job.converter)


def tune_ranges(job: Int8Job) -> None:
    """MSE activation ranges instead of min/max (default)."""
    from flower_edge.quantize.int8.refine import tune_activation_ranges

    if job.config.int8.activation_ranges == "mse":
        job.calibrated, job.report["activation_ranges"] = tune_activation_ranges(job.calibrated, job.images)


def quantize(job: Int8Job) -> None:
    """The converter's own MLIR quantizer on the calibrated model (nearest weight rounding)."""
    from flower_edge.quantize.int8.refine import quantize_calibrated

    job.quantized = quantize_calibrated(job.calibrated, job.converter)


def refit_scales(job: Int8Job) -> None:
    """MSE weight scales written into the flatbuffer (opt-in, --weight-scales mse)."""
    from flower_edge.quantize.int8.refine import refit_weight_scales

    if job.config.int8.weight_scales == "mse":
        job.quantized, job.report["weight_scales"] = refit_weight_scales(job.quantized, job.calibrated)


def learn_rounding(job: Int8Job) -> None:
    """GPTQ weight rounding, layer by layer, on the grid the steps before chose (opt-in, --rounding gptq)."""
    from flower_edge.quantize.int8 import learned_rounding

    if job.config.int8.rounding != "gptq":
        return
    step = max(1, len(job.images) // learned_rounding.DEFAULT_IMAGES)
    job.quantized, job.report["learned_rounding"] = learned_rounding.learn_rounding(
        job.quantized, job.calibrated, job.images[::step][:learned_rounding.DEFAULT_IMAGES])


def correct_means(job: Int8Job) -> None:
    """Each layer's per-channel output mean matched to float's, layer by layer (default)."""
    from flower_edge.quantize.int8 import mean_correction

    if not job.config.int8.mean_correction:
        return
    step = max(1, len(job.images) // mean_correction.DEFAULT_IMAGES)
    job.quantized, job.report["mean_correction"] = mean_correction.correct_means(
        job.quantized, job.float_reference(), job.images[::step][:mean_correction.DEFAULT_IMAGES])


KERAS_STEPS = (correct_bias,)
FLATBUFFER_STEPS = (calibrate, tune_ranges, quantize, refit_scales, learn_rounding, correct_means)


def before_conversion(model, images, config: QuantizationConfig, report: dict):
    """Run KERAS_STEPS on `model` (not modified); return the model to convert."""
    job = Int8Job(config, images, report, model=model)
    for step in KERAS_STEPS:
        step(job)
    return job.model


def convert_steps(converter, config: QuantizationConfig, images: list, report: dict,
                  float_reference: Callable[[], bytes]) -> bytes:
    """Run FLATBUFFER_STEPS with `converter` (config applied); return the int8 flatbuffer."""
    job = Int8Job(config, images, report, converter=converter, float_reference=float_reference)
    for step in FLATBUFFER_STEPS:
        step(job)
    return job.quantized
