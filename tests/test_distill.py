"""Distillation: the student learns the teacher's function, as an ordinary run."""

from __future__ import annotations

import numpy as np
import pytest
from fixtures_train import train_run


def _probs(run_path, paths, size):
    from flower_edge.data.pipeline import eval_images
    from flower_edge.models.build import load_keras_model

    model = load_keras_model(run_path / "model.keras")
    return model.predict(eval_images(paths, size).astype(np.float32), verbose=0)


def _kl(p, q):
    p, q = np.clip(p, 1e-7, 1), np.clip(q, 1e-7, 1)
    return float(np.mean(np.sum(p * np.log(p / q), axis=1)))


@pytest.fixture(scope="module")
def teacher(tiny_run, tmp_path_factory):
    """A sure teacher: tiny_cnn at 64 px trained long enough to hold opinions."""
    from flower_edge.config import load_toml

    data = load_toml(tiny_run / "config.toml")["data"]["path"]
    return train_run(tmp_path_factory.mktemp("teacher"), "teacher", data,
                     model={"name": "tiny_cnn", "image_size": 64, "weights": "none"},
                     train={"head_epochs": 10, "lr": 3e-3},
                     # 30% held out (48 photos), not the default 20%: the top-1 comparison
                     # below needs more than 32 held-out photos to mean something.
                     data={"batch_size": 32, "fractions": [0.7, 0.15, 0.15]}).path


@pytest.fixture(scope="module")
def students(teacher, tmp_path_factory):
    """The same tiny student recipe trained alone and distilled from the teacher."""
    from flower_edge.config import from_mapping, load_toml
    from flower_edge.train.config import RunConfig
    from flower_edge.train.trainer import distill_run

    out = tmp_path_factory.mktemp("students")
    data = load_toml(teacher / "config.toml")["data"]["path"]
    tables = {"model": {"name": "tiny_cnn", "image_size": 32, "weights": "none"},
              "train": {"head_epochs": 20, "lr": 3e-3}, "data": {"batch_size": 32}}
    alone = train_run(out, "alone", data, **tables)
    cfg = from_mapping(RunConfig, {"data": {"path": data, "batch_size": 32}, **tables,
                                   "distill": {"teacher": str(teacher), "alpha": 0.0, "temperature": 2.0}})
    return alone.path, distill_run(cfg, out=str(out / "kd")).path


def test_distilled_student_is_closer_to_the_teacher(students, teacher):
    from flower_edge.data.splits import DataSplits

    alone, kd = students
    splits = DataSplits.load(teacher / "split.json")
    held_out = list(splits.val.paths) + list(splits.test.paths)  # neither model trained on them
    target = _probs(teacher, held_out, 64)
    p_alone, p_kd = _probs(alone, held_out, 32), _probs(kd, held_out, 32)
    assert _kl(target, p_kd) < 0.7 * _kl(target, p_alone), (_kl(target, p_kd), _kl(target, p_alone))
    assert np.mean(target.argmax(1) == p_kd.argmax(1)) >= np.mean(target.argmax(1) == p_alone.argmax(1))


def test_student_is_an_ordinary_run_with_a_distill_table(students, teacher, invoke):
    from flower_edge.config import load_toml

    _, kd = students
    cfg = load_toml(kd / "config.toml")
    assert cfg["distill"]["teacher"] == str(teacher) and cfg["distill"]["alpha"] == 0.0
    assert (kd / "split.json").read_text() == (teacher / "split.json").read_text()  # the teacher's split
    assert "distill" not in load_toml(teacher / "config.toml")  # plain runs carry no [distill]
    result = invoke("quantize", str(kd), "--int8", "--calib-samples", "16")
    assert result.exit_code == 0, result.output
    assert (kd / "export" / "int8" / "model.tflite").is_file()


def test_two_sizes_are_one_augmented_view(flowers5):
    """The teacher's and the student's inputs are the same warp of the same photo."""
    from flower_edge.data.pipeline import make_view_pairs
    from flower_edge.runtime.files import expand_inputs
    from flower_edge.tfcompat import tf

    paths = [str(p) for p in expand_inputs([flowers5])[::50][:8]]  # 8 photos of several classes
    for extra in ({}, {"mixup": 0.4, "color": 0.4, "zoom": (0.6, 1.0)}):
        ds = make_view_pairs(paths, [i % 5 for i in range(8)], (32, 96), batch_size=8, num_classes=5,
                             cache=False, **extra)
        (small, big), y = next(iter(ds))
        shrunk = tf().image.resize(big, (32, 32), antialias=True).numpy()
        same = np.abs(shrunk - small.numpy()).mean()
        other = np.abs(shrunk - small.numpy()[::-1]).mean()  # another photo's view
        assert same < 12 and same < other / 3, (extra, same, other)
        assert y.shape == (8, 5) and np.allclose(y.numpy().sum(1), 1)


def test_unlabeled_rows_carry_only_the_teacher(tiny_run, flowers5, tmp_path):
    from flower_edge.config import from_mapping
    from flower_edge.data.splits import DataSplits
    from flower_edge.train.config import RunConfig
    from flower_edge.train.distill import train_dataset, train_steps

    unlabeled = tmp_path / "unlabeled"
    unlabeled.mkdir()
    for src in sorted((flowers5 / "rose").iterdir())[:40]:
        (unlabeled / src.name).write_bytes(src.read_bytes())
    cfg = from_mapping(RunConfig, {"data": {"path": "", "batch_size": 64},
                                   "model": {"name": "tiny_cnn", "image_size": 32, "weights": "none"},
                                   "distill": {"teacher": str(tiny_run), "unlabeled": str(unlabeled)}})
    splits = DataSplits.load(tiny_run / "split.json")
    assert train_steps(cfg, splits) == -(-(len(splits.train) + 40) // 64)
    train = train_dataset(cfg, splits)
    targets = np.concatenate([y.numpy() for _, y in train])
    n = len(splits.classes)
    assert targets.shape == (len(splits.train) + 40, 2 * n)
    assert int((targets[:, :n].sum(1) == 0).sum()) == 40  # unlabeled: no one-hot
    assert np.isfinite(targets[:, n:]).all() and targets[:, n:].std() > 0  # the teacher's logits


def test_bad_teacher_is_one_line(invoke, tmp_path):
    (tmp_path / "notarun").mkdir()
    result = invoke("distill", "--teacher", str(tmp_path / "notarun"), "--backbone", "tiny_cnn")
    assert result.exit_code == 2
    assert "finished run" in result.output and "Traceback" not in result.output


def test_student_never_replaces_its_teacher(invoke, teacher):
    before = (teacher / "model.keras").read_bytes()
    result = invoke("distill", "--teacher", str(teacher), "--backbone", "tiny_cnn", "--out", str(teacher), "--force")
    assert result.exit_code == 2 and "replace its teacher" in result.output
    assert (teacher / "model.keras").read_bytes() == before
