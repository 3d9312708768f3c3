"""The pipeline recipe: the train tables [data] [model] [train] plus [quantize] and
[benchmark], each mapped onto its own stage's frozen dataclass.

Any train recipe is a pipeline recipe (the two extra tables default); an unknown
key or a wrong type in any table is a one-line UsageError.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field

from flower_edge.benchmark.config import BenchmarkConfig
from flower_edge.config import load_recipe_file, to_dict
from flower_edge.quantize.options import Int8Options
from flower_edge.quantize.recipe import QuantizeRecipe
from flower_edge.train.config import DataConfig, ModelConfig, RunConfig, TrainConfig


@dataclass(frozen=True)
class PipelineConfig:
    """train -> quantize -> benchmark -> report, one table per stage."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    quantize: QuantizeRecipe = field(default_factory=QuantizeRecipe)
    benchmark: BenchmarkConfig = field(default_factory=BenchmarkConfig)

    def run_config(self) -> RunConfig:
        """The [data] [model] [train] tables as the train stage's RunConfig."""
        return RunConfig(data=self.data, model=self.model, train=self.train)


# The demo: a small CNN from scratch at 96 px on the synthetic set; every variant,
# a short latency run and the explanation checks. Sized for ~3-5 min on 2 CPU cores.
DEMO = PipelineConfig(
    data=DataConfig(batch_size=32, seed=0),
    model=ModelConfig(name="baseline_cnn", image_size=96, weights="none", dropout=0.2),
    train=TrainConfig(head_epochs=12, finetune_epochs=0, lr=2e-3, schedule="cosine",
                      label_smoothing=0.05, augment=True),
    quantize=QuantizeRecipe(int8=Int8Options(calib_samples=200), val_samples=100),  # every variant
    # LIME with few samples and no occlusion in the deletion test keep the demo in its
    # minutes; a real benchmark scores both with the measured LIME default (2000 samples).
    benchmark=BenchmarkConfig(split="test", threads=(1, 2), runs=20, warmup=3, gradcam_images=6,
                              deletion_images=60, drift_images=4, misclassified_examples=4,
                              deletion_methods=("lime",), lime_samples=100),
)

# The demo's dataset (flower_edge.data.synthetic.write_synthetic arguments).
DEMO_DATA = {"classes": 5, "per_class": 80, "size": 128, "seed": 0}


def load_pipeline_recipe(path: str | os.PathLike | None,
                         base: PipelineConfig | None = None) -> PipelineConfig:
    """A recipe file onto PipelineConfig (tables it omits keep `base`'s values)."""
    return load_recipe_file(PipelineConfig, path, base)


def stage_tables(cfg: PipelineConfig) -> dict:
    """Each table as a plain dict (what a stage's fingerprint covers)."""
    return {f.name: to_dict(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)}
