"""Each hole in the boundary and the sandbox: open with its defence switched off, closed with the kit as it is.

Every exploit of tests/attacks.py (`EXPLOITS`) is a submission graded through the real pipeline, started
from the course folder as an instructor runs it.  With the defences it names switched off in a scratch
copy of the course (tests/weakened.py) it must gain: more points than its base answers earn honestly, the
canary in what it printed or in the feedback page, or a file written on the grading machine.  With the kit unchanged it must gain nothing, through `nbgrader autograde` in both
sandbox modes and through `mlkit grade`.  An exploit that failed on its own would fail the first check.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import nbformat
import pytest

import weakened
from attacks import CANARY, EXPLOITS, Exploit, exploit_answers
from mlkit import course
from mlkit.authoring import catalog
from mlkit.grading.sandbox import launcher as sandbox

pytestmark = [
    pytest.mark.xdist_group("defences"),
    pytest.mark.skipif(sandbox.detect().name == "none", reason="the attack suite needs the sandbox"),
]
ASSIGNMENTS = sorted({e.assignment for e in EXPLOITS})
SYSTEM_CANARY = Path("/usr/local/etc/mlkit-attack-canary.txt")


def _base_answers(assignment: str, base: str, root: Path) -> dict[str, str]:
    answers = catalog.reference_answers(assignment, root=root)
    if base == "reference":
        return answers
    return next(m for m in catalog.mutants(assignment) if m.name == base).apply(answers)


def _honest(exploit: Exploit) -> str:
    return f"honest-{exploit.assignment[:2]}-{exploit.base}".replace("_", "-")


@pytest.fixture(scope="module")
def template():
    """A course with every exploit's assignment released and its submissions in place (not yet graded)."""
    root = Path(tempfile.mkdtemp(prefix="mlkit-defences-"))
    c = course.new_course(root / "template", ASSIGNMENTS)
    for assignment in ASSIGNMENTS:
        course.nbgrader(c, "generate_assignment", assignment, "--force")
    yield root, c
    shutil.rmtree(root, ignore_errors=True)


def _course(template, name: str, exploits: list[Exploit]) -> Path:
    root, source = template
    c = root / name
    shutil.copytree(source, c, symlinks=True)
    for exploit in exploits:
        base = _base_answers(exploit.assignment, exploit.base, c)
        for student, answers in ((_honest(exploit), base), (exploit.name, exploit_answers(exploit, base, str(c)))):
            nb = catalog.submission_notebook(exploit.assignment, answers, root=c)
            catalog.write_submission(c, student, exploit.assignment, nb, root=c)
        if exploit.plant == "reference solution in source/":
            reference = catalog.reference_answers(exploit.assignment, root=c)
            (c / "source" / exploit.assignment / "reference_solution.py").write_text(reference["gradient_descent"])
    return c


def _grade(c: Path, exploits: list[Exploit], mode: str, grader: str = "autograde") -> None:
    env = {**course.environment(), "MLKIT_TEST_SECRET": CANARY}
    if mode == "userns":
        env["MLKIT_SANDBOX"] = "userns"
    assignments = sorted({e.assignment for e in exploits})
    if grader == "mlkit grade":
        run = subprocess.run([str(course.BIN / "mlkit"), "grade", *assignments, "--course", str(c)], cwd=c, env=env,
                             capture_output=True, text=True)
        assert run.returncode == 0, run.stderr[-3000:]
    else:
        for assignment in assignments:
            run = subprocess.run([str(course.BIN / "nbgrader"), "autograde", assignment], cwd=c, env=env,
                                 capture_output=True, text=True)
            assert run.returncode == 0, run.stderr[-3000:]
    for assignment in sorted({e.assignment for e in exploits if e.sign == "feedback"}):
        course.nbgrader(c, "generate_feedback", assignment)


def _graded(template, name: str, exploits: list[Exploit], mode: str, grader: str = "autograde",
            defences: tuple[str, ...] = ()) -> Path:
    c = _course(template, name, exploits)
    if defences:
        weakened.weaken(c, set(defences))
    planted = any(e.plant == "canary in /usr/local/etc" for e in exploits) and os.access(SYSTEM_CANARY.parent, os.W_OK)
    if planted:
        SYSTEM_CANARY.write_text(CANARY)
        SYSTEM_CANARY.chmod(0o644)
    try:
        _grade(c, exploits, mode, grader)
    finally:
        if planted:
            SYSTEM_CANARY.unlink(missing_ok=True)
    return c


def _printed(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    return "\n".join(str(output.get(key, "")) for cell in nb.cells for output in cell.get("outputs", [])
                     for key in ("text", "evalue", "data"))


def gained(c: Path, exploit: Exploit) -> str:
    """What the exploit got hold of in course `c` ('' if nothing)."""
    graded = course.gradebook(c)
    notebook = c / "autograded" / exploit.name / exploit.assignment
    (path,) = notebook.glob("*.ipynb")
    if exploit.sign == "points":
        # A test cell it passes that its base answers fail is a gain, whatever it costs elsewhere.
        mine, honest = (graded[s][exploit.assignment].cells for s in (exploit.name, _honest(exploit)))
        won = [cell for cell in exploit.cells if mine.get(cell, 0) > honest[cell]]
        return f"points in {won} that its base answers do not earn" if won else ""
    if exploit.sign == "canary":
        return "the canary in its output" if CANARY in _printed(path) else ""
    if exploit.sign == "feedback":
        pages = list((c / "feedback" / exploit.name / exploit.assignment).glob("*.html"))
        assert pages, "the feedback page was written"
        return "the canary in its feedback page" if CANARY in pages[0].read_text() else ""
    if exploit.sign == "file":
        return "a file written by the grader" if (c / f"pwned-{exploit.name}").exists() else ""
    raise AssertionError(exploit.sign)


def _needs_root(exploit: Exploit) -> None:
    if exploit.plant == "canary in /usr/local/etc" and not os.access(SYSTEM_CANARY.parent, os.W_OK):
        pytest.skip("putting a canary in /usr/local/etc needs root")


@pytest.mark.parametrize("exploit", EXPLOITS, ids=[e.name for e in EXPLOITS])
def test_the_exploit_succeeds_with_its_defence_switched_off(template, exploit):
    _needs_root(exploit)
    mode = exploit.modes[0]
    c = _graded(template, f"weakened-{exploit.name}", [exploit], mode, defences=exploit.defences)
    assert gained(c, exploit), f"{exploit.name} gains nothing even with {exploit.defences} off: it tests nothing"


@pytest.fixture(scope="module")
def contained(template):
    """Every exploit graded with the kit unchanged: autograde as root and in a user namespace, mlkit grade."""
    return {
        "autograde, root": _graded(template, "kit-root", EXPLOITS, "root"),
        "autograde, userns": _graded(template, "kit-userns", EXPLOITS, "userns"),
        "mlkit grade": _graded(template, "kit-mlkit-grade", EXPLOITS, "root", grader="mlkit grade"),
    }


@pytest.mark.parametrize("how", ["autograde, root", "autograde, userns", "mlkit grade"])
@pytest.mark.parametrize("exploit", EXPLOITS, ids=[e.name for e in EXPLOITS])
def test_the_exploit_gains_nothing_with_the_kit_as_it_is(contained, exploit, how):
    _needs_root(exploit)
    assert not gained(contained[how], exploit), f"{exploit.name}: {exploit.what}"
