"""The server that runs inside the sandbox imports only the modules bound beside it there (the zones of
mlkit/grading, no circle and nothing importing a zone above it, are import contracts: tests/test_imports.py)."""

from __future__ import annotations

import ast
from pathlib import Path

import mlkit.grading

GRADING = Path(mlkit.grading.__file__).parent


def test_the_server_inside_the_sandbox_imports_only_what_is_bound_beside_it():
    tree = ast.parse((GRADING / "sandbox" / "server.py").read_text())
    ours = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
            if alias.name in ("wire", "limits", "watch", "randomstate") or alias.name.startswith("mlkit")}
    assert ours == {"wire", "limits", "watch", "randomstate"}
    limits_tree = ast.parse((GRADING / "limits.py").read_text())
    imported = {alias.name for node in ast.walk(limits_tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(limits_tree) if isinstance(node, ast.ImportFrom)}
    assert imported <= {"__future__", "dataclasses", "resource"}
