"""The quantize stage's recipe: which variants to export and the int8 knobs.

A TOML recipe (`quantize/*.toml`, `--config`) maps onto `QuantizeRecipe`; CLI
flags override its keys; `configs()` expands it into `QuantizationConfig`s.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flower_edge.errors import UsageError
from flower_edge.quantize.config import KINDS, QuantizationConfig
from flower_edge.quantize.options import Int8Options

AGREEMENT_THRESHOLD = 0.97


@dataclass(frozen=True)
class QuantizeRecipe:
    """Everything `flower-edge quantize` can be told; saved beside the bundles. Its `[int8]`
    table holds the int8 knobs (`Int8Options`); the other keys pick the variants."""

    variants: tuple[str, ...] = KINDS
    int8: Int8Options = field(default_factory=Int8Options)
    int16x8: bool = False  # also export int16 activations / int8 weights (float I/O)
    keep_float: tuple[str, ...] = ()  # also export int8 with these layers (or auto:K) in float
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
        unknown = [v for v in self.variants if v not in KINDS]
        if unknown:
            raise UsageError(f"unknown variant '{unknown[0]}' (choose from: {', '.join(KINDS)}; "
                             f"int8-qat comes from --qat-epochs, int8-keep-* from --keep-float)")
        if self.qat_epochs < 0:
            raise UsageError(f"--qat-epochs must be 0 or more, got {self.qat_epochs}")
        if min(self.prune_epochs, self.cluster_epochs) < 0:
            raise UsageError("prune_epochs and cluster_epochs must be 0 or more")
        if self.val_samples < 1 or self.debug_samples < 1:
            raise UsageError("val_samples and debug_samples must be at least 1")
        if not (self.variants or self.qat_epochs or self.keep_float or self.int16x8 or self.compressions):
            raise UsageError("nothing to export: pick at least one of --fp32 --fp16 --dynamic --int8")
        self.configs()  # validate knob combinations early, before any slow work

    def variant(self, kind: str, **changes) -> QuantizationConfig:
        """The `kind` variant with this recipe's int8 knobs; `changes` as `QuantizationConfig.of`."""
        return QuantizationConfig.of(kind, **{**vars(self.int8), **changes})

    def configs(self) -> list[QuantizationConfig]:
        """The variants to export, in a stable order (fp32 first: the others are compared to it)."""
        out = [self.variant(kind) for kind in KINDS if kind in self.variants]
        if self.int16x8:
            out.append(self.variant("int8", int16x8=True, io="float32", output_type="float32"))
        if self.qat_epochs:
            out.append(self.variant("int8", qat=True))
        if self.keep_float:
            out.append(self.variant("int8", keep_float=self.keep_float))
        return out + self.compressed_configs()

    @property
    def compressions(self) -> list[dict]:
        return [{"prune": float(p)} for p in self.prune] + [{"cluster": int(n)} for n in self.cluster]

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
                out.append(self.variant(kind, rounding="nearest", **change))
        return out
