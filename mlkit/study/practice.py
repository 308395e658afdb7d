"""`mlkit practice`: a practice notebook at a level, with the clock started.

    mlkit practice 02_logistic_regression --level blank
    mlkit practice --mock            # the schedule's weakest or most overdue, interview level, 20 minutes

The notebook is written into the self-study workspace
(`practice/<assignment>/<notebook>-<level>.ipynb`, beside the release's data
files), with its deadline in its first cell, and the session (level, start,
minutes) is recorded in the history.  The session's clock runs until the
first full-marks `mlkit selfgrade` of that file: every selfgrade before it is
a try of the session, recorded with the time so far; an attempt past its
limit is over time.
"""

from __future__ import annotations

import datetime as dt
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

from mlkit import layout
from mlkit.study import history as histories
from mlkit.study import levels, schedule

MOCK_MINUTES = 20


class PracticeError(Exception):
    """A request the learner can fix (an unknown algorithm, a level not unlocked yet)."""


@dataclass
class Session:
    assignment: str
    level: str
    minutes: int
    notebook: Path
    started: str


def resolve_assignment(name: str) -> str:
    """An assignment from its full name, its number or a part of its name ("knn", "07", "logistic")."""
    try:
        return layout.resolve_assignment(name)
    except layout.UnknownAssignment as unknown:
        raise PracticeError(str(unknown)) from None


def start(workspace: Path, assignment: str | None = None, level: str | None = None, minutes: int | None = None,
          mock: bool = False, now: dt.datetime | None = None) -> Session:
    now = now or dt.datetime.now(dt.timezone.utc)
    record = histories.load(workspace)
    if mock:
        assignment = resolve_assignment(assignment) if assignment else schedule.weakest(record, layout.assignments(), now)
        level, minutes = "interview", minutes or MOCK_MINUTES
    else:
        if assignment is None:
            raise PracticeError("name an algorithm (for example 02_logistic_regression), or use --mock")
        assignment = resolve_assignment(assignment)
        open_levels = schedule.unlocked(record, assignment)
        level = level or open_levels[-1]
        if level not in levels.LEVELS:
            raise PracticeError(f"no level {level!r}; the levels are {', '.join(levels.LEVELS)}")
        if level not in open_levels:
            below = levels.LEVELS[levels.LEVELS.index(level) - 1]
            raise PracticeError(f"the {level} level of {assignment} opens after full marks at the {below} level "
                                f"(open now: {', '.join(open_levels)}); a mock interview (--mock) is always open")
        minutes = minutes or levels.DEFAULT_MINUTES[level]

    release_path = layout.notebook_path(assignment, "release")
    folder = workspace / "practice" / assignment
    folder.mkdir(parents=True, exist_ok=True)
    for item in release_path.parent.iterdir():  # the data files the notebook reads
        if item.suffix != ".ipynb" and not (folder / item.name).exists():
            (shutil.copytree if item.is_dir() else shutil.copy2)(item, folder / item.name)
    notebook = folder / f"{release_path.stem}-{level}.ipynb"
    practice = levels.make(nbformat.read(release_path, as_version=4), level, minutes, started=now)
    if notebook.exists():  # never overwrite work: keep the previous attempt's file beside
        notebook.rename(notebook.with_name(f"{notebook.stem}.{now.strftime('%Y%m%dT%H%M%S')}.ipynb"))
    nbformat.write(practice, notebook)
    started = now.isoformat(timespec="seconds")
    record.sessions[str(notebook.resolve())] = {"assignment": assignment, "level": level, "minutes": minutes,
                                                "started": started}
    histories.save(workspace, record)
    return Session(assignment, level, minutes, notebook, started)


def open_command(notebook: Path) -> list[str]:
    return [str(Path(sys.executable).parent / "jupyter"), "lab", str(notebook)]


def command(args) -> int:
    """`mlkit practice` (arguments: see mlkit.cli); the exit status."""
    from mlkit import invocation

    algorithm = args.algorithm or (args.mock if isinstance(args.mock, str) else None)  # --mock knn
    mock = bool(args.mock)
    space = histories.default_workspace(args.workspace)
    try:
        session = start(space, algorithm, args.level, args.minutes, mock)
    except PracticeError as error:
        print(f"mlkit practice: {error}", file=sys.stderr)
        return 2
    kind = "Mock interview" if mock else "Practice"
    deadline = levels.deadline(dt.datetime.fromisoformat(session.started), session.minutes)
    print(f"{kind}: {session.assignment}, {session.level} level, {session.minutes} minutes; the clock started at "
          f"{session.started} and runs until full marks (deadline {deadline}).")
    print(f"Notebook: {session.notebook}")
    lab = open_command(session.notebook)
    if args.open:
        subprocess.Popen(lab, start_new_session=True)
        print("JupyterLab is starting; grade from the notebook's last cell or with:")
    else:
        print(f"Open it in JupyterLab:  {' '.join(shlex.quote(word) for word in lab)}")
        print("Grade it whenever you like (every try is recorded; the clock stops at full marks):")
    extra = histories.workspace_option(space)
    print(f"  {invocation.command('selfgrade', session.notebook.resolve(), *extra)}")
    return 0
