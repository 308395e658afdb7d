"""A course graded with the kit installed from a wheel (not editable) grades exactly as with the checkout.

Builds the kit's wheel, installs it with the locked dependencies into a new
virtual environment outside the repository, and runs that environment's
`nbgrader autograde` on a course copied to another folder: no file of the
checkout is importable there.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlkit import course
from mlkit.authoring import catalog
from mlkit.grading import sandbox

pytestmark = [
    pytest.mark.xdist_group("installed"),
    pytest.mark.skipif(sandbox.detect().name == "none", reason="needs a sandbox (bubblewrap)"),
]
ASSIGNMENT = "01_linear_regression"


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("installed")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "-w", str(base / "dist"), str(catalog.ROOT)], check=True, capture_output=True)
    (wheel,) = (base / "dist").glob("mlkit-*.whl")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "-c",
                    str(catalog.ROOT / "requirements.lock"), str(wheel)], check=True, capture_output=True)
    return venv


def test_the_installed_kit_is_not_the_checkout(installed):
    where = subprocess.run([str(installed / "bin" / "python"), "-I", "-c", "import mlkit; print(mlkit.__file__)"],
                           capture_output=True, text=True, check=True, cwd="/").stdout.strip()
    assert where.startswith(str(installed)) and not where.startswith(str(catalog.ROOT))


def test_a_copied_course_grades_with_the_installed_kit(installed, tmp_path):
    c = course.new_course(tmp_path / "elsewhere" / "course", [ASSIGNMENT])
    nbgrader = str(installed / "bin" / "nbgrader")
    env = {**os.environ, "PATH": f"{installed / 'bin'}:{os.environ.get('PATH', '')}"}
    subprocess.run([nbgrader, "generate_assignment", ASSIGNMENT], cwd=c, env=env, check=True, capture_output=True)
    reference = catalog.reference_answers(ASSIGNMENT, root=c)
    wrong = next(m for m in catalog.mutants(ASSIGNMENT) if m.name == "gradient_sign_flipped").apply(reference)
    for student, answers in (("alice", reference), ("bob", wrong)):
        catalog.write_submission(c, student, ASSIGNMENT, catalog.submission_notebook(ASSIGNMENT, answers, root=c),
                                 root=c)
    run = subprocess.run([nbgrader, "autograde", ASSIGNMENT], cwd=c, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    grades = {s: per[ASSIGNMENT].auto_score for s, per in course.gradebook(c).items()}
    assert grades["alice"] == 12.0 and 0 < grades["bob"] < 12.0
