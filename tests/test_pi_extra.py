"""The `pi` extra alone: a fresh venv with only `flower-edge[pi]` (no TensorFlow) runs
`flower-edge predict` on bundles made here and gets the same predictions.

Packages come from the package registry (PyPI), as on a Raspberry Pi; pip's cache
makes reruns fast. Without network it skips, except under CI=true where it fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from flower_edge.runtime.predictor import Predictor

ROOT = Path(__file__).resolve().parents[1]


def _source_copy(dest: Path) -> Path:
    """Just the package sources, so pip's build never writes into the checkout."""
    for name in ("pyproject.toml", "setup.cfg", "README.md"):
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, dest / name)
    shutil.copytree(ROOT / "flower_edge", dest / "flower_edge",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return dest


@pytest.fixture(scope="module")
def pi_venv(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("pi_extra")
    (base / "src").mkdir()
    src = _source_copy(base / "src")
    env_dir = base / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    cmd = [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-compile",
           "--disable-pip-version-check", "-q", f"{src}[pi]"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["?"])[-1]
        if os.environ.get("CI") == "true":
            pytest.fail(f"pip install flower-edge[pi] failed: {last}")
        pytest.skip(f"pip install flower-edge[pi] failed (offline?): {last}")
    return python


def test_pi_extra_has_no_tensorflow_and_predicts_the_same(pi_venv, runtime_bundles, tmp_path):
    check = subprocess.run([str(pi_venv), "-c", "import importlib.util as u, sys; "
                            "sys.exit(any(u.find_spec(m) for m in ('tensorflow', 'tf_keras')))"])
    assert check.returncode == 0, "the pi extra pulled in TensorFlow"
    images = tmp_path / "images"
    images.mkdir()
    for path in runtime_bundles["paths"][::20]:
        shutil.copy(path, images / path.name)
    cli = pi_venv.parent / "flower-edge"
    for variant in ("fp32", "int8"):
        bundle = runtime_bundles["bundles"][variant]
        out = subprocess.run([str(cli), "predict", str(bundle), str(images), "--json",
                              "--top-k", "3", "--threads", "1"], capture_output=True, text=True,
                             timeout=120)
        assert out.returncode == 0, out.stderr
        result = json.loads(out.stdout)
        assert result["interpreter"] == "ai-edge-litert"
        assert len(result["predictions"]) == 25 and not result["errors"]
        full = Predictor(bundle, threads=1)
        for row in result["predictions"]:
            expected = full.predict(row["path"], top_k=3)
            assert [r["label"] for r in row["top_k"]] == [label for label, _ in expected]
            for got, (_, prob) in zip(row["top_k"], expected):
                assert got["probability"] == pytest.approx(prob, abs=1e-6)
