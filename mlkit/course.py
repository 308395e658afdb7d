"""Running nbgrader's own commands on a course folder, and reading its gradebook.

Nothing here re-implements nbgrader: commands run as `nbgrader ...`
subprocesses from the course folder (so `nbgrader_config.py` applies), and
scores are read from nbgrader's gradebook through `nbgrader.api.Gradebook`.
The verbs `mlkit init` (a new course) and `mlkit gradebook` are here.  Part of the
ground floor: it imports no workflow (where the files are is `mlkit.layout`'s).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from mlkit import invocation, layout, permissions

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


# What a copy of the course leaves behind: Python's and Jupyter's caches, written by whoever ran it last.
CACHES = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints")
KIT_COURSE_ID = "numpy-ml-from-scratch"


def new_course(target: Path, assignments: list[str], root: Path = layout.ROOT) -> Path:
    """A fresh course folder holding the config and the given assignments' sources (without caches)."""
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(root / "nbgrader_config.py", target / "nbgrader_config.py")
    for assignment in assignments:
        shutil.copytree(root / "source" / assignment, target / "source" / assignment, dirs_exist_ok=True,
                        ignore=CACHES)
    return target


def course_id_for(folder: Path, given: str | None) -> str:
    """The new course's nbgrader course_id: `given`, else the folder's name made safe for the exchange's paths
    (lower case, letters, digits, '-' and '_'). Never the kit's own: two courses on one exchange would share
    its inbound and outbound folders."""
    course_id = given if given is not None else re.sub(r"[^a-z0-9_-]+", "-", folder.name.lower()).strip("-_")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", course_id or ""):
        raise NotACourse(f"{course_id!r} cannot be a course id (letters, digits, '.', '-', '_'); "
                         "give one with --course-id")
    if course_id == KIT_COURSE_ID:
        raise NotACourse(f"{course_id!r} is the kit's own course id; give the course one of its own with --course-id")
    return course_id


def spec_for(spec: str, assignments: list[str]) -> str:
    """SPEC.md with only the sections of `assignments` among the notebooks' (`## NN_name ...`); the general
    sections are kept."""
    parts = re.split(r"(?m)^(?=## )", spec)
    kept = [part for part in parts if not re.match(r"## \d\d_", part)
            or any(re.match(rf"## {re.escape(name)}\b", part) for name in assignments)]
    return "".join(kept)


def init(target: Path, assignments: list[str] | None = None, course_id: str | None = None,
         group: str | None = None) -> Path:
    """A new course in `target` (an empty or new folder): the course configuration with its own course_id
    (`course_id_for`), the notebooks' sources with their data and their catalog, and SPEC.md's sections of
    those notebooks, copied from the course the kit carries without caches; the folders nbgrader fills
    start empty.  The course folder is its owner's only (0700), or also readable by the graders' `group`
    (0750): it holds the hidden tests, and will hold the gradebook and every student's work."""
    import grp

    target = Path(target).expanduser().resolve()
    course_id = course_id_for(target, course_id)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise NotACourse(f"{target} is not an empty folder: a new course starts in an empty or new one")
    if group is not None:
        try:
            grp.getgrnam(group)
        except KeyError:
            raise NotACourse(f"no group named {group!r} on this machine (--group names the graders' group)") from None
    target.mkdir(parents=True, exist_ok=True)
    permissions.make_private(target, group)  # before anything private is written into it
    if not (layout.ROOT / "source").is_dir():
        raise NotACourse(f"this installation of the kit carries no course to copy ({layout.ROOT / 'source'} is "
                         "missing)")
    names = [layout.resolve_assignment(name) for name in assignments] if assignments else layout.assignments()
    new_course(target, names)
    config = target / "nbgrader_config.py"
    setting = f'c.CourseDirectory.course_id = "{course_id}"'
    text, count = re.subn(r"(?m)^c\.CourseDirectory\.course_id\s*=.*$", setting, config.read_text())
    config.write_text(text if count else f"{text.rstrip()}\n{setting}\n")
    if (layout.ROOT / "SPEC.md").is_file():  # the notebooks' API, which `mlkit lint` checks them against
        (target / "SPEC.md").write_text(spec_for((layout.ROOT / "SPEC.md").read_text(), names))
    for name in names:  # the alternatives, mistakes and reviewed equivalent mutants of each notebook
        if (layout.CATALOG / name).is_dir():
            shutil.copytree(layout.CATALOG / name, target / "catalog" / name, ignore=CACHES)
    for folder in ("submitted", "autograded", "feedback"):
        (target / folder).mkdir()
    return target


