"""Session fixtures owned by the data stage's tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def synth_data(tmp_path_factory):
    """A small synthetic flower set (4 classes x 40 images, 64 px, seed 0), folder-per-class."""
    from flower_edge.data.synthetic import write_synthetic

    return write_synthetic(tmp_path_factory.mktemp("synth") / "flowers", classes=4, per_class=40,
                           size=64, seed=0)


@pytest.fixture(scope="session")
def oxford_layout(tmp_path_factory, oxford102_meta):
    """An Oxford 102 folder: the real .mat files and 8189 hard links to one tiny JPEG."""
    import os
    import shutil

    from PIL import Image

    root = tmp_path_factory.mktemp("oxford") / "oxford102"
    (root / "jpg").mkdir(parents=True)
    for name in ("imagelabels.mat", "setid.mat"):
        shutil.copyfile(oxford102_meta / name, root / name)
    seed_file = root / "seed.jpg"
    Image.new("RGB", (8, 8), (200, 40, 90)).save(seed_file)
    for i in range(1, 8190):
        os.link(seed_file, root / "jpg" / f"image_{i:05d}.jpg")
    seed_file.unlink()
    return root
