"""The cells of a notebook as the grading plug-ins see them: which are answers, where each runs, and the
grading issue a notebook carries. Runs in nbgrader's process, like every plug-in.
"""

from __future__ import annotations

import ast
import os

from mlkit import nbcells

ISSUE_KEY = "mlkit_grading_issue"  # notebook metadata set by the sanitize steps, read after execution


READ_REASONS_KEY = "mlkit_read_reasons"  # nbconvert resources: what TolerantNotebookExporter found reading the file


OWN_CELL_KEY = "mlkit_student_cell"  # cell metadata: a code cell of the student's own, placed by RebuildFromRelease


# The kit's own display outputs (not imported from mlkit.checks: a course folder may hold a stale copy of the
# kit, which nbgrader's process would import).
KIT_MIME_PREFIX = "application/vnd.mlkit."


def issue_of(store: dict) -> dict:
    """The grading issue kept in `store` (notebook metadata or nbconvert resources), created empty if absent."""
    return store.setdefault(ISSUE_KEY, {"reasons": []})


def course_root(preprocessor) -> str:
    return preprocessor.config.CourseDirectory.get("root", os.getcwd())


def is_answer(cell) -> bool:
    meta = nbcells.nbgrader_metadata(cell)
    return bool(meta.get("solution")) and not meta.get("grade") and cell.cell_type == "code"


def is_student_text_answer(cell) -> bool:
    meta = nbcells.nbgrader_metadata(cell)
    return bool(meta.get("solution")) and bool(meta.get("grade"))


def defined_names(source: str) -> set[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    return {node.name for node in tree.body if isinstance(node, (ast.ClassDef, ast.FunctionDef))}


def release_notebook(preprocessor, resources) -> str:
    """The path of the release notebook of the notebook being graded."""
    info = resources["nbgrader"]
    return os.path.join(course_root(preprocessor), "release", info["assignment"], info["notebook"] + ".ipynb")


def side(cell) -> str:
    """Where a cell runs while grading: "trusted" (the grading kernel), "student", or "both".

    Test cells and the release's own plain cells (pictures, real data; cells
    RebuildFromRelease took from the release) run in the trusted kernel; the
    release's read-only set-up code runs on both sides; answer cells and the
    student's own cells run only in the student process.
    """
    if cell.cell_type != "code":
        return "trusted"
    meta = nbcells.nbgrader_metadata(cell)
    if cell.metadata.get(OWN_CELL_KEY) or meta.get("solution"):
        return "student"
    if meta.get("grade"):
        return "trusted"
    if meta.get("locked"):
        return "both"
    return "trusted"
