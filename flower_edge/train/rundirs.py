"""Choosing and guarding run directories: unique default names, no silent overwrite."""

from __future__ import annotations

import time
from pathlib import Path

from flower_edge import guard
from flower_edge.errors import UsageError
from flower_edge.rundir import DEFAULT_ROOT, RunDir


def new_run_dir(model_name: str, out: str | None = None, force: bool = False,
                data: str | None = None) -> guard.Target:
    """The run folder OUT itself (default artifacts/<model>-<YYYYmmdd-HHMMSS>[-n]).

    An existing run is refused unless `force`, and then replaced atomically: the new run
    is written beside it (Target.work) and swapped in by Target.commit(). A folder that
    is not a run, or that holds, lies in or contains `data`, is always refused (guard.py).
    Resuming is a separate, explicit `--resume RUN`.
    """
    if out:
        path = Path(out)
        if path.exists() and not path.is_dir():
            raise UsageError(f"--out {path} is a file; pass a folder for the run")
    else:
        path = default_run_path(model_name)
    return guard.prepare(path, "run", "run folder", force, data=[data] if data else guard.NO_DATA,
                         hint=f"pass --resume {path} to continue it, --force to replace it "
                              f"(atomically), or choose another --out")


def default_run_path(model_name: str) -> Path:
    """artifacts/<model>-<YYYYmmdd-HHMMSS>[-n]: a new folder name, never an existing one."""
    return _unique(DEFAULT_ROOT, f"{model_name}-{time.strftime('%Y%m%d-%H%M%S')}")


def _unique(root: Path, base: str) -> Path:
    path, n = root / base, 1
    while path.exists():
        n += 1
        path = root / f"{base}-{n}"
    return path


def existing_run(path: str) -> RunDir:
    """A run directory to resume: it must hold the config and split a run starts with."""
    run = RunDir(Path(path))
    if not run.path.is_dir():
        raise UsageError(f"cannot resume: {run.path} is not a folder (pass a run directory "
                         f"written by 'flower-edge train')")
    if not run.config.is_file() or not run.split.is_file():
        raise UsageError(f"cannot resume {run.path}: it has no config.toml/split.json, so it is "
                         f"not a training run; start a new one without --resume")
    return run
