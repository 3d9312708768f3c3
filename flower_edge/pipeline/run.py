"""`run_pipeline`: train -> quantize -> benchmark -> report into one run directory.

Each stage has a fingerprint (its config table + the identity of its input files,
see stamps.py). A stage whose stamp matches and whose outputs exist is skipped; a
failed stage leaves earlier stages' outputs and stamps intact, so a rerun continues
from it (an interrupted training run is resumed from its last committed epoch).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from flower_edge import guard
from flower_edge.errors import UsageError
from flower_edge.pipeline import stamps
from flower_edge.pipeline.config import PipelineConfig, stage_tables
from flower_edge.rundir import RunDir

STAGES = ("train", "quantize", "benchmark", "report")
REPORT_VERSION = 1  # bump when the report's layout changes, so old reports are rebuilt


@dataclass
class StageResult:
    """What happened to one stage: 'ran', 'resumed', 'skipped' or 'failed'."""

    stage: str
    status: str
    seconds: float = 0.0
    error: str | None = None

    def line(self) -> str:
        if self.status == "skipped":
            return f"{self.stage}: skipped (up to date)"
        if self.status == "failed":
            return f"{self.stage}: failed after {self.seconds:.1f}s"
        return f"{self.stage}: {self.status} in {self.seconds:.1f}s"


@dataclass
class PipelineResult:
    """The run directory, each stage's result, and the report's location."""

    run: Path
    stages: list[StageResult] = field(default_factory=list)

    @property
    def report(self) -> Path:
        return self.run / "report" / "index.md"

    def status(self, stage: str) -> str | None:
        return next((s.status for s in self.stages if s.stage == stage), None)


@dataclass(frozen=True)
class _Stage:
    name: str
    fingerprint: Callable[[], str]
    outputs: Callable[[], list]
    run: Callable[[], str]  # returns the status: 'ran' or 'resumed'


def run_pipeline(cfg: PipelineConfig, out: str | None = None, force: bool = False,
                 echo: Callable[[str], None] | None = None,
                 until: str | None = None) -> PipelineResult:
    """Run every stage that is not up to date (up to and including `until`); returns
    per-stage results.

    The run folder is `out` (default artifacts/<model>-<date>-<time>): a second call
    with the same `out` finds the first one's outputs.
    """
    echo = echo or (lambda line: print(line, file=sys.stderr))
    if until is not None and until not in STAGES:
        raise UsageError(f"--until must be one of {', '.join(STAGES)}, got {until!r}")
    if not cfg.data.path:
        raise UsageError("no data: pass --data DIR (a folder with one sub-folder per class) or set "
                         "[data] path in the recipe")
    run = _run_dir(out, cfg.model.name, cfg.data.path)
    result = PipelineResult(run.path)
    if not force:
        _run_stages(cfg, run, force, until, echo, result)
        return result
    # --force: the whole new run is built beside the old one and swapped in once complete,
    # so a failure or a kill at any stage leaves the old run (.stages/ included) as it was.
    target = guard.prepare(run.path, "run", "run folder", True, data=[cfg.data.path])
    try:
        _run_stages(cfg, RunDir(target.work), force, until, echo, result)
    except BaseException:
        if target.replacing:
            target.abandon()
        raise
    target.commit()
    return result


def _run_stages(cfg: PipelineConfig, run: RunDir, force: bool, until: str | None,
                echo: Callable[[str], None], result: PipelineResult) -> None:
    """Each stage in turn into `run`, skipping those that are up to date unless `force`."""
    for stage in _stages(cfg, run, force):
        fp = stage.fingerprint()
        if not force and stamps.is_fresh(run.path, stage.name, fp, stage.outputs()):
            result.stages.append(StageResult(stage.name, "skipped"))
            echo(result.stages[-1].line())
            if stage.name == until:
                break
            continue
        stamps.clear(run.path, stage.name)
        echo(f"{stage.name}: running")
        start = time.perf_counter()
        try:
            status = stage.run()
        except BaseException as exc:
            result.stages.append(StageResult(stage.name, "failed", time.perf_counter() - start, str(exc)))
            echo(result.stages[-1].line())
            raise
        # Inputs are fingerprinted after the stage: train creates the files later stages read.
        stamps.mark_done(run.path, stage.name, stage.fingerprint())
        result.stages.append(StageResult(stage.name, status, time.perf_counter() - start))
        echo(result.stages[-1].line())
        if stage.name == until:
            break


def _run_dir(out: str | None, model_name: str, data: str) -> RunDir:
    """The run folder OUT; a folder holding something other than a flower-edge run, or one
    that holds, lies in or contains the data, is refused (even with --force: see guard.py)."""
    from flower_edge.train.rundirs import default_run_path

    run = RunDir(Path(out) if out else default_run_path(model_name))
    if run.path.exists() and not run.path.is_dir():
        raise UsageError(f"--out {run.path} is a file; pass a folder for the run")
    guard.check_apart(run.path, [data], "run folder")
    guard.tidy(run.path, "run")  # what a killed `pipeline --force` left beside the run
    guard.tidy(run.export, "export")  # and a killed `quantize` inside it
    if run.path.is_dir() and any(run.path.iterdir()) and not guard.is_kind(run.path, "run"):
        raise UsageError(f"{run.path} already exists and is not a flower-edge run (no {guard.MARKER} "
                         f"marker); it is never replaced, not even with --force: choose another "
                         f"--out")
    return run


def _stages(cfg: PipelineConfig, run: RunDir, force: bool) -> list[_Stage]:
    tables = stage_tables(cfg)
    train_fp = {k: tables[k] for k in ("data", "model", "train")}

    def manifests():
        return [b / "manifest.json" for b in run.bundles()]

    def benchmark_out():
        return run.report / "benchmark.json"

    return [
        _Stage("train", lambda: stamps.fingerprint(train_fp, [Path(cfg.data.path)]),
               lambda: [run.model, run.metrics, run.labels, run.split],
               lambda: _train(cfg, run, force)),
        _Stage("quantize", lambda: stamps.fingerprint({"quantize": tables["quantize"]}, [run.model]),
               lambda: [run.export / "quantize.json"] + [run.bundle(v) / "manifest.json"
                                                         for v in cfg.quantize.variants],
               lambda: _quantize(cfg, run)),
        _Stage("benchmark", lambda: stamps.fingerprint({"benchmark": tables["benchmark"]},
                                                        [run.model, *manifests()]),
               lambda: [benchmark_out()], lambda: _benchmark(cfg, run)),
        _Stage("report", lambda: stamps.fingerprint(
            {"report": REPORT_VERSION, "tables": tables},
            [run.model, run.metrics, run.history, run.export / "quantize.json", benchmark_out()]),
               lambda: [run.report / "index.md", run.report / "index.html"],
               lambda: _report(run)),
    ]


def _train(cfg: PipelineConfig, run: RunDir, force: bool) -> str:
    """Resume an interrupted run of the same recipe, else train from the start."""
    from flower_edge.train import trainer
    from flower_edge.train.config import dumps, resolve

    resolved = resolve(cfg.run_config())
    same_recipe = run.config.is_file() and run.config.read_text(encoding="utf-8") == dumps(resolved)
    if not force and same_recipe and run.split.is_file() and trainer.resumable(run):
        trainer.resume_run(str(run.path))
        return "resumed"
    try:
        trainer.start_run(cfg.run_config(), str(run.path), force=True)
    finally:
        # start_run(force=True) replaces an existing run only when the new one is finished
        # (a failure leaves the old one whole), and drops a new run that finished no epoch.
        # A folder that stays keeps the stage stamps folder; stale stamps are harmless,
        # their fingerprints differ.
        if run.path.is_dir():
            (run.path / stamps.STAMP_DIR).mkdir(exist_ok=True)
    return "ran"


def _quantize(cfg: PipelineConfig, run: RunDir) -> str:
    from flower_edge.quantize.export import quantize_run

    # Bundles of an older model or of a variant no longer asked for would be benchmarked:
    # the new export/ generation holds only this recipe's bundles (swapped in whole).
    quantize_run(run.path, cfg.quantize, keep_others=False)
    return "ran"


def _benchmark(cfg: PipelineConfig, run: RunDir) -> str:
    from flower_edge.benchmark.run import benchmark_run

    benchmark_run(run.path, cfg.benchmark)
    return "ran"


def _report(run: RunDir) -> str:
    from flower_edge.report.build import build_report

    build_report(run.path)
    return "ran"
