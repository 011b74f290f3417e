"""The ``agents`` package imports without cycles: its import graph, read from the source (every import,
at module level or inside a function; not those for type hints only), is acyclic, so a function-level
import cannot hide a cycle.

An edge goes to the module whose names are used: ``from agents.oracle import battery`` needs the
submodule ``agents.oracle.battery``, while ``from agents.oracle import solve`` needs what the
package's ``__init__`` defines; and importing a submodule from outside its package runs the
package's ``__init__`` first (an edge to the package too). A package whose ``__init__`` imports its
submodules, which import their siblings, is not a cycle: inside the package, the ``__init__`` is
already running and the submodules find each other.)"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "agents"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node of ``tree`` except those under ``if TYPE_CHECKING:`` (imports for type hints only)."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            skip.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return [n for n in ast.walk(tree) if id(n) not in skip]


def imported(tree: ast.AST, name: str, is_package: bool, modules: set[str]) -> set[str]:
    """The ``agents`` modules a module's source imports at run time, anywhere in it."""
    out: set[str] = set()
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolved against the importing module's package
                package = name.split(".") if is_package else name.split(".")[:-1]
                package = package[: len(package) - (node.level - 1)]
                base = ".".join([*package, base] if base else package)
            # ``from agents.rl import demo`` imports the submodule agents.rl.demo; other names need ``base``
            subs = [f"{base}.{a.name}" for a in node.names]
            targets = [t for t in subs if t in modules]
            if len(targets) < len(subs):
                targets.append(base)
        else:
            continue
        for target in targets:
            while target and target not in modules:  # ``import agents.rl.policy`` -> the module itself
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
                # importing agents.rl.config from outside agents.rl runs agents/rl/__init__ first
                parent = target.rpartition(".")[0]
                while parent and not name.startswith(parent + ".") and parent != name:
                    out.add(parent)
                    parent = parent.rpartition(".")[0]
    return out


def import_graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in files.items():
        graph[name] = imported(ast.parse(path.read_text()), name, path.name == "__init__.py", set(files))
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of the graph as a list of nodes (first = last), or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_cycle_finder_finds_cycles() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    tree = ast.parse("from agents.rl import demo\ndef f():\n    import agents.kpi\n    from . import base\n")
    modules = {"agents", "agents.rl", "agents.rl.demo", "agents.rl.config", "agents.kpi", "agents.base", "agents.cli"}
    found = imported(tree, "agents.cli", False, modules)
    assert found == {"agents.rl.demo", "agents.rl", "agents.kpi", "agents.base"}
    tree = ast.parse("if TYPE_CHECKING:\n    import agents.cli\nfrom agents.rl import demo, train_fn\n")
    assert imported(tree, "agents.cli", False, modules) == {"agents.rl.demo", "agents.rl"}
    # a sibling inside the package: no edge to the package itself
    assert imported(ast.parse("from agents.rl import config\n"), "agents.rl.demo", False, modules) == {
        "agents.rl.config"
    }


def test_agents_has_no_import_cycle() -> None:
    graph = import_graph()
    assert {"agents.evaluate", "agents.report", "agents.registry", "agents.rl.demo"} <= set(graph)
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


@pytest.mark.parametrize(
    ("module", "must_not_reach"), [("agents.evaluate", "agents.report"), ("agents.kpi", "agents.evaluate")]
)
def test_layering(module: str, must_not_reach: str) -> None:
    # evaluation does not write files; KPIs do not depend on the harness
    graph = import_graph()
    seen, todo = set(), [module]
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(graph.get(node, ()))
    assert must_not_reach not in seen
