"""`mlkit similarity`: planted copies rank above independent implementations, across cohorts, shown escaped.

The full sweep over all ten notebooks, with its precision and recall, is benchmarks/similarity_sweep.py
(README, "Copied answers"); here a sample of two notebooks, and the command on a small class with an archive.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from mlkit import course
from mlkit.authoring import catalog
from mlkit.reports import classreport, similarity

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import similarity_sweep  # noqa: E402

ASSIGNMENT = "07_knn"
PAYLOAD = '# </pre><script>alert("ran")</script>\n'
UNREADABLE = '{"cells": [{"cell_type": "code"'  # a submission cut short: not JSON


@pytest.mark.parametrize("assignment", [ASSIGNMENT, "10_model_selection"])
def test_planted_copies_rank_above_every_independent_pair(assignment):
    result = similarity_sweep.notebook_sweep(assignment)
    assert result["copies_rank_first"], result
    assert result["true_positives"] == 2 and result["false_positives"] == 0, result


def test_a_planted_copy_is_still_python_with_nothing_of_the_originals_names_or_comments():
    source = catalog.reference_answers(ASSIGNMENT)["knn"]
    copied = similarity_sweep.plant_copy(source)
    assert "nearest = " in source and "nearest = " not in copied and "# my own version of predict" in copied
    assert copied.index("def predict") < copied.index("def fit") < copied.index("def __init__")


def test_answer_code_is_the_solution_cells_only():
    nb = catalog.submission_notebook(ASSIGNMENT, catalog.reference_answers(ASSIGNMENT))
    code = similarity.answer_code(nb)
    assert "class KNNClassifier" in code and "def euclidean_distances" in code
    assert "YOUR ANSWER HERE" not in code and "assert" not in code  # no explanation, no test cell


def _notebook(answers: dict[str, str], root: Path):
    return catalog.submission_notebook(ASSIGNMENT, answers, root=root)


@pytest.fixture(scope="module")
def reported(tmp_path_factory):
    """A class of four (alice, bob who copied her, carol who wrote the reference, dave in another style with a
    payload in a comment) and an archive of an earlier cohort where erin's answer is a disguised copy of dave's."""
    root = tmp_path_factory.mktemp("similarity")
    c = course.new_course(root / "course", [ASSIGNMENT])
    course.nbgrader(c, "generate_assignment", ASSIGNMENT, "--force")
    reference = catalog.reference_answers(ASSIGNMENT, root=c)
    alternatives = catalog.alternatives(ASSIGNMENT)
    alice = {**reference, **alternatives["counter_vote"]}
    dave = {**reference, **{cell: PAYLOAD + source for cell, source in alternatives["heapq_squared"].items()}}
    answers = {"alice": alice, "bob": {cell: similarity_sweep.plant_copy(s) for cell, s in alice.items()},
               "carol": reference, "dave": dave}
    for student, filled in answers.items():
        catalog.write_submission(c, student, ASSIGNMENT, _notebook(filled, c), root=c)
    mallory = c / "submitted" / "mallory" / ASSIGNMENT  # a file collect copies as it is: no notebook at all
    mallory.mkdir(parents=True)
    (mallory / "knn.ipynb").write_text(UNREADABLE)
    erin = root / "archive" / "2025" / "submitted" / "erin" / ASSIGNMENT
    erin.mkdir(parents=True)
    nbformat.write(_notebook({cell: similarity_sweep.plant_copy(s, seed=3) for cell, s in dave.items()}, c),
                   erin / "knn.ipynb")
    run = subprocess.run([sys.executable, "-m", "mlkit.cli", "similarity", "knn", "--archive", str(root / "archive"),
                          "--course", str(c)], capture_output=True, text=True)
    return c, run


def test_the_copies_are_flagged_and_nothing_else(reported):
    c, run = reported
    assert run.returncode == 0, run.stderr
    rows = list(csv.DictReader((c / "reports" / f"similarity_{ASSIGNMENT}.csv").open()))
    flagged = [{row["first"], row["second"]} for row in rows if row["flagged"] == "1"]
    assert sorted(map(sorted, flagged)) == [["alice", "bob"], ["archive:2025/submitted/erin", "dave"]]
    assert {row["first"] for row in rows[:2]} | {row["second"] for row in rows[:2]} == \
        {"alice", "bob", "dave", "archive:2025/submitted/erin"}  # ranked first
    assert all("archive:" not in row["first"] or "archive:" not in row["second"] for row in rows)
    assert "2 at or above 0.60" in run.stdout


def test_a_submission_that_is_no_notebook_is_skipped_and_named_while_the_class_is_compared(reported):
    c, run = reported
    assert f"skipped {c / 'submitted' / 'mallory' / ASSIGNMENT / 'knn.ipynb'}: NotJSONError" in run.stdout
    rows = list(csv.DictReader((c / "reports" / f"similarity_{ASSIGNMENT}.csv").open()))
    assert len(rows) == 6 + 4  # the four readable students' pairs, and each of them with the archive
    # The defence switched off (each notebook read as nbformat reads any, as the kit did): her file stops the
    # report for everyone.
    weakened = ("import sys, nbformat; from mlkit.reports import similarity as s; from mlkit import cli; "
                "s.class_submissions = lambda root, a: [s.Submission(p.parent.parent.name, s.answer_code("
                "nbformat.read(p, as_version=4))) for p in sorted((root / 'submitted').glob(f'*/{a}/*.ipynb'))]; "
                "sys.exit(cli.main(sys.argv[1:]))")
    run = subprocess.run([sys.executable, "-c", weakened, "similarity", "knn", "--course", str(c), "--out",
                          "reports-weakened"], capture_output=True, text=True)
    assert run.returncode != 0 and "NotJSONError" in run.stderr
    assert not (c / "reports-weakened" / f"similarity_{ASSIGNMENT}.html").exists()


def test_the_report_shows_student_code_side_by_side_escaped(reported):
    c, _ = reported
    page = (c / "reports" / f"similarity_{ASSIGNMENT}.html").read_text()
    assert "<script>" not in page and "&lt;script&gt;alert(" in page
    assert page.count("<table class='side'>") >= 2 and "<mark>" in page


def test_the_class_report_counts_the_flagged_pairs(reported, tmp_path):
    c, _ = reported
    assert classreport._similar_pairs(ASSIGNMENT, c / "reports") == f"<a href='similarity_{ASSIGNMENT}.html'>2</a>"
    assert "mlkit similarity 07_knn" in classreport._similar_pairs(ASSIGNMENT, tmp_path)  # not run yet
