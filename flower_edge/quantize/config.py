"""What one TFLite variant is: a frozen `QuantizationConfig` and its `apply(converter)`.

The variant name is derived from the config, never typed by hand, so a file
called `int8` is always full-integer and a non-default knob shows in the name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from flower_edge.errors import UsageError

Kind = Literal["fp32", "fp16", "dynamic", "int8"]
IoType = Literal["uint8", "int8", "float32"]
KINDS = ("fp32", "fp16", "dynamic", "int8")
IO_TYPES = ("uint8", "int8", "float32")
WEIGHT_SCALES = ("max", "mse")
ACTIVATION_RANGES = ("mse", "minmax")
ROUNDINGS = ("nearest", "gptq")

# Defaults of the int8 variant. uint8 input: camera pixels go straight in (scale 1,
# zero point 0 on 0..255). float32 output: probabilities come out ready to use, but
# note the softmax itself still runs in int8 (a DEQUANTIZE follows it), so its
# 1/256 resolution remains; measured: identical top-1 with uint8 output.
DEFAULT_IO = "uint8"
DEFAULT_OUTPUT = "float32"
DEFAULT_CALIB_SAMPLES = 300


@dataclass(frozen=True)
class QuantizationConfig:
    """One conversion recipe. Build it with `fp32() fp16() dynamic() int8()`."""

    kind: Kind = "fp32"
    io: IoType = "float32"
    output: IoType = "float32"
    calib_samples: int = 0
    allow_float_fallback: bool = False
    keep_float: tuple[str, ...] = ()  # layer names, or ("auto:K",)
    per_channel: bool = True
    dense_per_tensor: bool = False  # dynamic: what tflite-runtime 2.14 can load
    qat: bool = False
    # int8: pre-compensate the mean shift of int8 weight rounding (quantize/int8/bias_correction.py)
    bias_correction: bool = True
    # int8 weights with int16 activations ("int16x8"): float I/O; measured closest to float
    activations16: bool = False
    # int8 activation ranges with least squared error ('minmax' = the converter's): lower KL
    # to float on both models measured. Weight scales with least rounding error ('max' =
    # the converter's max|w|/127): exact on weights that sit on a coarser grid, but the
    # output error was mixed (docs/int8-fidelity.md), so opt-in. See quantize/int8/refine.py.
    weight_scales: str = "max"
    activation_ranges: str = "mse"
    # int8: match each layer's per-channel output mean to float's on calibration images,
    # layer by layer, in the int8 file itself (quantize/int8/mean_correction.py)
    mean_correction: bool = True
    # int8 weight rounding: 'nearest' (the converter's) or 'gptq', learned layer by layer on
    # the calibration images (quantize/int8/learned_rounding.py; measured in quantize/README.md)
    rounding: str = "nearest"
    # tfmot compression before conversion (quantize/compress.py): the fraction of each
    # Conv2D/Dense kernel pruned to zero, or the number of shared values per kernel
    prune: float = 0.0
    clusters: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise UsageError(f"unknown variant '{self.kind}' (choose one of: {', '.join(KINDS)})")
        for name, value in (("--io", self.io), ("--output", self.output)):
            if value not in IO_TYPES:
                raise UsageError(f"{name} must be one of {', '.join(IO_TYPES)}, got {value!r}")
        if self.kind == "int8" and self.calib_samples < 1:
            raise UsageError(f"--calib-samples must be at least 1, got {self.calib_samples} "
                             f"(default {DEFAULT_CALIB_SAMPLES})")
        if self.kind != "int8" and (self.io != "float32" or self.output != "float32"):
            raise UsageError(f"{self.kind} models have float32 input and output; --io applies to int8 only")
        if self.activations16 and (self.io != "float32" or self.output != "float32"):
            raise UsageError("int16x8 models take and return float32; --io/--output apply to int8 only")
        if self.weight_scales not in WEIGHT_SCALES:
            raise UsageError(f"--weight-scales must be one of {', '.join(WEIGHT_SCALES)}, got {self.weight_scales!r}")
        if self.activation_ranges not in ACTIVATION_RANGES:
            raise UsageError(f"--activation-ranges must be one of {', '.join(ACTIVATION_RANGES)}, "
                             f"got {self.activation_ranges!r}")
        if self.rounding not in ROUNDINGS:
            raise UsageError(f"--rounding must be one of {', '.join(ROUNDINGS)}, got {self.rounding!r}")
        if self.keep_float and self.qat:
            raise UsageError("--keep-float and --qat-epochs cannot be combined; pick one remedy")
        parse_keep_float(self.keep_float)
        self._check_compression()

    def _check_compression(self) -> None:
        if not 0.0 <= self.prune < 1.0:
            raise UsageError(f"--prune takes a sparsity between 0 and 1 (e.g. 0.75 or 75%), got {self.prune:g}")
        if self.clusters and not 2 <= self.clusters <= 256:
            raise UsageError(f"--cluster takes 2 to 256 clusters per kernel, got {self.clusters}")
        if self.prune and self.clusters:
            raise UsageError("a variant is either pruned or clustered; pass --prune and --cluster as "
                             "separate variants")
        if self.compressed and (self.qat or self.keep_float or self.activations16 or self.kind == "dynamic"):
            raise UsageError("--prune/--cluster apply to fp32, fp16 and post-training int8 variants only")

    # constructors -----------------------------------------------------------
    @classmethod
    def fp32(cls) -> QuantizationConfig:
        return cls(kind="fp32")

    @classmethod
    def fp16(cls) -> QuantizationConfig:
        return cls(kind="fp16")

    @classmethod
    def dynamic(cls, dense_per_tensor: bool = True) -> QuantizationConfig:
        return cls(kind="dynamic", dense_per_tensor=dense_per_tensor)

    @classmethod
    def int8(cls, io: str = DEFAULT_IO, output: str = DEFAULT_OUTPUT,
             calib_samples: int = DEFAULT_CALIB_SAMPLES, allow_float_fallback: bool = False,
             keep_float: tuple[str, ...] = (), per_channel: bool = True,
             qat: bool = False, bias_correction: bool = True,
             activations16: bool = False, weight_scales: str = "max",
             activation_ranges: str = "mse", mean_correction: bool = True,
             rounding: str = "nearest") -> QuantizationConfig:
        return cls(kind="int8", io=io, output=output, calib_samples=calib_samples,
                   allow_float_fallback=allow_float_fallback, keep_float=tuple(keep_float),
                   per_channel=per_channel, qat=qat, bias_correction=bias_correction,
                   activations16=activations16, weight_scales=weight_scales,
                   activation_ranges=activation_ranges, mean_correction=mean_correction,
                   rounding=rounding)

    # naming -----------------------------------------------------------------
    @property
    def compressed(self) -> bool:
        return bool(self.prune or self.clusters)

    @property
    def compression_slug(self) -> str:
        """'-pruned75', '-clustered16' or ''."""
        if self.prune:
            return f"-pruned{round(self.prune * 100, 1):g}"
        return f"-clustered{self.clusters}" if self.clusters else ""

    @property
    def needs_calibration(self) -> bool:
        return self.kind == "int8"

    @property
    def full_integer(self) -> bool:
        """Whether every op must run in integer (checked after conversion)."""
        return self.kind == "int8" and not self.keep_float and not self.allow_float_fallback

    @property
    def refinable(self) -> bool:
        """Whether flower-edge runs calibration and rounding itself (quantize/int8/):
        plain post-training int8; not int16x8, QAT or keep-float, which the converter does alone."""
        return self.kind == "int8" and not (self.activations16 or self.qat or self.keep_float)

    @property
    def rounding_rule(self) -> str:
        """The weight-rounding rule the conversion will apply (bias correction must use the same)."""
        return self.weight_scales if self.refinable else "max"

    @property
    def variant(self) -> str:
        """The bundle folder name: what the file is, including non-default knobs."""
        if self.kind != "int8":
            return self.kind + self.compression_slug
        name = ("int8-qat" if self.qat else "int8") + self.compression_slug
        if self.activations16:
            name = "int16x8" + ("-nobc" if not self.bias_correction else "")
            return name + ("-pertensor" if not self.per_channel else "")
        if self.keep_float:
            name += "-keep-" + _keep_slug(self.keep_float)
        if self.io != DEFAULT_IO:
            name += f"-io{self.io}"
        if self.output != DEFAULT_OUTPUT:
            name += f"-out{self.output}"
        if not self.per_channel:
            name += "-pertensor"
        if self.refinable and self.weight_scales != "max":
            name += f"-w{self.weight_scales}"
        if self.refinable and self.activation_ranges != "mse":
            name += f"-a{self.activation_ranges}"
        if self.refinable and not self.mean_correction:
            name += "-nomc"
        if self.refinable and self.rounding != "nearest":
            name += f"-{self.rounding}"
        if not self.bias_correction and not self.qat and not self.keep_float:
            name += "-nobc"
        if self.allow_float_fallback and not self.keep_float:
            name += "-mixed"
        return name

    # the converter ----------------------------------------------------------
    def apply(self, converter, representative_dataset=None) -> None:
        """Set optimizations, supported types/ops and inference types on a TFLiteConverter."""
        from flower_edge.tfcompat import tf

        lite = tf().lite
        # Pruned float weights are stored sparse and can run on XNNPACK's sparse kernels
        # (quantize/README.md says when they do). int8 stays dense: zeros still gzip well.
        sparse = [lite.Optimize.EXPERIMENTAL_SPARSITY] if self.prune and self.kind in ("fp32", "fp16") else []
        if self.kind == "fp32":
            converter.optimizations = sparse
            return
        converter.optimizations = [lite.Optimize.DEFAULT, *sparse]
        if self.kind == "fp16":
            converter.target_spec.supported_types = [tf().float16]
            return
        if self.kind == "dynamic":
            # tflite-runtime 2.14 rejects per-channel FULLY_CONNECTED (op version 12).
            converter._experimental_disable_per_channel_quantization_for_dense_layers = \
                self.dense_per_tensor
            return
        if representative_dataset is None:
            raise UsageError("int8 conversion needs calibration images (representative dataset)")
        converter.representative_dataset = representative_dataset
        ops = [lite.OpsSet.TFLITE_BUILTINS_INT8]
        if self.activations16:
            ops = [lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
        if self.allow_float_fallback or self.keep_float:
            ops.append(lite.OpsSet.TFLITE_BUILTINS)
        converter.target_spec.supported_ops = ops
        converter.inference_input_type = getattr(tf(), self.io)
        converter.inference_output_type = getattr(tf(), self.output)
        converter._experimental_disable_per_channel = not self.per_channel


def parse_keep_float(spec: tuple[str, ...]) -> tuple[int, tuple[str, ...]]:
    """(K for 'auto:K' or 0, explicit layer names)."""
    auto, names = 0, []
    for item in spec:
        item = item.strip()
        if item.startswith("auto:"):
            try:
                auto = int(item[5:])
            except ValueError:
                auto = 0
            if auto < 1:
                raise UsageError(f"--keep-float {item!r}: use auto:K with K >= 1, e.g. auto:3")
        elif item:
            names.append(item)
    if auto and names:
        raise UsageError("--keep-float takes either auto:K or layer names, not both")
    return auto, tuple(names)


def _keep_slug(spec: tuple[str, ...]) -> str:
    auto, names = parse_keep_float(spec)
    if auto:
        return f"auto{auto}"
    slug = "+".join(re.sub(r"[^A-Za-z0-9_]+", "_", n).strip("_") for n in names)
    if len(slug) > 40:
        import hashlib

        slug = f"{len(names)}layers-{hashlib.sha1(slug.encode()).hexdigest()[:6]}"
    return slug
