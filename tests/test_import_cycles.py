"""No import cycle between modules of flower_edge/, found with the standard library's ast.

Every import counts, including the lazy ones inside functions: a lazy import hides a
cycle from Python's loader but not from the layering rule (arrows point down).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "flower_edge"


def module_names(package: Path = PACKAGE) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file under the package."""
    names = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute module named by a (possibly relative) `from X import ...`."""
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(module: str, path: Path, known: set[str]) -> set[str]:
    """flower_edge modules that `module` imports, anywhere in its file."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            source = _absolute(node, module, path.name == "__init__.py")
            # `from pkg import sub` imports the submodule when one exists, else a name from pkg.
            targets = [f"{source}.{a.name}" if f"{source}.{a.name}" in known else source
                       for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:  # `import a.b.c` of a name inside a module
                target = target.rpartition(".")[0]
            if target and target != module:
                found.add(target)
    return found


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    names = module_names(package)
    known = set(names)
    return {m: imports_of(m, p, known) for m, p in names.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_planted_cycle(tmp_path):
    """The checker itself: a two-module cycle through a lazy, relative import is caught."""
    pkg = tmp_path / "flower_edge"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "a.py").write_text("from flower_edge.sub.b import thing\n")
    (pkg / "sub" / "b.py").write_text("def f():\n    from . import a\n")
    (pkg / "c.py").write_text("import flower_edge.sub.a\n")
    graph = import_graph(pkg)
    assert graph["flower_edge.c"] == {"flower_edge.sub.a"}
    assert cycles(graph) == [["flower_edge.sub.a", "flower_edge.sub.b"]]


def test_flower_edge_has_no_import_cycle():
    graph = import_graph()
    assert len(graph) > 50 and "flower_edge.explain.deletion" in graph
    found = cycles(graph)
    assert not found, "import cycles in flower_edge/: " + "; ".join(" <-> ".join(c) for c in found)


ARCHITECTURE = PACKAGE.parent / "docs" / "ARCHITECTURE.md"
CORE = "core"  # the modules directly under flower_edge/ (and the package itself)


def layer_of(module: str, package: Path = PACKAGE) -> str:
    """The package a module belongs to ('runtime' for flower_edge.runtime.x), or CORE."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and (package / parts[1]).is_dir() else CORE


def layer_table(text: str) -> dict[str, set[str]]:
    """The `## Layers` table of ARCHITECTURE.md: package -> what it may import (package
    names, dotted modules such as 'runtime.transforms', CORE, or '*' for every package)."""
    section = text.split("\n## Layers", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 2 or not line.startswith("|") or cells[0] in ("package", "") or set(cells[0]) <= {"-"}:
            continue
        allowed = cells[1].split(" (")[0]  # a parenthesis says why
        names = {n.strip().strip("`") for n in allowed.split(",")}
        rows[cells[0].strip("`")] = {"*"} if allowed.strip() == "every package" else names
    return rows


def layer_violations(graph: dict[str, set[str]], table: dict[str, set[str]],
                     package: Path = PACKAGE) -> list[str]:
    """One line per import the table does not allow, and per package it does not place."""
    found = []
    for module in sorted(graph):
        layer = layer_of(module, package)
        if layer not in table:
            found.append(f"{module}: package {layer!r} has no row in the Layers table of docs/ARCHITECTURE.md")
            continue
        allowed = table[layer]
        for target in sorted(graph[module]):
            other = layer_of(target, package)
            dotted = target.split(".", 1)[1] if "." in target else ""
            if other == layer or "*" in allowed or other in allowed or \
                    any(dotted == a or dotted.startswith(a + ".") for a in allowed):
                continue
            found.append(f"{module} imports {target}: {layer} may import only "
                         f"{', '.join(sorted(allowed))} (docs/ARCHITECTURE.md, Layers)")
    return sorted(set(found))


def test_the_layer_check_finds_a_planted_upward_import(tmp_path):
    """The checker itself: a lazy runtime -> train import and an unplaced package are caught;
    an allowed import (runtime -> core) is not."""
    pkg = tmp_path / "flower_edge"
    for sub in ("runtime", "train", "extra"):
        (pkg / sub).mkdir(parents=True)
        (pkg / sub / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "errors.py").write_text("")
    (pkg / "runtime" / "predictor.py").write_text("from flower_edge import errors\n\n"
                                                   "def f():\n    from flower_edge.train import fit\n")
    (pkg / "train" / "fit.py").write_text("from flower_edge.runtime import predictor\n")
    table = {"core": set(), "runtime": {"core"}, "train": {"core", "runtime"}}
    assert layer_violations(import_graph(pkg), table, pkg) == [
        "flower_edge.extra: package 'extra' has no row in the Layers table of docs/ARCHITECTURE.md",
        "flower_edge.runtime.predictor imports flower_edge.train.fit: runtime may import only core "
        "(docs/ARCHITECTURE.md, Layers)"]


def test_the_layer_table_places_every_package():
    table = layer_table(ARCHITECTURE.read_text(encoding="utf-8"))
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert set(table) == packages | {CORE}, "docs/ARCHITECTURE.md Layers table vs flower_edge/ packages"
    assert table["runtime"] == {CORE} and table["cli"] == {"*"}
    named = {n.split(".")[0] for names in table.values() for n in names} - {CORE, "*"}
    assert named <= packages, f"the Layers table names no such package: {sorted(named - packages)}"


def test_imports_follow_the_layers_of_the_architecture_doc():
    """Every import between packages of flower_edge/ is one the Layers table allows: the
    arrows point down (e.g. runtime imports only the core: never train, quantize,
    benchmark, serve or cli; nothing imports cli)."""
    found = layer_violations(import_graph(), layer_table(ARCHITECTURE.read_text(encoding="utf-8")))
    assert not found, "imports against the layers:\n" + "\n".join(found)
