"""Knowledge distillation: train a student run from a finished teacher run.

The student is an ordinary run (same trainer, phases, checkpoints, resume and
reports); only its training batches and its loss differ:
- each batch is one augmented view decoded at the student's and the teacher's size
  (`data.pipeline.make_view_pairs`), so the teacher labels exactly what the student
  sees ("function matching", Beyer et al. 2022);
- the teacher's logits are computed in the input pipeline, once per augmented batch,
  and ride along with the labels: targets are [one-hot | teacher logits];
- the loss mixes cross-entropy on the labels (weight alpha) with T^2 x KL between the
  softened teacher and student distributions (Hinton et al. 2015). Validation batches
  carry labels only, so val loss stays plain cross-entropy (early stopping and
  best-epoch choice mean the same as in `train`).
The student uses the teacher's split, so its validation and test photos are ones the
teacher never trained on either.
"""

from __future__ import annotations

import math
from pathlib import Path

from flower_edge.data.splits import DataSplits
from flower_edge.errors import UsageError
from flower_edge.rundir import RunDir
from flower_edge.train.config import RunConfig

EPS = 1e-7


def teacher_run(path: str) -> RunDir:
    """The teacher's run folder, checked: a finished run with a model and a split."""
    run = RunDir(Path(path))
    if not run.path.is_dir():
        raise UsageError(f"--teacher {path}: no such run folder (pass a folder written by 'flower-edge train')")
    if not run.model.is_file() or not run.split.is_file():
        raise UsageError(f"--teacher {path} has no model.keras and split.json: pass a finished run "
                         f"of 'flower-edge train' (or finish it with 'flower-edge train --resume {path}')")
    return run


def teacher_splits(cfg: RunConfig) -> DataSplits:
    """The teacher's split (re-rooted at --data when given), so held-out photos stay held out."""
    run = teacher_run(cfg.distill.teacher)
    # A refit teacher trained on val (and test): its first pass's split still holds them apart.
    return DataSplits.load(run.chosen_split(), root=cfg.data.path or None)


def data_path(teacher: str) -> str:
    """The folder the teacher was trained on, read from its config.toml."""
    from flower_edge.config import load_toml

    run = teacher_run(teacher)
    cfg = load_toml(run.config) if run.config.is_file() else {}
    return str(cfg.get("data", {}).get("path", ""))


def load_teacher_logits(path: str):
    """(a Keras model from 0..255 images to the teacher's logits, its input size)."""
    from flower_edge.models.build import load_keras_model
    from flower_edge.tfcompat import keras

    model = load_keras_model(teacher_run(path).model)
    try:
        logits = model.get_layer("logits").output
    except ValueError:
        raise UsageError(f"--teacher {path}: its model has no 'logits' layer; distill from a run "
                         f"of 'flower-edge train'") from None
    model.trainable = False
    return keras().Model(model.input, logits, name="teacher"), int(model.input_shape[1])


def unlabeled_paths(folder: str) -> list[str]:
    """Every image under `folder` (recursively), for --unlabeled."""
    from flower_edge.runtime.files import expand_inputs

    if not Path(folder).is_dir():
        raise UsageError(f"--unlabeled {folder}: not a folder (pass a folder of photos)")
    return [str(p) for p in expand_inputs([folder])]


def train_dataset(cfg: RunConfig, splits: DataSplits):
    """The training batches of a distilled run: (student view, [one-hot | teacher logits])."""
    from flower_edge.data.pipeline import make_view_pairs
    from flower_edge.tfcompat import tf

    teacher, size = load_teacher_logits(cfg.distill.teacher)
    n = len(splits.classes)
    if int(teacher.output_shape[-1]) != n:
        raise UsageError(f"the teacher has {teacher.output_shape[-1]} classes, this data {n}: "
                         f"distill on the teacher's own dataset")
    paths, labels = list(map(str, splits.train.paths)), list(splits.train.labels)
    if cfg.distill.unlabeled:
        extra = unlabeled_paths(cfg.distill.unlabeled)
        paths, labels = paths + extra, labels + [-1] * len(extra)
    pairs = make_view_pairs(paths, labels, (cfg.model.image_size, size), cfg.data.batch_size,
                            num_classes=n, seed=cfg.data.seed, cache=cfg.data.cache,
                            augment=cfg.train.augment, zoom=cfg.train.zoom, mixup=cfg.train.mixup,
                            color=cfg.train.color)

    def with_teacher(views, y):
        student_view, teacher_view = views
        logits = tf().cast(teacher(teacher_view, training=False), tf().float32)
        return student_view, tf().concat([y, logits], axis=-1)

    return pairs.map(tf().autograph.experimental.do_not_convert(with_teacher)).prefetch(2)


def train_steps(cfg: RunConfig, splits: DataSplits) -> int:
    """Batches per epoch: the labelled photos plus the unlabeled ones."""
    extra = len(unlabeled_paths(cfg.distill.unlabeled)) if cfg.distill.unlabeled else 0
    return max(1, math.ceil((len(splits.train) + extra) / cfg.data.batch_size))


def loss_and_metrics(cfg: RunConfig, num_classes: int):
    """The distillation loss and top-1/top-5 on the label part of the targets."""
    from flower_edge.tfcompat import keras, tf

    t, k = tf(), keras()
    temperature, alpha, n = cfg.distill.temperature, cfg.distill.alpha, num_classes

    def distill_loss(y_true, y_pred):
        # The model ends in softmax; log p is the logits up to a per-row constant,
        # which both softmaxes below ignore.
        log_p = t.math.log(t.clip_by_value(y_pred, EPS, 1.0))
        labels = y_true[:, :n]
        ce = -t.reduce_sum(labels * log_p, axis=-1)
        if y_true.shape[-1] == n:  # validation batches: labels only
            return ce
        soft_t = t.nn.softmax(y_true[:, n:] / temperature)
        log_soft_s = t.nn.log_softmax(log_p / temperature)
        kd = t.reduce_sum(soft_t * (t.math.log(soft_t + EPS) - log_soft_s), axis=-1) * temperature ** 2
        weight = alpha * t.reduce_max(labels, axis=-1)  # unlabeled rows: teacher only
        return weight * ce + (1.0 - weight) * kd

    def accuracy(y_true, y_pred):
        return k.metrics.categorical_accuracy(y_true[:, :n], y_pred)

    def top5(y_true, y_pred):
        return k.metrics.top_k_categorical_accuracy(y_true[:, :n], y_pred, k=min(5, n))

    return distill_loss, [accuracy, top5]


def check_student_target(cfg: RunConfig, out: str | None) -> None:
    """Refuse a student run folder that is its own teacher's (--force would replace it)."""
    teacher = teacher_run(cfg.distill.teacher).path.resolve()
    if out and Path(out).resolve() == teacher:
        raise UsageError(f"the student would replace its teacher {teacher.name}: choose another --out")
