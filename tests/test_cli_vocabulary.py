"""The CLI is the public API: one spelling per noun, one meaning and type per option name.

docs/cli.md is the vocabulary. Its nouns table says how each noun is spelled and which
spellings are retired; its options table lists every option name once, with its type. This
test walks every click command and fails when the code and that page disagree, when an option
name has two types, when an option has no help, or when a retired spelling comes back. The
checker is a pure function of (command tree, vocabulary), so the last tests plant each kind of
inconsistency in a throwaway command and show that it is caught.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import click
import pytest

from flower_edge.cli.main import cli

DOC = Path(__file__).resolve().parents[1] / "docs" / "cli.md"


@dataclass(frozen=True)
class Vocabulary:
    options: dict[str, str]  # option name -> type, e.g. {"--threads": "int"}
    positionals: frozenset[str]  # metavars of positional nouns, e.g. RUN, BUNDLE
    retired: dict[str, str] = field(default_factory=dict)  # old spelling -> the noun's spelling
    # A spelling retired only in some commands, e.g. live's --source: (command, old) -> new.
    retired_in: dict[tuple[str, str], str] = field(default_factory=dict)

    def retired_as(self, where: str, name: str) -> str | None:
        return self.retired.get(name) or self.retired_in.get((where, name))


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _ticked(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def load_vocabulary(text: str) -> Vocabulary:
    """Parse docs/cli.md: the nouns table (noun | spelling | retired) and the options table."""
    options, positionals, retired, retired_in, table = {}, set(), {}, {}, None
    for line in text.splitlines():
        if line.startswith("## "):
            table = line[3:].strip().lower()
        if not line.startswith("|") or set(line) <= set("|-: "):
            continue
        cells = _cells(line)
        if table == "nouns" and len(cells) >= 3 and cells[0].lower() != "noun":
            spelling = _ticked(cells[1])
            positionals.update(s for s in spelling if s.isupper())
            new = spelling[0] if spelling else cells[0]
            for chunk in filter(None, (c.strip() for c in cells[2].split(","))):
                old, *where = _ticked(chunk)  # "`--source` (in `live`)": retired in live only
                if where:
                    retired_in.update({(command, old): new for command in where})
                else:
                    retired[old] = new
        elif table == "options" and len(cells) >= 2 and cells[0].startswith("`--"):
            options[_ticked(cells[0])[0]] = cells[1].strip("`")
    return Vocabulary(options, frozenset(positionals), retired, retired_in)


def type_name(param: click.Parameter) -> str:
    """One word per kind of value: a flag, int, float, text, path, choice or pair."""
    if getattr(param, "is_flag", False):
        return "flag"
    kind = param.type
    if isinstance(kind, click.Tuple):
        return "pair"
    if isinstance(kind, click.IntRange) or kind is click.INT:
        return "int"
    if isinstance(kind, click.FloatRange) or kind is click.FLOAT:
        return "float"
    if isinstance(kind, (click.Path, click.File)):
        return "path"
    if isinstance(kind, click.Choice):
        return "choice"
    return "text"


def same_kind(kind: str) -> str:
    """A choice is text with a fixed list (e.g. quantize's --variant picks from the registry,
    explain's names any exported variant, such as int8-pruned75): the same type of value."""
    return "text" if kind == "choice" else kind


def commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    found = []
    for name, command in sorted(group.commands.items()):
        path = f"{prefix} {name}".strip()
        if isinstance(command, click.Group):
            found += commands(command, path)
        else:
            found.append((path, command))
    return found


def _option_problems(where: str, option: click.Option, vocab: Vocabulary, seen: dict) -> list[str]:
    problems = []
    kind = type_name(option)
    for name in [n for n in option.opts + option.secondary_opts if n.startswith("--")]:
        if vocab.retired_as(where, name):
            problems.append(f"{where}: {name} is a retired spelling; use {vocab.retired_as(where, name)}")
            continue
        if name.startswith("--no-") and option.secondary_opts and name in option.secondary_opts:
            continue  # the off switch of a --x/--no-x pair shares the --x row
        first = seen.setdefault(name, (where, kind))
        if same_kind(first[1]) != same_kind(kind):
            problems.append(f"{name} is {first[1]} in {first[0]} but {kind} in {where}")
        if name not in vocab.options:
            problems.append(f"{where}: {name} is not in docs/cli.md's options table")
        elif same_kind(vocab.options[name]) != same_kind(kind):
            problems.append(f"{where}: {name} is {kind}, docs/cli.md says {vocab.options[name]}")
    if not (option.help or "").strip():
        problems.append(f"{where}: {option.opts[0]} has no help text")
    return problems


def _argument_problems(where: str, argument: click.Argument, vocab: Vocabulary) -> list[str]:
    metavar = (argument.metavar or argument.name.upper()).strip("[].")
    if vocab.retired_as(where, metavar):
        return [f"{where}: positional {metavar} is a retired spelling; use {vocab.retired_as(where, metavar)}"]
    if metavar not in vocab.positionals:
        return [f"{where}: positional {metavar} is not a noun of docs/cli.md"]
    return []


def _default_problems(where: str, option: click.Option) -> list[str]:
    """A default is shown one way: show_default, or spelled out in the help as [default: ...]."""
    unset = option.default is None or type(option.default).__name__ == "Sentinel"  # click >= 8.3: UNSET
    if option.is_flag or option.multiple or unset or option.show_default:
        return []
    if "default" in (option.help or "").lower():
        return []
    return [f"{where}: {option.opts[0]} has default {option.default!r} but does not show it"]


def problems(group: click.Group, vocab: Vocabulary) -> list[str]:
    """Every disagreement between the command tree and the vocabulary, one line each."""
    found, seen, used = [], {}, set()
    for where, command in commands(group):
        for param in command.params:
            if isinstance(param, click.Argument):
                found += _argument_problems(where, param, vocab)
            elif isinstance(param, click.Option) and param.name != "help":
                found += _option_problems(where, param, vocab, seen)
                found += _default_problems(where, param)
                used.update(param.opts + param.secondary_opts)
    found += [f"docs/cli.md lists {name}, which no command has" for name in vocab.options if name not in used]
    return found


def test_the_cli_speaks_the_vocabulary_of_docs_cli_md():
    vocab = load_vocabulary(DOC.read_text(encoding="utf-8"))
    assert len(vocab.options) > 20 and {"RUN", "BUNDLE"} <= vocab.positionals
    assert problems(cli, vocab) == []


# Planted inconsistencies: each must be reported.

PLANTED_DOC = """
## Nouns
| noun | spelling | retired |
|---|---|---|
| a bundle | `BUNDLE` | `--bundle`, `--model` (in `b`) |
| a run | `RUN` | `RUN_DIR` |

## Options
| option | type | meaning |
|---|---|---|
| `--threads` | int | interpreter threads |
| `--json` | flag | JSON on stdout |
"""


def _group(*cmds: click.Command) -> click.Group:
    group = click.Group("planted")
    for command in cmds:
        group.add_command(command)
    return group


def _command(name: str, *params: click.Parameter) -> click.Command:
    return click.Command(name, params=list(params), callback=lambda **_: None)


def _threads(kind, **kw) -> click.Option:
    return click.Option(["--threads"], type=kind, help="Interpreter threads.", **kw)


def test_the_planted_tree_that_follows_the_vocabulary_passes():
    vocab = load_vocabulary(PLANTED_DOC)
    ok = _group(_command("a", click.Argument(["run"], metavar="RUN"), _threads(click.IntRange(min=1))),
                _command("b", click.Argument(["bundle"], metavar="BUNDLE"), _threads(int),
                         click.Option(["--json"], is_flag=True, help="JSON.")))
    assert problems(ok, vocab) == []


@pytest.mark.parametrize("planted, expected", [
    (_command("b", _threads(str)), "--threads is int in a but text in b"),
    (_command("b", click.Option(["--json"], is_flag=True)), "b: --json has no help text"),
    (_command("b", click.Option(["--bundle"], help="A bundle.")), "b: --bundle is a retired spelling; use BUNDLE"),
    (_command("b", click.Argument(["run_dir"])), "b: positional RUN_DIR is a retired spelling; use RUN"),
    (_command("b", click.Option(["--top-k"], type=int, help="K.")), "b: --top-k is not in docs/cli.md's options"),
    (_command("b", _threads(int, default=4)), "b: --threads has default 4 but does not show it"),
    (_command("b", click.Option(["--model"], help="A bundle.")), "b: --model is a retired spelling; use BUNDLE"),
], ids=["two-types", "no-help", "retired-option", "retired-positional", "undeclared", "hidden-default",
        "retired-in-one-command"])
def test_a_planted_inconsistency_is_reported(planted, expected):
    vocab = load_vocabulary(PLANTED_DOC)
    tree = _group(_command("a", _threads(click.IntRange(min=1)), click.Option(["--json"], is_flag=True,
                                                                               help="JSON.")), planted)
    assert any(expected in line for line in problems(tree, vocab)), problems(tree, vocab)
