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
