"""Running nbgrader's own commands on a course folder, and reading its gradebook.

Nothing here re-implements nbgrader: commands run as `nbgrader ...`
subprocesses from the course folder (so `nbgrader_config.py` applies), and
scores are read from nbgrader's gradebook through `nbgrader.api.Gradebook`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from mlkit.authoring import catalog

ROOT = catalog.ROOT
BIN = Path(sys.executable).parent  # nbgrader and alembic live beside this Python


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def nbgrader(course: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run `nbgrader ARGS` in `course`; output is captured and shown if it fails."""
    result = subprocess.run(
        [str(BIN / "nbgrader"), *args], cwd=course, env=environment(),
        capture_output=True, text=True,
    )
    if check and result.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def new_course(target: Path, assignments: list[str], root: Path = ROOT) -> Path:
    """A fresh course folder holding the config and the given assignments' sources."""
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(root / "nbgrader_config.py", target / "nbgrader_config.py")
    for assignment in assignments:
        shutil.copytree(root / "source" / assignment, target / "source" / assignment, dirs_exist_ok=True)
    return target


@dataclass
class NotebookGrade:
    score: float
    max_score: float
    auto_score: float       # points from autograded test cells
    auto_max: float
    cells: dict[str, float]  # grade_id -> auto score of every graded cell


def gradebook(course: Path) -> dict[str, dict[str, NotebookGrade]]:
    """{student: {assignment: NotebookGrade}} for every submission in the course's gradebook."""
    from nbgrader.api import Gradebook

    url = f"sqlite:///{course / 'gradebook.db'}"
    result: dict[str, dict[str, NotebookGrade]] = {}
    with Gradebook(url) as gb:
        for assignment in gb.assignments:
            for submission in assignment.submissions:
                for notebook in submission.notebooks:
                    tests = [g for g in notebook.grades if g.cell.cell_type == "code"]
                    result.setdefault(submission.student.id, {})[assignment.name] = NotebookGrade(
                        score=notebook.score, max_score=notebook.max_score,
                        auto_score=sum(g.auto_score or 0.0 for g in tests),
                        auto_max=sum(g.max_score for g in tests),
                        cells={g.name: g.auto_score for g in notebook.grades},
                    )
    return result


def format_gradebook(grades: dict[str, dict[str, NotebookGrade]], assignments: list[str]) -> str:
    """A student x assignment table of 'score/max'."""
    short = [a.split("_", 1)[0] for a in assignments]
    width = max([7] + [len(s) for s in grades])
    lines = ["student".ljust(width) + "".join(f"{s:>10}" for s in short) + f"{'total':>12}"]
    for student in sorted(grades):
        row, total, total_max = [], 0.0, 0.0
        for a in assignments:
            g = grades[student].get(a)
            if g is None:
                row.append(f"{'-':>10}")
                continue
            row.append(f"{g.score:>5g}/{g.max_score:<4g}")
            total, total_max = total + g.score, total_max + g.max_score
        lines.append(student.ljust(width) + "".join(row) + f"{total:>7g}/{total_max:<4g}")
    return "\n".join(lines)
