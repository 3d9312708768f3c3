"""Benchmark results as data: one row per model variant, plus the explanation checks.

Rendering (Markdown, PNG) lives in `render.py`; these are plain dataclasses that
round-trip through JSON. The deletion test's result is the explain stage's own
(`explain/deletion.py`): benchmark depends on explain, never the reverse.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from flower_edge.explain.deletion import DeletionResult


@dataclass
class LatencyStat:
    """Batch-1 invoke latency at one thread count, after warmup."""

    threads: int
    median_ms: float
    p90_ms: float


@dataclass
class BenchmarkRow:
    """One variant: the Keras float model (`keras`) or a TFLite bundle."""

    variant: str
    kind: str  # "keras" | "tflite"
    path: str
    status: str = "ok"  # "ok" | "failed"
    error: str | None = None
    size_mb: float | None = None
    gzip_mb: float | None = None  # the model file gzip -9: what goes over the air to a fleet
    load_ms: float | None = None
    peak_memory_mb: float | None = None
    latency: list[LatencyStat] = field(default_factory=list)
    top1: float | None = None
    top5: float | None = None
    mean_class_accuracy: float | None = None
    agreement: float | None = None  # top-1 agreement with the Keras model
    kl_divergence: float | None = None  # mean KL(keras || variant)
    occlusion_spearman: float | None = None  # explanation drift vs the Keras model
    interpreter: str | None = None
    model_sha256: str | None = None  # of model.tflite, from the manifest: ties a row to a bundle

    def latency_at(self, threads: int) -> LatencyStat | None:
        return next((s for s in self.latency if s.threads == threads), None)

    @classmethod
    def from_dict(cls, raw: dict) -> BenchmarkRow:
        """A row from benchmark.json (or `benchmark BUNDLE --json`); unknown keys are
        dropped, so files from older or newer versions still load."""
        known = {f.name for f in fields(cls)}
        row = cls(**{k: v for k, v in raw.items() if k in known and k != "latency"})
        row.latency = [LatencyStat(**{k: s[k] for k in ("threads", "median_ms", "p90_ms")})
                       for s in raw.get("latency") or []]
        return row


@dataclass
class ImageSet:
    """Which images accuracy was scored on, so reports can be checked for "same images".

    `fingerprint`: sha256 over the sorted lines `relative/path<TAB>class<TAB>sha256(file)`
    (see benchmark/imageset.py for why content, not names or sizes)."""

    kind: str  # "split" | "folder"
    name: str  # the split's name, or the folder as given
    images: int
    fingerprint: str


@dataclass
class Misclassification:
    """Where the float model goes wrong on the split."""

    worst_classes: list[tuple[str, float, int]]  # (class, accuracy, support)
    confused_pairs: list[tuple[str, str, int]]  # (true, predicted, count)
    errors: int
    image: str | None = None  # misclassified.png, relative to report/
    explained: str | None = None  # misclassified_explained.png: Grad-CAM beside LIME


@dataclass
class BenchmarkReport:
    """Everything `flower-edge benchmark` measured on one run."""

    run: str
    split: str
    images: int
    threads: list[int]
    runs: int
    warmup: int
    rows: list[BenchmarkRow]
    notes: list[str] = field(default_factory=list)
    deletion: DeletionResult | None = None
    misclassification: Misclassification | None = None
    gradcam_images: list[str] = field(default_factory=list)  # relative to report/
    memory_method: str = ""
    image_set: ImageSet | None = None

    def to_json(self) -> dict:
        return asdict(self)
