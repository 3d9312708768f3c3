"""The training recipe as frozen dataclasses: [data], [model] and [train] tables.

Defaults are a sensible real-use recipe (two-phase fine-tuning, augmentation,
cosine schedule), not the TF tutorial's frozen-base head, and they were chosen for
the int8 model as much as the float one (docs/int8-fidelity.md).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Literal, get_args

from flower_edge.config import dumps_toml, load_recipe_file, to_dict
from flower_edge.data.sources import Source
from flower_edge.errors import UsageError

# Each list of choices is declared once, here; the CLI reads them with typing.get_args.
Optimizer = Literal["sgd", "adam", "rmsprop"]
Schedule = Literal["constant", "cosine", "triangular", "triangular2", "exp_range", "plateau"]
Precision = Literal["float32", "mixed_float16", "mixed_bfloat16"]
Strategy = Literal["auto", "mirrored", "multiworker"]
# After the run, retrain on train + val ("val") or on every photo ("all") for the epochs
# it chose, and ship that model (train/refit.py).
Refit = Literal["off", "val", "all"]
REFIT_CHOICES = get_args(Refit)
# ModelConfig.weights: "spec" = the backbone's own (ImageNet where it has pretrained
# weights, none where it has none); resolve() writes the choice into the saved config.
SPEC_WEIGHTS = "spec"


@dataclass(frozen=True)
class DataConfig:
    """Where the photos are and how they are split and batched."""

    path: str = ""
    source: Source | None = None  # None = detect (folder-per-class, oxford102, ...)
    seed: int = 0
    # 80/10/10 as in Model Maker: on flowers5 it beat 70/15/15 by +0.4 and +2.0 pp on
    # held-out photos (two seeds, docs/recipe-study.md); val still picks the best epoch.
    fractions: tuple[float, ...] = (0.8, 0.1, 0.1)
    batch_size: int = 32
    cache: bool = True

    def __post_init__(self):
        if self.batch_size < 1:
            raise UsageError(f"batch size must be at least 1, got {self.batch_size} (try --batch-size 32)")


@dataclass(frozen=True)
class ModelConfig:
    """Which backbone, at which size, from which weights."""

    name: str = "mobilenet_v2"
    image_size: int = 0  # 0 = the spec's default size
    weights: str = SPEC_WEIGHTS  # 'spec' | 'imagenet' | 'none' | path to a notop .h5
    dropout: float = 0.2

    def __post_init__(self):
        if not 0.0 <= self.dropout < 1.0:
            raise UsageError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.image_size < 0:
            raise UsageError(f"image size must be positive (or 0 for the model's default), got {self.image_size}")


@dataclass(frozen=True)
class TrainConfig:
    """Two-phase fine-tuning: phase 1 trains the head, phase 2 the top of the backbone."""

    optimizer: Optimizer = "adam"
    momentum: float = 0.9
    lr: float = 1e-3
    # Measured on the pretrained MobileNetV2 + flowers5 (docs/int8-fidelity.md): a 5-epoch
    # head ended at lr 1e-5 while still improving; 10 + 15 with the whole backbone unfrozen
    # gave the best float top-1 and the widest margins, which is what int8 keeps.
    head_epochs: int = 10
    finetune_epochs: int = 15
    finetune_layers: int | str = "spec"  # N, "all", or "spec" = the spec's recipe default
    # 3e-4, not 1e-4: on 1,500 held-out photos (docs/recipe-study.md) +1.20 / +1.33 pp float,
    # +0.93 / +0.67 pp int8 and +0.47 / +0.67 pp int8 agreement on two seeds, same epochs.
    finetune_lr: float = 3e-4
    schedule: Schedule = "cosine"
    warmup_epochs: float = 0.0
    cycle_epochs: float = 4.0  # cyclic schedules: epochs per full cycle
    min_lr_ratio: float = 0.01  # cosine floor / cyclic base, as a fraction of lr
    # Off: with 0.1 the same recipe gave 86.7% val int8<->float agreement, without it 96-97%.
    # Smoothing squeezes the logits' spread, so int8 noise flips more decisions.
    label_smoothing: float = 0.0
    class_weights: bool = False
    early_stopping: int = 0  # patience in epochs on val loss; 0 = off
    restore_best: bool = True  # end with the best-on-val epoch's weights, not the last
    augment: bool = True
    # Recipe-study levers (docs/recipe-study.md); the defaults keep the earlier recipe.
    zoom: tuple[float, float] = (0.8, 1.2)  # augmentation zoom range (>1 = crop in)
    mixup: float = 0.0  # Beta(a, a) mixup of image pairs and their labels; 0 = off
    color: float = 0.0  # contrast and saturation jitter strength (factor in [1-c, 1+c]); 0 = off
    layer_lr_ratio: float = 1.0  # lowest backbone layer's rate / the top's, geometric between; 1 = off
    swa_epochs: int = 0  # average the weights of the final phase's last N epochs (SWA); 0 = off
    weight_decay: float = 0.0
    precision: Precision = "float32"
    jit: bool = False
    strategy: Strategy = "auto"
    refit: Refit = "off"  # final refit (train/refit.py)

    def __post_init__(self):
        if self.refit not in REFIT_CHOICES:
            raise UsageError(f"refit must be one of {', '.join(REFIT_CHOICES)}, got {self.refit!r}")
        if self.head_epochs < 0 or self.finetune_epochs < 0:
            raise UsageError("epochs must be 0 or more (--epochs for the head, --finetune-epochs for phase 2)")
        if self.head_epochs + self.finetune_epochs == 0:
            raise UsageError("nothing to train: set --epochs or --finetune-epochs above 0")
        if self.lr <= 0 or self.finetune_lr <= 0:
            raise UsageError(f"learning rates must be positive, got lr={self.lr}, finetune_lr={self.finetune_lr}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise UsageError(f"label smoothing must be in [0, 1), got {self.label_smoothing}")
        if isinstance(self.finetune_layers, str) and self.finetune_layers not in ("all", "spec"):
            raise UsageError(f"finetune_layers must be a number, 'all' or 'spec', got {self.finetune_layers!r}")
        if isinstance(self.finetune_layers, int) and self.finetune_layers < 0:
            raise UsageError(f"finetune_layers must be 0 or more, got {self.finetune_layers}")
        if len(self.zoom) != 2 or not 0 < self.zoom[0] <= self.zoom[1]:
            raise UsageError(f"zoom must be [low, high] with 0 < low <= high, got {list(self.zoom)}")
        if not 0 <= self.color <= 1:
            raise UsageError(f"color jitter strength must be in [0, 1], got {self.color}")
        if self.mixup < 0:
            raise UsageError(f"mixup must be 0 (off) or a positive Beta alpha, got {self.mixup}")
        if not 0 < self.layer_lr_ratio <= 1:
            raise UsageError(f"layer_lr_ratio must be in (0, 1] (1 = one rate for all layers), got {self.layer_lr_ratio}")
        if self.swa_epochs < 0:
            raise UsageError(f"swa_epochs must be 0 (off) or more, got {self.swa_epochs}")

    @property
    def total_epochs(self) -> int:
        return self.head_epochs + self.finetune_epochs


@dataclass(frozen=True)
class DistillConfig:
    """Knowledge distillation from a finished teacher run (`flower-edge distill`).

    The loss is alpha x cross-entropy on the labels + (1 - alpha) x T^2 x KL between the
    teacher's and the student's softened probabilities (temperature T), the teacher
    seeing the same augmented view as the student (function matching). Photos of
    `unlabeled` (any folder of images) train on the teacher's targets alone.
    """

    teacher: str = ""  # the teacher's run directory; "" = plain training
    # The teacher alone (no label term) at T 2 gained on both students measured on
    # flowers5-eval (train/README.md, benchmarks/bench_distill.py): +3.7 pp for MobileNetV2@96
    # and +6.0 pp for a 0.35-width one from scratch. T 1 lost the from-scratch student's
    # gain (-0.7 pp); alpha 0.2 halved the pretrained one's (+1.7 pp).
    temperature: float = 2.0
    alpha: float = 0.0
    unlabeled: str = ""

    def __post_init__(self):
        if self.temperature <= 0:
            raise UsageError(f"distill temperature must be positive, got {self.temperature} (try 2)")
        if not 0.0 <= self.alpha <= 1.0:
            raise UsageError(f"distill alpha (weight of the labels) must be in [0, 1], got {self.alpha}")


@dataclass(frozen=True)
class RunConfig:
    """The whole recipe: saved as config.toml in every run directory."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)


