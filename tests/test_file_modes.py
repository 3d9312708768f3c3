"""Files flower-edge writes get the mode an ordinary write gets (0644 / 0755 under umask
022), not mkstemp's 0600: another user, e.g. the service user of a systemd unit, can
read a bundle and run `predict` on it."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

USER = "flower-edge-reader"


@pytest.fixture()
def shared_dir():
    """A folder another user can reach (pytest's own temp root is private to its user)."""
    old = os.umask(0o022)
    folder = Path(tempfile.mkdtemp(prefix="flower-edge-modes-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        os.umask(old)
        shutil.rmtree(folder, ignore_errors=True)


def _modes(root: Path) -> dict[str, str]:
    """Every entry whose mode is not what mkdir/open give under umask 022."""
    wrong = {}
    for path in [root, *root.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        want = 0o755 if path.is_dir() else 0o644
        if not path.is_symlink() and mode != want:
            wrong[str(path.relative_to(root))] = oct(mode)
    return wrong


def _reader() -> str:
    """An unprivileged user for the test (created when missing; needs root)."""
    if os.geteuid() != 0 or not shutil.which("runuser") or not shutil.which("useradd"):
        pytest.skip("needs root with useradd and runuser to act as a second user")
    if subprocess.run(["id", "-u", USER], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER],
                       check=True, capture_output=True)
    return USER


def _python_for(user: str, env: dict) -> str:
    """This interpreter, or the system's of the same version when this one lies where the
    other user cannot go (e.g. a pyenv under /root); the packages come from PYTHONPATH."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for python in (sys.executable, shutil.which(version, path="/usr/bin:/usr/local/bin")):
        if python and subprocess.run(["runuser", "-u", user, "--", python, "-c", "import numpy, PIL, click"],
                                     env=env, capture_output=True).returncode == 0:
            return python
    pytest.skip(f"no {version} that the user {user} may run")


def test_run_and_bundle_files_get_ordinary_modes(shared_dir, synth_data, tiny_run, invoke):
    """Training (tiny_run, made under the suite's umask 022) and quantize: no 0600 file."""
    run = Path(shutil.copytree(tiny_run, shared_dir / "run"))  # copy2 keeps the modes
    result = invoke("quantize", run, "--fp32")
    assert result.exit_code == 0, result.output
    assert _modes(run) == {}


def test_another_user_reads_a_bundle_and_predicts(shared_dir, synth_data, tiny_run, invoke):
    user = _reader()
    run = Path(shutil.copytree(tiny_run, shared_dir / "run"))
    assert invoke("quantize", run, "--fp32").exit_code == 0
    bundle = run / "export" / "fp32"
    image = shared_dir / "rose.png"
    image.write_bytes(next(Path(synth_data).rglob("*.png")).read_bytes())
    site = [p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(shared_dir),
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1]), *site])}
    for name in ("model.tflite", "labels.txt", "manifest.json"):
        cat = subprocess.run(["runuser", "-u", user, "--", "cat", str(bundle / name)], capture_output=True)
        assert cat.returncode == 0, cat.stderr.decode()
    python = _python_for(user, env)
    proc = subprocess.run(["runuser", "-u", user, "--", python, "-m", "flower_edge.cli.main",
                           "predict", str(bundle), str(image), "--json"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)
    assert answer["errors"] == [] and '"probability"' in proc.stdout
