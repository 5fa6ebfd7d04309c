"""The modules of ``sepkit`` import each other without cycles.

The graph is built from the source with ``ast``, without importing anything: an edge A -> B for
every ``import``/``from ... import`` of a sepkit module that runs when A is imported, i.e. at
module level (also inside ``if``, ``try``, ``with`` and class bodies), but not inside functions
(the CLI's lazy imports) and not under ``if TYPE_CHECKING:``. ``from pkg import name`` points at
``pkg.name`` when that is a module and at ``pkg`` (its ``__init__``) otherwise. Importing a
module also runs its parent packages' ``__init__`` first, so A -> B also gives A -> P for every
package P that holds B but not A (``sepkit.ssl.load -> sepkit.models.registry`` runs
``sepkit.models``'s ``__init__``, and with it every architecture it imports). Packages that hold A
are left out: they have started before A runs, which is why a package that imports its own
submodules is no cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = "sepkit"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE


def module_files(root: Path = ROOT) -> dict[str, Path]:
    """Dotted module name -> source file, for every module of the package (``__init__`` as the package)."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_time_nodes(body: list[ast.stmt]):
    """Statements that run when the module is imported: not function bodies, not ``if TYPE_CHECKING:``."""
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue  # decorators and defaults run at import, but never import a module here
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from _import_time_nodes(node.orelse)
            continue
        for field in ("body", "orelse", "finalbody", "handlers", "cases"):
            children = getattr(node, field, None)
            if isinstance(children, list):
                yield from _import_time_nodes([c for c in children if isinstance(c, ast.AST)])


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The longest prefix of ``name`` that is a sepkit module (``import a.b.c`` runs a.b.c)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def imports_of(module: str, path: Path, modules: dict[str, Path], deferred: bool = False) -> set[str]:
    """The sepkit modules that ``module`` imports at import time (with ``deferred``, also inside functions and
    under ``if TYPE_CHECKING:``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    nodes = ast.walk(tree) if deferred else _import_time_nodes(tree.body)
    for node in nodes:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == PACKAGE:
                    target = _resolve(alias.name, modules)
                    if target:
                        found.add(target)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            if source.split(".")[0] != PACKAGE:
                continue
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                target = sub if sub in modules else _resolve(source, modules)
                if target:
                    found.add(target)
    found |= {package for target in found for package in _packages_run(module, target, modules)}
    found.discard(module)
    return found


def _packages_run(importer: str, target: str, modules: dict[str, Path]) -> list[str]:
    """The packages whose ``__init__`` importing ``target`` runs first, less those that hold ``importer``."""
    parts = target.split(".")
    enclosing = (".".join(parts[:n]) for n in range(1, len(parts)))
    return [p for p in enclosing if p in modules and importer != p and not importer.startswith(p + ".")]


def import_graph(root: Path = ROOT, deferred: bool = False) -> dict[str, set[str]]:
    modules = module_files(root)
    return {name: imports_of(name, path, modules, deferred) for name, path in modules.items()}


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (a path that returns to its start) per strongly connected component that has one."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def connect(start: str) -> None:  # Tarjan's algorithm, iterative (no recursion limit)
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    components.append(component)

    for node in sorted(graph):
        if node not in index:
            connect(node)
    cycles = []
    for component in components:
        if len(component) > 1:
            cycles.append(_cycle_in(component, graph))
    return sorted(cycles)


def _cycle_in(component: set[str], graph: dict[str, set[str]]) -> list[str]:
    """A shortest path from the component's first module back to itself, within the component."""
    start = min(component)
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(graph[node] & component):
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if child not in previous:
                    previous[child] = node
                    following.append(child)
        frontier = following
    raise AssertionError(f"no cycle through {start} in {sorted(component)}")


def test_sepkit_has_no_import_cycles() -> None:
    graph = import_graph()
    assert len(graph) > 50 and "sepkit.api" in graph
    cycles = find_cycles(graph)
    assert not cycles, "import cycles among sepkit's modules (module-level imports):\n" + "\n".join(
        " -> ".join(cycle) for cycle in cycles
    )


def test_sepkit_has_no_import_cycles_even_through_deferred_imports() -> None:
    """A function-level import that points back up hides a cycle that only bites at call time (the
    exporter <-> warm start and dataset factory <-> unpaired builder circles were of that kind)."""
    cycles = find_cycles(import_graph(deferred=True))
    assert not cycles, "import cycles among sepkit's modules (imports inside functions included):\n" + "\n".join(
        " -> ".join(cycle) for cycle in cycles
    )


@pytest.fixture
def toy_package(tmp_path: Path) -> Path:
    root = tmp_path / PACKAGE
    (root / "sub").mkdir(parents=True)
    files = {
        "__init__.py": "from sepkit.a import f\n",
        "a.py": "from sepkit import b\ndef f():\n    from sepkit import c\n",
        "b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from sepkit.a import f\nelse:\n"
        "    import os\nfrom .sub import d\n",
        "c.py": "import sepkit.a\n",
        "sub/__init__.py": "",
        "sub/d.py": "try:\n    from ..a import f\nexcept ImportError:\n    pass\n",
    }
    for name, text in files.items():
        (root / name).write_text(text)
    return root


def test_the_graph_follows_module_level_imports_only(toy_package: Path) -> None:
    graph = import_graph(toy_package)
    assert graph == {
        "sepkit": {"sepkit.a"},
        "sepkit.a": {"sepkit.b"},  # not sepkit.c: that import is inside a function
        "sepkit.b": {"sepkit.sub", "sepkit.sub.d"},  # not sepkit.a: under TYPE_CHECKING; sepkit.sub runs first
        "sepkit.c": {"sepkit.a"},
        "sepkit.sub": set(),
        "sepkit.sub.d": {"sepkit.a"},  # relative, inside try
    }
    assert find_cycles(graph) == [["sepkit.a", "sepkit.b", "sepkit.sub.d", "sepkit.a"]]
    deferred = import_graph(toy_package, deferred=True)
    assert deferred["sepkit.a"] == {"sepkit.b", "sepkit.c"}  # the function-level import counts here
    assert deferred["sepkit.b"] == {"sepkit.a", "sepkit.sub", "sepkit.sub.d"}  # and so does TYPE_CHECKING
    assert find_cycles(deferred) == [["sepkit.a", "sepkit.b", "sepkit.a"]]  # a shorter circle, seen only here


def test_a_package_init_that_leads_back_is_a_cycle(tmp_path: Path) -> None:
    """``p.x`` imports ``q.y``, which runs ``q``'s ``__init__``, which imports ``q.z``, which imports ``p.x``."""
    root = tmp_path / PACKAGE
    files = {
        "__init__.py": "",
        "p/__init__.py": "from sepkit.p import x\n",  # a package importing its own submodule: no cycle by itself
        "p/x.py": "from sepkit.q.y import f\n",
        "q/__init__.py": "from sepkit.q import z\n",
        "q/y.py": "def f():\n    pass\n",
        "q/z.py": "import sepkit.p.x\n",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    graph = import_graph(root)
    assert graph["sepkit.p"] == {"sepkit.p.x"}  # not sepkit: the root holds every module
    assert graph["sepkit.p.x"] == {"sepkit.q", "sepkit.q.y"}
    assert graph["sepkit.q.z"] == {"sepkit.p", "sepkit.p.x"}
    assert find_cycles(graph) == [["sepkit.p", "sepkit.p.x", "sepkit.q", "sepkit.q.z", "sepkit.p"]]
    (root / "q/__init__.py").write_text("")  # q's __init__ no longer imports z
    assert find_cycles(import_graph(root)) == []