def course_config(root: Path):
    """The course's nbgrader configuration, resolved as nbgrader resolves it for a command run in `root`.

    That is Jupyter's configuration folders, then the folder the command runs in, then the course
    root's nbgrader_config.py, then defaults: the same settings every worker's autograde will see."""
    from nbgrader.apps import AutogradeApp

    previous_folder, previous_path = os.getcwd(), list(sys.path)
    os.chdir(root)
    app = AutogradeApp()
    try:
        app.initialize(["--log-level=ERROR"])
        config = app.config.copy()
        config.CourseDirectory.db_url = app.coursedir.db_url  # nbgrader's default is computed, not set
        return config
    finally:
        AutogradeApp.clear_instance()
        os.chdir(previous_folder)
        sys.path[:] = previous_path  # nbgrader puts the course folder first, which must not shadow the kit


class NotACourse(invocation.CommandRefused):
    """The folder a command was given (or run in) holds no course."""


def find(given: str | Path | None = None) -> Path:
    """The course a command works on: `--course DIR`, or else the folder it runs in, as nbgrader finds it.

    Its settings are nbgrader's (Jupyter's configuration folders, then the folder's nbgrader_config.py), so
    a `CourseDirectory.root` set there is followed; a folder without source/ is no course."""
    folder = Path(given).expanduser().resolve() if given else Path.cwd()
    if not folder.is_dir():
        raise NotACourse(f"{folder} is not a folder")
    root = Path(course_config(folder).CourseDirectory.get("root", str(folder))).resolve()
    if not (root / "source").is_dir() or not (folder / "nbgrader_config.py").is_file() and root == folder:
        raise NotACourse(f"{root} is not a course folder (it needs nbgrader_config.py and source/): run the "
                         "command in the course folder or pass --course DIR")
    permissions.warn_if_open(root)
    return root


def init_command(args) -> int:
    """`mlkit init FOLDER [ASSIGNMENTS] [--course-id ID] [--group GROUP]`: a new course (`init`), then the commands
    that come next, printed so that they run as printed."""
    import shlex

    made = init(args.folder, args.assignments, args.course_id, args.group)
    # The lines run after `cd` into the course: a program typed as a relative path (.venv/bin/mlkit, ./run)
    # is given from the root instead.
    program = [os.path.abspath(word) if i == 0 and "/" in word else word for i, word in enumerate(invocation.program())]
    doctor, release = (" ".join(shlex.quote(w) for w in [*program, verb]) for verb in ("doctor", "release"))
    print(f"a new course in {made}; next, as docs/instructor/workflow.md goes:\n"
          f"  cd {shlex.quote(str(made))}\n"
          f"  {doctor}    # the sandbox, the course's modes, the exchange and how to make it\n"
          f"  {release}   # nbgrader generate_assignment for each notebook")
    return 0


def db_url(course: Path) -> str:
    """The course's gradebook, as nbgrader resolves it (`CourseDirectory.db_url`, SQLite or PostgreSQL)."""
    return course_config(course).CourseDirectory.db_url


@dataclass
class NotebookGrade:
    score: float
    max_score: float
    auto_score: float       # points from autograded test cells
    auto_max: float
    cells: dict[str, float]  # grade_id -> auto score of every graded cell
    to_grade: float = 0.0    # points of answers still waiting for a manual grade (not in `score` yet)
    answers_to_grade: int = 0  # how many answers those are


