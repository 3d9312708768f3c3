"""Session fixtures of tests/test_doc_commands.py: the folder a reader of the docs has: photo folders,
photos, videos, a bundle, one tiny trained run; a loopback server with the public data
sets' layout; and the small recipes the documented commands run with."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ("my_flowers", "photos", "flowers5", "flowers5-eval", "my_eval_photos")

SMALL_QUANTIZE = {"val_samples": 8, "debug_samples": 4, "check_runtimes": False,
                  "int8": {"calib_samples": 8}}
SMALL_BENCHMARK = {"threads": [4], "runs": 3, "warmup": 1, "max_images": 12, "gradcam_images": 1,
                   "deletion_images": 4, "drift_images": 1, "misclassified_examples": 1,
                   "neighbours": 1, "lime_samples": 50}


def value(argv: list[str], name: str) -> str | None:
    return argv[argv.index(name) + 1] if name in argv else None


def set_option(argv: list[str], name: str, to: str | None = None) -> None:
    """Give option `name` the value `to` (or add the flag), replacing what the page said."""
    if name in argv:
        if to is not None:
            argv[argv.index(name) + 1] = to
    else:
        argv += [name] if to is None else [name, to]


def _merge(recipe: dict, small: dict) -> dict:
    out = dict(recipe)
    for key, value in small.items():
        out[key] = _merge(out.get(key, {}), value) if isinstance(value, dict) else value
    return out


def _toml(table: dict, name: str = "") -> str:
    """Nested tables as [a.b] sections (values are numbers, booleans, strings, lists)."""
    import json

    def literal(v):
        return str(v).lower() if isinstance(v, bool) else json.dumps(v)

    head = f"[{name}]\n" if name else ""
    lines = [f"{k} = {literal(v)}\n" for k, v in table.items() if not isinstance(v, dict)]
    subs = [_toml(v, f"{name}.{k}" if name else k) for k, v in table.items() if isinstance(v, dict)]
    return head + "".join(lines) + "".join(subs)


def write_recipe(world: Path, argv: list[str], small: dict) -> None:
    """--config: the page's recipe (if any) with the small settings merged in."""
    given = value(argv, "--config")
    recipe = _merge(tomllib.loads((world / given).read_text()) if given else {}, small)
    path = world / ".recipes" / f"{argv[0]}-{len(list((world / '.recipes').iterdir()))}.toml"
    path.write_text(_toml(recipe))
    set_option(argv, "--config", str(path))


