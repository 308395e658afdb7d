"""Hostile and broken submissions change nothing but their own score (through the real `nbgrader autograde`).

One class is graded twice: first two bystanders (an honest student and one
with an honest mistake), then, in a second `nbgrader autograde` run, every
attack in tests/attacks.py.  The bystanders' gradebook entries and files, the
source notebooks, the submitted folder and the gradebook's integrity must
come out of the second run unchanged.
"""

from __future__ import annotations

import hashlib
import sqlite3
import tempfile
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from attacks import ASSIGNMENT, ATTACKS, FULL, REFUSED, submission
from mlkit import catalog, course, sandbox
from mlkit.integrity import grading_issue
from support import gradebook_rows

pytestmark = [
    pytest.mark.xdist_group("integrity"),
    pytest.mark.skipif(not sandbox.available(), reason="the attack suite needs the sandbox (bubblewrap, root)"),
]
NOTEBOOK = "linear_regression"


def tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


BYSTANDERS = ["honest", "mistaken"]


@pytest.fixture(scope="module")
def attacked():
    root = Path(tempfile.mkdtemp(prefix="mlkit-attacks-"))
    c = course.new_course(root / "course", [ASSIGNMENT])
    course.nbgrader(c, "generate_assignment", ASSIGNMENT, "--force")
    reference = catalog.reference_answers(ASSIGNMENT, root=c)
    mistaken = next(m for m in catalog.mutants(ASSIGNMENT) if m.name == "gradient_sign_flipped").apply(reference)
    for student, answers in (("honest", reference), ("mistaken", mistaken)):
        catalog.write_submission(c, student, ASSIGNMENT, catalog.submission_notebook(ASSIGNMENT, answers, root=c), root=c)
    course.nbgrader(c, "autograde", ASSIGNMENT)
    before = {
        "rows": gradebook_rows(c, BYSTANDERS),
        "autograded": {s: tree_digest(c / "autograded" / s) for s in ("honest", "mistaken")},
        "source": tree_digest(c / "source"),
    }

    release_nb = nbformat.read(catalog.notebook_path(ASSIGNMENT, "release", c), as_version=4)
    for attack in ATTACKS:
        folder = c / "submitted" / attack.name / ASSIGNMENT
        catalog.write_submission(c, attack.name, ASSIGNMENT, release_nb, root=c)
        (folder / f"{NOTEBOOK}.ipynb").write_bytes(submission(attack, reference, release_nb))
    submitted_before = tree_digest(c / "submitted")
    run = course.nbgrader(c, "autograde", ASSIGNMENT, check=False)
    return {"course": c, "before": before, "submitted_before": submitted_before, "run": run,
            "grades": course.gradebook(c)}


def test_the_batch_completes_for_every_student(attacked):
    assert attacked["run"].returncode == 0, attacked["run"].stderr[-3000:]
    graded = attacked["grades"]
    for attack in ATTACKS:
        assert ASSIGNMENT in graded.get(attack.name, {}), f"{attack.name} has no grade: it would stay 'needs autograding'"
        assert (attacked["course"] / "autograded" / attack.name / ASSIGNMENT / f"{NOTEBOOK}.ipynb").exists()


def test_bystanders_scores_and_files_are_unchanged(attacked):
    c = attacked["course"]
    assert gradebook_rows(c, BYSTANDERS) == attacked["before"]["rows"]
    for student in ("honest", "mistaken"):
        assert tree_digest(c / "autograded" / student) == attacked["before"]["autograded"][student]
    assert attacked["grades"]["honest"][ASSIGNMENT].auto_score == FULL


def test_source_submitted_and_gradebook_are_intact(attacked):
    c = attacked["course"]
    assert tree_digest(c / "source") == attacked["before"]["source"]
    assert tree_digest(c / "submitted") == attacked["submitted_before"], "submitted/ must never be modified"
    with sqlite3.connect(c / "gradebook.db") as connection:
        assert connection.execute("pragma integrity_check").fetchone() == ("ok",)
    with Gradebook(f"sqlite:///{c / 'gradebook.db'}") as gb:
        assert gb.find_assignment(ASSIGNMENT).max_score == FULL + 3  # twelve automatic + three manual points


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.name for a in ATTACKS])
def test_attack_earns_nothing_unearned_and_its_reason_is_recorded(attacked, attack):
    grade = attacked["grades"][attack.name][ASSIGNMENT]
    assert grade.auto_max == FULL, "the points of the test cells come from the source, not the submission"
    assert grade.auto_score <= attack.max_points, f"{attack.name}: {attack.what}"
    if attack.max_points == FULL:  # repaired damage is not punished
        assert grade.auto_score == FULL
    with Gradebook(f"sqlite:///{attacked['course'] / 'gradebook.db'}") as gb:
        reason = grading_issue(gb, attack.name, ASSIGNMENT, NOTEBOOK)
        if attack.reason:
            assert attack.reason in reason, f"recorded reason: {reason!r}"
        if attack.reason == REFUSED:
            notebook = gb.find_submission_notebook(NOTEBOOK, ASSIGNMENT, attack.name)
            assert notebook.needs_manual_grade, "a refused notebook is flagged for instructor review"
            assert any(line.strip() in reason for line in (attack.append + "\n" + attack.in_fit).splitlines() if line.strip())


def test_huge_output_is_truncated(attacked):
    path = attacked["course"] / "autograded" / "huge_output" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    assert path.stat().st_size < 1_000_000


def test_nbgrader_export_shows_each_reason(attacked):
    import csv

    c = attacked["course"]
    course.nbgrader(c, "export", "--to", "grades.csv")
    with open(c / "grades.csv", newline="") as handle:
        rows = {row["student_id"]: row for row in csv.DictReader(handle)}
    for attack in ATTACKS:
        if attack.reason:
            assert attack.reason in rows[attack.name]["grading_issue"]
    assert rows["honest"]["grading_issue"] == ""


def test_regrading_is_idempotent(attacked):
    """Autograding the same submissions again (--force) records exactly the same grades, flags and reasons."""
    c = attacked["course"]
    students = ["honest", "gradebook_write", "not_utf8", "kernel_crash", "stripped_metadata"]

    before = gradebook_rows(c, students)
    for student in students:
        course.nbgrader(c, "autograde", ASSIGNMENT, "--student", student, "--force")
    assert gradebook_rows(c, students) == before
    assert tree_digest(c / "submitted") == attacked["submitted_before"]