def gradebook(course: Path, url: str | None = None) -> dict[str, dict[str, NotebookGrade]]:
    """{student: {assignment: NotebookGrade}} for every submission in the course's gradebook.

    The gradebook is the one nbgrader uses for the course (`db_url`) unless `url` names another."""
    from nbgrader.api import Gradebook

    url = url or db_url(course)
    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):].split("?")[0]).is_file():
        return {}  # no gradebook yet: reading it must not create an empty one
    result: dict[str, dict[str, NotebookGrade]] = {}
    with Gradebook(url) as gb:
        for assignment in gb.assignments:
            for submission in assignment.submissions:
                for notebook in submission.notebooks:
                    tests = [g for g in notebook.grades if g.cell.cell_type == "code"]
                    waiting = [g for g in notebook.grades if g.needs_manual_grade]
                    result.setdefault(submission.student.id, {})[assignment.name] = NotebookGrade(
                        score=notebook.score, max_score=notebook.max_score,
                        auto_score=sum(g.auto_score or 0.0 for g in tests),
                        auto_max=sum(g.max_score for g in tests),
                        cells={g.name: g.auto_score for g in notebook.grades},
                        to_grade=sum(g.max_score - (g.score or 0.0) for g in waiting),
                        answers_to_grade=len(waiting),
                    )
    return result


def _score(score: float, max_score: float, to_grade: float) -> str:
    """'12/15', or '12/15 +3 to grade' while 3 of its points wait for a manual grade."""
    return f"{score:g}/{max_score:g}" + (f" +{to_grade:g} to grade" if to_grade else "")


def format_gradebook(grades: dict[str, dict[str, NotebookGrade]], assignments: list[str]) -> str:
    """A student x assignment table of 'score/max', each marked '+N to grade' while N of its points wait for a
    manual grade (the total's too), and a last line saying how many answers wait, if any do."""
    short = [a.split("_", 1)[0] for a in assignments]
    rows, waiting = [], 0
    for student in sorted(grades):
        row, total, total_max, total_pending = [], 0.0, 0.0, 0.0
        for a in assignments:
            g = grades[student].get(a)
            if g is None:
                row.append("-")
                continue
            row.append(_score(g.score, g.max_score, g.to_grade))
            total, total_max, total_pending = total + g.score, total_max + g.max_score, total_pending + g.to_grade
            waiting += g.answers_to_grade
        rows.append((student, row, _score(total, total_max, total_pending)))
    width = max([7] + [len(s) for s in grades])
    column = max([9] + [len(cell) for _, row, _ in rows for cell in row])
    total_width = max([11] + [len(total) for _, _, total in rows])
    lines = ["student".ljust(width) + "".join(f"  {s:>{column}}" for s in short) + f"  {'total':>{total_width}}"]
    for student, row, total in rows:
        lines.append(student.ljust(width) + "".join(f"  {cell:>{column}}" for cell in row) + f"  {total:>{total_width}}")
    if waiting:
        lines.append(f"{waiting} answer{'s' if waiting != 1 else ''} still to grade by hand (nbgrader's formgrader: "
                     "`jupyter lab`, Nbgrader > Manual Grading)")
    return "\n".join(lines)


def gradebook_command(args) -> int:
    """`mlkit gradebook [--course DIR]`: print the course's student x assignment table (`format_gradebook`)."""
    root = find(args.course)
    print(format_gradebook(gradebook(root), layout.assignments(root)))
    return 0


def format_standing(grades: dict[str, dict[str, NotebookGrade]], assignments: list[str]) -> str:
    """What `mlkit grade` ends with: per assignment, how many submissions, the distribution of their scores
    (lowest, quartiles, highest, mean) and the answers still to grade by hand; and the count of those."""
    import statistics

    lines = ["scores (min / 25% / median / 75% / max, mean):"]
    waiting = 0
    for assignment in assignments:
        got = [per[assignment] for per in grades.values() if assignment in per]
        if not got:
            continue
        scores = sorted(g.score for g in got)
        quartiles = statistics.quantiles(scores, n=4, method="inclusive") if len(scores) > 1 else scores * 3
        spread = " / ".join(f"{v:g}" for v in (scores[0], *(round(q, 2) for q in quartiles), scores[-1]))
        left = sum(g.answers_to_grade for g in got)
        waiting += left
        line = f"  {assignment:<24} {len(got):>4} graded  {spread} of {got[0].max_score:g}, mean " \
               f"{statistics.fmean(scores):.3g}"
        if left:
            line += f"; {left} answer{'s' if left != 1 else ''} to grade by hand"
        lines.append(line)
    lines.append(f"answers left to grade by hand: {waiting}" + (" (nbgrader's formgrader: `jupyter lab`, Nbgrader > "
                                                                 "Manual Grading)" if waiting else ""))
    return "\n".join(lines)
