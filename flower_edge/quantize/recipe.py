"""The quantize stage's recipe: which variants to export and the int8 knobs.

A TOML recipe (`quantize/*.toml`, `--config`) maps onto `QuantizeRecipe`; CLI
flags override its keys; `configs()` expands it into `QuantizationConfig`s.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

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
    rounding: str = "nearest"  # int8 weight rounding: "nearest" (the converter's) or "gptq" (learned)
    int16x8: bool = False  # also export int16 activations / int8 weights (float I/O)
    allow_float_fallback: bool = False
    dynamic_dense_per_tensor: bool = True
    keep_float: tuple[str, ...] = ()
    qat_epochs: int = 0
    qat_learning_rate: float = 1e-4  # measured with distilled QAT on MobileNetV2 (docs/int8-fidelity.md)
    # tfmot compression (quantize/compress.py): one variant per sparsity / cluster count
    prune: tuple[float, ...] = ()  # e.g. [0.5, 0.75] -> int8-pruned50, int8-pruned75
    cluster: tuple[int, ...] = ()  # e.g. [16] -> int8-clustered16
    # Measured on MobileNetV2@224 / flowers5-eval (quantize/README.md): 12 and 6 epochs of
    # augmented fine-tuning kept 68.0% (pruned 50%) and 70.5% (32 clusters) where 4 and 3
    # epochs on plain photos kept 58.5% and 68.3%.
    prune_epochs: int = 12
    prune_learning_rate: float = 1e-4
    cluster_epochs: int = 6
    cluster_learning_rate: float = 3e-5
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
        if min(self.prune_epochs, self.cluster_epochs) < 0:
            raise UsageError("prune_epochs and cluster_epochs must be 0 or more")
        if self.val_samples < 1 or self.debug_samples < 1:
            raise UsageError("val_samples and debug_samples must be at least 1")
        if not (self.variants or self.qat_epochs or self.keep_float or self.int16x8 or self.compressions):
            raise UsageError("nothing to export: pick at least one of --fp32 --fp16 --dynamic --int8")
        self.configs()  # validate knob combinations early, before any slow work

    def int8(self, **changes) -> QuantizationConfig:
        base = dict(io=self.io, output=self.output, calib_samples=self.calib_samples,
                    allow_float_fallback=self.allow_float_fallback, per_channel=self.per_channel,
                    bias_correction=self.bias_correction, weight_scales=self.weight_scales,
                    activation_ranges=self.activation_ranges, mean_correction=self.mean_correction,
                    rounding=self.rounding)
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
        return out + self.compressed_configs()

    @property
    def compressions(self) -> list[dict]:
        return [{"prune": float(p)} for p in self.prune] + [{"clusters": int(n)} for n in self.cluster]

    def compressed_configs(self) -> list[QuantizationConfig]:
        """A pruned/clustered copy of each chosen fp32, fp16 and int8 variant; with none chosen,
        fp32 and int8 (the float one is what the int8 one is checked against; pruned, it is
        stored sparse for XNNPACK's sparse kernels)."""
        kinds = [k for k in ("fp32", "fp16", "int8") if k in self.variants]
        out = []
        for change in self.compressions:
            for kind in kinds or ["fp32", "int8"]:
                # learned rounding picks each weight's int8 value freely: it could turn a pruned
                # zero into +-1 or split a cluster, so compressed variants round to nearest
                base = self.int8(rounding="nearest") if kind == "int8" else getattr(QuantizationConfig, kind)()
                out.append(replace(base, **change))
        return out
