"""The quantize stage's recipe: which variants to export and the int8 knobs.

A TOML recipe (`quantize/*.toml`, `--config`) maps onto `QuantizeRecipe`; CLI
flags override its keys; `configs()` expands it into `QuantizationConfig`s.
"""

from __future__ import annotations

from dataclasses import dataclass

from flower_edge.errors import UsageError
from flower_edge.quantize.config import (
    DEFAULT_CALIB_SAMPLES,
    DEFAULT_IO,
    DEFAULT_OUTPUT,
    KINDS,
    QuantizationConfig,
)

ALL_VARIANTS = KINDS
AGREEMENT_THRESHOLD = 0.97


@dataclass(frozen=True)
class QuantizeRecipe:
    """Everything `flower-edge quantize` can be told; saved beside the bundles."""

    variants: tuple[str, ...] = ALL_VARIANTS
    io: str = DEFAULT_IO
    output: str = DEFAULT_OUTPUT
    calib_samples: int = DEFAULT_CALIB_SAMPLES
    per_channel: bool = True
    bias_correction: bool = True
    weight_scales: str = "max"  # int8: "max" (the converter's) or "mse" (least rounding error)
    activation_ranges: str = "mse"  # int8: "mse" (least squared error) or "minmax" (the converter's)
    mean_correction: bool = True  # int8: match per-channel output means to float, layer by layer
    int16x8: bool = False  # also export int16 activations / int8 weights (float I/O)
    allow_float_fallback: bool = False
    dynamic_dense_per_tensor: bool = True
    keep_float: tuple[str, ...] = ()
    qat_epochs: int = 0
    qat_learning_rate: float = 1e-4  # measured with distilled QAT on MobileNetV2 (docs/int8-fidelity.md)
    debug: bool = False
    debug_samples: int = 32
    val_samples: int = 200
    agreement_threshold: float = AGREEMENT_THRESHOLD
    check_runtimes: bool = True

    def __post_init__(self) -> None:
        unknown = [v for v in self.variants if v not in ALL_VARIANTS]
        if unknown:
            raise UsageError(f"unknown variant '{unknown[0]}' (choose from: {', '.join(ALL_VARIANTS)}; "
                             f"int8-qat comes from --qat-epochs, int8-keep-* from --keep-float)")
        if self.calib_samples < 1:
            raise UsageError(f"--calib-samples must be at least 1, got {self.calib_samples} "
                             f"(default {DEFAULT_CALIB_SAMPLES}; more is slower, 100-500 is typical)")
        if self.qat_epochs < 0:
            raise UsageError(f"--qat-epochs must be 0 or more, got {self.qat_epochs}")
        if self.val_samples < 1 or self.debug_samples < 1:
            raise UsageError("val_samples and debug_samples must be at least 1")
        if not self.variants and not self.qat_epochs and not self.keep_float and not self.int16x8:
            raise UsageError("nothing to export: pick at least one of --fp32 --fp16 --dynamic --int8")
        self.configs()  # validate knob combinations early, before any slow work

    def int8(self, **changes) -> QuantizationConfig:
        base = dict(io=self.io, output=self.output, calib_samples=self.calib_samples,
                    allow_float_fallback=self.allow_float_fallback, per_channel=self.per_channel,
                    bias_correction=self.bias_correction, weight_scales=self.weight_scales,
                    activation_ranges=self.activation_ranges, mean_correction=self.mean_correction)
        return QuantizationConfig.int8(**{**base, **changes})

    def configs(self) -> list[QuantizationConfig]:
        """The variants to export, in a stable order (fp32 first: the others are compared to it)."""
        out: list[QuantizationConfig] = []
        for kind in ALL_VARIANTS:
            if kind not in self.variants:
                continue
            if kind == "int8":
                out.append(self.int8())
            elif kind == "dynamic":
                out.append(QuantizationConfig.dynamic(self.dynamic_dense_per_tensor))
            else:
                out.append(getattr(QuantizationConfig, kind)())
        if self.int16x8:
            out.append(self.int8(activations16=True, io="float32", output="float32"))
        if self.qat_epochs:
            out.append(self.int8(qat=True))
        if self.keep_float:
            out.append(self.int8(keep_float=self.keep_float))
        return out
