"""Session fixtures owned by the train stage's tests: real, finished run directories.

Other stages' tests use them as input (a run dir as `flower-edge train` writes it).
Treat them as read-only: copy a run (`shutil.copytree`) before changing it.
"""

from __future__ import annotations

from pathlib import Path

import pytest


def _data_dir(request) -> Path:
    """The data stage's synthetic set when it exists, else the real flowers5 photos."""
    try:
        return Path(request.getfixturevalue("synth_data"))
    except pytest.FixtureLookupError:
        return Path(request.getfixturevalue("flowers5"))


def train_run(out: Path, name: str, data_dir: Path, **tables):
    """Train in-process into the run folder OUT/NAME from {'data': {...}, 'model': {...}, 'train': {...}}; returns the RunDir."""
    from flower_edge.config import from_mapping
    from flower_edge.train.config import RunConfig
    from flower_edge.train.trainer import start_run

    mapping = {"data": {"path": str(data_dir), **tables.get("data", {})},
               "model": tables.get("model", {}), "train": tables.get("train", {})}
    return start_run(from_mapping(RunConfig, mapping), out=str(out / name))


@pytest.fixture(scope="session")
def tiny_run(request, tmp_path_factory):
    """tiny_cnn from scratch at 64 px, 2 epochs: a complete run dir in a few seconds."""
    data = _data_dir(request)
    return train_run(tmp_path_factory.mktemp("runs"), "tiny", data,
                     model={"name": "tiny_cnn", "image_size": 64, "weights": "none"},
                     train={"head_epochs": 2, "lr": 3e-3},
                     data={"batch_size": 32}).path


@pytest.fixture(scope="session")
def mnv2_run(flowers5, mnv2_weights, tmp_path_factory):
    """MobileNetV2 with the real ImageNet base at 96 px on flowers5, seed fixed: 4 epochs
    of head training on the frozen base, then 1 epoch fine-tuning the top 4 layers.
    Clearly above chance, realistic activations (for int8 agreement tests)."""
    return train_run(tmp_path_factory.mktemp("runs"), "mnv2", flowers5,
                     model={"name": "mobilenet_v2", "image_size": 96, "weights": str(mnv2_weights)},
                     train={"head_epochs": 4, "finetune_epochs": 1, "finetune_layers": 4,
                            "lr": 3e-3, "finetune_lr": 3e-4, "schedule": "constant",
                            "augment": False, "label_smoothing": 0.0},
                     data={"batch_size": 32, "seed": 0}).path
