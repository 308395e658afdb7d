"""The answer-cell gate: what student code may contain, checked before it runs.

Enforces SPEC.md, "What an answer cell may contain".  Honest solutions to
these exercises never need more, so anything outside it is treated as an
attempt to reach the interpreter, the grader, files or processes:

- imports only of numpy (and its submodules), math, collections, itertools,
  functools, heapq, typing, dataclasses;
- no exec, eval, compile, __import__, open, globals, locals, vars, input,
  breakpoint, get_ipython (not called, not even named), no IPython magics or
  shell escapes;
- no attribute or name that starts and ends with `__`, except
  `super().__init__`;
- getattr / setattr / hasattr / delattr only on `self`;
- no assignment to (or deletion of) an attribute of an imported module;
- dunder methods defined in a class: __init__, __repr__, __str__ only.

Beyond the letter of SPEC, and in its evident intent ("nothing that reaches
files or processes"): the module names the course's own read-only cells
import (`os`), and NumPy's file and foreign-code entry points (np.load,
np.save, np.fromfile, np.memmap, np.ctypeslib, ...), are refused too.

The gate reads source code only (Python's `ast`); it never runs it.
"""

from __future__ import annotations

import ast
import builtins
from dataclasses import dataclass

ALLOWED_MODULES = {"numpy", "math", "collections", "itertools", "functools", "heapq", "typing", "dataclasses"}
FORBIDDEN_NAMES = {
    "exec", "eval", "compile", "__import__", "open", "globals", "locals", "vars", "input",
    "breakpoint", "get_ipython",
}
# Names bound by the notebooks' read-only cells that answer cells must not use.
FORBIDDEN_MODULE_NAMES = {"os", "sys", "subprocess", "builtins", "importlib", "shutil", "pathlib", "io", "ctypes"}
SELF_ONLY_CALLS = {"getattr", "setattr", "hasattr", "delattr"}
ALLOWED_DUNDER_METHODS = {"__init__", "__repr__", "__str__"}
# The tests' own names: answer cells must neither use nor replace them.
HARNESS_NAMES = {"check", "Check", "CheckFailed", "mlkit"}
# Names the tests rely on that a top-level assignment would replace for every later cell.
PROTECTED_GLOBALS = set(dir(builtins)) | {"np", "numpy"}
NUMPY_IO_ATTRIBUTES = {
    "load", "save", "savez", "savez_compressed", "savetxt", "loadtxt", "genfromtxt", "fromfile",
    "tofile", "memmap", "ctypeslib", "f2py", "distutils", "DataSource", "fromregex", "dump", "dumps",
}


@dataclass(frozen=True)
class Violation:
    line: int
    code: str   # the offending source line, stripped
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}: {self.code}"


def _dunder(name: str) -> bool:
    return len(name) > 4 and name.startswith("__") and name.endswith("__")


