"""The main job: build the release, grade the bundled sample class, write feedback, print the gradebook.

Each step is one of nbgrader's own commands, except grading, which is
`mlkit grade` (nbgrader's AutogradeApp for every submission, in parallel,
with a progress bar; `tests/test_grade.py` keeps it equal to stock
`nbgrader autograde`).  How long each step took is printed at the end.

The sample class is made from the implementation catalog (see `mlkit.authoring.catalog`)
so it always matches the current notebooks:

    alice  the reference solution                     full automatic points
    bob    typical mistakes (mutants marked in_sample_class, combined)
    carol  the untouched release notebook             no automatic points
    dave   the first alternative correct solution     full automatic points
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from mlkit import course, invocation, layout
from mlkit.authoring import catalog, release
from mlkit.reports import classreport

SAMPLE_STUDENTS = ("alice", "bob", "carol", "dave")


def sample_answers(student: str, assignment: str, root: Path) -> dict[str, str] | None:
    reference = catalog.reference_answers(assignment, root)
    if student == "alice":
        return reference
    if student == "bob":
        answers = reference
        for mutant in catalog.mutants(assignment):
            if mutant.in_sample_class:
                answers = mutant.apply(answers)
        return answers
    if student == "carol":
        return None
    if student == "dave":
        alternatives = catalog.alternatives(assignment)
        return {**reference, **alternatives[sorted(alternatives)[0]]} if alternatives else reference
    raise KeyError(student)


def write_sample_class(root: Path, assignments: list[str]) -> None:
    """(Re)create submitted/<student>/<assignment>/ for the sample students."""
    for student in SAMPLE_STUDENTS:
        for assignment in assignments:
            nb = catalog.submission_notebook(assignment, sample_answers(student, assignment, root), root)
            catalog.write_submission(root, student, assignment, nb, root)


def run(root: Path, log=print) -> dict:
    from mlkit.grading import autograde
    from mlkit.grading.backends import local

    assignments = layout.assignments(root)
    timings: list[tuple[str, float]] = []

    def step(name: str, action) -> None:
        started = time.monotonic()
        action()
        timings.append((name, time.monotonic() - started))

    step("nbgrader generate_assignment (release/)", lambda: release.release(root, assignments, log))
    step("sample class written to submitted/", lambda: write_sample_class(root, assignments))
    log(f"mlkit grade: {len(SAMPLE_STUDENTS)} students x {len(assignments)} "
        f"assignment{'s' if len(assignments) != 1 else ''}")

    def grade_class() -> None:
        graded = local.grade(root, assignments, force=True)
        failed = [(a, s) for a, s, status, _ in graded if status == autograde.FAILED]
        if failed:
            raise RuntimeError(f"autograde failed for {failed} (see the log above)")

    step("mlkit grade (nbgrader autograde, in parallel)", grade_class)

    def feedback() -> None:
        for assignment in assignments:
            log(f"nbgrader generate_feedback {assignment}")
            course.nbgrader(root, "generate_feedback", assignment, "--force")

    step("nbgrader generate_feedback", feedback)
    grades = course.gradebook(root)
    log("")
    log("Gradebook (the sample students left the 60-second explanations as released, which nbgrader scores 0):")
    log(course.format_gradebook(grades, assignments))
    log(f"\nFeedback reports: {root / 'feedback'}/<student>/<assignment>/*.html")
    started = time.monotonic()
    report, table = classreport.write(root, root / "reports")
    timings.append(("class report", time.monotonic() - started))
    log(f"Class report: {report} (and {table.name})")
    log("\nTime per step:")
    for name, seconds in timings:
        log(f"  {name:<48}{seconds:7.1f} s")
    log(f"  {'total':<48}{sum(s for _, s in timings):7.1f} s")
    return grades


MARKER = ".mlkit-demo"  # in a course folder the demo made, and only there
DEFAULT_FOLDER = "mlkit-demo"


class DemoRefused(invocation.CommandRefused):
    """The demo will not run in, or clean, a folder it did not make."""


def _demo_folder(folder: str | Path | None) -> Path:
    return Path(folder).expanduser().resolve() if folder else Path.cwd() / DEFAULT_FOLDER


def command(args) -> int:
    """`mlkit demo [ASSIGNMENTS] [--into FOLDER]`: the main job in a course folder of its own (made here, never
    among real students)."""
    target, assignments, log = _demo_folder(args.into), args.assignments, print
    if target.exists() and not (target / MARKER).is_file():
        raise DemoRefused(f"{target} exists and is not a demo course: the demo runs only in a folder of its own "
                          "(pass another with --into)")
    names = [layout.resolve_assignment(name) for name in assignments] if assignments else layout.assignments()
    course.new_course(target, names)
    (target / MARKER).write_text("A course folder made by `mlkit demo`; `mlkit clean` removes it.\n")
    log(f"demo course: {target}")
    run(target, log)
    return 0


def clean(folder: str | Path | None = None, yes: bool = False, ask=input, log=print) -> bool:
    """Remove a demo course folder (one holding the demo's marker, nothing else), after saying what goes."""
    target = _demo_folder(folder)
    if not target.exists():
        log(f"nothing to remove: {target} does not exist")
        return False
    if not (target / MARKER).is_file():
        raise DemoRefused(f"{target} is not a course the demo made (no {MARKER} in it): nothing is removed")
    graded = sorted(p.name for p in (target / "submitted").iterdir()) if (target / "submitted").is_dir() else []
    log(f"This removes the demo course {target}: its release, the sample class ({', '.join(graded) or 'none'}), "
        "its gradebook, graded notebooks, feedback and reports.")
    try:
        agreed = yes or ask("Remove it? [y/N] ").strip().lower() in ("y", "yes")
    except EOFError:  # no one to ask (a script, CI): only --yes removes it
        agreed = False
    if not agreed:
        log("nothing removed")
        return False
    shutil.rmtree(target)
    log(f"removed {target}")
    return True


def clean_command(args) -> int:
    """`mlkit clean [--into FOLDER] [--yes]`: `clean`, asking on the terminal unless --yes."""
    clean(args.into, args.yes)
    return 0
