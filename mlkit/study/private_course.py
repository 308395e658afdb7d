"""The learner's private nbgrader course: where self-study grades one notebook, as a class's would be graded.

A folder in the self-study workspace (the workspace itself for the course's notebooks, `<workspace>/followups/`
for the follow-up exercises) laid out as an nbgrader course, with the kit's `nbgrader_config.py` and the
learner as its one student (`mlkit.study.history.LEARNER`).  Every step is nbgrader's own application, run in
this process (`mlkit.grading.autograde.run_app`, `grade_here`):

- `generate(course_root, config, source)`: nbgrader's generate_assignment of one assignment, again only when
  its source changed (a digest of the source folder is kept beside it);
- `autograde_and_feedback(course_root, assignment, zygote)`: nbgrader's autograde of the learner's submission,
  through the grading boundary and the sandbox, then its generate_feedback;
- `start_kernel_zygote()`: the grading kernel's zygote, started first so that it warms up while this process
  imports nbgrader;
- `read_notebook(path)`: the learner's notebook, read and validated before any of it, a bad file said in
  one line (`SelfStudyError`).

A new gradebook is stamped with nbgrader's migration head found in this process
(`mlkit.nbgrader_startup.gradebook_version_in_process`), not by a second Python process.

Used by `mlkit selfgrade` (mlkit.study.selfgrade) and `mlkit followup --grade` (mlkit.study.followups).
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import nbformat

from mlkit import course, nbgrader_startup
from mlkit.study.history import LEARNER


class SelfStudyError(Exception):
    """A problem with the learner's input, reported as one line."""


def read_notebook(path: Path):
    """The notebook at `path` (nbformat 4, validated); SelfStudyError if it is missing or not a notebook."""
    if not path.exists():
        raise SelfStudyError(f"no such file: {path}")
    if path.is_dir() or path.suffix != ".ipynb":
        raise SelfStudyError(f"not a notebook (.ipynb file): {path}")
    try:
        nb = nbformat.reads(path.read_bytes().decode("utf-8"), as_version=4)
        nbformat.validate(nb)
    except Exception as error:
        raise SelfStudyError(f"{path} is not a readable notebook ({type(error).__name__}: {str(error)[:120]})")
    return nb


def digest(folder: Path) -> str:
    """The SHA-256 (hex) of every file's relative path and bytes under `folder`, in sorted order."""
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(folder)).encode() + p.read_bytes())
    return h.hexdigest()


def generate(course_root: Path, config: Path, source: Path) -> None:
    """The assignment of the source folder `source` (named after it) generated into `course_root/release/`
    with nbgrader's generate_assignment, the course configured by the file `config`; skipped when the source
    is unchanged since the last time and its release exists."""
    name = source.name
    course_root.mkdir(parents=True, exist_ok=True)
    shutil.copy2(config, course_root / "nbgrader_config.py")
    stamp = course_root / "source" / f".{name}.sha256"
    wanted = digest(source)
    if stamp.exists() and stamp.read_text() == wanted and (course_root / "release" / name).exists():
        return
    shutil.rmtree(course_root / "source" / name, ignore_errors=True)
    shutil.copytree(source, course_root / "source" / name)
    from nbgrader.apps import GenerateAssignmentApp

    from mlkit.grading import autograde as grading

    nbgrader_startup.gradebook_version_in_process()  # the first assignment creates the gradebook
    if not grading.run_app(GenerateAssignmentApp, course_root, [name, "--force"]):
        raise RuntimeError(f"nbgrader generate_assignment {name} failed in {course_root}")
    stamp.write_text(wanted)


def start_kernel_zygote():
    """The grading kernel's zygote (`mlkit.grading.kernel.zygote.Zygote`, not waited for), started before nbgrader is
    imported so that the two warm up together; None where it cannot start (grading then starts a kernel)."""
    from mlkit.grading.kernel import zygote

    try:
        return zygote.Zygote(wait=False)
    except OSError:
        return None


def autograde_and_feedback(course_root: Path, assignment: str, parent) -> None:
    """nbgrader's autograde, then generate_feedback, of the learner's submission of `assignment` in
    `course_root` (in `submitted/<LEARNER>/<assignment>/`), its kernel forked from the zygote `parent` (or
    None).  Raises SandboxUnavailable (no sandbox, and the course wants one) or RuntimeError."""
    from nbgrader.apps import GenerateFeedbackApp

    from mlkit.grading import autograde as grading
    from mlkit.grading.kernel import zygote

    nbgrader_startup.gradebook_version_in_process()  # where the gradebook is missing, autograde creates it
    config = course.course_config(course_root)
    grading.preflight(config)  # no sandbox: stop here, with the reason
    kernel_name = None
    if parent is not None and grading.uses_grading_kernel(config):
        parent.wait()
        zygote.install()
        kernel_name = zygote.KERNEL_NAME
    if not grading.grade_here(course_root, assignment, LEARNER, kernel_name):
        raise RuntimeError(f"nbgrader autograde of {assignment} failed in {course_root}")
    if not grading.run_app(GenerateFeedbackApp, course_root, [assignment, "--student", LEARNER, "--force"]):
        raise RuntimeError(f"nbgrader generate_feedback of {assignment} failed in {course_root}")
