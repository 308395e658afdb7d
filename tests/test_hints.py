"""Progressive hints in self-study (`mlkit hint`), through the real `mlkit selfgrade`."""

from __future__ import annotations

import subprocess
import sys

import nbformat
import pytest
from fsrs import Rating

from mlkit import diagnostics
from mlkit.authoring import catalog
from mlkit.study import history as histories
from mlkit.study import schedule

ASSIGNMENT = "01_linear_regression"
MLKIT = [sys.executable, "-m", "mlkit.cli"]


@pytest.fixture()
def failed(tmp_path_factory):
    """A workspace whose latest attempt is the sign-flipped gradient-descent mutant."""
    home = tmp_path_factory.mktemp("hints")
    mutant = next(m for m in catalog.mutants(ASSIGNMENT) if m.diagnosis == "sign_flipped")
    notebook = home / "linear_regression.ipynb"
    nbformat.write(catalog.submission_notebook(ASSIGNMENT, catalog.catalog_answers(ASSIGNMENT)[f"mutant-{mutant.name}"]),
                   notebook)
    workspace = home / "workspace"
    graded = subprocess.run([*MLKIT, "selfgrade", str(notebook), "--workspace", str(workspace)],
                            capture_output=True, text=True, timeout=300)
    assert graded.returncode == 0, graded.stderr
    return home, workspace, notebook


def _hint(workspace, *extra):
    return subprocess.run([*MLKIT, "hint", *extra, "--workspace", str(workspace)], capture_output=True, text=True)


def test_hints_go_from_direction_to_shapes_to_the_reference_lines_and_lower_the_next_rating(failed):
    home, workspace, notebook = failed
    record = histories.load(workspace)
    first_failed = [c for c, passed in record.attempts[-1].checks.items() if not passed][0]
    expected_direction = {per["sign_flipped"].hint for per in diagnostics.catalog(ASSIGNMENT).values()
                          if "sign_flipped" in per}
    one, two, three, four = (_hint(workspace) for _ in range(4))
    for result in (one, two, three, four):
        assert result.returncode == 0, result.stderr
    assert f"Hint 1 of 3 for {first_failed} (the direction)" in one.stdout
    if first_failed == "test_gd_one_step":
        assert any(" ".join(h.split()) in " ".join(one.stdout.split()) for h in expected_direction)
    assert "Hint 2 of 3" in two.stdout and "shape-critical" in two.stdout
    reference = catalog.reference_answers(ASSIGNMENT)["gradient_descent"]
    assert "Hint 3 of 3" in three.stdout
    assert any(line.strip() and line.strip() in three.stdout for line in reference.splitlines()
               if "self.weights -=" in line or "X.T @" in line)
    assert "Hint 3 of 3" in four.stdout  # no step beyond the reference lines
    assert len(histories.load(workspace).pending_hints[ASSIGNMENT]) == 3

    # The learner fixes the code with their help: that attempt's rating is lowered, and the reveals are spent.
    nbformat.write(catalog.submission_notebook(ASSIGNMENT, catalog.reference_answers(ASSIGNMENT)), notebook)
    graded = subprocess.run([*MLKIT, "selfgrade", str(notebook), "--workspace", str(workspace)],
                            capture_output=True, text=True, timeout=300)
    assert graded.returncode == 0, graded.stderr
    record = histories.load(workspace)
    attempt = record.attempts[-1]
    assert attempt.perfect and len(attempt.hints) == 3 and not record.pending_hints.get(ASSIGNMENT)
    assert schedule.rating(attempt) == Rating.Again  # Good, three steps lower, at the floor
    no_more = _hint(workspace)
    assert no_more.returncode == 2 and "failed no check" in no_more.stderr


def test_a_hint_needs_an_attempt(tmp_path):
    result = _hint(tmp_path)
    assert result.returncode == 2 and "no graded attempt yet" in result.stderr