def load_recipe(path: str | os.PathLike | None) -> RunConfig:
    """A recipe file onto RunConfig (unknown key = error); None gives the defaults."""
    return load_recipe_file(RunConfig, path)


def resolve(cfg: RunConfig) -> RunConfig:
    """Fill spec-dependent defaults (image size, fine-tune depth) so the saved config is explicit."""
    from flower_edge.models import get_spec

    spec = get_spec(cfg.model.name)
    size = spec.check_size(cfg.model.image_size or spec.default_size)
    weights = cfg.model.weights
    if weights == SPEC_WEIGHTS:
        weights = "imagenet" if spec.pretrained else "none"
    cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, weights=weights))
    depth = spec.finetune_layers if cfg.train.finetune_layers == "spec" else cfg.train.finetune_layers
    train = dataclasses.replace(cfg.train, finetune_layers=depth)
    if from_scratch(cfg) and train.finetune_epochs:
        # No pretrained backbone: phase 1 already trains every layer, so a second
        # "fine-tune" phase would only be more epochs; fold it into phase 1.
        train = dataclasses.replace(train, head_epochs=train.head_epochs if train.head_epochs
                                    else train.finetune_epochs, finetune_epochs=0)
    return dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, image_size=size),
                               train=train)


def folded_epochs_note(cfg: RunConfig) -> str | None:
    """One line when resolve() drops a from-scratch run's phase-2 epochs, else None."""
    if not (from_scratch(resolve(cfg)) and cfg.train.head_epochs and cfg.train.finetune_epochs):
        return None
    total = cfg.train.total_epochs
    return (f"warning: without pretrained weights every layer trains from the first epoch, so the "
            f"run is one phase of --epochs {cfg.train.head_epochs} and --finetune-epochs "
            f"{cfg.train.finetune_epochs} is not used (for {total} epochs pass --epochs {total})")


def from_scratch(cfg: RunConfig) -> bool:
    """True when the backbone starts random, so it trains from the first epoch."""
    return cfg.model.weights in ("", "none")


def dumps(cfg: RunConfig) -> str:
    """The resolved config as TOML text; a [distill] table only in a distilled run."""
    tables = to_dict(cfg)
    if not cfg.distill.teacher:
        tables.pop("distill")
    return dumps_toml(tables)