def mark_for_quarantine(csv_path: Path) -> None:
    """What a reader does before --approve CSV: mark a photo 'quarantine' in the action column."""
    import csv

    with open(csv_path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    rows[0]["action"] = "quarantine"
    with open(csv_path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


# ---- the reader's folder -------------------------------------------------------------


def _video(path: Path, photos: list[Path]) -> None:
    import cv2
    import numpy as np
    from PIL import Image

    fourcc = cv2.VideoWriter_fourcc(*("mp4v" if path.suffix == ".mp4" else "MJPG"))
    writer = cv2.VideoWriter(str(path), fourcc, 10, (64, 48))
    for photo in photos * 2:
        writer.write(np.asarray(Image.open(photo).convert("RGB").resize((64, 48)))[:, :, ::-1].copy())
    writer.release()
    assert path.stat().st_size > 0


def _rpk(folder: Path) -> None:
    import json

    from test_imx500_live import LABELS

    folder.mkdir()
    (folder / "network.rpk").write_bytes(b"stand-in firmware")
    (folder / "labels.txt").write_text("\n".join(LABELS) + "\n")
    (folder / "network_intrinsics.json").write_text(json.dumps(
        {"task": "classification", "classes": {"labels": LABELS}, "cpu": {"softmax": False}}))


@dataclass(frozen=True)
class World:
    root: Path
    base_run: Path


@pytest.fixture(scope="session")
def doc_world(tmp_path_factory, synth_data, tiny_run) -> World:
    """Photo folders (10 photos per class of the shared synthetic set), photos, videos, a
    bundle, and a copy of the shared tiny run with its fp32 and int8 bundles."""
    from click.testing import CliRunner
    from fixtures_quantize import copy_run
    from PIL import Image

    from flower_edge.cli.main import cli

    root = tmp_path_factory.mktemp("reader")
    for recipes in ("train", "quantize", "benchmark"):  # a reader's clone has the recipes
        shutil.copytree(ROOT / recipes, root / recipes)
    classes = sorted(p for p in Path(synth_data).iterdir() if p.is_dir())
    for name in DATA:  # a reader's own folder: no synthetic.json, no marker
        for cls in classes:
            (root / name / cls.name).mkdir(parents=True)
            for photo in sorted(cls.glob("*.png"))[:10]:
                shutil.copy(photo, root / name / cls.name / photo.name)
    photos = sorted((root / "my_flowers").rglob("*.png"))
    for name in ("photo.jpg", "rose.jpg"):
        Image.open(photos[0]).convert("RGB").save(root / name, "JPEG")
    (root / "timelapse").mkdir()
    for photo in photos[::15]:
        shutil.copy(photo, root / "timelapse" / photo.name)
    for name in ("garden.mp4", "flowers.avi"):
        _video(root / name, photos[::5])
    _rpk(root / "rpk")
    (root / ".recipes").mkdir()
    (root / ".scratch").mkdir()
    base = copy_run(Path(tiny_run), root / ".base" / "tiny")
    argv = ["quantize", str(base), "--fp32", "--int8"]
    write_recipe(root, argv, SMALL_QUANTIZE)
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 0, result.output
    shutil.copytree(base / "export" / "int8", root / "int8")
    shutil.copy(base / "export" / "int8" / "model.tflite", root / "their_model.tflite")
    return World(root, base)


def random_mobilenet_v2_base(root: Path) -> Path:
    """A MobileNetV2 no-top .h5 with random weights (no ImageNet base offline), made once."""
    path = root / "mobilenet_v2_notop_random.h5"
    if not path.exists():
        from flower_edge.tfcompat import keras

        keras().applications.MobileNetV2(include_top=False, weights=None, input_shape=(32, 32, 3)).save_weights(
            str(path))
    return path


# ---- what cannot run here as printed ---------------------------------------------------


def _archives() -> dict[str, bytes]:
    """tf_flowers' and Oxford 102's files, small, in their published layout."""
    import io

    import numpy as np
    import scipy.io
    from PIL import Image

    def jpeg(i: int) -> bytes:
        buf = io.BytesIO()
        Image.new("RGB", (40, 30), (40 * (i % 6), 90, 200 - 10 * (i % 9))).save(buf, "JPEG")
        return buf.getvalue()

    from loopback_files import tgz

    from flower_edge.data.fetch import TF_FLOWERS_CLASSES

    files = {"flower_photos.tgz": tgz({f"flower_photos/{c}/{j}.jpg": jpeg(j)
                                       for c in TF_FLOWERS_CLASSES for j in range(4)}),
             "102flowers.tgz": tgz({f"jpg/image_{i:05d}.jpg": jpeg(i) for i in range(1, 31)})}
    for name, arrays in (("imagelabels.mat", {"labels": np.arange(30) % 3 + 1}),
                         ("setid.mat", {"trnid": np.arange(1, 19), "valid": np.arange(19, 25),
                                        "tstid": np.arange(25, 31)})):
        buf = io.BytesIO()
        scipy.io.savemat(buf, {k: v.reshape(1, -1) for k, v in arrays.items()})
        files[name] = buf.getvalue()
    return files


@pytest.fixture(scope="session")
def dataset_server():
    """A loopback HTTP server with the archives of _archives(): (base URL, name -> bytes)."""
    from loopback_files import Files, serving

    with serving(Files(_archives())) as files:
        yield files.url, files.data


def fetch_locally(monkeypatch, dataset_server) -> None:
    import hashlib

    from flower_edge.data import fetch

    url, files = dataset_server
    monkeypatch.setenv(fetch.URL_ENV, url)
    info = fetch.DATASETS["oxford102"]
    remotes = tuple(fetch.Remote(r.name, hashlib.md5(files[r.name]).hexdigest(), r.archive) for r in info.files)
    monkeypatch.setitem(fetch.DATASETS, "oxford102", fetch.DatasetInfo(info.base_url, remotes))


def serve_and_stop(argv: list[str], env: dict, where: str) -> None:
    """Start `serve`, ask /healthz, stop it with Ctrl-C: it must answer and exit 0."""
    # A suite started in the background inherits SIGINT ignored; the child must see Ctrl-C.
    proc = subprocess.Popen([sys.executable, "-u", "-m", "flower_edge.cli.main", *argv], env={**os.environ, **env},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        seen, url, deadline = [], None, time.monotonic() + 60
        while url is None and time.monotonic() < deadline and proc.poll() is None:
            line = proc.stdout.readline()
            seen.append(line)
            found = re.search(r"http://[^\s/]+:\d+/", line)
            url = found.group(0) if found else None
        assert url, f"{where}: serve printed no address: {''.join(seen)[-1500:]}"
        with urllib.request.urlopen(url + "healthz", timeout=10) as answer:
            assert answer.status == 200
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0, f"{where}: serve exited {proc.returncode} on Ctrl-C"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

