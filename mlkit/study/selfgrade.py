"""Self-study grading: one command grades a learner's notebook with the hidden tests, no instructor needed.

    mlkit selfgrade path/to/linear_regression.ipynb

It works on a copy (the learner's notebook is never written to), in a private
nbgrader course in the workspace (default `~/.mlkit-selfstudy`, or
`--workspace`, or `$MLKIT_SELFSTUDY`) built from the kit's own `source/`:
nbgrader's generate_assignment once per assignment, then for every attempt
nbgrader's autograde and generate_feedback of the learner's copy, with the
local SQLite gradebook and the same grading boundary and sandbox as a class.

All three run in this process (nbgrader's own applications, imported once),
and the grading kernel is forked from a zygote that warms up while nbgrader
is being imported: an attempt takes a few seconds, not the half minute of
three `nbgrader` commands (benchmarks/selfgrade_latency.py).

Each attempt is recorded in the study history (`mlkit.study.history`) with
its level and, for a notebook written by `mlkit practice`, the time it took;
the summary is printed, and the study dashboard (`report.html`,
`mlkit.study.dashboard`) shows mastery, what is due and the trend.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
from pathlib import Path

import nbformat

from mlkit import course
from mlkit.authoring import catalog
from mlkit.reports import results
from mlkit.study import dashboard, levels, practice
from mlkit.study import history as histories
from mlkit.study.history import LEARNER, Attempt



class SelfStudyError(Exception):
    """A problem with the learner's input, reported as one line."""


def default_workspace(given: str | Path | None = None) -> Path:
    """The self-study workspace: `given` (a --workspace option), else $MLKIT_SELFSTUDY, else ~/.mlkit-selfstudy."""
    if given:
        return Path(given)
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
    from nbgrader.apps import GenerateAssignmentApp

    from mlkit.grading import parallel as grading

    if not grading.run_app(GenerateAssignmentApp, workspace, [assignment, "--force"]):
        raise RuntimeError(f"nbgrader generate_assignment {assignment} failed in {workspace}")
    stamp.write_text(_digest(source))


def _start_kernel_zygote():
    """The grading kernel's zygote, started before nbgrader is imported so that the two warm up together."""
    from mlkit.grading import zygote

    try:
        return zygote.Zygote(wait=False)
    except OSError:
        return None


def _autograde_and_feedback(workspace: Path, assignment: str, parent) -> None:
    from nbgrader.apps import GenerateFeedbackApp

    from mlkit.grading import parallel as grading
    from mlkit.grading import zygote

    config = course.course_config(workspace)
    grading.preflight(config)  # no sandbox: stop here, with the reason
    kernel_name = None
    if parent is not None and grading._uses_grading_kernel(config):
        parent.wait()
        zygote.install()
        kernel_name = zygote.KERNEL_NAME
    if not grading.grade_here(workspace, assignment, LEARNER, kernel_name):
        raise RuntimeError(f"nbgrader autograde of {assignment} failed in {workspace}")
    if not grading.run_app(GenerateFeedbackApp, workspace, [assignment, "--student", LEARNER, "--force"]):
        raise RuntimeError(f"nbgrader generate_feedback of {assignment} failed in {workspace}")


def practice_level(nb, record: histories.History, path: Path, now: dt.datetime):
    """(level, seconds, limit seconds) of this attempt: from its `mlkit practice` session, else from the notebook."""
    level, seconds, limit = practice.timing(record, path, now)
    if level is None:
        written = nb.metadata.get("mlkit_practice", {}).get("level")
        level = written if written in levels.LEVELS else "guided"
    return level, seconds, limit


