"""The IMX500 conversion venv: Sony's converter and MCT, pinned, built on first use.

The toolchain needs TensorFlow 2.15, numpy<2, Python<=3.11 and Java>=17, so it cannot
share the workstation venv (TF 2.21, numpy 2). flower-edge builds its own venv from
`requirements.txt` (every package pinned, so pip resolves nothing and never backtracks)
and talks to it only through subprocesses: the main venv never imports MCT or the converter.

`make imx500` (or `python -m flower_edge.imx500.env`) builds it ahead of time.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from flower_edge.errors import FlowerEdgeError

REQUIREMENTS = Path(__file__).with_name("requirements.txt")
VENV_ENV = "FLOWER_EDGE_IMX500_VENV"  # where the venv lives (default: the user's cache)
PYTHON_ENV = "FLOWER_EDGE_IMX500_PYTHON"  # the Python 3.11 to build it with
STAMP = ".flower-edge-imx500"  # holds the sha256 of the requirements it was built from
BUILDING = ".flower-edge-imx500-building"  # written first: marks a half-built venv as ours
JAVA_FIX = "sudo apt-get install openjdk-17-jre-headless"
PYTHON_FIX = (f"install Python 3.11 (e.g. 'pyenv install 3.11' or Debian 12's python3) and point "
              f"{PYTHON_ENV} at it")
PYTHONS = ((3, 9), (3, 10), (3, 11))  # TF 2.15 wheels and the converter's TF plugin


def venv_dir() -> Path:
    if os.environ.get(VENV_ENV):
        return Path(os.environ[VENV_ENV]).expanduser()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "flower-edge" / "imx500" / "venv"


def venv_python() -> Path:
    return venv_dir() / "bin" / "python"


def requirements_hash() -> str:
    return hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()


def is_ready() -> bool:
    stamp = venv_dir() / STAMP
    return stamp.is_file() and stamp.read_text().strip() == requirements_hash() and venv_python().is_file()


def java_major(text: str) -> int | None:
    """17 from 'openjdk version "17.0.15" ...', 8 from 'java version "1.8.0_392"'."""
    match = re.search(r'version "(\d+)(?:\.(\d+))?', text)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def check_java() -> int:
    """The Java major version; a one-line error naming the fix below 17 or when missing."""
    java = shutil.which("java")
    if java is None:
        raise FlowerEdgeError(f"the IMX500 converter needs Java 17 or newer and no 'java' is on PATH: {JAVA_FIX}")
    proc = subprocess.run([java, "-version"], capture_output=True, text=True)
    major = java_major(proc.stderr + proc.stdout)
    if major is None or major < 17:
        raise FlowerEdgeError(f"the IMX500 converter needs Java 17 or newer, found "
                              f"{major or 'an unknown version'} ({java}): {JAVA_FIX}")
    return major


def find_python() -> str:
    """A Python the converter accepts (3.9-3.11), else a one-line error naming the fix."""
    candidates = [os.environ[PYTHON_ENV]] if os.environ.get(PYTHON_ENV) else \
        ["python3.11", "python3.10", "python3.9", "python3", sys.executable]
    for name in candidates:
        path = shutil.which(name) or (name if Path(name).is_file() else None)
        if path is None:
            continue
        proc = subprocess.run([path, "-c", "import sys, venv; print(*sys.version_info[:2])"],
                              capture_output=True, text=True)
        if proc.returncode == 0 and tuple(map(int, proc.stdout.split())) in PYTHONS:
            return path
    raise FlowerEdgeError(f"the IMX500 converter needs Python 3.9-3.11 (TensorFlow 2.15) and none was "
                          f"found: {PYTHON_FIX}")


def ensure_venv(echo=None) -> Path:
    """The conversion venv's python, built first if missing or built from other pins."""
    check_java()
    if is_ready():
        return venv_python()
    build(echo)
    return venv_python()


def build(echo=None) -> None:
    """(Re)build the venv from requirements.txt with a progress line on stderr."""
    echo = echo or (lambda text: print(text, file=sys.stderr))
    folder = venv_dir()
    if folder.exists():
        if not ((folder / STAMP).is_file() or (folder / BUILDING).is_file()):
            raise FlowerEdgeError(f"{folder} exists and was not made by flower-edge; remove it or set "
                                  f"{VENV_ENV} to a new folder")
        shutil.rmtree(folder)
    python = find_python()
    echo(f"building the IMX500 conversion venv in {folder} (once; ~2.3 GB, a few minutes)")
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.mkdir()
    (folder / BUILDING).write_text("flower-edge\n")
    subprocess.run([python, "-m", "venv", "--clear", str(folder)], check=True)
    (folder / BUILDING).write_text("flower-edge\n")  # --clear emptied the folder
    _pip_install(folder, echo)
    (folder / STAMP).write_text(requirements_hash() + "\n")
    (folder / BUILDING).unlink()


def _pip_install(folder: Path, echo) -> None:
    total = sum(1 for line in REQUIREMENTS.read_text().splitlines() if "==" in line)
    log_path = folder / "pip-install.log"
    cmd = [str(folder / "bin" / "python"), "-m", "pip", "install", "--no-input", "--progress-bar", "off",
           "-r", str(REQUIREMENTS)]
    done = 0
    with open(log_path, "w", encoding="utf-8") as log:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in proc.stdout:
            log.write(line)
            if line.startswith(("Collecting ", "Processing ", "Requirement already")):
                done += 1
                name = line.split()[1].split("/")[-1][:40]
                sys.stderr.write(f"\r  imx500 venv: {min(done, total)}/{total} packages ({name})".ljust(79))
                sys.stderr.flush()
            elif line.startswith("Installing collected"):
                sys.stderr.write("\r  imx500 venv: installing...".ljust(79))
        code = proc.wait()
    sys.stderr.write("\n")
    if code != 0:
        raise FlowerEdgeError(f"pip could not install the IMX500 toolchain (exit {code}); see {log_path}")


def main() -> int:
    from flower_edge.errors import one_line

    try:
        python = ensure_venv()
    except FlowerEdgeError as exc:
        print(f"error: {one_line(str(exc))}", file=sys.stderr)
        return 1
    print(f"IMX500 conversion venv ready: {python}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
