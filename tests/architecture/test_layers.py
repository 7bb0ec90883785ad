"""The floors point one way: a static walk of every production module's imports (module level and inside
functions) fails on an import from a lower floor to a higher one, on an import cycle between production
modules, and on a Django import inside the Django-free core."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("petctweb", "audit", "cases", "inference", "studies", "training", "portal", "frontend", "benchmarks")

BASE = -1  # petctweb settings, Celery app, roles, permissions, errors, and the audit log: every app may use them
COMPOSING = 4
FLOORS = {"cases": 0, "inference": 1, "studies": 2, "training": 3,
          "portal": COMPOSING, "frontend": COMPOSING, "benchmarks": COMPOSING, "petctweb.urls": COMPOSING,
          "petctweb": BASE, "audit": BASE}

# Pixel-level cores that must stay importable (and testable) without Django.
DJANGO_FREE = ("cases.imaging", "cases.phantoms", "inference.engine", "training.loop", "studies.stats",
               "studies.results.report", "studies.results.table")
DJANGO_WORLD = ("django", "rest_framework", "drf_spectacular", "celery")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def production_modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            if ".venv" not in path.parts:
                modules[_module_name(path)] = path
    return modules


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    """ids of import nodes under ``if TYPE_CHECKING:``: they never run, so they cannot form a run-time cycle."""
    guarded: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                guarded.update(id(inner) for inner in ast.walk(child))
    return guarded


def _imported_names(path: Path, module: str, modules: dict[str, Path] | None = None,
                    *, with_type_checking: bool = True) -> Iterator[tuple[str, int]]:
    """Every imported name with its line, relative imports resolved; ``from a import b`` gives ``a.b`` when
    that is a module, else ``a``."""
    modules = modules if modules is not None else {}
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(), filename=str(path))
    skip = set() if with_type_checking else _type_checking_nodes(tree)
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = module.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                yield (f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base), node.lineno


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The production module an imported name lives in (longest matching prefix), or None (third party)."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return None


def floor_of(module: str) -> int:
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        floor = FLOORS.get(".".join(parts[:end]))
        if floor is not None:
            return floor
    raise AssertionError(f"{module} has no floor: add its package to FLOORS")


def import_graph(*, with_type_checking: bool = True) -> dict[str, dict[str, int]]:
    """module -> {imported production module: first line}."""
    modules = production_modules()
    graph: dict[str, dict[str, int]] = {}
    for module, path in modules.items():
        edges: dict[str, int] = {}
        for name, line in _imported_names(path, module, modules, with_type_checking=with_type_checking):
            target = _resolve(name, modules)
            if target is not None and target != module:
                edges.setdefault(target, line)
        graph[module] = edges
    return graph


def strongly_connected_components(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative so a deep import chain cannot hit the recursion limit."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(graph[root]))]
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
                    work.append((child, iter(graph.get(child, {}))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component))
    return components


def upward_imports(graph: dict[str, dict[str, int]]) -> list[str]:
    found = []
    for module, edges in graph.items():
        for target, line in edges.items():
            if floor_of(target) > floor_of(module):
                found.append(f"{module}:{line} imports {target} "
                             f"(floor {floor_of(module)} -> {floor_of(target)})")
    return sorted(found)


def test_every_production_module_has_a_floor() -> None:
    for module in production_modules():
        floor_of(module)


def test_no_import_points_up_a_floor() -> None:
    found = upward_imports(import_graph())
    assert not found, "imports from a lower floor to a higher one:\n" + "\n".join(found)


def test_no_import_cycles_between_production_modules() -> None:
    cycles = [c for c in strongly_connected_components(import_graph(with_type_checking=False)) if len(c) > 1]
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_benchmarks_are_imported_by_no_production_module() -> None:
    found = [f"{module}:{line} imports {target}" for module, edges in import_graph().items()
             if not module.startswith("benchmarks") for target, line in edges.items()
             if target.startswith("benchmarks")]
    assert not found, "production code importing benchmark code:\n" + "\n".join(sorted(found))


def test_django_free_core_imports_neither_django_nor_the_django_apps() -> None:
    modules = production_modules()
    found = []
    for module, path in modules.items():
        if not module.startswith(DJANGO_FREE):
            continue
        for name, line in _imported_names(path, module, modules):
            target = _resolve(name, modules)
            if name.split(".")[0] in DJANGO_WORLD or (target is not None and not target.startswith(DJANGO_FREE)):
                found.append(f"{module}:{line} imports {name}")
    assert not found, "Django (or a Django app) inside the Django-free core:\n" + "\n".join(sorted(set(found)))


# --- the checker itself catches what it must (on small made-up graphs) ----------------------


def test_checker_sees_an_upward_import_and_a_cycle() -> None:
    graph = {"cases.a": {"inference.b": 3}, "inference.b": {"cases.a": 1}, "portal.c": {"cases.a": 2}}
    assert upward_imports(graph) == ["cases.a:3 imports inference.b (floor 0 -> 1)"]
    components = [c for c in strongly_connected_components(graph) if len(c) > 1]
    assert components == [["cases.a", "inference.b"]]


def test_checker_sees_imports_inside_functions_and_relative_ones(tmp_path) -> None:
    source = tmp_path / "mod.py"
    source.write_text("def f():\n    from studies.selectors import x\n\nfrom . import sibling, name\n"
                      "if TYPE_CHECKING:\n    from training import hidden\n")
    modules = {"cases.pkg.sibling": source}
    names = {name for name, _ in _imported_names(source, "cases.pkg.mod", modules)}
    assert names == {"studies.selectors", "cases.pkg.sibling", "cases.pkg", "training"}
    run_time = {name for name, _ in _imported_names(source, "cases.pkg.mod", modules, with_type_checking=False)}
    assert run_time == {"studies.selectors", "cases.pkg.sibling", "cases.pkg"}
