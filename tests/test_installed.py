"""The documented instructor workflow (docs/instructor/workflow.md), line by line, with the kit installed from its wheel and the course elsewhere.

The lines of the block marked `instructor-workflow` are run as they stand, with three substitutions
only: the course folder, the exchange and the wheel's folder become folders of the test. The kit is built into
a wheel and installed into a new virtual environment outside the repository by the block's own first two
lines (run once per run of the suite by the `installed_kit` fixture of tests/conftest.py, which
tests/test_hostile_classmate.py's hub shares), so no file of the checkout is importable by what follows;
`mlkit init` then writes the course from the copy the wheel carries. The students' part (fetch, answer, submit,
fetch feedback) is nbgrader's student commands run in a student's own folder with her own Jupyter configuration.
`jupyter lab`, where a person grades by hand, is tests/test_exchange.py's.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from mlkit import course, layout
from mlkit.authoring import catalog
from mlkit.grading.sandbox import launcher as sandbox

import support

pytestmark = [
    pytest.mark.xdist_group("installed"),
    pytest.mark.skipif(sandbox.detect().name == "none", reason="needs a sandbox (bubblewrap)"),
]
ASSIGNMENT = "01_linear_regression"
COURSE_ID = "ml-2027"  # what the workflow's `mlkit init --course-id` sets
EDITED_TEST = "test_gd_one_step"  # the hidden test the workflow's last step edits, and its points


def readme_block() -> list[str]:
    """The commands of the documented instructor workflow, in order (comments and blank lines dropped)."""
    return support.doc_commands("instructor/workflow.md", "instructor-workflow")


class Workflow:
    """Runs the workflow's lines in a bash of the installed environment, following `cd` as a shell would."""

    def __init__(self, base: Path, venv: Path):
        self.base = base
        self.venv = venv
        self.course = base / "courses" / "ml-2027"
        self.exchange = base / "srv" / "exchange"
        self.cwd = layout.ROOT  # the block starts in a clone of the kit
        self.instructor_config = base / "instructor-jupyter"  # empty: only the course's own settings
        self.instructor_config.mkdir(parents=True, exist_ok=True)

    def env(self, config: Path, home: Path | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        env.update(PATH=f"{self.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", JUPYTER_CONFIG_DIR=str(config),
                   VIRTUAL_ENV=str(self.venv))
        if home is not None:
            env["HOME"] = str(home)
        return env

    def substitute(self, line: str) -> str:
        if line.startswith("sudo ") and os.geteuid() == 0:
            line = line[len("sudo "):]  # the test's instructor is root (as CI runs)
        line = line.replace("~/courses/ml-2027", str(self.course))
        return line.replace("/srv/nbgrader/exchange", str(self.exchange))

    def run(self, line: str) -> subprocess.CompletedProcess:
        line = self.substitute(line)
        if line.startswith("cd "):
            self.cwd = Path(shlex.split(line)[1])
            return subprocess.CompletedProcess(line, 0, "", "")
        result = subprocess.run(["bash", "-c", line], cwd=self.cwd, env=self.env(self.instructor_config),
                                capture_output=True, text=True)
        assert result.returncode == 0, f"{line}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        return result


@pytest.fixture(scope="module")
def workflow(tmp_path_factory, installed_kit) -> Workflow:
    """After the block's two install lines, which tests/conftest.py runs once per run of the suite (the wheel
    built from the checkout, installed into a new environment): the rest of the block runs here."""
    return Workflow(tmp_path_factory.mktemp("installed"), installed_kit.venv)


def test_the_installed_kit_is_not_the_checkout(workflow):
    where = subprocess.run([str(workflow.venv / "bin" / "python"), "-I", "-c", "import mlkit; print(mlkit.__file__)"],
                           capture_output=True, text=True, check=True, cwd="/").stdout.strip()
    assert where.startswith(str(workflow.venv)) and not where.startswith(str(layout.ROOT))


class Student:
    """A student in her own folder, with the course id and the exchange in her own Jupyter configuration."""

    def __init__(self, flow: Workflow):
        self.flow, self.home = flow, flow.base / "student"
        self.config = flow.base / "student-jupyter"
        for folder in (self.home, self.config):
            folder.mkdir(exist_ok=True)
        (self.config / "nbgrader_config.py").write_text(
            f"c = get_config()\nc.CourseDirectory.course_id = {COURSE_ID!r}\n"
            f"c.Exchange.root = {str(flow.exchange)!r}\nc.Exchange.cache = {str(flow.base / 'student-cache')!r}\n")

    def nbgrader(self, *args: str) -> None:
        result = subprocess.run([str(self.flow.venv / "bin" / "nbgrader"), *args], cwd=self.home,
                                env=self.flow.env(self.config, self.home), capture_output=True, text=True)
        assert result.returncode == 0, f"nbgrader {args}: {result.stderr[-3000:]}"

    def fetch_answer_submit(self) -> None:
        self.nbgrader("fetch_assignment", ASSIGNMENT)
        (path,) = (self.home / ASSIGNMENT).glob("*.ipynb")
        nb = catalog.fill_answers(nbformat.read(path, as_version=4), catalog.reference_answers(ASSIGNMENT))
        nbformat.write(nb, path)
        self.nbgrader("submit", ASSIGNMENT)


def _auto_points(flow: Workflow) -> dict[str, float]:
    return {student: per[ASSIGNMENT].auto_score for student, per in course.gradebook(flow.course).items()}


def _edit_hidden_test(source: Path) -> None:
    """The instructor makes one hidden test demand what no submission does (here: fail outright)."""
    nb = nbformat.read(source, as_version=4)
    (cell,) = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == EDITED_TEST]
    assert "### BEGIN HIDDEN TESTS" in cell.source
    cell.source = cell.source.replace("### BEGIN HIDDEN TESTS",
                                      "### BEGIN HIDDEN TESTS\nassert False, 'the edited hidden test'", 1)
    nbformat.write(nb, source)


