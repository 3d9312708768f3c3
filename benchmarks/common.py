"""What the benchmark scripts share, declared once: the CLI invocation, the load average
every figure is quoted with, the photos of a labelled folder, top-1 on a labelled folder
(scored by the same code as `flower-edge benchmark BUNDLE --eval-data DIR`), recipe TOML
writing, and the rerun checks' tiny pipeline recipe, tree hash and kill-at-a-point runner.

Scripts run as `python benchmarks/NAME.py` import it as `common`; tests import it as
`benchmarks.common` (setup.cfg puts the project root on pytest's path). Heavy imports
(the runtime, TensorFlow) stay inside the functions that need them.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# TensorFlow quiet and on the CPU, for CLI runs in a subprocess.
QUIET_ENV = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "3"}


def cli(*args) -> list[str]:
    """The argv of `flower-edge ARGS...` with this interpreter's installed flower-edge."""
    return [sys.executable, "-m", "flower_edge.cli.main", *map(str, args)]


def load_average() -> str:
    """'1.23 0.98 0.75': the 1, 5 and 15 minute load averages, printed beside each figure."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def photos(folder: str | os.PathLike, per_class: int = 0, limit: int = 0) -> list[Path]:
    """The photos under a folder, sorted, as `flower-edge predict DIR` lists them (hidden
    files skipped): `per_class` > 0 takes the first N of each class folder (a labelled
    set); `limit` > 0 then takes an even spread of that many over the list."""
    from flower_edge.runtime.files import expand_inputs

    root = Path(folder)
    if per_class:
        classes = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
        found = [p for d in classes for p in expand_inputs([d])[:per_class]]
    else:
        found = expand_inputs([root])
    if 0 < limit < len(found):
        found = [found[i] for i in np.linspace(0, len(found) - 1, limit).round().astype(int)]
    return found


def top1(bundle: str | os.PathLike, folder: str | os.PathLike, threads: int = 2, tta: str = "none",
         max_images: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(predicted class, true class) per photo of a labelled folder, as string arrays in the
    same photo order for every bundle of the same labels. Scored by the code of `flower-edge
    benchmark BUNDLE --eval-data DIR` (benchmark.target.score_bundle): the same decode,
    the same photos, so a script's top-1 is the command's; `tta="flip"` as `predict --tta`."""
    from flower_edge.benchmark.target import score_bundle
    from flower_edge.runtime.predictor import Predictor

    predictor = Predictor(bundle, threads=threads, tta=tta)
    probs, labels, _ = score_bundle(predictor, folder, max_images)
    classes = np.array(predictor.labels)
    return classes[probs.argmax(axis=1)], classes[labels]


def write_toml(path: str | os.PathLike, tables: Mapping[str, Mapping]) -> Path:
    """A recipe of flat tables ({"train": {"head_epochs": 2}}) as TOML: JSON spells every
    value it holds (numbers, strings, booleans, lists) as TOML does, so no TOML writer is
    needed; a nested table is an inline table."""
    def value(v) -> str:
        if isinstance(v, Mapping):
            return "{ " + ", ".join(f"{k} = {value(x)}" for k, x in v.items()) + " }"
        return json.dumps(v)

    lines = [line for table, keys in tables.items()
             for line in [f"[{table}]", *(f"{k} = {value(v)}" for k, v in keys.items()), ""]]
    path = Path(path)
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def tiny_recipe(image_size: int = 32, head_epochs: int = 2, variants: Iterable[str] = ("fp32", "int8"),
                calib_samples: int = 32, val_samples: int = 32, runs: int = 3,
                deletion_images: int = 8) -> dict:
    """A pipeline recipe small enough for tests and the kill matrix: tiny_cnn from scratch,
    a short latency run, explanations on a few images. Write it with write_toml."""
    return {
        "model": {"name": "tiny_cnn", "image_size": image_size, "weights": "none"},
        "train": {"head_epochs": head_epochs, "lr": 0.003},
        "quantize": {"variants": list(variants), "int8": {"calib_samples": calib_samples},
                     "val_samples": val_samples},
        "benchmark": {"threads": [1], "runs": runs, "warmup": 1, "gradcam_images": 2,
                      "deletion_images": deletion_images, "drift_images": 1, "misclassified_examples": 2,
                      "lime_samples": 40},
    }


def tree_sha(root: str | os.PathLike) -> dict[str, str]:
    """sha256 of every file under root by relative path, hidden ones (.stages/, markers) included."""
    root = Path(root)
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def float_int8(run: str | os.PathLike, folder: str | os.PathLike, threads: int = 2, tta: str = "none") -> dict:
    """A run's export/fp32 and export/int8 on a labelled folder: images, float_top1,
    int8_top1 and agreement (the share of photos where int8's top class is float's)."""
    export = Path(run) / "export"
    fp32, truth = top1(export / "fp32", folder, threads, tta)
    int8, _ = top1(export / "int8", folder, threads, tta)
    return {"images": len(truth), "float_top1": float(np.mean(fp32 == truth)),
            "int8_top1": float(np.mean(int8 == truth)), "agreement": float(np.mean(fp32 == int8))}


def labelled_images(folder: str | os.PathLike, classes: list[str], size: int) -> tuple[np.ndarray, np.ndarray]:
    """Every photo of a labelled folder as the model sees it (eval transform, uint8
    [N, size, size, 3]) and its label as an index into `classes`: the photos and labels
    `benchmark --eval-data` scores on (benchmark.imageset.labelled_folder)."""
    from flower_edge.benchmark.imageset import labelled_folder
    from flower_edge.runtime.transforms import load_for_model

    paths, labels = labelled_folder(folder, list(classes))
    return np.stack([load_for_model(p, size) for p in paths]), labels


@dataclass
class Killed:
    """How `kill_when` ended: 'killed', 'finished rc=N' or 'timeout'; when; stderr's end."""

    status: str
    seconds: float
    stderr: str


def kill_when(cmd: list[str], where: str | os.PathLike, pattern: str | None = None,
              seconds: float | None = None, limit: float = 600) -> Killed:
    """Run `cmd` (its own process group, QUIET_ENV) and SIGKILL the group when `pattern`
    matches under `where` or `seconds` have passed: a crash at that point."""
    where, start = Path(where), time.monotonic()
    with tempfile.TemporaryFile() as err:  # a file, not a pipe: a chatty child never blocks on it
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=QUIET_ENV,
                                start_new_session=True)
        status = "timeout"
        try:
            while proc.poll() is None:
                now = time.monotonic() - start
                if (seconds is not None and now >= seconds) or (pattern and any(where.glob(pattern))):
                    status = "killed"
                    break
                if now > limit:
                    break
                time.sleep(0.005)
            else:
                status = f"finished rc={proc.returncode}"
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        err.seek(0)
        return Killed(status, time.monotonic() - start, err.read().decode(errors="replace")[-2000:])
