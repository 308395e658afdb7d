"""Self-study grading: one command grades a learner's notebook with the hidden tests, no instructor needed.

    mlkit selfgrade path/to/linear_regression.ipynb

It works on a copy (the learner's notebook is never written to), in a private
nbgrader course in the workspace (default `~/.mlkit-selfstudy`, or
`--workspace`, or `$MLKIT_SELFSTUDY`) built from the kit's own `source/`:
`nbgrader generate_assignment` once per assignment, then for every attempt
`nbgrader autograde` and `nbgrader generate_feedback` of the learner's copy,
with the local SQLite gradebook.  It prints the per-check summary, records
the attempt in `history.json`, and writes `report.html`: progress per
notebook, what to practise next, and the latest feedback for each notebook.

What to practise next follows a spaced-repetition schedule: a notebook whose
last attempt was not perfect is due now, its weakest checks first; after the
1st, 2nd, 3rd and 4th perfect attempt on different days it is due again
3, 7, 14 and 21 days later.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import nbformat

from mlkit import catalog, course, results

LEARNER = "learner"
INTERVALS_DAYS = (3, 7, 14, 21)


class SelfStudyError(Exception):
    """A problem with the learner's input, reported as one line."""


def default_workspace() -> Path:
    return Path(os.environ.get("MLKIT_SELFSTUDY", Path.home() / ".mlkit-selfstudy"))


def read_notebook(path: Path):
    if not path.exists():
        raise SelfStudyError(f"no such file: {path}")
    if path.is_dir() or path.suffix != ".ipynb":
        raise SelfStudyError(f"not a notebook (.ipynb file): {path}")
    try:
        nb = nbformat.reads(path.read_bytes().decode("utf-8"), as_version=4)
        nbformat.validate(nb)
    except Exception as error:
        raise SelfStudyError(f"{path} is not a readable notebook ({type(error).__name__}: {str(error)[:120]})")
    return nb


def identify_assignment(nb, wanted: str | None) -> str:
    """The assignment whose answer cells this notebook carries."""
    ids = {c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells
           if c.metadata.get("nbgrader", {}).get("solution")}
    matches = [a for a in catalog.assignments()
               if set(catalog.answer_cell_ids(nbformat.read(catalog.notebook_path(a, "release"), as_version=4))) <= ids]
    if wanted is not None:
        if wanted not in catalog.assignments():
            raise SelfStudyError(f"no assignment {wanted!r}; the course has {', '.join(catalog.assignments())}")
        if wanted not in matches:
            found = f"it looks like {matches[0]}" if matches else "it is not a notebook of this course"
            raise SelfStudyError(f"this notebook is not {wanted}: {found}")
        return wanted
    if not matches:
        raise SelfStudyError("this notebook is not one of the course's notebooks (no matching answer cells)")
    return matches[0]


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(folder)).encode() + p.read_bytes())
    return h.hexdigest()


def prepare_workspace(workspace: Path, assignment: str) -> None:
    """A private course holding the kit's assignment, generated (again) when its source changed."""
    workspace.mkdir(parents=True, exist_ok=True)
    shutil.copy2(course.ROOT / "nbgrader_config.py", workspace / "nbgrader_config.py")
    source = course.ROOT / "source" / assignment
    stamp = workspace / "source" / f".{assignment}.sha256"
    if stamp.exists() and stamp.read_text() == _digest(source) and (workspace / "release" / assignment).exists():
        return
    shutil.rmtree(workspace / "source" / assignment, ignore_errors=True)
    shutil.copytree(source, workspace / "source" / assignment)
    course.nbgrader(workspace, "generate_assignment", assignment, "--force")
    stamp.write_text(_digest(source))


@dataclass
class Attempt:
    assignment: str
    when: str
    score: float
    max_score: float
    checks: dict[str, bool]
    mistakes: list[str]


def grade(path: Path, workspace: Path, wanted: str | None = None) -> tuple[Attempt, list[results.CheckResult], Path]:
    nb = read_notebook(path)
    assignment = identify_assignment(nb, wanted)
    prepare_workspace(workspace, assignment)
    target = workspace / "submitted" / LEARNER / assignment
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(workspace / "release" / assignment, target, ignore=shutil.ignore_patterns("*.ipynb"))
    name = catalog.notebook_path(assignment, "release", workspace).name
    shutil.copyfile(path, target / name)  # a byte copy: the learner's file is only read
    course.nbgrader(workspace, "autograde", assignment, "--student", LEARNER, "--force")
    course.nbgrader(workspace, "generate_feedback", assignment, "--student", LEARNER, "--force")

    graded = nbformat.read(workspace / "autograded" / LEARNER / assignment / name, as_version=4)
    checks = results.check_results(graded, assignment)
    attempt = Attempt(
        assignment=assignment, when=dt.datetime.now().isoformat(timespec="seconds"),
        score=sum(c.score for c in checks), max_score=sum(c.points for c in checks),
        checks={c.test_id: c.passed for c in checks}, mistakes=[c.mistake for c in checks if c.mistake],
    )
    history = load_history(workspace)
    history.append(attempt)
    (workspace / "history.json").write_text(json.dumps([a.__dict__ for a in history], indent=1))
    feedback = workspace / "feedback" / LEARNER / assignment / name.replace(".ipynb", ".html")
    return attempt, checks, feedback


def load_history(workspace: Path) -> list[Attempt]:
    path = workspace / "history.json"
    return [Attempt(**entry) for entry in json.loads(path.read_text())] if path.exists() else []


@dataclass
class Suggestion:
    assignment: str
    due: dt.date
    reason: str
    weakest: list[str]  # check ids, weakest first