def test_the_readme_workflow_runs_word_for_word_outside_the_repository(workflow):
    student = Student(workflow)
    lines = readme_block()[2:]
    outputs: dict[str, str] = {}
    edited = False
    for line in lines:
        if line == "jupyter lab":
            continue  # a person grading by hand: tests/test_exchange.py
        if line.startswith("nbgrader collect"):
            student.fetch_answer_submit()
        if line.startswith("mlkit release 01") and not edited:
            _edit_hidden_test(layout.notebook_path(ASSIGNMENT, root=workflow.course))
            edited = True
        outputs[line] = workflow.run(line).stdout
        if line == "mlkit grade 01":
            first = _auto_points(workflow)
        if line.startswith("nbgrader release_feedback") and not edited:
            student.nbgrader("fetch_feedback", ASSIGNMENT)

    c = workflow.course
    assert sorted(p.name for p in (c / "source").iterdir()) == ["01_linear_regression", "07_knn"]
    assert not (layout.ROOT / "dist").exists(), "the workflow wrote into the kit's clone"
    (me,) = first
    assert first[me] == 12.0, first  # every automatic point of the reference answers
    assert "graded 1 of 1 submissions" in outputs["mlkit grade 01"]
    assert re.search(rf"^{re.escape(me)}\s+12/15", outputs["mlkit gradebook"], re.M), outputs["mlkit gradebook"]
    assert (c / "grades.csv").is_file() and (c / "reports" / "class_report.html").is_file()
    (fetched,) = (student.home / ASSIGNMENT / "feedback").rglob("*.html")
    assert "12.0 / 15.0" in fetched.read_text()  # the released feedback reached the student
    # The edited hidden test reached the gradebook through release and regrade, and no student saw it.
    nb = nbformat.read(layout.notebook_path(ASSIGNMENT, root=c), as_version=4)
    (points,) = [cell.metadata.nbgrader["points"] for cell in nb.cells
                 if cell.metadata.get("nbgrader", {}).get("grade_id") == EDITED_TEST]
    assert _auto_points(workflow)[me] == 12.0 - points
    assert "the edited hidden test" not in (c / "release" / ASSIGNMENT / "linear_regression.ipynb").read_text()
    assert "the edited hidden test" not in "".join(p.read_text() for p in (c / "feedback").rglob("*.html"))


