"""`mlkit selfgrade`: the self-study command, driven as a learner would, through the real nbgrader pipeline."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from mlkit import diagnostics, layout
from mlkit.authoring import catalog
from support import CHROMIUM, graded_catalog, hidden_test_lines, ink, render, visible_text

ASSIGNMENT = "02_logistic_regression"
pytestmark = pytest.mark.xdist_group(ASSIGNMENT)  # shares the graded catalog of 02 with test_catalog
MLKIT = [sys.executable, "-m", "mlkit.cli"]
SUBMISSIONS = ["reference", "alt-logits_loss_with_warnings", "mutant-unstable_sigmoid",
               "mutant-linear_regression_gradient", "mutant-strict_threshold", "untouched"]


@pytest.fixture(scope="module")
def attempts(tmp_path_factory):
    """Every submission above, written where a learner keeps it and self-graded in one workspace."""
    home = tmp_path_factory.mktemp("learner")
    workspace = home / "workspace"
    runs = {}
    for name in SUBMISSIONS:
        notebook = home / name / "logistic_regression.ipynb"
        notebook.parent.mkdir()
        entries = catalog.catalog_answers(ASSIGNMENT)
        nbformat.write(catalog.submission_notebook(ASSIGNMENT, entries[name]), notebook)
        before = hashlib.sha256(notebook.read_bytes()).hexdigest(), notebook.stat().st_mtime_ns
        result = subprocess.run([*MLKIT, "selfgrade", str(notebook), "--workspace", str(workspace)],
                                capture_output=True, text=True)
        after = hashlib.sha256(notebook.read_bytes()).hexdigest(), notebook.stat().st_mtime_ns
        runs[name] = {"result": result, "unchanged": before == after}
    return workspace, runs


@pytest.mark.parametrize("name", SUBMISSIONS)
def test_selfgrade_scores_what_autograde_scores(attempts, name):
    _, runs = attempts
    result = runs[name]["result"]
    assert result.returncode == 0, result.stderr
    grade = graded_catalog(ASSIGNMENT).grades[name]
    assert f"{ASSIGNMENT}: {grade.auto_score:g} / {grade.auto_max:g} automatic points" in result.stdout


@pytest.mark.parametrize("name", SUBMISSIONS)
def test_learners_notebook_is_byte_identical_afterwards(attempts, name):
    assert attempts[1][name]["unchanged"]


@pytest.mark.parametrize("name", [n for n in SUBMISSIONS if n.startswith("mutant-")])
def test_terminal_and_report_name_the_mistake(attempts, name):
    workspace, runs = attempts
    mutant = next(m for m in catalog.mutants(ASSIGNMENT) if f"mutant-{m.name}" == name)
    declared = [per[mutant.diagnosis] for per in diagnostics.catalog(ASSIGNMENT).values() if mutant.diagnosis in per]
    printed = " ".join(runs[name]["result"].stdout.split())  # the terminal summary wraps long lines
    # Self-study names the mistake and keeps its fix for `mlkit hint` (tests/test_hints.py).
    assert any(f"mistake: {' '.join(m.short_name.split())}" in printed for m in declared), printed
    assert not any(" ".join(m.hint.split()) in printed for m in declared if m.hint), printed


def test_report_shows_progress_and_the_next_practice(attempts):
    workspace, runs = attempts
    text = visible_text((workspace / "report.html").read_text())
    assert "What to practise next" in text and "Progress per notebook" in text
    assert ASSIGNMENT in text and "today" in text  # the last attempt (untouched) was not perfect
    history = (workspace / "history.json").read_text()
    assert history.count(ASSIGNMENT) == len(SUBMISSIONS)


@pytest.mark.skipif(CHROMIUM is None, reason="needs chromium")
def test_report_renders_in_a_browser(attempts):
    workspace, _ = attempts
    pixels, dom = render(workspace / "report.html", "selfstudy-report", height=700)
    assert "mlkit-progress" in dom and "What to practise next" in dom
    assert ink(pixels) > 0.01
    pixels, dom = render(next((workspace / "feedback").rglob("*.html")), "selfstudy-feedback")
    assert "mlkit-summary-table" in dom and ink(pixels) > 0.02


def test_reports_show_no_hidden_test_source(attempts):
    workspace, _ = attempts
    source = nbformat.read(layout.notebook_path(ASSIGNMENT), as_version=4)
    secret = hidden_test_lines(source)
    answers = {line.strip() for code in catalog.reference_answers(ASSIGNMENT).values() for line in code.splitlines()}
    for page in [workspace / "report.html", *sorted((workspace / "feedback").rglob("*.html"))]:
        text = visible_text(page.read_text())
        assert not [line for line in secret if line in text and line not in answers], page


@pytest.mark.parametrize("make, expected", [
    (lambda tmp: tmp / "missing.ipynb", "no such file"),
    (lambda tmp: tmp, "not a notebook"),
    (lambda tmp: _write(tmp / "notes.txt", b"hello"), "not a notebook"),
    (lambda tmp: _write(tmp / "broken.ipynb", b'{"cells": ['), "is not a readable notebook"),
    (lambda tmp: _write(tmp / "latin1.ipynb", "caf\xe9".encode("latin-1")), "is not a readable notebook"),
    (lambda tmp: _other_notebook(tmp), "not one of the course's notebooks"),
])
def test_bad_input_gets_one_line_and_a_nonzero_exit(tmp_path, make, expected):
    path = make(tmp_path)
    result = subprocess.run([*MLKIT, "selfgrade", str(path), "--workspace", str(tmp_path / "ws")],
                            capture_output=True, text=True)
    assert result.returncode != 0
    assert expected in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_wrong_assignment_is_refused(tmp_path):
    notebook = tmp_path / "lr.ipynb"
    nbformat.write(catalog.submission_notebook("01_linear_regression", None), notebook)
    result = subprocess.run([*MLKIT, "selfgrade", str(notebook), "--assignment", ASSIGNMENT,
                             "--workspace", str(tmp_path / "ws")], capture_output=True, text=True)
    assert result.returncode != 0
    assert f"this notebook is not {ASSIGNMENT}: it looks like 01_linear_regression" in result.stderr


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _other_notebook(tmp: Path) -> Path:
    path = tmp / "other.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1)")]), path)
    return path