class _Inspector(ast.NodeVisitor):
    def __init__(self, lines: list[str], module_aliases: set[str]):
        self.lines = lines
        self.modules = set(module_aliases)
        self.found: list[Violation] = []

    def flag(self, node: ast.AST, reason: str) -> None:
        line = getattr(node, "lineno", 0)
        code = self.lines[line - 1].strip() if 0 < line <= len(self.lines) else ""
        self.found.append(Violation(line, code, reason))

    # imports ----------------------------------------------------------------
    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name.split(".")[0] not in ALLOWED_MODULES:
                self.flag(node, f"import of {alias.name!r} (allowed: {', '.join(sorted(ALLOWED_MODULES))})")
            self.modules.add((alias.asname or alias.name).split(".")[0])

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if node.level or module.split(".")[0] not in ALLOWED_MODULES:
            self.flag(node, f"import from {module or '.'!r} (allowed: {', '.join(sorted(ALLOWED_MODULES))})")
        for alias in node.names:
            self.modules.add(alias.asname or alias.name)  # a function or class from a module: not to be patched either
            if alias.name == "*":
                self.flag(node, "star import")
            elif _dunder(alias.name) or alias.name in FORBIDDEN_NAMES:
                self.flag(node, f"import of {alias.name!r}")
            elif module.split(".")[0] == "numpy" and alias.name in NUMPY_IO_ATTRIBUTES:
                self.flag(node, f"NumPy file or foreign-code function {alias.name!r}")

    # names and attributes ------------------------------------------------------
    def visit_Name(self, node: ast.Name) -> None:
        if node.id in FORBIDDEN_NAMES:
            self.flag(node, f"use of {node.id!r}")
        elif node.id in FORBIDDEN_MODULE_NAMES:
            self.flag(node, f"use of the module {node.id!r}")
        elif _dunder(node.id):
            self.flag(node, f"use of the special name {node.id!r}")
        elif node.id in HARNESS_NAMES:
            self.flag(node, f"use of the grader's name {node.id!r}")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if _dunder(node.attr):
            is_super_init = (
                node.attr == "__init__" and isinstance(node.value, ast.Call)
                and isinstance(node.value.func, ast.Name) and node.value.func.id == "super"
            )
            if not is_super_init:
                self.flag(node, f"special attribute {node.attr!r}")
        if node.attr == "tofile" or (node.attr in NUMPY_IO_ATTRIBUTES and self._root_is_module(node)):
            self.flag(node, f"NumPy file or foreign-code function {node.attr!r}")
        self.generic_visit(node)

    def _root_is_module(self, node: ast.AST) -> bool:
        while isinstance(node, (ast.Attribute, ast.Subscript)):
            node = node.value
        return isinstance(node, ast.Name) and node.id in self.modules

    # calls -----------------------------------------------------------------------
    def visit_Call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Name) and node.func.id in SELF_ONLY_CALLS:
            first = node.args[0] if node.args else None
            if not (isinstance(first, ast.Name) and first.id == "self"):
                self.flag(node, f"{node.func.id} on something other than self")
        self.generic_visit(node)

    # assignments to modules -------------------------------------------------------
    def _check_target(self, target: ast.AST) -> None:
        if isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self._check_target(element)
        elif isinstance(target, ast.Starred):
            self._check_target(target.value)
        elif isinstance(target, (ast.Attribute, ast.Subscript)) and self._root_is_module(target):
            self.flag(target, "assignment to an attribute of an imported module")

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            self._check_target(target)
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._check_target(node.target)
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self._check_target(node.target)
        self.generic_visit(node)

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            self._check_target(target)
        self.generic_visit(node)

    # classes -------------------------------------------------------------------------
    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for item in node.body:
            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and _dunder(item.name) \
                    and item.name not in ALLOWED_DUNDER_METHODS:
                self.flag(item, f"special method {item.name!r} (allowed: __init__, __repr__, __str__)")
            if isinstance(item, (ast.Assign, ast.AnnAssign)):
                targets = item.targets if isinstance(item, ast.Assign) else [item.target]
                for target in targets:
                    if isinstance(target, ast.Name) and _dunder(target.id):
                        self.flag(item, f"special class attribute {target.id!r}")
        for keyword in node.keywords:
            self.flag(node, f"class keyword {keyword.arg!r}")
        self.generic_visit(node)


def _top_level_bindings(tree: ast.Module) -> list[tuple[ast.AST, str]]:
    """(node, name) for every name a cell binds in the notebook's global namespace."""
    bound: list[tuple[ast.AST, str]] = []
    declared_global = {name for node in ast.walk(tree) if isinstance(node, (ast.Global, ast.Nonlocal)) for name in node.names}

    def targets(node):
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, (ast.Store, ast.Del)):
                yield sub

    for statement in tree.body:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.append((statement, statement.name))
        elif isinstance(statement, ast.Import):
            for alias in statement.names:
                if not (alias.name == "numpy" and alias.asname in (None, "np")):  # the usual import is fine
                    bound.append((statement, (alias.asname or alias.name).split(".")[0]))
        elif isinstance(statement, ast.ImportFrom):
            for alias in statement.names:
                bound.append((statement, alias.asname or alias.name))
        else:
            for name_node in targets(statement):
                bound.append((name_node, name_node.id))
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and node.id in declared_global:
            bound.append((node, node.id))
    return bound


def _uses_ipython_syntax(source: str) -> bool:
    """True when IPython would rewrite the cell (magics, shell escapes, `?` help)."""
    from IPython.core.inputtransformer2 import TransformerManager

    return "get_ipython()" in TransformerManager().transform_cell(source) and "get_ipython" not in source


def inspect_source(source: str, module_aliases: set[str] = frozenset({"np"})) -> list[Violation]:
    """Every rule the cell breaks; [] when it may run.  `module_aliases`: module names already bound."""
    lines = source.splitlines()
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        if _uses_ipython_syntax(source):
            return [Violation(error.lineno or 0, (error.text or "").strip(), "IPython magic or shell escape")]
        return []  # an honest syntax error: it fails when it runs, like any other bug
    inspector = _Inspector(lines, set(module_aliases))
    inspector.visit(tree)
    for node, name in _top_level_bindings(tree):
        if name in PROTECTED_GLOBALS:
            inspector.flag(node, f"replaces {name!r} for every later cell")
    return sorted(set(inspector.found), key=lambda v: (v.line, v.reason))
