"""Three practice levels of one algorithm, all cut from its release notebook (so they never drift from it).

- guided: the release notebook itself: derivation, scaffolds, visible tests.
- blank: the API table and every class and function of the answer cells as an
  empty signature whose docstring states the shapes; no derivation, no
  formulas, no scaffold lines.  The visible tests stay.
- interview: the problem as an interviewer would state it, the API table, the
  empty signatures, the explanation prompt; no visible tests, and a time limit.

Every level ends with a one-line cell that grades the notebook from inside
JupyterLab (`mlkit.study.inlab`).  Every level keeps the answer cells' nbgrader metadata, so `mlkit selfgrade`
recognises the notebook and grades it with the same hidden tests as the
release: grading rebuilds the notebook from the release and takes only the
answers from the learner's file.
"""

from __future__ import annotations

import ast
import copy
import datetime as dt
import re

import nbformat

from mlkit import nbcells

LEVELS = ("guided", "blank", "interview")
DEFAULT_MINUTES = {"guided": 45, "blank": 30, "interview": 20}
KEPT_SECTIONS = {  # locked markdown cells (by grade_id) each level keeps whole
    "blank": {"title", "what_you_build", "tests_intro", "picture_intro", "real_data_intro", "explain_prompt"},
    "interview": {"what_you_build", "explain_prompt"},
}


def skeleton(source: str) -> str:
    """The classes and functions of an answer cell as signatures with their docstrings, bodies left to write.

    Top-level statements that are not definitions (an import, a constant) stay as they are.
    """
    tree = ast.parse(source)
    lines = source.splitlines()
    out: list[str] = []

    def signature(node) -> list[str]:
        first = node.decorator_list[0].lineno if node.decorator_list else node.lineno
        body_start = node.body[0].lineno
        return lines[first - 1:body_start - 1] if body_start > node.lineno else [lines[node.lineno - 1]]

    def docstring(node) -> list[str]:
        first = node.body[0] if node.body else None
        if ast.get_docstring(node) is None or first is None:
            return []
        return lines[first.lineno - 1:first.end_lineno]  # as written, quotes and indentation included

    def function(node, indent: str) -> list[str]:
        inner = indent + "    "
        return [*signature(node), *docstring(node), f"{inner}# YOUR CODE HERE",
                f"{inner}raise NotImplementedError()"]

    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            out += function(node, "")
        elif isinstance(node, ast.ClassDef):
            out += signature(node) + docstring(node)
            methods = [n for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
            for method in methods:
                out += [""] + function(method, "    ")
            if not methods and not ast.get_docstring(node):
                out.append("    pass")
        else:
            out += lines[node.lineno - 1:node.end_lineno]
        out.append("")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def _heading(markdown: str) -> str:
    """The heading lines of a markdown cell (the section's titles without their explanation)."""
    return "\n\n".join(line for line in markdown.splitlines() if line.startswith("#"))


def _title(release) -> str:
    for cell in release.cells:
        if nbcells.grade_id(cell) == "title":
            return cell.source.splitlines()[0].lstrip("# ").strip()
    return "the algorithm"


def interview_prompt(release, minutes: int) -> str:
    title = _title(release)
    return (f"# Interview: {title}\n\n"
            f"*You have {minutes} minutes.* Implement the API below from scratch in NumPy, as you would on a "
            "whiteboard with a laptop: vectorised where it matters, shapes right, numerically stable. "
            "There are no visible tests; `mlkit selfgrade` runs the hidden ones when you are done. "
            "Then explain your solution out loud in 60 seconds, using the prompt at the end.\n\n"
            "Only NumPy and Python's standard library are available.")


def deadline(started: dt.datetime, minutes: float) -> str:
    """The local time `minutes` after `started` (aware), as the learner's clock shows it: "14:35 CET"."""
    end = (started + dt.timedelta(minutes=minutes)).astimezone()
    return f"{end:%H:%M} {end.tzname()}"


def _clock_cell(level: str, minutes: int, started: dt.datetime):
    """The notebook's first cell: when the clock started and the deadline, where the learner sees it on opening."""
    return nbformat.v4.new_markdown_cell(
        f"**Deadline {deadline(started, minutes)}** · {level} level, {minutes} minutes from "
        f"{started.astimezone():%H:%M}. The clock runs until your first full-marks grade; the grading cell at the "
        "end prints the time left each time you run it.")


def make(release, level: str, minutes: int | None = None, started: dt.datetime | None = None):
    """The practice notebook of `level`, cut from the release notebook `release`; with `started` (an aware
    time) it opens with its deadline and records it (`metadata.mlkit_practice`)."""
    if level not in LEVELS:
        raise ValueError(f"no level {level!r}; the levels are {', '.join(LEVELS)}")
    nb = copy.deepcopy(release)
    nb.metadata["mlkit_practice"] = {"level": level}
    minutes = minutes or DEFAULT_MINUTES[level]
    if started is not None:
        nb.metadata["mlkit_practice"].update(
            started=started.isoformat(timespec="seconds"),
            deadline=(started + dt.timedelta(minutes=minutes)).isoformat(timespec="seconds"))
    clock = [_clock_cell(level, minutes, started)] if started is not None else []
    if level == "guided":
        nb.cells = clock + nb.cells + [_grading_cell()]
        nb.metadata["mlkit_practice"]["minutes"] = minutes
        return nb
    kept = KEPT_SECTIONS[level]
    cells = list(clock)
    if level == "interview":
        cells.append(nbformat.v4.new_markdown_cell(interview_prompt(release, minutes)))
    for cell in nb.cells:
        kind = nbcells.kind_of(cell)
        grade_id = nbcells.grade_id(cell) or ""
        if kind == "answer":
            cell.source = skeleton(cell.source)
            cells.append(cell)
        elif kind in ("manual", "code"):  # the written explanation; the set-up imports
            cells.append(cell)
        elif kind == "markdown" and grade_id in kept:
            cells.append(cell)
        elif kind == "markdown" and grade_id.startswith("implement") and level == "blank":
            heading = _heading(cell.source)
            if heading:
                cell.source = heading
                cells.append(cell)
        elif kind in ("tests", "student") and level == "blank":  # visible tests; the picture and the real data
            cells.append(cell)
    _renumber_sections(cells)
    nb.cells = cells + [_grading_cell()]
    nb.metadata["mlkit_practice"]["minutes"] = minutes
    return nb


SECTION = re.compile(r"^(##\s+)\d+(\.\s)", re.M)


def _renumber_sections(cells) -> None:
    """Number the kept sections' headings ("## 1. ...") 1, 2, 3, ... in order, in place: a level that leaves
    sections out would otherwise jump (an interview went from 1 to 7)."""
    number = 0

    def renumbered(match: re.Match) -> str:
        nonlocal number
        number += 1
        return f"{match.group(1)}{number}{match.group(2)}"

    for cell in cells:
        if cell.cell_type == "markdown":
            cell.source = SECTION.sub(renumbered, cell.source)


def _grading_cell():
    from mlkit.study import inlab

    return nbformat.v4.new_code_cell(inlab.CELL)
