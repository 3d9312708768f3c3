"""`flower-edge compare`: which variant of which run to ship, on one common image set.

Reads each run's report/benchmark.json (written by `flower-edge benchmark RUN
--eval-data DIR`), refuses runs scored on different images, optionally replaces this
machine's latency with the device's own (`benchmark BUNDLE --json` files, matched by
the model's sha256), marks the Pareto frontiers and recommends the most accurate variant
within the budgets. Results are data (CompareReport); compare_render.py draws them.

Frontiers, both with accuracy (top-1 on the common set) up:
- accuracy vs latency (median ms at the chosen thread count), and
- accuracy vs size (gzip MB by default: what goes over the air; `--size-metric file` for
  the file on the card, which is also roughly what the model takes in memory).
A variant on neither frontier is beaten on each axis by another at least as accurate
and cheaper, so it is never the one to ship. The Keras model is listed for reference (its float accuracy) but is never recommended: a Pi runs
the TFLite bundles, without TensorFlow.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from flower_edge.benchmark.config import SIZE_METRICS, SizeMetric
from flower_edge.benchmark.device_latency import HOST, apply_device_latency
from flower_edge.benchmark.rows import BenchmarkRow, ImageSet
from flower_edge.errors import UsageError


@dataclass(frozen=True)
class Budgets:
    """Limits a shipped variant must meet; None = no limit."""

    ms: float | None = None
    mb: float | None = None
    size_metric: SizeMetric = "gzip"  # which size --budget-mb and the size frontier use

    def __post_init__(self) -> None:
        if self.size_metric not in SIZE_METRICS:
            raise UsageError(f"--size-metric must be one of {', '.join(SIZE_METRICS)}, got '{self.size_metric}'")
        for name, value in (("--budget-ms", self.ms), ("--budget-mb", self.mb)):
            if value is not None and value <= 0:
                raise UsageError(f"{name} must be a positive number, got {value:g}")


@dataclass
class CompareRow:
    """One variant of one run, as the comparison sees it."""

    run: str
    variant: str
    kind: str  # "keras" (reference only) | "tflite"
    status: str
    top1: float | None
    agreement: float | None  # top-1 agreement with its own run's Keras float model
    size_mb: float | None
    gzip_mb: float | None
    latency_ms: float | None
    latency_source: str  # HOST, "device: FILE", or "none"
    model_sha256: str | None = None
    frontier: list[str] = field(default_factory=list)  # "latency", "size"
    fits: bool | None = None  # within every budget given (None: not a candidate)
    error: str | None = None

    @property
    def candidate(self) -> bool:
        return self.kind == "tflite" and self.status == "ok" and self.top1 is not None

    def size(self, metric: str) -> float | None:
        return self.gzip_mb if metric == "gzip" else self.size_mb

    @property
    def label(self) -> str:
        return f"{self.run}/{self.variant}"


@dataclass
class CompareReport:
    """The table, the frontiers and the pick, across runs."""

    image_set: ImageSet
    runs: list[str]
    threads: int
    budgets: Budgets
    rows: list[CompareRow]
    recommended: str | None = None  # "run/variant"
    recommendation: str = ""
    latency_files: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return asdict(self)


def read_benchmark(run: Path) -> dict:
    """RUN/report/benchmark.json with an image set, or a one-line error naming the fix."""
    fix = f"run 'flower-edge benchmark {run} --eval-data DIR' (the same DIR for every run) first"
    if not run.is_dir():
        raise UsageError(f"run directory not found: {run} (pass folders written by 'flower-edge train')")
    path = run / "report" / "benchmark.json"
    try:
        bench = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"no report/benchmark.json in {run}: {fix}") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path} is unreadable ({type(exc).__name__}): {fix}") from None
    image_set = bench.get("image_set") if isinstance(bench, dict) else None
    if not isinstance(image_set, dict) or not {"kind", "name", "images", "fingerprint"} <= set(image_set):
        raise UsageError(f"{path} does not record which images it scored (written by an older "
                         f"flower-edge): {fix}")
    return bench


def check_same_images(benches: dict[str, dict]) -> ImageSet:
    """The one image set every report was scored on; refuses a mix (exit 2)."""
    sets = {name: ImageSet(**{k: b["image_set"][k] for k in ("kind", "name", "images", "fingerprint")})
            for name, b in benches.items()}
    first_name, first = next(iter(sets.items()))
    for name, other in sets.items():
        if other.fingerprint != first.fingerprint:
            raise UsageError(
                f"runs were scored on different images: {first_name} on {_set_text(first)}, {name} on "
                f"{_set_text(other)}; re-run 'flower-edge benchmark RUN --eval-data DIR' on each run "
                f"with the same DIR (and the same --max-images), e.g. ../shared/data/flowers5-eval")
    return first


def _set_text(s: ImageSet) -> str:
    where = f"the {s.name} split" if s.kind == "split" else s.name
    return f"{where} ({s.images} images, fingerprint {s.fingerprint[:12]})"


def _labels(runs: list[Path]) -> list[str]:
    """Short names for the table: the folder name, or the path where two names clash."""
    names = [r.name for r in runs]
    return [r.name if names.count(r.name) == 1 else str(r) for r in runs]


def pick_threads(benches: list[dict], threads: int | None) -> int:
    """--threads, checked against what was measured; default: the smallest count every run timed."""
    measured = [set(b.get("threads") or []) for b in benches]
    if threads is not None:
        if not any(threads in m for m in measured):
            counts = sorted(set().union(*measured))
            raise UsageError(f"--threads {threads} was not timed by any benchmark (timed: "
                             f"{', '.join(map(str, counts)) or 'none'}); pick one of those or re-run "
                             f"'flower-edge benchmark RUN --threads {threads}'")
        return threads
    common = set.intersection(*measured) if measured else set()
    return min(common) if common else min(set().union(*measured) or {1})


def rows_of(name: str, run: Path, bench: dict, threads: int, notes: list[str]) -> list[CompareRow]:
    out = []
    for raw in bench.get("rows", []):
        try:
            row = BenchmarkRow.from_dict(raw)
        except (KeyError, TypeError, ValueError):
            raise UsageError(f"{run / 'report' / 'benchmark.json'} has a malformed row: re-run "
                             f"'flower-edge benchmark {run} --eval-data DIR'") from None
        stat = row.latency_at(threads)
        out.append(CompareRow(run=name, variant=row.variant, kind=row.kind, status=row.status,
                              top1=row.top1, agreement=row.agreement, size_mb=row.size_mb,
                              gzip_mb=row.gzip_mb, latency_ms=stat.median_ms if stat else None,
                              latency_source=HOST if stat else "none", model_sha256=row.model_sha256,
                              error=row.error))
        _check_current(run, row, notes)
    return out


def _check_current(run: Path, row: BenchmarkRow, notes: list[str]) -> None:
    """A bundle re-exported since the benchmark: its row describes a model that is gone."""
    manifest = run / "export" / row.variant / "manifest.json"
    if row.kind != "tflite" or not row.model_sha256 or not manifest.is_file():
        return
    try:
        now = json.loads(manifest.read_text(encoding="utf-8"))["files"]["model"]["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        return
    if now != row.model_sha256:
        notes.append(f"{run.name}/{row.variant} was re-exported after its benchmark: its row is the old "
                     f"model's; re-run 'flower-edge benchmark {run} --eval-data DIR'")


def mark_frontiers(rows: list[CompareRow], size_metric: str) -> None:
    """Mark the candidates no other candidate beats on (accuracy, latency) and (accuracy, size)."""
    axes = (("latency", lambda r: r.latency_ms), ("size", lambda r: r.size(size_metric)))
    for name, cost in axes:
        points = sorted((r for r in rows if r.candidate and cost(r) is not None),
                        key=lambda r: (cost(r), -r.top1))
        best, last = float("-inf"), None
        for row in points:  # cheapest first: a point joins when it is more accurate than all cheaper
            if row.top1 > best or (cost(row), row.top1) == last:  # an exact tie (the same model twice)
                row.frontier.append(name)
                best, last = row.top1, (cost(row), row.top1)


def recommend(rows: list[CompareRow], budgets: Budgets) -> tuple[CompareRow | None, str]:
    """The most accurate candidate within the budgets (ties: faster, then smaller), and why."""
    candidates = [r for r in rows if r.candidate]
    for row in candidates:
        row.fits = _fits(row, budgets)
    fitting = [r for r in candidates if r.fits]
    limits = _limits_text(budgets)
    if not candidates:
        return None, ("nothing to recommend: no TFLite variant has an accuracy; export variants with "
                      "'flower-edge quantize RUN' and benchmark them")
    if not fitting:
        return None, (f"nothing fits {limits}: " + _closest(candidates, budgets) +
                      "; relax a budget, or make a smaller/faster variant (int8, pruning, clustering, "
                      "a distilled student)")
    inf = float("inf")
    best = max(fitting, key=lambda r: (r.top1, -(r.latency_ms if r.latency_ms is not None else inf),
                                       -(r.size(budgets.size_metric) or inf)))
    latency = "latency unknown" if best.latency_ms is None else f"{best.latency_ms:.2f} ms ({best.latency_source})"
    size = best.size(budgets.size_metric)
    return best, (f"{best.label}: top-1 {best.top1:.1%}, {latency}, {budgets.size_metric} "
                  f"{'?' if size is None else f'{size:.2f}'} MB, the most accurate "
                  f"{'variant' if not (budgets.ms or budgets.mb) else 'within ' + limits}")


def _fits(row: CompareRow, budgets: Budgets) -> bool:
    size = row.size(budgets.size_metric)
    if budgets.ms is not None and (row.latency_ms is None or row.latency_ms > budgets.ms):
        return False
    return budgets.mb is None or (size is not None and size <= budgets.mb)


def _limits_text(budgets: Budgets) -> str:
    parts = ([f"{budgets.ms:g} ms"] if budgets.ms is not None else []) + \
            ([f"{budgets.mb:g} MB ({budgets.size_metric})"] if budgets.mb is not None else [])
    return " and ".join(parts) or "no budget"


def _closest(rows: list[CompareRow], budgets: Budgets) -> str:
    """The fastest and the smallest candidates, so the user sees how far the budgets are."""
    out = []
    timed = [r for r in rows if r.latency_ms is not None]
    if budgets.ms is not None and timed:
        fast = min(timed, key=lambda r: r.latency_ms)
        out.append(f"the fastest is {fast.label} at {fast.latency_ms:.2f} ms")
    sized = [r for r in rows if r.size(budgets.size_metric) is not None]
    if budgets.mb is not None and sized:
        small = min(sized, key=lambda r: r.size(budgets.size_metric))
        out.append(f"the smallest is {small.label} at {small.size(budgets.size_metric):.2f} MB")
    return ", ".join(out) or "no variant was timed"


def compare_runs(runs: list[str | os.PathLike], budgets: Budgets = Budgets(),
                 latency_files: list[str | os.PathLike] = (), threads: int | None = None,
                 eval_data: str | os.PathLike | None = None) -> CompareReport:
    """Read, check, merge device latency, mark frontiers and recommend. Writes nothing
    (beyond scoring and timing each bundle among `runs`: see compare_bundles.py)."""
    from flower_edge.benchmark.compare_bundles import bundle_benchmarks
    from flower_edge.guard import run_or_bundle

    paths = list(dict.fromkeys(Path(r) for r in runs))
    names = dict(zip(paths, _labels(paths)))
    bundles = {names[p]: p for p in paths if run_or_bundle(p) == "bundle"}
    if eval_data is not None and not bundles:
        raise UsageError("--eval-data scores the BUNDLEs compared; runs bring their own scores: drop it, "
                         "or run 'flower-edge benchmark RUN --eval-data DIR' first")
    run_benches = {names[p]: read_benchmark(p) for p in paths if names[p] not in bundles}
    chosen = pick_threads(list(run_benches.values()), threads) if run_benches else (threads or 1)
    scored = bundle_benchmarks(bundles, run_benches, eval_data, chosen)
    benches = {names[p]: run_benches.get(names[p]) or scored[names[p]] for p in paths}
    image_set = check_same_images(benches)
    notes: list[str] = []
    rows = [row for (name, bench), path in zip(benches.items(), paths)
            for row in rows_of(name, path, bench, chosen, notes)]
    files = [Path(f) for f in latency_files]
    apply_device_latency(rows, files, chosen, notes)
    mark_frontiers(rows, budgets.size_metric)
    best, sentence = recommend(rows, budgets)
    return CompareReport(image_set=image_set, runs=[str(p) for p in paths], threads=chosen, budgets=budgets,
                         rows=rows, recommended=best.label if best else None, recommendation=sentence,
                         latency_files=[str(f) for f in files], notes=notes)
