"""`mlkit grade` (parallel) gives exactly the gradebook that stock `nbgrader autograde` gives."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from mlkit import course
from mlkit.authoring import catalog
from support import gradebook_rows

ASSIGNMENTS = ["01_linear_regression", "02_logistic_regression"]
pytestmark = pytest.mark.xdist_group("grade")


@pytest.fixture(scope="module")
def two_courses(tmp_path_factory):
    base = course.new_course(tmp_path_factory.mktemp("class") / "course", ASSIGNMENTS)
    for assignment in ASSIGNMENTS:
        course.nbgrader(base, "generate_assignment", assignment, "--force")
        entries = catalog.catalog_answers(assignment, root=base)
        chosen = ["reference", "untouched", *[n for n in entries if n.startswith("alt-")][:1],
                  *[n for n in entries if n.startswith("mutant-")][:3]]
        for name in chosen:
            nb = catalog.submission_notebook(assignment, entries[name], root=base)
            catalog.write_submission(base, name, assignment, nb, root=base)
    stock = base.parent / "stock"
    kit = base.parent / "kit"
    shutil.copytree(base, stock)
    shutil.copytree(base, kit)
    for assignment in ASSIGNMENTS:
        course.nbgrader(stock, "autograde", assignment)
    run = subprocess.run([sys.executable, "-m", "mlkit.cli", "grade", "--course", str(kit), "--jobs", "2"],
                         capture_output=True, text=True)
    return stock, kit, run


def test_kit_grader_reports_success_and_progress(two_courses):
    _, _, run = two_courses
    assert run.returncode == 0, run.stdout + run.stderr
    assert "graded 12 of 12 submissions" in run.stdout
    assert "12/12" in run.stderr  # the progress bar's last state


def test_gradebooks_are_identical(two_courses):
    stock, kit, _ = two_courses
    stock_rows, kit_rows = gradebook_rows(stock), gradebook_rows(kit)
    assert len(stock_rows) > 100
    assert kit_rows == stock_rows


def _mlkit(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mlkit.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env=course.environment())


def test_a_second_run_says_it_skipped_what_was_graded_and_names_work_alike(two_courses):
    _, kit, _ = two_courses
    for name in ("01", "linear_regression", "01_linear_regression"):
        run = _mlkit("grade", name, "--course", str(kit))
        assert run.returncode == 0, run.stderr
        assert "graded 0 of 6 submissions; skipped 6 graded before (--force grades them again)" in run.stdout, name


def test_a_name_that_is_no_assignment_gets_one_line_and_a_failure(two_courses):
    _, kit, _ = two_courses
    for command in (["grade", "99_nope"], ["release", "nope"]):
        run = _mlkit(*command, "--course", str(kit))
        assert run.returncode == 2
        assert run.stderr.strip() == (f"mlkit {command[0]}: no assignment {command[1]!r}; the course has "
                                      "01_linear_regression, 02_logistic_regression")


def test_commands_work_on_the_folder_they_run_in_and_refuse_one_that_is_no_course(two_courses, tmp_path):
    _, kit, _ = two_courses
    here = _mlkit("gradebook", cwd=kit)
    assert here.returncode == 0 and here.stdout.strip() == course.format_gradebook(
        course.gradebook(kit), ASSIGNMENTS).strip()
    # These submissions leave the explanation's stub: nothing waits for a manual grade, nothing is marked.
    assert "to grade" not in here.stdout
    empty = _mlkit("gradebook", cwd=tmp_path)
    assert empty.returncode == 2 and "is not a course folder" in empty.stderr and "Traceback" not in empty.stderr
    assert not (tmp_path / "gradebook.db").exists()

