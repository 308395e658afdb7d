"""Progressive hints for a failed check, for self-study: `mlkit hint [ALGORITHM] [--check ID]`.

Each call reveals one more step for the first failed check of the latest
attempt (or the check named):
1. the direction: the hint of the mistake the check diagnosed (or, without a
   diagnosis, what the check found);
2. the shapes: the implementation section's note on the shape-critical
   lines, and the docstrings of the answer cell the check exercises;
3. the reference lines: the lines of the reference solution in that cell.

Every reveal is recorded, and counts against the next graded attempt of that
algorithm (the one the hint helps with): its FSRS rating drops one step per
reveal (`mlkit.study.schedule.rating`).
"""

from __future__ import annotations

import ast
import datetime as dt
import textwrap
from pathlib import Path

import nbformat

from mlkit.authoring import catalog
from mlkit.reports import results
from mlkit.study import history as histories

STEPS = 3


class HintError(Exception):
    """Nothing to hint at (no attempt, no failed check), said in one line."""


def _cells(assignment: str, folder: str):
    return nbformat.read(catalog.notebook_path(assignment, folder), as_version=4).cells


def _defined(source: str) -> set[str]:
    try:
        tree = ast.parse(catalog.strip_solution_markers(source))
    except SyntaxError:
        return set()
    return {n.name for n in tree.body if isinstance(n, (ast.ClassDef, ast.FunctionDef))}


def exercised_answer(assignment: str, check: str) -> str | None:
    """The grade_id of the answer cell whose classes or functions the test cell `check` uses."""
    cells = _cells(assignment, "source")
    test = next((c.source for c in cells if c.metadata.get("nbgrader", {}).get("grade_id") == check), "")
    tree = ast.parse(catalog.strip_solution_markers(test) or "pass")
    used = {node.id if isinstance(node, ast.Name) else node.attr for node in ast.walk(tree)
            if isinstance(node, (ast.Name, ast.Attribute))}
    for cell in cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("solution") and _defined(cell.source) & used:
            return meta["grade_id"]
    return None


def shapes(assignment: str, answer: str) -> str:
    """The release's note before the answer cell, and the docstrings of what the cell defines."""
    cells = _cells(assignment, "release")
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in cells]
    at = ids.index(answer)
    note = next((c.source for c in reversed(cells[:at]) if c.cell_type == "markdown"), "")
    docs = []
    for node in ast.walk(ast.parse(cells[at].source)):
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)) and ast.get_docstring(node):
            docs.append(f"{node.name}: {' '.join(ast.get_docstring(node).split())}")
    return "\n".join([note.strip(), *docs])


def reference_lines(assignment: str, answer: str) -> str:
    """The lines between the solution markers of the reference answer cell."""
    source = next(c.source for c in _cells(assignment, "source")
                  if c.metadata.get("nbgrader", {}).get("grade_id") == answer)
    kept, inside = [], False
    for line in source.splitlines():
        if line.strip() == catalog.SOLUTION_MARKERS[0]:
            inside = True
        elif line.strip() == catalog.SOLUTION_MARKERS[1]:
            inside = False
            kept.append("...")
        elif inside:
            kept.append(line)
    return textwrap.dedent("\n".join(kept[:-1] if kept[-1:] == ["..."] else kept))


def failed_checks(workspace: Path, assignment: str) -> list[results.CheckResult]:
    """The failed checks of the latest graded attempt (read from its autograded notebook)."""
    graded = next((workspace / "autograded" / histories.LEARNER / assignment).glob("*.ipynb"), None)
    if graded is None:
        return []
    return [c for c in results.check_results(nbformat.read(graded, as_version=4), assignment) if not c.passed]


def reveal(workspace: Path, assignment: str | None = None, check: str | None = None) -> tuple[str, int, str]:
    """(check, step, text) of the next hint; records the reveal."""
    record = histories.load(workspace)
    if not record.attempts:
        raise HintError("no graded attempt yet: grade one with mlkit selfgrade first")
    assignment = assignment or record.attempts[-1].assignment
    failed = failed_checks(workspace, assignment)
    if check is None:
        if not failed:
            raise HintError(f"the latest attempt of {assignment} failed no check")
        chosen = failed[0]
    else:
        chosen = next((c for c in failed if c.test_id == check), None)
        if chosen is None:
            raise HintError(f"{check!r} is not a failed check of the latest attempt of {assignment} "
                            f"(failed: {', '.join(c.test_id for c in failed) or 'none'})")
    shown = sum(1 for h in record.pending_hints.get(assignment, []) if h.get("check") == chosen.test_id)
    step = min(shown + 1, STEPS)
    answer = exercised_answer(assignment, chosen.test_id)
    if step == 1 or answer is None:
        text = chosen.hint or chosen.message or chosen.description
    elif step == 2:
        text = shapes(assignment, answer)
    else:
        text = reference_lines(assignment, answer)
    if shown < STEPS:
        record.pending_hints.setdefault(assignment, []).append(
            {"check": chosen.test_id, "step": step, "when": dt.datetime.now().astimezone().isoformat(timespec="seconds")})
        histories.save(workspace, record)
    return chosen.test_id, step, text


def main(assignment: str | None, check: str | None, workspace: str | None) -> int:
    import sys

    from mlkit.study import selfgrade
    from mlkit.study.practice import PracticeError, resolve_assignment

    space = selfgrade.default_workspace(workspace)
    try:
        name = resolve_assignment(assignment) if assignment else None
        test_id, step, text = reveal(space, name, check)
    except (HintError, PracticeError) as error:
        print(f"mlkit hint: {error}", file=sys.stderr)
        return 2
    title = {1: "the direction", 2: "the shapes", 3: "the reference lines"}[step]
    print(f"Hint {step} of {STEPS} for {test_id} ({title}); it lowers the rating of your next attempt:\n")
    print(textwrap.indent(text, "  "))
    return 0
