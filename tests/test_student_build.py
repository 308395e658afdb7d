"""`mlkit student-build`: what students receive carries no hidden test and no reference solution."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile

import nbformat
import pytest

from mlkit import layout, nbcells
from support import hidden_test_lines

pytestmark = pytest.mark.xdist_group("installed")  # builds the wheel, as test_installed does


def _released_lines() -> set[str]:
    return {line.strip() for a in layout.assignments()
            for cell in nbformat.read(layout.notebook_path(a, "release"), as_version=4).cells
            for line in cell.source.splitlines()}


def _solution_lines(assignment: str, shown: set[str]) -> list[str]:
    """Non-trivial lines of the reference solution that no release shows (a scaffold line is not secret)."""
    source = nbformat.read(layout.notebook_path(assignment), as_version=4)
    lines, inside = [], False
    for cell in source.cells:
        for line in cell.source.splitlines():
            stripped = line.strip()
            if stripped == nbcells.SOLUTION_MARKERS[0]:
                inside = True
            elif stripped == nbcells.SOLUTION_MARKERS[1]:
                inside = False
            elif inside and len(stripped) >= 16 and stripped not in shown and not re.fullmatch(r"[#\s\w]*", stripped):
                lines.append(stripped)
    return lines


@pytest.fixture(scope="module")
def student_files(tmp_path_factory) -> dict[str, str]:
    out = tmp_path_factory.mktemp("handout") / "for-students"
    run = subprocess.run([sys.executable, "-m", "mlkit.cli", "student-build", str(out)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    files = {}
    for path in sorted(out.rglob("*")):
        if path.suffix == ".whl":
            with zipfile.ZipFile(path) as wheel:
                for name in wheel.namelist():
                    files[f"{path.name}!{name}"] = wheel.read(name).decode("utf-8", "replace")
        elif path.is_file():
            files[str(path.relative_to(out))] = path.read_bytes().decode("utf-8", "replace")
    return files


def test_the_build_holds_the_release_the_wheel_and_nothing_of_the_course(student_files):
    names = list(student_files)
    for assignment in layout.assignments():
        release = layout.notebook_path(assignment, "release")
        assert f"release/{assignment}/{release.name}" in names
    assert any(n.endswith("!mlkit/checks.py") for n in names)
    assert "README.md" in names and "SPEC.md" in names and "requirements.lock" in names
    assert not [n for n in names if n.startswith(("source/", "catalog/", "autograded/", "submitted/", "feedback/"))
                or "/source/" in n or "gradebook" in n]


def test_no_hidden_test_and_no_reference_solution_anywhere(student_files):
    secrets, shown = [], _released_lines()
    for assignment in layout.assignments():
        source = nbformat.read(layout.notebook_path(assignment), as_version=4)
        # A line a release shows anyway (a `def fit(self, X, y):` of a test's stand-in model) is no secret, nor is
        # a short or generic one (`except ValueError:`, `except (TypeError, ValueError):`: any Python has them).
        secrets += [line for line in hidden_test_lines(source) + _solution_lines(assignment, shown)
                    if line not in shown and len(line) >= 24 and not line.startswith("except")]
    assert len(secrets) > 200  # the check has something to look for
    secret = set(secrets)
    leaks = [(name, line) for name, text in student_files.items() for line in _lines(name, text) if line in secret]
    assert not leaks, leaks[:5]


def _lines(name: str, text: str) -> set[str]:
    """A file's lines as a reader sees them: a notebook's cell lines, any other file's own lines."""
    if name.endswith(".ipynb"):
        return {line.strip() for cell in nbformat.reads(text, as_version=4).cells for line in cell.source.splitlines()}
    return {line.strip() for line in text.splitlines()}


def test_refuses_to_write_into_a_folder_with_files(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    run = subprocess.run([sys.executable, "-m", "mlkit.cli", "student-build", str(tmp_path)],
                         capture_output=True, text=True)
    assert run.returncode == 2 and "is not empty" in run.stderr and (tmp_path / "keep.txt").read_text() == "mine"