def test_a_copied_course_grades_with_the_installed_kit(workflow, tmp_path):
    """Stock `nbgrader autograde` of the installed kit grades a right and a wrong answer as the checkout does."""
    c = course.new_course(tmp_path / "elsewhere" / "course", [ASSIGNMENT])
    nbgrader = str(workflow.venv / "bin" / "nbgrader")
    env = workflow.env(workflow.instructor_config)
    subprocess.run([nbgrader, "generate_assignment", ASSIGNMENT], cwd=c, env=env, check=True, capture_output=True)
    reference = catalog.reference_answers(ASSIGNMENT, root=c)
    wrong = next(m for m in catalog.mutants(ASSIGNMENT) if m.name == "gradient_sign_flipped").apply(reference)
    for name, answers in (("alice", reference), ("bob", wrong)):
        catalog.write_submission(c, name, ASSIGNMENT, catalog.submission_notebook(ASSIGNMENT, answers, root=c),
                                 root=c)
    run = subprocess.run([nbgrader, "autograde", ASSIGNMENT], cwd=c, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    grades = {s: per[ASSIGNMENT].auto_score for s, per in course.gradebook(c).items()}
    assert grades["alice"] == 12.0 and 0 < grades["bob"] < 12.0


def test_the_lock_installs_on_debian_12s_own_python(tmp_path):
    """A hub machine's Python is its distribution's: Debian 12's python3 is 3.11.2, and a pin whose release
    requires a later 3.11 (soupsieve 4.1.3, pymdown-extensions 13.1.2 require 3.11.3+ / 3.11.5+) makes
    `pip install -c requirements.lock` fail there while this machine's newer 3.11 hides it.  pip resolves the
    whole lock for that interpreter version (tests/test_hostile_classmate.py installs the kit on the real one)."""
    lock = layout.ROOT / "requirements.lock"
    resolved = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--ignore-installed",
                               "--python-version", "3.11.2", "--only-binary=:all:", "--target", str(tmp_path / "t"),
                               "-r", str(lock)], capture_output=True, text=True)
    assert resolved.returncode == 0, resolved.stderr[-3000:]


def test_the_installed_kit_carries_the_followup_questions_and_their_exercises(workflow, tmp_path):
    """`mlkit followup` from the wheel: the questions and a graded exercise's notebook come from its course_files."""
    from mlkit.study import followups
    from mlkit.study import history as histories

    workspace = tmp_path / "selfstudy"
    histories.save(workspace, histories.History(attempts=[histories.Attempt(
        "02_logistic_regression", "2026-12-07T09:00:00+00:00", 14, 14, {}, [], level="interview")]))
    mlkit = str(workflow.venv / "bin" / "mlkit")
    env = workflow.env(workflow.instructor_config)
    listed = subprocess.run([mlkit, "followup", "02", "--workspace", str(workspace)], cwd=tmp_path, env=env,
                            capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    known = followups.load("02_logistic_regression")
    assert all(f.id in listed.stdout for f in known)
    code = next(f for f in known if f.kind == "code")
    written = subprocess.run([mlkit, "followup", "02", code.id, "--workspace", str(workspace)], cwd=tmp_path,
                             env=env, capture_output=True, text=True)
    assert written.returncode == 0, written.stderr
    notebook = followups.exercise_notebook(workspace, code)
    assert str(notebook) in written.stdout and "### BEGIN HIDDEN TESTS" not in notebook.read_text()


def test_self_study_runs_with_the_installed_kit(workflow, tmp_path):
    """docs/self-study.md: with the kit installed, `mlkit practice` writes its notebook (cut from the release the
    wheel carries) and the selfgrade command it prints grades it, from a folder outside the repository."""
    env = workflow.env(workflow.instructor_config, home=tmp_path)
    practice = subprocess.run(["mlkit", "practice", "knn"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert practice.returncode == 0, practice.stdout + practice.stderr[-3000:]
    (printed,) = [line.strip() for line in practice.stdout.splitlines() if line.strip().startswith("mlkit selfgrade ")]
    graded = subprocess.run(["bash", "-c", printed], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert graded.returncode == 0, graded.stdout + graded.stderr[-3000:]
    assert "07_knn: 0 / 16 automatic points" in graded.stdout
    assert "Not implemented yet" in graded.stdout
