"""`mlkit feedback` writes the pages stock `nbgrader generate_feedback` writes; `mlkit grade --feedback` too, in
one pass; and both commands show what still waits for a manual grade.

One small class (reference, untouched, an alternative and mistakes, and one student who wrote the 60-second
explanation, which waits for a manual grade) is graded once by `mlkit grade`, then copied: stock nbgrader writes
the feedback of one copy, `mlkit feedback` of another. A third copy is graded and given feedback by one `mlkit
grade --feedback`.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlkit import course
from mlkit.authoring import catalog
from mlkit.grading.sandbox import launcher as sandbox
from support import gradebook_rows

ASSIGNMENTS = ["01_linear_regression", "07_knn"]
WRITER = "writer"  # the student whose written explanation waits for a manual grade
pytestmark = [pytest.mark.xdist_group("feedback"),
              pytest.mark.skipif(sandbox.detect().name == "none", reason="grading needs the sandbox")]


def _mlkit(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mlkit.cli", *args], capture_output=True, text=True,
                          env=course.environment())


def _class(base: Path) -> Path:
    root = course.new_course(base / "course", ASSIGNMENTS)
    for assignment in ASSIGNMENTS:
        course.nbgrader(root, "generate_assignment", assignment, "--force")
        entries = catalog.catalog_answers(assignment, root=root)
        chosen = ["reference", "untouched", *[n for n in entries if n.startswith("alt-")][:1],
                  *[n for n in entries if n.startswith("mutant-")][:1]]
        for name in chosen:
            catalog.write_submission(root, name, assignment,
                                     catalog.submission_notebook(assignment, entries[name], root=root), root=root)
    nb = catalog.submission_notebook(ASSIGNMENTS[0], catalog.reference_answers(ASSIGNMENTS[0], root), root=root)
    (explain,) = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "explain"]
    explain.source = "The gradient of the mean squared error is X^T (Xw + b - y) / n; step against it."
    catalog.write_submission(root, WRITER, ASSIGNMENTS[0], nb, root=root)
    return root


def _pages(root: Path) -> dict[str, bytes]:
    folder = root / "feedback"
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def classes(tmp_path_factory):
    base = tmp_path_factory.mktemp("feedback")
    root = _class(base)
    one_pass = base / "one-pass"
    shutil.copytree(root, one_pass)  # released, submitted, not graded
    graded = _mlkit("grade", "--course", str(root), "--jobs", "2")
    assert graded.returncode == 0, graded.stdout + graded.stderr[-3000:]
    stock, kit = base / "stock", base / "kit"
    for copy in (stock, kit):
        shutil.copytree(root, copy)
    for assignment in ASSIGNMENTS:
        course.nbgrader(stock, "generate_feedback", assignment)
    kit_run = _mlkit("feedback", "--course", str(kit), "--jobs", "2")
    one_pass_run = _mlkit("grade", "--feedback", "--course", str(one_pass), "--jobs", "2")
    return {"root": root, "graded": graded, "stock": stock, "kit": kit, "kit_run": kit_run,
            "one_pass": one_pass, "one_pass_run": one_pass_run}


def test_feedback_pages_equal_stock_generate_feedback(classes):
    run = classes["kit_run"]
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    assert "feedback written for 9 of 9 submissions" in run.stdout
    assert "9/9" in run.stderr  # the progress bar's last state
    stock, kit = _pages(classes["stock"]), _pages(classes["kit"])
    assert len([name for name in stock if name.endswith(".html")]) == 9
    assert sorted(kit) == sorted(stock)  # the pages and the timestamp.txt release_feedback needs
    # Byte for byte: the pages carry the submission's own time, which both copies share, and no other.
    assert [name for name in stock if kit[name] != stock[name]] == []


def test_a_second_run_skips_what_is_up_to_date_and_force_writes_again(classes, tmp_path):
    kit = tmp_path / "kit"
    shutil.copytree(classes["kit"], kit)
    page = kit / "feedback" / "reference" / ASSIGNMENTS[1] / "knn.html"
    written = page.stat().st_mtime_ns
    run = _mlkit("feedback", "07", "--course", str(kit))
    assert run.returncode == 0, run.stderr[-3000:]
    assert "feedback written for 0 of 4 submissions; skipped 4 already up to date (--force writes them again)" \
        in run.stdout
    assert page.stat().st_mtime_ns == written
    run = _mlkit("feedback", "07", "--course", str(kit), "--force")
    assert "feedback written for 4 of 4 submissions" in run.stdout
    assert page.stat().st_mtime_ns != written and _pages(kit) == _pages(classes["kit"])


def test_a_broken_graded_notebook_fails_alone_with_its_name(classes, tmp_path):
    kit = tmp_path / "kit"
    shutil.copytree(classes["root"], kit)
    broken = kit / "autograded" / "untouched" / ASSIGNMENTS[1] / "knn.ipynb"
    broken.write_text("{ not a notebook")
    run = _mlkit("feedback", "--course", str(kit), "--jobs", "2")
    assert run.returncode == 1
    assert "feedback written for 8 of 9 submissions; 1 failed" in run.stdout
    assert f"failed: untouched / {ASSIGNMENTS[1]}" in run.stdout
    pages = _pages(kit)
    assert f"untouched/{ASSIGNMENTS[1]}/knn.html" not in pages
    assert {n: b for n, b in pages.items()} == {n: b for n, b in _pages(classes["stock"]).items()
                                                  if not n.startswith(f"untouched/{ASSIGNMENTS[1]}/")}


def test_grade_with_feedback_grades_and_writes_the_pages_in_one_pass(classes):
    run, one_pass = classes["one_pass_run"], classes["one_pass"]
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    assert "graded 9 of 9 submissions" in run.stdout and "feedback written for 9 of 9 submissions" in run.stdout
    assert gradebook_rows(one_pass) == gradebook_rows(classes["stock"])
    assert _pages(one_pass) == _pages(classes["stock"])


def test_grade_ends_with_the_score_distribution_and_the_answers_left_to_grade(classes):
    out = classes["graded"].stdout
    assert "graded 9 of 9 submissions" in out
    assert "scores (min / 25% / median / 75% / max, mean):" in out
    # 01: reference 12, alternative 12, writer 12, a mistake and the untouched release lower; of 15 points.
    (line,) = [line for line in out.splitlines() if line.strip().startswith(ASSIGNMENTS[0])]
    assert " 5 graded " in line and line.rstrip().endswith("; 1 answer to grade by hand")
    assert "/ 12 of 15, mean" in line
    (line,) = [line for line in out.splitlines() if line.strip().startswith(ASSIGNMENTS[1])]
    assert " 4 graded " in line and "to grade by hand" not in line
    assert out.rstrip().splitlines()[-1].startswith("answers left to grade by hand: 1 ")


def test_gradebook_marks_points_waiting_for_a_manual_grade_until_they_are_given(classes, tmp_path):
    root = tmp_path / "course"
    shutil.copytree(classes["root"], root)
    table = _mlkit("gradebook", "--course", str(root)).stdout.splitlines()
    (writer,) = [line for line in table if line.startswith(WRITER)]
    assert writer.split()[1:] == ["12/15", "+3", "to", "grade", "-", "12/15", "+3", "to", "grade"]
    (reference,) = [line for line in table if line.startswith("reference")]
    assert "to grade" not in reference
    assert table[-1].startswith("1 answer still to grade by hand")
    # The instructor grades it, as the formgrader does: a manual score, and the flag cleared.
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        grade = gb.find_grade("explain", "linear_regression", ASSIGNMENTS[0], WRITER)
        grade.manual_score, grade.needs_manual_grade = 2.5, False
        gb.db.commit()
    table = _mlkit("gradebook", "--course", str(root)).stdout.splitlines()
    (writer,) = [line for line in table if line.startswith(WRITER)]
    assert writer.split()[1:] == ["14.5/15", "-", "14.5/15"]
    assert "still to grade" not in "\n".join(table)
