"""BenchmarkConfig: what `flower-edge benchmark` measures, as a frozen recipe."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from flower_edge.data.splits import SplitName
from flower_edge.errors import UsageError
from flower_edge.explain.settings import DEFAULT_SEGMENTS, PREDICTION_MAPS

# compare --size-metric: which size a budget and the size frontier use (benchmark/compare.py)
SizeMetric = Literal["gzip", "file"]
SIZE_METRICS: tuple[str, ...] = get_args(SizeMetric)
DELETION_METHODS = PREDICTION_MAPS  # scored beside Grad-CAM and random
BENCHMARK_LIME_SAMPLES = 500


@dataclass(frozen=True)
class BenchmarkConfig:
    """Knobs of one benchmark run. Recipes in benchmark/*.toml map onto it."""

    split: SplitName = "test"
    # A folder-per-class set scored instead of the split (its classes = the run's labels):
    # one common set makes runs trained differently comparable (`flower-edge compare`).
    eval_data: str = ""
    threads: tuple[int, ...] = (1, 2, 4)
    runs: int = 50  # timed invokes per thread count, batch 1
    warmup: int = 5  # untimed invokes before timing
    max_images: int = 0  # 0 = the whole split
    explain: bool = True  # Grad-CAM overlays, deletion test, drift, misclassifications
    gradcam_images: int = 8  # K overlays in report/gradcam/
    deletion_images: int = 50  # images in the Grad-CAM deletion test (at least 50 to count)
    deletion_fraction: float = 0.2  # share of pixels blurred
    # Maps scored in the deletion test beside Grad-CAM and random, on the same images.
    # LIME costs lime_samples forward passes per image: [] keeps the test to Grad-CAM.
    deletion_methods: tuple[str, ...] = DELETION_METHODS
    # LIME in the deletion test and beside misclassified images. A quarter of `explain`'s
    # 2000: the deletion score is a mean over 50 images, so one image's seed noise matters
    # less than 50 x 2000 forward passes (10-20 min at 224 px on 2 cores) would cost.
    lime_samples: int = BENCHMARK_LIME_SAMPLES
    lime_segments: int = DEFAULT_SEGMENTS
    drift_images: int = 8  # K images for occlusion drift per TFLite variant
    misclassified_examples: int = 4  # rows in misclassified.png
    neighbours: int = 3  # nearest training images shown per misclassified image
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.threads or any(t < 1 for t in self.threads):
            raise UsageError(f"--threads must be positive integers such as 1,2,4, got "
                             f"{','.join(str(t) for t in self.threads) or 'nothing'}")
        if self.runs < 1 or self.warmup < 0:
            raise UsageError(f"--runs must be >= 1 and --warmup >= 0, got {self.runs} and {self.warmup}")
        if self.max_images < 0:
            raise UsageError(f"--max-images must be >= 0 (0 = whole split), got {self.max_images}")
        if not 0.0 < self.deletion_fraction < 1.0:
            raise UsageError(f"deletion_fraction must be between 0 and 1, got {self.deletion_fraction}")
        unknown = [m for m in self.deletion_methods if m not in DELETION_METHODS]
        if unknown:
            raise UsageError(f"deletion_methods: unknown '{unknown[0]}' (choose from {', '.join(DELETION_METHODS)})")
        if self.lime_samples < 20 or self.lime_segments < 4:
            raise UsageError(f"lime_samples must be >= 20 and lime_segments >= 4, got {self.lime_samples} "
                             f"and {self.lime_segments}")
        for name in ("gradcam_images", "deletion_images", "drift_images",
                     "misclassified_examples", "neighbours"):
            if getattr(self, name) < 0:
                raise UsageError(f"{name} must be >= 0, got {getattr(self, name)}")
