"""Count how often flower-edge says one thing in several places: `python benchmarks/code_counts.py TREE`.

TREE is a source tree (a checkout root holding flower_edge/). Every count is over the package,
TREE/flower_edge/, unless it says otherwise. `--list` prints each counted item. How each is counted:

- variant-name lists: tuple, list or set literals, and `Literal[...]` subscripts, that spell out all
  four base variant names ("fp32", "fp16", "dynamic", "int8") as string constants. One literal = one.
- int8 knob declarations: places that declare an int8 knob (a name in INT8_KNOBS: every spelling a
  knob has had, e.g. `int16x8` and `activations16`) with a default: (a) an annotated field in a
  class body, (b) a function parameter that has a default, (c) a `click.option(...)` call whose
  parameter name (its explicit dest, else its first long flag without `--`/`no-`, dashes as
  underscores) is a knob. Also printed: how many distinct spellings those declarations use.
- training-flag declarations: the training flags are the long option names of the `train` command,
  read from the tree's own CLI (imported in a subprocess with TREE first on the path). A declaration
  is a `click.option(...)` call anywhere in the package naming one of them, unless it decorates a
  command other than train, distill or pipeline (`--config` on quantize is not a training flag).
- private cross-module uses: `alias._name` where `alias` was bound by importing a flower_edge module
  (`import flower_edge.x as alias`, `from flower_edge import x`), plus each `from flower_edge.x import
  _name`. Dunder names do not count. Counted per use, over flower_edge/ and, separately, tests/ and
  benchmarks/ (or scripts/).
- unused definitions: vulture (pip install vulture) at --min-confidence 60 over flower_edge/,
  tests/ and benchmarks/ (or scripts/) together, so a use in a test counts as a use; reported for
  findings inside flower_edge/ only. Not counted, as uses vulture cannot see: attributes (set on
  TensorFlow or waitress objects that read them), names a framework calls by name (Keras callback
  hooks `on_*`, dunders, waitress `handle_*`/`execute`), and functions under a click/flask
  decorator (`@*.command`, `@app.*`).
- modules over 300 lines: .py files under flower_edge/ with more than 300 physical lines.
- functions over 60 lines: def/async def (methods and nested ones too) whose body, from the `def`
  line to its last line (decorators excluded), spans more than 60 lines.
"""

from __future__ import annotations

import argparse
import ast
import json
import subprocess
import sys
from pathlib import Path

VARIANTS = {"fp32", "fp16", "dynamic", "int8"}
INT8_KNOBS = {
    "io", "input_type", "output", "output_type", "calib_samples", "per_channel", "per_tensor",
    "bias_correction", "activations16", "int16x8", "weight_scales", "activation_ranges",
    "mean_correction", "rounding", "allow_float_fallback", "keep_float", "dense_per_tensor",
    "dynamic_dense_per_tensor", "qat", "prune", "cluster", "clusters",
}
TRAINING_COMMANDS = {"train", "distill", "pipeline"}
MODULE_LINES, FUNCTION_LINES = 300, 60


def py_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts) if root.is_dir() else []


def parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def strings(node: ast.AST) -> list[str]:
    return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def is_click_option(node: ast.AST) -> bool:
    func = node.func if isinstance(node, ast.Call) else None
    return isinstance(func, ast.Attribute) and func.attr == "option" and \
        isinstance(func.value, ast.Name) and func.value.id == "click"


