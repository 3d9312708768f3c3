"""benchmarks/ is code too: every script starts and parses --help, every flower_edge name it
imports (at the top or inside a function) exists, and every `flower-edge` option it passes
through benchmarks/common.py's `cli(...)` is one the command has. A rename in the library or
the CLI then fails here, not months later in a measurement run."""

from __future__ import annotations

import ast
import contextlib
import importlib
import io
import runpy
import sys
from pathlib import Path

import click
import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
# Run by other interpreters (MediaPipe's venv, an emulated arm64 root), never by this one.
OTHER_VENVS = {"mediapipe_client.py", "aarch64_mediapipe.py"}
SCRIPTS = sorted(p for p in BENCHMARKS.glob("*.py") if p.name not in OTHER_VENVS | {"common.py"})


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), str(path))


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_parses_help(script, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # as `python benchmarks/NAME.py` has it
    monkeypatch.setattr(sys, "argv", [str(script), "--help"])
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as done:
        runpy.run_path(str(script), run_name="__main__")
    assert done.value.code in (0, None), out.getvalue()
    assert "usage:" in out.getvalue()


def test_flower_edge_names_the_scripts_import_exist():
    missing = []
    for script in SCRIPTS + [BENCHMARKS / "common.py"]:
        for node in ast.walk(_tree(script)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("flower_edge"):
                module = importlib.import_module(node.module)
                missing += [f"{script.name}:{node.lineno}: {node.module}.{a.name}" for a in node.names
                            if not hasattr(module, a.name) and
                            importlib.util.find_spec(f"{node.module}.{a.name}") is None]
    assert not missing, "benchmarks/ imports names flower_edge no longer has:\n" + "\n".join(missing)


def _command(args: list) -> tuple[click.Command, list[str]]:
    """The click command that `flower-edge ARGS...` reaches, and the path to it."""
    from flower_edge.cli.main import cli

    command, path = cli, []
    for arg in args:
        if not isinstance(command, click.Group) or not isinstance(arg, str) or arg not in command.commands:
            break
        command, path = command.commands[arg], path + [arg]
    return command, path


def cli_calls(tree: ast.Module) -> list[tuple[int, list]]:
    """(line, args) of every `cli(...)` call: string constants as themselves, others None."""
    calls = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "cli":
            args = [a.value if isinstance(a, ast.Constant) and isinstance(a.value, str) else None
                    for a in node.args]
            if args and args[0] is not None:
                calls.append((node.lineno, args))
    return calls


def unknown_options(tree: ast.Module, name: str) -> tuple[list[str], int]:
    """One line per `--option` a `cli(...)` call passes that its command lacks; and how many
    arguments were checked."""
    wrong, checked = [], 0
    for line, args in cli_calls(tree):
        command, path = _command(args)
        if not path:
            wrong.append(f"{name}:{line}: flower-edge has no command {args[0]!r}")
            continue
        known = {o for p in command.params for o in (*p.opts, *p.secondary_opts)}
        for arg in args[len(path):]:
            checked += 1
            if isinstance(arg, str) and arg.startswith("--") and arg not in known:
                wrong.append(f"{name}:{line}: flower-edge {' '.join(path)} has no {arg}")
    return wrong, checked


def test_the_option_check_finds_old_spellings():
    tree = ast.parse('cli("train", "--model", "tiny_cnn", "--out", out)\ncli("predict", b, "--json")\n'
                     'cli("data", "synth", "--dest", d)\ncli("fly", "--high")\n')
    assert unknown_options(tree, "x.py") == ([
        "x.py:1: flower-edge train has no --model", "x.py:3: flower-edge data synth has no --dest",
        "x.py:4: flower-edge has no command 'fly'"], 8)


def test_cli_calls_use_options_the_commands_have():
    wrong, checked = [], 0
    for script in SCRIPTS:
        found, n = unknown_options(_tree(script), script.name)
        wrong, checked = wrong + found, checked + n
    assert checked > 50  # the scan sees the scripts' calls
    assert not wrong, "benchmarks/ passes options the CLI does not have:\n" + "\n".join(wrong)