def grade(path: Path, workspace: Path, wanted: str | None = None,
          now: dt.datetime | None = None) -> tuple[Attempt, list[results.CheckResult], Path]:
    """Grade one attempt; returns it, its checks and its feedback page."""
    parent = _start_kernel_zygote()
    try:
        nb = read_notebook(path)
        assignment = identify_assignment(nb, wanted)
        now = now or dt.datetime.now(dt.timezone.utc)
        record = histories.load(workspace)
        level, seconds, limit = practice_level(nb, record, path, now)
        prepare_workspace(workspace, assignment)
        target = workspace / "submitted" / LEARNER / assignment
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(workspace / "release" / assignment, target, ignore=shutil.ignore_patterns("*.ipynb"))
        name = catalog.notebook_path(assignment, "release", workspace).name
        shutil.copyfile(path, target / name)  # a byte copy: the learner's file is only read
        _autograde_and_feedback(workspace, assignment, parent)
    finally:
        if parent is not None:
            parent.close()

    graded = nbformat.read(workspace / "autograded" / LEARNER / assignment / name, as_version=4)
    checks = results.check_results(graded, assignment)
    attempt = Attempt(
        assignment=assignment, when=now.astimezone().isoformat(timespec="seconds"),
        score=sum(c.score for c in checks), max_score=sum(c.points for c in checks),
        checks={c.test_id: c.passed for c in checks}, mistakes=[c.mistake for c in checks if c.mistake],
        level=level, seconds=seconds, limit_seconds=limit,
        over_time=seconds is not None and limit is not None and seconds > limit,
        hints=record.pending_hints.pop(assignment, []))  # the hints revealed since the last attempt helped this one
    record.attempts.append(attempt)
    record.sessions.pop(str(path.resolve()), None)  # the clock of that session stops here
    histories.save(workspace, record)
    feedback = workspace / "feedback" / LEARNER / assignment / name.replace(".ipynb", ".html")
    return attempt, checks, feedback


def load_history(workspace: Path) -> list[Attempt]:
    return histories.load(workspace).attempts


def write_report(workspace: Path, now: dt.datetime | None = None) -> Path:
    """The study dashboard (report.html in the workspace)."""
    return dashboard.write(workspace, now)


def model_explanation(assignment: str) -> str:
    """The model answer of the notebook's 60-second explanation (from the kit's source notebook)."""
    nb = nbformat.read(catalog.notebook_path(assignment), as_version=4)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "markdown" and meta.get("solution") and meta.get("grade"):
            return catalog.strip_solution_markers(cell.source).strip()
    return ""


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
    import textwrap

    try:
        space = default_workspace(workspace)
        attempt, checks, feedback = grade(Path(path), space, assignment)
    except SelfStudyError as error:
        print(f"mlkit selfgrade: {error}", file=sys.stderr)
        return 2
    print(terminal_summary(attempt, checks))
    if attempt.seconds is not None:
        verdict = "over time" if attempt.over_time else "within time"
        print(f"\nTime: {attempt.seconds / 60:.1f} of {attempt.limit_seconds / 60:.0f} minutes ({verdict}), "
              f"{attempt.level} level.")
    model = model_explanation(attempt.assignment)
    if model:
        print("\nNow explain it out loud in 60 seconds, then compare with the model answer:")
        print(textwrap.indent(textwrap.fill(" ".join(model.split()), 100), "  "))
        print(f"Rate your explanation (1-5): mlkit rate {attempt.assignment} --explanation N")
    if attempt.perfect and attempt.level == "interview":  # a working solution: the interviewer's follow-ups
        from mlkit.study import followups

        print(followups.invitation(attempt.assignment))
    report = write_report(space)
    print(f"\nFeedback for this attempt: {feedback}")
    print(f"Study dashboard (mastery, what is due, trend): {report}")
    return 0


def rate(assignment: str, explanation: int | None, mastery: int | None, workspace: str | None) -> int:
    """Record the learner's rating of their 60-second explanation and/or of their own mastery (1-5)."""
    import sys

    from mlkit.study.practice import PracticeError, resolve_assignment

    space = default_workspace(workspace)
    try:
        name = resolve_assignment(assignment)
    except PracticeError as error:
        print(f"mlkit rate: {error}", file=sys.stderr)
        return 2
    for value in (explanation, mastery):
        if value is not None and not 1 <= value <= 5:
            print("mlkit rate: ratings are 1 (cannot) to 5 (can teach)", file=sys.stderr)
            return 2
    record = histories.load(space)
    if explanation is not None:
        record.explanations.append({"assignment": name, "rating": explanation,
                                    "when": dt.datetime.now().astimezone().isoformat(timespec="seconds")})
    if mastery is not None:
        record.self_ratings[name] = mastery
    histories.save(space, record)
    print(f"recorded; the dashboard: {write_report(space)}")
    return 0
