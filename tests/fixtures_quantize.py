"""Session fixtures owned by the quantize stage's tests.

`quantized_run`: a copy of the train stage's `mnv2_run` (real ImageNet
MobileNetV2 base, 96 px, flowers5) with fp32, fp16, dynamic and int8 exported
through the real CLI. Benchmark and runtime tests read its bundles.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

QUANTIZED_VARIANTS = ("fp32", "fp16", "dynamic", "int8")


@dataclass(frozen=True)
class QuantizedRun:
    """A run folder with exported bundles, and what the command printed."""

    path: Path
    output: str

    def bundle(self, variant: str) -> Path:
        return self.path / "export" / variant

    def __fspath__(self) -> str:
        return str(self.path)


def copy_run(src: Path, dest: Path) -> Path:
    """Copy a training run without its bulky or stage-owned folders."""
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("export", "checkpoints", "logs", "report"))
    return dest


@pytest.fixture(scope="session")
def quantized_run(mnv2_run, tmp_path_factory) -> QuantizedRun:
    """mnv2_run (copied) with fp32/fp16/dynamic/int8 bundles made by `flower-edge quantize`."""
    from click.testing import CliRunner

    from flower_edge.cli.main import cli

    run = copy_run(Path(mnv2_run), tmp_path_factory.mktemp("quantized") / "mnv2")
    result = CliRunner().invoke(cli, ["quantize", str(run)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return QuantizedRun(run, result.output)
