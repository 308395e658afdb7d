"""What a notebook's cells are to the kit: their kinds, their nbgrader metadata, and the names they define.

The ground floor with `mlkit.layout`: every workflow reads cells through here, and it imports none of them.
A cell of a course notebook is one of six kinds, told apart by its nbgrader metadata (`KINDS`):

    markdown   read-only instructions                 code      read-only code
    student    a plain cell the student may edit      answer    autograded answer (solution regions inside)
    tests      autograded tests (hidden regions)      manual    a manually graded written answer (markdown)

`mlkit.authoring.nbtext` writes each kind as a `# %% [kind]` header in its text format.
"""

from __future__ import annotations

import ast

SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")
HIDDEN_TEST_MARKERS = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")

# kind -> (cell type, nbgrader metadata without grade_id/points); None: a cell without nbgrader metadata
KINDS = {
    "markdown": ("markdown", {"grade": False, "solution": False, "locked": True}),
    "code": ("code", {"grade": False, "solution": False, "locked": True}),
    "student": ("code", None),
    "answer": ("code", {"grade": False, "solution": True, "locked": False}),
    "tests": ("code", {"grade": True, "solution": False, "locked": True}),
    "manual": ("markdown", {"grade": True, "solution": True, "locked": False}),
}


def nbgrader_metadata(cell) -> dict:
    """The cell's nbgrader metadata (grade_id, grade, solution, locked, points, ...); {} for a plain cell."""
    return cell.metadata.get("nbgrader") or {}


def grade_id(cell) -> str | None:
    """The cell's nbgrader grade_id; None for a plain cell."""
    return nbgrader_metadata(cell).get("grade_id")


def kind_of(cell) -> str:
    """The cell's kind, a key of `KINDS`; ValueError for nbgrader metadata that matches no kind."""
    meta = nbgrader_metadata(cell)
    if not meta:
        return "student"
    for kind, (cell_type, flags) in KINDS.items():
        if flags and cell.cell_type == cell_type and all(meta.get(k) == v for k, v in flags.items()):
            return kind
    raise ValueError(f"cell {meta.get('grade_id')!r} has nbgrader metadata no kind matches: {meta}")


def answer_cell_ids(nb) -> list[str]:
    """The grade_ids of the notebook's answer cells, in notebook order."""
    return [grade_id(c) for c in nb.cells if kind_of(c) == "answer"]


def strip_solution_markers(source: str) -> str:
    """The cell's source without its `### BEGIN SOLUTION` / `### END SOLUTION` lines (the lines between stay)."""
    return "\n".join(line for line in source.splitlines() if line.strip() not in SOLUTION_MARKERS)


def defined_names(source: str, *, assigned: bool = True, members: bool = False) -> set[str]:
    """The names a code cell binds at its top level: the functions and classes it defines and, with `assigned`,
    the names its top-level assignments bind (`x = ...`, `a, b = ...`, `x: int = ...`, `x += ...`); with
    `members`, also the methods (and inner classes) of the classes it defines, by their own names (`fit`).

    source: the cell's code; code that does not parse defines nothing (the empty set)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names: set[str] = set()
    definitions = (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    for node in tree.body:
        if isinstance(node, definitions):
            names.add(node.name)
            classes = [node] if members and isinstance(node, ast.ClassDef) else []
            while classes:
                for member in classes.pop().body:
                    if isinstance(member, definitions):
                        names.add(member.name)
                        if isinstance(member, ast.ClassDef):
                            classes.append(member)
        elif assigned and isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {n.id for target in targets for n in ast.walk(target)
                      if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    return names
