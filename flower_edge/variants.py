"""The base variant names, declared once: `Kind` (a Literal) and `KINDS`, in the order
bundles are listed (fp32 first: the others are compared to it). `QuantizationConfig.kind`,
quantize recipes, run folders and the CLI's --variant choices all read this. A core module,
so `rundir` and `runtime` can read it without importing a stage.
"""

from __future__ import annotations

from typing import Literal, get_args

Kind = Literal["fp32", "fp16", "dynamic", "int8"]
KINDS: tuple[str, ...] = get_args(Kind)