def option_dest(call: ast.Call) -> str | None:
    """click's parameter name: an explicit dest, else the first long flag."""
    names = [a.value for a in call.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
    plain = [n for n in names if not n.startswith("-")]
    if plain:
        return plain[0]
    flag = next((n for n in names if n.startswith("--")), None)
    if flag is None:
        return None
    flag = flag.split("/")[0][2:]
    return flag.removeprefix("no-").replace("-", "_")


def command_name(func: ast.FunctionDef) -> str | None:
    """'train' for a function decorated with @click.command("train") or @group.command("train")."""
    for dec in func.decorator_list:
        if isinstance(dec, ast.Call) and isinstance(dec.func, ast.Attribute) and dec.func.attr == "command":
            names = [a.value for a in dec.args if isinstance(a, ast.Constant)]
            return names[0] if names else func.name
    return None


def variant_lists(tree: ast.Module) -> list[int]:
    found = []
    for node in ast.walk(tree):
        target = node.slice if isinstance(node, ast.Subscript) and getattr(node.value, "id", "") == "Literal" \
            else node if isinstance(node, (ast.Tuple, ast.List, ast.Set)) else None
        if target is None:
            continue
        elts = target.elts if isinstance(target, (ast.Tuple, ast.List, ast.Set)) else [target]
        values = {e.value for e in elts if isinstance(e, ast.Constant)}
        if VARIANTS <= values:
            found.append(node.lineno)
    # A Literal's slice is itself a Tuple: count the literal once.
    return sorted(set(found))


def knob_declarations(tree: ast.Module) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            found += [(s.lineno, s.target.id) for s in node.body if isinstance(s, ast.AnnAssign)
                      and isinstance(s.target, ast.Name) and s.target.id in INT8_KNOBS]
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            positional = args.posonlyargs + args.args
            with_default = positional[len(positional) - len(args.defaults):] if args.defaults else []
            with_default += [a for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None]
            found += [(a.lineno, a.arg) for a in with_default if a.arg in INT8_KNOBS]
        elif is_click_option(node) and option_dest(node) in INT8_KNOBS:
            found.append((node.lineno, option_dest(node)))
    return found


def training_flags(tree_root: Path) -> set[str]:
    code = ("import json, click\nfrom flower_edge.cli.main import cli, _register\n_register()\n"
            "cmd = cli.commands['train']\n"
            "print(json.dumps(sorted(o for p in cmd.params for o in p.opts + p.secondary_opts "
            "if o.startswith('--'))))")
    out = subprocess.run([sys.executable, "-c", code], cwd=tree_root, capture_output=True, text=True,
                         env={"PYTHONPATH": str(tree_root), "PATH": "/usr/bin:/bin"})
    if out.returncode:
        raise SystemExit(f"could not import {tree_root}/flower_edge/cli: {out.stderr.strip()[-300:]}")
    return set(json.loads(out.stdout))


def training_flag_declarations(tree: ast.Module, flags: set[str]) -> list[tuple[int, str]]:
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            name = command_name(node)
            if name is not None and name not in TRAINING_COMMANDS:
                skip.update(id(d) for d in node.decorator_list)
    found = []
    for node in ast.walk(tree):
        if is_click_option(node) and id(node) not in skip:
            hit = [s for s in strings(node) for o in s.split("/") if o in flags]
            if hit:
                found.append((node.lineno, hit[0]))
    return found


def module_names(root: Path) -> set[str]:
    pkg = root / "flower_edge"
    names = {"flower_edge"}
    for path in py_files(pkg):
        parts = path.relative_to(root).with_suffix("").parts
        names.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def private_uses(tree: ast.Module, modules: set[str]) -> list[tuple[int, str]]:
    aliases: dict[str, str] = {}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name in modules and a.asname:
                    aliases[a.asname] = a.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "flower_edge":
            for a in node.names:
                full = f"{node.module}.{a.name}"
                if full in modules:
                    aliases[a.asname or a.name] = full
                elif a.name.startswith("_") and not a.name.startswith("__"):
                    found.append((node.lineno, full))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases \
                and node.attr.startswith("_") and not node.attr.startswith("__"):
            found.append((node.lineno, f"{aliases[node.value.id]}.{node.attr}"))
    return found


def long_functions(tree: ast.Module) -> list[tuple[int, str]]:
    return [(n.lineno, f"{n.name} ({n.end_lineno - n.lineno + 1} lines)") for n in ast.walk(tree)
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.end_lineno - n.lineno + 1 > FUNCTION_LINES]


def unused(root: Path, extra: list[Path]) -> list[str]:
    try:
        import vulture
    except ImportError:
        return ["vulture is not installed (pip install vulture)"]
    v = vulture.Vulture(ignore_names=["on_*", "__*__", "handle_*", "execute"],
                        ignore_decorators=["@*.command", "@*.group", "@app.*"])
    v.scavenge([str(root / "flower_edge"), *map(str, extra)])
    pkg = (root / "flower_edge").resolve()
    return [item.get_report(add_size=False).replace(str(root) + "/", "")
            for item in v.get_unused_code(min_confidence=60)
            if Path(item.filename).resolve().is_relative_to(pkg) and item.typ != "attribute"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tree", type=Path, help="a checkout root holding flower_edge/")
    parser.add_argument("--list", action="store_true", help="print each counted item")
    args = parser.parse_args()
    root = args.tree.resolve()
    pkg_files = py_files(root / "flower_edge")
    if not pkg_files:
        raise SystemExit(f"{args.tree}: no flower_edge/ package there")
    extra_dirs = [d for d in (root / "tests", root / "benchmarks", root / "scripts") if d.is_dir()]
    modules, flags = module_names(root), training_flags(root)
    items: dict[str, list[str]] = {k: [] for k in (
        "variant-name lists", "int8 knob declarations", "training-flag declarations",
        "private cross-module uses (flower_edge/)", "private cross-module uses (tests/, benchmarks/)",
        "unused definitions (vulture >= 60%)", f"modules over {MODULE_LINES} lines",
        f"functions over {FUNCTION_LINES} lines")}
    spellings = set()
    for path in pkg_files + [p for d in extra_dirs for p in py_files(d)]:
        rel, tree = path.relative_to(root), parse(path)
        if rel.parts[0] != "flower_edge":
            items["private cross-module uses (tests/, benchmarks/)"] += \
                [f"{rel}:{n}: {w}" for n, w in private_uses(tree, modules)]
            continue
        items["variant-name lists"] += [f"{rel}:{n}" for n in variant_lists(tree)]
        knobs = knob_declarations(tree)
        spellings.update(k for _, k in knobs)
        items["int8 knob declarations"] += [f"{rel}:{n}: {k}" for n, k in knobs]
        items["training-flag declarations"] += \
            [f"{rel}:{n}: {f}" for n, f in training_flag_declarations(tree, flags)]
        items["private cross-module uses (flower_edge/)"] += [f"{rel}:{n}: {w}" for n, w in private_uses(tree, modules)]
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MODULE_LINES:
            items[f"modules over {MODULE_LINES} lines"].append(f"{rel} ({lines} lines)")
        items[f"functions over {FUNCTION_LINES} lines"] += [f"{rel}:{n}: {w}" for n, w in long_functions(tree)]
    items["unused definitions (vulture >= 60%)"] = unused(root, extra_dirs)
    width = max(map(len, items))
    for name, found in items.items():
        note = ""
        if name == "int8 knob declarations":
            note = f"  ({len(spellings)} spellings: {', '.join(sorted(spellings))})"
        elif name == "training-flag declarations":
            note = f"  ({len(flags)} train flags)"
        print(f"{name:<{width}}  {len(found):>4}{note}")
        if args.list:
            for item in found:
                print(f"    {item}")


if __name__ == "__main__":
    main()
