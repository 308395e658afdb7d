"""Autograde a whole class in parallel, through nbgrader's own autograde machinery and gradebook.

    mlkit grade [ASSIGNMENT ...] [--jobs N] [--force]

Each submission (student x assignment) is one task; `--jobs` worker
processes (default: two per core, since a worker mostly waits for its
kernel and the kernel for its worker) take tasks from a queue and run nbgrader's
`AutogradeApp` for that one student, in-process, with the course's
`nbgrader_config.py` — so the grading boundary, the sandbox and every other
preprocessor apply exactly as with `nbgrader autograde`, and grades land in
the same gradebook (nbgrader's SQLite file by default; set
`CourseDirectory.db_url` for PostgreSQL in a large course).

What is saved compared with one `nbgrader autograde` per assignment:
- start-up: nbgrader is imported once, in the parent, before the workers
  fork; the import of `rfc3987_syntax` (a grammar built at import time, only
  used to validate URI formats in Jupyter's event schemas, which grading
  never emits) is skipped, in this process only;
- wall time: kernels of different submissions run side by side, one per
  worker, each still a fresh kernel per notebook.
A progress bar on stderr counts graded submissions.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
import warnings
from pathlib import Path

# Skipped before anything imports jsonschema's format checkers (see module docstring).
sys.modules.setdefault("rfc3987_syntax", None)

from nbgrader.apps import AutogradeApp  # noqa: E402  (after the start-up trim above)

SQLITE_BUSY_SECONDS = 120  # workers share one SQLite gradebook; a writer waits instead of failing


def submissions(root: Path, assignments: list[str]) -> list[tuple[str, str]]:
    """(assignment, student) for every submitted folder of the given assignments."""
    found = []
    for assignment in assignments:
        for folder in sorted((root / "submitted").glob(f"*/{assignment}")):
            if folder.is_dir():
                found.append((assignment, folder.parent.name))
    return found


def _db_url(root: Path) -> str:
    return f"sqlite:///{root / 'gradebook.db'}?timeout={SQLITE_BUSY_SECONDS}"


_KERNEL_NAME: str | None = None  # per worker: the forked-kernel spec when this worker has a zygote


def _start_worker(use_zygote: bool) -> None:
    """Pool initializer: give this worker its own kernel zygote (see mlkit.zygote)."""
    global _KERNEL_NAME
    if not use_zygote:
        return
    from multiprocessing.util import Finalize

    from mlkit import zygote

    parent = zygote.Zygote()
    Finalize(parent, parent.close, exitpriority=10)
    _KERNEL_NAME = zygote.KERNEL_NAME


def _grade_one(task: tuple[str, str, str, bool, str | None]) -> tuple[str, str, bool, float]:
    assignment, student, root, force, db_url = task
    started = time.monotonic()
    # SQLAlchemy's autoflush notes from nbgrader's gradebook code are not ours to act on.
    warnings.filterwarnings("ignore", message=".*not in session.*")
    os.chdir(root)
    # nbgrader logs a warning per restored test cell of every notebook; errors still show.
    argv = [assignment, "--student", student, "--log-level=ERROR"]
    if force:
        argv.append("--force")
    if db_url:
        argv.append(f"--CourseDirectory.db_url={db_url}")
    if _KERNEL_NAME:
        argv.append(f"--ResilientExecute.kernel_name={_KERNEL_NAME}")
    app = AutogradeApp()
    try:
        app.initialize(argv)
        app.start()
        ok = True
    except SystemExit as stop:  # nbgrader exits non-zero when a submission failed
        ok = stop.code in (0, None)
    except Exception:
        ok = False
    finally:
        AutogradeApp.clear_instance()
    return assignment, student, ok, time.monotonic() - started


def _progress(done: int, total: int, started: float, stream=sys.stderr) -> None:
    width = 30
    filled = int(width * done / total) if total else width
    elapsed = time.monotonic() - started
    rate = done / elapsed if elapsed > 0 else 0.0
    stream.write(f"\rgrading [{'#' * filled}{'.' * (width - filled)}] {done}/{total} "
                 f"({rate:.2f} notebooks/s)")
    stream.flush()


def course_config(root: Path):
    """The course's nbgrader configuration as nbgrader resolves it from the course's nbgrader_config.py."""
    from traitlets.config.loader import PyFileConfigLoader

    previous = os.getcwd()
    os.chdir(root)
    try:
        return PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    finally:
        os.chdir(previous)


def _uses_grading_kernel(config) -> bool:
    """Whether the course grades through the trusted grading kernel (which the zygote forks, warm)."""
    from mlkit.grading import kernel

    return config.ResilientExecute.get("kernel_name") == kernel.KERNEL_NAME


def preflight(config) -> None:
    """Stop before the first notebook if student code would run unsandboxed against the course's wishes."""
    from mlkit.grading import sandbox

    sandbox.require(config.ResilientExecute.get("allow_unsandboxed", False))


def grade(root: Path, assignments: list[str], jobs: int | None = None, force: bool = False,
          progress: bool = True, forked_kernels: bool = True) -> list[tuple[str, str, bool, float]]:
    """Autograde every submission of `assignments`; returns (assignment, student, ok, seconds) per task."""
    tasks = submissions(root, assignments)
    if not tasks:
        return []
    config = course_config(root)
    preflight(config)
    # nbgrader's default gradebook is SQLite at the course root; workers sharing it wait for each other.
    db_url = None if config.CourseDirectory.get("db_url") else _db_url(root)
    jobs = jobs or 2 * (os.cpu_count() or 1)
    use_zygote = forked_kernels and _uses_grading_kernel(config)
    if use_zygote:
        from mlkit import zygote

        zygote.install()
    started = time.monotonic()
    results = []
    context = multiprocessing.get_context("fork")
    pool = context.Pool(min(jobs, len(tasks)), initializer=_start_worker, initargs=(use_zygote,))
    try:
        work = [(a, s, str(root), force, db_url) for a, s in tasks]
        for result in pool.imap_unordered(_grade_one, work):
            results.append(result)
            if progress:
                _progress(len(results), len(tasks), started)
        pool.close()  # workers exit normally, so each closes its zygote
    finally:
        pool.join() if results and len(results) == len(tasks) else pool.terminate()
    if progress:
        sys.stderr.write("\n")
    return results


def main(assignments: list[str], jobs: int | None, force: bool, course_dir: str | None = None) -> int:
    from mlkit import catalog, course

    root = Path(course_dir).resolve() if course_dir else course.ROOT
    names = assignments or catalog.assignments(root)
    from mlkit.grading.sandbox import SandboxUnavailable

    try:
        results = grade(root, names, jobs, force)
    except SandboxUnavailable as stop:
        print(f"mlkit grade: {stop}", file=sys.stderr)
        return 2
    failed = [(a, s) for a, s, ok, _ in results if not ok]
    print(f"graded {len(results) - len(failed)} of {len(results)} submissions")
    for a, s in failed:
        print(f"  failed: {s} / {a} (see the autograde log above)")
    return 1 if failed else 0
