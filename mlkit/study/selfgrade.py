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
its level and, for a notebook written by `mlkit practice`, its session: the
time since the session started and the number of tries so far (the session's
clock stops at its first full marks).  The summary printed for a failed
attempt shows what failed, the points and each diagnosed mistake's name, never
its fix, a reference line or the model answer: those are earned one step at a
time with `mlkit hint`.  At full marks it shows the time to full marks and the
tries, the model 60-second answer and the feedback page (nbgrader's, with the
fixes, as an instructor's class receives it).  The study dashboard
(`report.html`, `mlkit.study.dashboard`) shows mastery, what is due and the trend.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat

from mlkit import diagnostics, invocation, layout, nbcells, nbgrader_startup
from mlkit.study import dashboard, levels, private_course, rating
from mlkit.study import history as histories
from mlkit.study.history import LEARNER, Attempt
from mlkit.study.private_course import SelfStudyError, read_notebook

if TYPE_CHECKING:
    from mlkit.reports import results


def identify_assignment(nb, wanted: str | None) -> str:
    """The assignment whose answer cells this notebook carries."""
    ids = {nbcells.grade_id(c) for c in nb.cells
           if nbcells.nbgrader_metadata(c).get("solution")}
    matches = [a for a in layout.assignments()
               if set(nbcells.answer_cell_ids(nbformat.read(layout.notebook_path(a, "release"), as_version=4))) <= ids]
    if wanted is not None:
        if wanted not in layout.assignments():
            raise SelfStudyError(f"no assignment {wanted!r}; the course has {', '.join(layout.assignments())}")
        if wanted not in matches:
            found = f"it looks like {matches[0]}" if matches else "it is not a notebook of this course"
            raise SelfStudyError(f"this notebook is not {wanted}: {found}")
        return wanted
    if not matches:
        raise SelfStudyError("this notebook is not one of the course's notebooks (no matching answer cells)")
    return matches[0]


def prepare_workspace(workspace: Path, assignment: str) -> None:
    """A private course holding the kit's assignment, generated (again) when its source changed."""
    private_course.generate(workspace, layout.ROOT / "nbgrader_config.py", layout.ROOT / "source" / assignment)


def practice_level(nb, record: histories.History, path: Path, now: dt.datetime):
    """(level, seconds, limit seconds) of this attempt: from its `mlkit practice` session, else from the notebook."""
    level, seconds, limit = histories.timing(record, path, now)
    if level is None:
        written = nb.metadata.get("mlkit_practice", {}).get("level")
        level = written if written in levels.LEVELS else "guided"
    return level, seconds, limit


def _session_of(record: histories.History, path: Path) -> tuple[str | None, int]:
    """(session start, this try's number in it) of a notebook written by `mlkit practice`; (None, 1) otherwise."""
    session = record.sessions.get(str(path.resolve()))
    if not session:
        return None, 1
    started = session["started"]
    earlier = [a for a in record.attempts if a.session == started and a.assignment == session["assignment"]]
    return started, len(earlier) + 1


def grade(path: Path, workspace: Path, wanted: str | None = None,
          now: dt.datetime | None = None) -> tuple[Attempt, list[results.CheckResult], Path]:
    """Grade one attempt; returns it, its checks and its feedback page."""
    parent = private_course.start_kernel_zygote()
    try:
        nb = read_notebook(path)
        assignment = identify_assignment(nb, wanted)
        now = now or dt.datetime.now(dt.timezone.utc)
        record = histories.load(workspace)
        level, seconds, limit = practice_level(nb, record, path, now)
        session, tries = _session_of(record, path)
        prepare_workspace(workspace, assignment)
        target = workspace / "submitted" / LEARNER / assignment
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(workspace / "release" / assignment, target, ignore=shutil.ignore_patterns("*.ipynb"))
        name = layout.notebook_path(assignment, "release", workspace).name
        shutil.copyfile(path, target / name)  # a byte copy: the learner's file is only read
        private_course.autograde_and_feedback(workspace, assignment, parent)
    finally:
        if parent is not None:
            parent.close()

    from mlkit.reports import results  # imports nbgrader: after the grading kernel's zygote has started

    graded = nbformat.read(workspace / "autograded" / LEARNER / assignment / name, as_version=4)
    checks = results.check_results(graded, assignment)
    attempt = Attempt(
        assignment=assignment, when=now.astimezone().isoformat(timespec="seconds"),
        score=sum(c.score for c in checks), max_score=sum(c.points for c in checks),
        checks={c.test_id: c.passed for c in checks}, mistakes=[c.mistake for c in checks if c.mistake],
        level=level, seconds=seconds, limit_seconds=limit,
        over_time=seconds is not None and limit is not None and seconds > limit,
        hints=record.pending_hints.pop(assignment, []),  # the hints revealed since the last attempt helped this one
        session=session, tries=tries)
    record.attempts.append(attempt)
    if attempt.perfect:
        record.sessions.pop(str(path.resolve()), None)  # the session's clock stops at its first full marks
    histories.save(workspace, record)
    feedback = workspace / "feedback" / LEARNER / assignment / name.replace(".ipynb", ".html")
    return attempt, checks, feedback


def write_report(workspace: Path, now: dt.datetime | None = None) -> Path:
    """The study dashboard (report.html in the workspace)."""
    return dashboard.write(workspace, now)


def terminal_summary(attempt: Attempt, checks: list[results.CheckResult], with_fixes: bool = False) -> str:
    """The checks of an attempt: each with its points; a failed one with its diagnosed mistake's name (or, with
    no diagnosis, what the check found).  `with_fixes` adds the full diagnosis and its hint, as the feedback
    page has them."""
    import textwrap

    lines = [f"{attempt.assignment}: {attempt.score:g} / {attempt.max_score:g} automatic points", ""]
    indent = " " * 14
    for c in checks:
        mark = "PASS" if c.passed else "FAIL"
        lines += textwrap.wrap(c.description, 100, initial_indent=f"  {mark} {c.score:>2g}/{c.points:<2g}   ",
                               subsequent_indent=indent)
        if c.passed:
            continue
        declared = diagnostics.mistakes_for(attempt.assignment, c.test_id).get(c.mistake) if c.mistake else None
        if declared is not None and not with_fixes:
            found = f"mistake: {declared.short_name}"
        else:
            found = c.message
        lines += textwrap.wrap(found, 100, initial_indent=indent + "-> ", subsequent_indent=indent + "   ")
        if with_fixes and c.hint:
            lines += textwrap.wrap("hint: " + c.hint, 100, initial_indent=indent + "   ",
                                   subsequent_indent=indent + "   ")
    return "\n".join(lines)


def clock_line(attempt: Attempt, record: histories.History) -> str:
    """The session's clock after this attempt: time to full marks and tries, or the time so far and left."""
    used = len(record.hints_for(attempt))
    hints = f", {used} hint{'s' * (used != 1)}" if used else ""
    tries = f"{attempt.tries} tr{'ies' if attempt.tries != 1 else 'y'}"
    if attempt.seconds is None:
        return ""
    minutes, limit = attempt.seconds / 60, attempt.limit_seconds / 60
    if attempt.perfect:
        verdict = "over time" if attempt.over_time else "within time"
        return (f"Time to full marks: {minutes:.1f} of {limit:.0f} minutes ({verdict}), {tries}{hints}, "
                f"{attempt.level} level.")
    left = (f"{limit - minutes:.1f} minutes left" if minutes <= limit
            else f"{minutes - limit:.1f} minutes over the limit")
    return (f"Time so far: {minutes:.1f} of {limit:.0f} minutes ({left}), {tries}{hints}, {attempt.level} level; "
            "the clock runs until full marks.")


def run(path: str, workspace: str | None, assignment: str | None) -> int:
    """Grade the notebook at `path` as an attempt in the workspace `workspace` (None: the default one), as
    `assignment` (None: recognised from its cells), and print its summary; the exit status."""
    import sys
    import textwrap

    notebook = Path(path).resolve()  # before grading: it runs in the workspace's folder
    try:
        space = histories.default_workspace(workspace).resolve()
        attempt, checks, feedback = grade(notebook, space, assignment)
    except SelfStudyError as error:
        print(f"mlkit selfgrade: {error}", file=sys.stderr)
        return 2
    record = histories.load(space)
    extra = histories.workspace_option(space)
    print(terminal_summary(attempt, checks))
    clock = clock_line(attempt, record)
    if clock:
        print("\n" + clock)
    if not attempt.perfect:
        first = next(c.test_id for c in checks if not c.passed)
        print("\nFix it and grade again:")
        print(f"  {invocation.command('selfgrade', notebook, *extra)}")
        print(f"or earn a hint, one step at a time (a question, the formula, then the reference lines of {first}):")
        print(f"  {invocation.command('hint', attempt.assignment, *extra)}")
        print(f"Study dashboard: {write_report(space)}")
        return 0
    model = rating.model_explanation(attempt.assignment)
    if model:
        print("\nNow explain it out loud in 60 seconds, then compare with the model answer:")
        print(textwrap.indent(textwrap.fill(" ".join(model.split()), 100), "  "))
        # The score as an argument, as `mlkit followup --rate N` takes it (without N, rate asks for it).
        print("Rate your explanation, N from 1 (missed it) to 5 (as complete as the model answer):")
        print(f"  {invocation.command('rate', attempt.assignment, *extra, '--explanation')} N")
    if attempt.perfect and attempt.level == "interview":  # a working solution: the interviewer's follow-ups
        from mlkit.study import followups

        print(followups.invitation(attempt.assignment))
    report = write_report(space)
    print(f"\nFeedback for this attempt: {feedback}")
    print(f"Study dashboard (mastery, what is due, trend): {report}")
    return 0


def command(args) -> int:
    """`mlkit selfgrade` (arguments: see mlkit.cli); the exit status."""
    nbgrader_startup.without_server_extensions()  # this process starts no Jupyter server
    return run(args.notebook, args.workspace, args.assignment)