def schedule(history: list[Attempt], today: dt.date) -> list[Suggestion]:
    """Spaced repetition over notebooks: due dates and the checks to practise, soonest first."""
    suggestions = []
    for assignment in sorted({a.assignment for a in history}):
        attempts = [a for a in history if a.assignment == assignment]
        failures: dict[str, int] = {}
        for a in attempts:
            for check, passed in a.checks.items():
                failures[check] = failures.get(check, 0) + (not passed)
        latest = attempts[-1]
        weakest = [c for c, _ in sorted(failures.items(), key=lambda kv: -kv[1]) if failures[c] > 0]
        if latest.score < latest.max_score:
            failing = [c for c, passed in latest.checks.items() if not passed]
            weakest = failing + [c for c in weakest if c not in failing]
            suggestions.append(Suggestion(assignment, today, "last attempt was not perfect", weakest))
            continue
        perfect_days = sorted({dt.date.fromisoformat(a.when[:10]) for a in attempts if a.score >= a.max_score})
        step = min(len(perfect_days), len(INTERVALS_DAYS)) - 1
        due = perfect_days[-1] + dt.timedelta(days=INTERVALS_DAYS[step])
        suggestions.append(Suggestion(assignment, due, f"review {len(perfect_days)} of {len(INTERVALS_DAYS)}: "
                                      f"{INTERVALS_DAYS[step]} days after the last perfect attempt", weakest))
    return sorted(suggestions, key=lambda s: (s.due, -len(s.weakest)))


def _progress_svg(attempts: list[Attempt]) -> str:
    """A small bar chart of scores over attempts (inline SVG, no JavaScript)."""
    width, height, bar = 24 * max(len(attempts), 1) + 8, 60, 18
    bars = []
    for i, a in enumerate(attempts):
        h = 50 * (a.score / a.max_score if a.max_score else 0)
        colour = "#1a7f37" if a.score >= a.max_score else "#d1242f"
        bars.append(f"<rect x='{4 + 24 * i}' y='{55 - h:.1f}' width='{bar}' height='{h:.1f}' fill='{colour}'>"
                    f"<title>{html.escape(a.when)}: {a.score:g}/{a.max_score:g}</title></rect>")
    return (f"<svg class='mlkit-progress' width='{width}' height='{height}' role='img' aria-label='scores per attempt'>"
            f"<line x1='0' y1='55' x2='{width}' y2='55' stroke='#999'/>{''.join(bars)}</svg>")


def write_report(workspace: Path, today: dt.date) -> Path:
    history = load_history(workspace)
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Self-study report</title>"
             f"<style>body {{ font-family: sans-serif; margin: 2em; }} {results.SUMMARY_CSS}"
             ".mlkit-plan td, .mlkit-plan th { border: 1px solid #ccc; padding: 4px 8px; }"
             ".mlkit-plan { border-collapse: collapse; }</style></head><body>",
             "<h1>Self-study report</h1>"]
    plan = schedule(history, today)
    parts.append("<h2>What to practise next</h2><table class='mlkit-plan'><tr><th>notebook</th><th>due</th>"
                 "<th>why</th><th>weakest checks first</th></tr>")
    for s in plan:
        due = "today" if s.due <= today else s.due.isoformat()
        parts.append(f"<tr><td>{s.assignment}</td><td>{due}</td><td>{html.escape(s.reason)}</td>"
                     f"<td>{html.escape(', '.join(s.weakest) or '-')}</td></tr>")
    parts.append("</table><h2>Progress per notebook</h2><table class='mlkit-plan'><tr><th>notebook</th>"
                 "<th>attempts</th><th>scores</th><th>latest</th><th>latest feedback</th></tr>")
    for assignment in sorted({a.assignment for a in history}):
        attempts = [a for a in history if a.assignment == assignment]
        latest = attempts[-1]
        feedback = next((workspace / "feedback" / LEARNER / assignment).glob("*.html"), None)
        link = f"<a href='{feedback.relative_to(workspace)}'>feedback</a>" if feedback else "-"
        parts.append(f"<tr><td>{assignment}</td><td>{len(attempts)}</td><td>{_progress_svg(attempts)}</td>"
                     f"<td>{latest.score:g} / {latest.max_score:g}</td><td>{link}</td></tr>")
    parts.append("</table></body></html>")
    path = workspace / "report.html"
    path.write_text("".join(parts))
    return path


def terminal_summary(attempt: Attempt, checks: list[results.CheckResult]) -> str:
    import textwrap

    lines = [f"{attempt.assignment}: {attempt.score:g} / {attempt.max_score:g} automatic points", ""]
    indent = " " * 14
    for c in checks:
        mark = "PASS" if c.passed else "FAIL"
        lines += textwrap.wrap(c.description, 100, initial_indent=f"  {mark} {c.score:>2g}/{c.points:<2g}   ",
                               subsequent_indent=indent)
        if not c.passed:
            lines += textwrap.wrap(c.message, 100, initial_indent=indent + "-> ", subsequent_indent=indent + "   ")
            if c.hint:
                lines += textwrap.wrap("hint: " + c.hint, 100, initial_indent=indent + "   ",
                                       subsequent_indent=indent + "   ")
    return "\n".join(lines)


def main(path: str, workspace: str | None, assignment: str | None) -> int:
    import sys

    try:
        space = Path(workspace) if workspace else default_workspace()
        attempt, checks, feedback = grade(Path(path), space, assignment)
    except SelfStudyError as error:
        print(f"mlkit selfgrade: {error}", file=sys.stderr)
        return 2
    print(terminal_summary(attempt, checks))
    report = write_report(space, dt.date.today())
    print(f"\nFeedback for this attempt: {feedback}")
    print(f"Progress and what to practise next: {report}")
    return 0

