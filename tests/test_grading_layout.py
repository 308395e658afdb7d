"""mlkit/grading is laid out by zone (mlkit/grading/__init__.py): its import graph has no circle, and no zone
imports one that runs above it (the sandbox nothing of the kernel, the kernel nothing of the plug-ins or the
back-ends, the one-submission autograde nothing of the back-ends or the commands). Read from the source, with
every import counted, those inside functions too."""

from __future__ import annotations

import ast
from pathlib import Path

import mlkit.grading

GRADING = Path(mlkit.grading.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(GRADING.parent.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph() -> dict[str, set[str]]:
    """{module: the mlkit.grading modules it imports}, each package's __init__ counted as the package."""
    modules = {_module_name(path): path for path in GRADING.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    candidate = f"{node.module}.{alias.name}"
                    found.add(candidate if candidate in modules else node.module)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
        graph[name] = {target for target in found if target in modules and target != name}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import circle of `graph` as a list of modules ([] if none)."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        state[node] = 2
        path.pop()
        return []

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []


def test_grading_has_no_import_circle():
    graph = _import_graph()
    assert "mlkit.grading.backends.dask_client" in graph and "mlkit.grading.autograde" in graph
    assert _cycle(graph) == [], " -> ".join(_cycle(graph))


def test_no_zone_imports_one_above_it():
    above = {
        "mlkit.grading.limits": ("mlkit.grading.",),
        "mlkit.grading.sandbox": ("mlkit.grading.kernel", "mlkit.grading.plugins", "mlkit.grading.backends",
                                  "mlkit.grading.autograde", "mlkit.grading.render", "mlkit.grading.grade",
                                  "mlkit.grading.feedback"),
        "mlkit.grading.kernel": ("mlkit.grading.plugins", "mlkit.grading.backends", "mlkit.grading.autograde",
                                 "mlkit.grading.render", "mlkit.grading.grade", "mlkit.grading.feedback"),
        "mlkit.grading.plugins": ("mlkit.grading.backends", "mlkit.grading.autograde", "mlkit.grading.render",
                                  "mlkit.grading.grade", "mlkit.grading.feedback"),
        "mlkit.grading.autograde": ("mlkit.grading.backends", "mlkit.grading.grade", "mlkit.grading.feedback"),
        "mlkit.grading.render": ("mlkit.grading.backends", "mlkit.grading.grade", "mlkit.grading.feedback"),
        "mlkit.grading.backends": ("mlkit.grading.grade", "mlkit.grading.feedback"),
    }
    wrong = [f"{module} imports {target}" for module, targets in _import_graph().items() for target in targets
             for zone, forbidden in above.items()
             if (module == zone or module.startswith(zone + ".")) and target.startswith(forbidden)]
    assert wrong == []


def test_the_server_inside_the_sandbox_imports_only_what_is_bound_beside_it():
    tree = ast.parse((GRADING / "sandbox" / "server.py").read_text())
    ours = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
            if alias.name in ("wire", "limits", "watch", "randomstate") or alias.name.startswith("mlkit")}
    assert ours == {"wire", "limits", "watch", "randomstate"}
    limits_tree = ast.parse((GRADING / "limits.py").read_text())
    imported = {alias.name for node in ast.walk(limits_tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(limits_tree) if isinstance(node, ast.ImportFrom)}
    assert imported <= {"__future__", "dataclasses", "resource"}
