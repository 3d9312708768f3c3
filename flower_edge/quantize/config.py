"""What one TFLite variant is: a frozen `QuantizationConfig` and its `apply(converter)`.

The variant name is derived from the config, never typed by hand, so a file
called `int8` is always full-integer and a non-default knob shows in the name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields, replace

from flower_edge.errors import UsageError
from flower_edge.quantize.options import Int8Options
from flower_edge.variants import KINDS, Kind

__all__ = ["KINDS", "Kind", "QuantizationConfig", "parse_keep_float"]
_VARIANT_FIELDS = ("int16x8", "qat", "keep_float", "prune", "cluster")


@dataclass(frozen=True)
class QuantizationConfig:
    """One conversion recipe: `QuantizationConfig(kind)`, or `QuantizationConfig.of(kind, **knobs)`
    with knobs from `Int8Options` and the variant fields below. `int8` keeps only the knobs
    that apply to `kind` (dynamic: `dense_per_tensor`; int8: the others); the rest are defaults."""

    kind: Kind = "fp32"
    int8: Int8Options = field(default_factory=Int8Options)
    # int8 weights with int16 activations: float I/O; measured closest to float
    int16x8: bool = False
    qat: bool = False
    keep_float: tuple[str, ...] = ()  # layer names, or ("auto:K",)
    # tfmot compression before conversion (quantize/compress.py): the fraction of each
    # Conv2D/Dense kernel pruned to zero, or the number of shared values per kernel
    prune: float = 0.0
    cluster: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise UsageError(f"unknown variant '{self.kind}' (choose one of: {', '.join(KINDS)})")
        # Only the knobs that apply to this kind are kept, so equal variants compare equal.
        if self.kind == "int8":
            object.__setattr__(self, "int8", replace(self.int8, dense_per_tensor=Int8Options().dense_per_tensor))
        else:
            dense = self.int8.dense_per_tensor if self.kind == "dynamic" else Int8Options().dense_per_tensor
            object.__setattr__(self, "int8", Int8Options(dense_per_tensor=dense))
            if self.int16x8 or self.qat or self.keep_float:
                raise UsageError(f"int16x8, QAT and --keep-float make int8 variants, not {self.kind}")
        if self.int16x8 and (self.int8.io != "float32" or self.int8.output_type != "float32"):
            raise UsageError("int16x8 models take and return float32; --io/--output-type apply to int8 only")
        if self.keep_float and self.qat:
            raise UsageError("--keep-float and --qat-epochs cannot be combined; pick one remedy")
        parse_keep_float(self.keep_float)
        self._check_compression()

    def _check_compression(self) -> None:
        if not 0.0 <= self.prune < 1.0:
            raise UsageError(f"--prune takes a sparsity between 0 and 1 (e.g. 0.75 or 75%), got {self.prune:g}")
        if self.cluster and not 2 <= self.cluster <= 256:
            raise UsageError(f"--cluster takes 2 to 256 clusters per kernel, got {self.cluster}")
        if self.prune and self.cluster:
            raise UsageError("a variant is either pruned or clustered; pass --prune and --cluster as "
                             "separate variants")
        if self.compressed and (self.qat or self.keep_float or self.int16x8 or self.kind == "dynamic"):
            raise UsageError("--prune/--cluster apply to fp32, fp16 and post-training int8 variants only")

    @classmethod
    def of(cls, kind: str, **knobs) -> QuantizationConfig:
        """`of("int8", io="float32", qat=True)`: knobs split between `Int8Options` and the variant fields."""
        names = {f.name for f in fields(Int8Options)}
        unknown = set(knobs) - names - set(_VARIANT_FIELDS)
        if unknown:
            raise TypeError(f"unknown quantization knob(s): {', '.join(sorted(unknown))}")
        options = Int8Options(**{k: v for k, v in knobs.items() if k in names})
        return cls(kind=kind, int8=options, **{k: v for k, v in knobs.items() if k in _VARIANT_FIELDS})

    # naming -----------------------------------------------------------------
    @property
    def compressed(self) -> bool:
        return bool(self.prune or self.cluster)

    @property
    def compression_slug(self) -> str:
        """'-pruned75', '-clustered16' or ''."""
        if self.prune:
            return f"-pruned{round(self.prune * 100, 1):g}"
        return f"-clustered{self.cluster}" if self.cluster else ""

    @property
    def needs_calibration(self) -> bool:
        return self.kind == "int8"

    @property
    def full_integer(self) -> bool:
        """Whether every op must run in integer (checked after conversion)."""
        return self.kind == "int8" and not self.keep_float and not self.int8.allow_float_fallback

    @property
    def refinable(self) -> bool:
        """Whether flower-edge runs calibration and rounding itself (quantize/int8/):
        plain post-training int8; not int16x8, QAT or keep-float, which the converter does alone."""
        return self.kind == "int8" and not (self.int16x8 or self.qat or self.keep_float)

    @property
    def rounding_rule(self) -> str:
        """The weight-rounding rule the conversion will apply (bias correction must use the same)."""
        return self.int8.weight_scales if self.refinable else "max"

    @property
    def variant(self) -> str:
        """The bundle folder name: what the file is, including non-default knobs."""
        if self.kind != "int8":
            return self.kind + self.compression_slug
        o, default = self.int8, Int8Options()
        name = ("int8-qat" if self.qat else "int8") + self.compression_slug
        if self.int16x8:
            name = "int16x8" + ("-nobc" if not o.bias_correction else "")
            return name + ("-pertensor" if not o.per_channel else "")
        if self.keep_float:
            name += "-keep-" + _keep_slug(self.keep_float)
        if o.io != default.io:
            name += f"-io{o.io}"
        if o.output_type != default.output_type:
            name += f"-out{o.output_type}"
        if not o.per_channel:
            name += "-pertensor"
        if self.refinable:
            name += _refine_slug(o, default)
        if not o.bias_correction and not self.qat and not self.keep_float:
            name += "-nobc"
        if o.allow_float_fallback and not self.keep_float:
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
                self.int8.dense_per_tensor
            return
        if representative_dataset is None:
            raise UsageError("int8 conversion needs calibration images (representative dataset)")
        converter.representative_dataset = representative_dataset
        ops = [lite.OpsSet.TFLITE_BUILTINS_INT8]
        if self.int16x8:
            ops = [lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
        if self.int8.allow_float_fallback or self.keep_float:
            ops.append(lite.OpsSet.TFLITE_BUILTINS)
        converter.target_spec.supported_ops = ops
        converter.inference_input_type = getattr(tf(), self.int8.io)
        converter.inference_output_type = getattr(tf(), self.int8.output_type)
        converter._experimental_disable_per_channel = not self.int8.per_channel


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


def _refine_slug(o: Int8Options, default: Int8Options) -> str:
    """The name part of the knobs only flower-edge's own int8 steps apply (quantize/int8/)."""
    name = f"-w{o.weight_scales}" if o.weight_scales != default.weight_scales else ""
    if o.activation_ranges != default.activation_ranges:
        name += f"-a{o.activation_ranges}"
    if not o.mean_correction:
        name += "-nomc"
    return name + (f"-{o.rounding}" if o.rounding != default.rounding else "")


def _keep_slug(spec: tuple[str, ...]) -> str:
    auto, names = parse_keep_float(spec)
    if auto:
        return f"auto{auto}"
    slug = "+".join(re.sub(r"[^A-Za-z0-9_]+", "_", n).strip("_") for n in names)
    if len(slug) > 40:
        import hashlib

        slug = f"{len(names)}layers-{hashlib.sha1(slug.encode()).hexdigest()[:6]}"
    return slug
