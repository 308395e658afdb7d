"""Feedback for a whole class in parallel, through nbgrader's own GenerateFeedbackApp.

    mlkit feedback [ASSIGNMENT ...] [--jobs N] [--force]     (the command: mlkit.grading.class_feedback)

Each graded submission (a folder `autograded/<student>/<assignment>/`) is one task; worker processes, forked
like `mlkit grade`'s (nbgrader imported once, its metadata schemas checked once, one database engine per
worker), run nbgrader's `GenerateFeedbackApp` for that one student, in-process, with the course's
`nbgrader_config.py`: the same preprocessors, exporter and template as `nbgrader generate_feedback`, so the
page is the one stock writes (tests/test_feedback.py compares them). Without `--force`, a submission whose
feedback is newer than its grading is skipped, as nbgrader skips it. Feedback only reads the gradebook.

What is saved against one `nbgrader generate_feedback` per assignment: nbgrader's start-up (most of the
stock command's time for a small class) once per run instead of once per assignment, the page templates
compiled once per worker instead of once per command, and the pages of different submissions rendered side
by side on every core. A progress bar (tqdm) on stderr counts submissions.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from pathlib import Path

from mlkit.grading import parallel

WRITTEN, SKIPPED, FAILED = "written", "skipped", "failed"


def graded_submissions(root: Path, assignments: list[str]) -> list[tuple[str, str]]:
    """(assignment, student) for every autograded folder of the given assignments."""
    return parallel.submissions(root, assignments, "autograded")


def _page_stamp(root: str, assignment: str, student: str) -> tuple | None:
    """When the feedback pages of a submission were written (None: none yet)."""
    folder = Path(root) / "feedback" / student / assignment
    stamps = sorted((p.name, p.stat().st_mtime_ns) for p in folder.glob("*.html")) if folder.is_dir() else []
    return tuple(stamps) or None


def _share_compiled_templates() -> None:
    """nbconvert makes a new Jinja environment for every exporter, i.e. for every GenerateFeedbackApp, and
    compiles the page's nine templates again each time. A bytecode cache shared by this process's exporters
    keeps the compiled code, keyed by each template's name and the checksum of its source, so an edited
    template is compiled anew; what is rendered is unchanged."""
    import jinja2
    from nbconvert.exporters.templateexporter import TemplateExporter

    stored: dict[str, bytes] = {}

    class InMemory(jinja2.BytecodeCache):
        def load_bytecode(self, bucket):
            code = stored.get(bucket.key)
            if code is not None:
                bucket.bytecode_from_string(code)

        def dump_bytecode(self, bucket):
            stored[bucket.key] = bucket.bytecode_to_string()

    cache = InMemory()
    create = TemplateExporter._create_environment
    if getattr(create, "shares_bytecode", False):
        return

    def create_environment(self):
        environment = create(self)
        environment.bytecode_cache = cache
        return environment

    create_environment.shares_bytecode = True
    TemplateExporter._create_environment = create_environment


_share_compiled_templates()


def render_one(root: str, assignment: str, student: str, force: bool, db_url: str | None = None,
               config=None) -> tuple[str, str, str, float]:
    """(assignment, student, WRITTEN / SKIPPED / FAILED, seconds): nbgrader's GenerateFeedbackApp for one
    graded submission of the course in `root`, in this process.

    `db_url`: the gradebook to read (default: the course's); `config`: nbgrader's configuration as resolved
    elsewhere (a cluster worker gets the course's), under the folder's own configuration files."""
    from nbgrader.apps import GenerateFeedbackApp

    started = time.monotonic()
    before = None if force else _page_stamp(root, assignment, student)
    previous = os.getcwd()
    os.chdir(root)
    try:
        ok = parallel.run_for_one_submission(GenerateFeedbackApp, assignment, student, force, db_url, config)
    finally:
        os.chdir(previous)
    after = _page_stamp(root, assignment, student)
    status = FAILED if not ok or after is None else SKIPPED if before is not None and after == before else WRITTEN
    return assignment, student, status, time.monotonic() - started


def _render_task(task: tuple[str, str, str, bool, str]) -> tuple[str, str, str, float]:
    root, assignment, student, force, db_url = task
    return render_one(root, assignment, student, force, db_url)


def generate(root: Path, assignments: list[str], jobs: int | None = None, force: bool = False,
             progress: bool = True, config=None) -> list[tuple[str, str, str, float]]:
    """Feedback for every graded submission of `assignments`; (assignment, student, status, seconds) each.

    `config`: the course's configuration as `mlkit.course.course_config` resolves it (resolved here if not given)."""
    tasks = graded_submissions(root, assignments)
    if not tasks:
        return []
    from tqdm import tqdm

    from mlkit import course

    parallel._tools_on_path()
    config = config if config is not None else course.course_config(root)
    db_url = parallel._worker_db_url(config.CourseDirectory.db_url)
    jobs = jobs or os.cpu_count() or 1  # rendering is all CPU: one worker per core
    results = []
    bar = tqdm(total=len(tasks), desc="feedback", unit="notebook", file=sys.stderr, disable=not progress,
               dynamic_ncols=True)
    context = multiprocessing.get_context("fork")
    pool = context.Pool(min(jobs, len(tasks)))
    try:
        work = [(str(root), a, s, force, db_url) for a, s in tasks]
        for result in pool.imap_unordered(_render_task, work):
            results.append(result)
            bar.update()
        pool.close()
    finally:
        bar.close()
        pool.join() if len(results) == len(tasks) else pool.terminate()
    return results


def summary(results: list[tuple]) -> str:
    """One line saying what a feedback run did."""
    counts = {status: sum(1 for r in results if r[2] == status) for status in (WRITTEN, SKIPPED, FAILED)}
    line = f"feedback written for {counts[WRITTEN]} of {len(results)} submissions"
    if counts[SKIPPED]:
        line += f"; skipped {counts[SKIPPED]} already up to date (--force writes them again)"
    if counts[FAILED]:
        line += f"; {counts[FAILED]} failed"
    return line
