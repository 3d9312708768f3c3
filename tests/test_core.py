"""The shared core: config strictness, atomic writes, the CLI shell, TF-free import."""

import dataclasses
import subprocess
import sys
from typing import Literal

import pytest

from flower_edge.config import dumps_toml, from_mapping, load_toml, override, to_dict
from flower_edge.errors import UsageError
from flower_edge.guard import output_dir
from flower_edge.io import atomic_write_text


@dataclasses.dataclass(frozen=True)
class _Inner:
    rate: float = 0.1


@dataclasses.dataclass(frozen=True)
class _Cfg:
    name: str = "x"
    epochs: int = 3
    mode: Literal["a", "b"] = "a"
    sizes: tuple[int, ...] = (1, 2)
    inner: _Inner = _Inner()
    path: str | None = None


def test_unknown_key_is_an_error():
    with pytest.raises(UsageError, match="unknown recipe key 'epoch'"):
        from_mapping(_Cfg, {"epoch": 3})


def test_nested_unknown_key_names_its_table():
    with pytest.raises(UsageError, match="inner.rat"):
        from_mapping(_Cfg, {"inner": {"rat": 1}})


def test_wrong_type_is_an_error():
    with pytest.raises(UsageError, match="'epochs' must be int"):
        from_mapping(_Cfg, {"epochs": "three"})
    with pytest.raises(UsageError, match="one of"):
        from_mapping(_Cfg, {"mode": "c"})


def test_toml_round_trip(tmp_path):
    cfg = from_mapping(_Cfg, {"epochs": 5, "inner": {"rate": 2}, "sizes": [3]})
    assert cfg.inner.rate == 2.0 and cfg.sizes == (3,)
    path = tmp_path / "c.toml"
    path.write_text(dumps_toml(to_dict(cfg)))
    assert from_mapping(_Cfg, load_toml(path)) == cfg


def test_override_ignores_none():
    cfg = override(_Cfg(), epochs=None, name="y")
    assert cfg.name == "y" and cfg.epochs == 3


def test_bad_toml_is_one_line(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("epochs = = 3\n")
    with pytest.raises(UsageError, match="not valid TOML"):
        load_toml(path)


def test_output_dir_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "bundle"
    with pytest.raises(RuntimeError):
        with output_dir(target, "bundle", "bundle folder", data=()) as tmp:
            (tmp / "a.txt").write_text("half")
            raise RuntimeError("boom")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_replaces(tmp_path):
    path = tmp_path / "f.txt"
    atomic_write_text(path, "one")
    atomic_write_text(path, "two")
    assert path.read_text() == "two" and len(list(tmp_path.iterdir())) == 1


def test_cli_lists_every_stage(invoke):
    result = invoke("--help")
    assert result.exit_code == 0
    for name in ("data", "train", "quantize", "benchmark", "explain", "predict", "demo"):
        assert name in result.output


def test_version(invoke):
    from flower_edge import __version__

    result = invoke("--version")
    assert result.exit_code == 0 and __version__ in result.output


BLOCK_TF = """
import builtins, sys
real_import = builtins.__import__
def guard(name, *a, **k):
    if name == "tensorflow" or name.startswith(("tensorflow.", "tf_keras", "keras")):
        raise ImportError("blocked: " + name)
    return real_import(name, *a, **k)
builtins.__import__ = guard
"""


def cli_without_tensorflow(*argv, also: str = "") -> subprocess.CompletedProcess:
    """Run `flower-edge ARGV` in a fresh interpreter with TensorFlow imports blocked; it
    must exit 0 and leave TensorFlow unimported (`also`: one more expression to assert).
    stdout is the command's own, followed by TF-FREE."""
    code = BLOCK_TF + (
        "from flower_edge.cli.main import main\n"
        f"sys.argv = ['flower-edge', *{[str(a) for a in argv]!r}]\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        f"assert 'tensorflow' not in sys.modules{' and ' + also if also else ''}\nprint('TF-FREE')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0 and "TF-FREE" in done.stdout, done.stderr
    return done


@pytest.mark.parametrize("module", ["flower_edge", "flower_edge.runtime", "flower_edge.cli.main",
                                    "flower_edge.models", "flower_edge.runtime.transforms"])
def test_imports_without_tensorflow(module):
    code = BLOCK_TF + f"import {module}\nassert 'tensorflow' not in sys.modules\nprint('ok')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr
