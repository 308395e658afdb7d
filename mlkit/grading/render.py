"""One graded submission's feedback pages, rendered in this process by nbgrader's own GenerateFeedbackApp.

Runs in the process that renders (a worker of the local pool or a Dask worker); trusts the course's files,
configuration and gradebook; runs no student code (rendering executes nothing).

`render_one` is what every back-end (`mlkit.grading.backends`) runs per graded submission (a folder
`autograded/<student>/<assignment>/`), with the course's `nbgrader_config.py`: the same preprocessors,
exporter and template as `nbgrader generate_feedback`, so the page is the one stock writes
(tests/test_feedback.py compares them). Without `force`, a submission whose feedback is newer than its
grading is skipped, as nbgrader skips it. Feedback only reads the gradebook.

`install_template_cache()` (explicit, idempotent) keeps the compiled page templates for every later
render in this process.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from mlkit.grading import autograde

WRITTEN, SKIPPED, FAILED = "written", "skipped", "failed"


def graded_submissions(root: Path, assignments: list[str]) -> list[tuple[str, str]]:
    """(assignment, student) for every autograded folder of the given assignments."""
    return autograde.submissions(root, assignments, "autograded")


def _page_stamp(root: str, assignment: str, student: str) -> tuple | None:
    """When the feedback pages of a submission were written (None: none yet)."""
    folder = Path(root) / "feedback" / student / assignment
    stamps = sorted((p.name, p.stat().st_mtime_ns) for p in folder.glob("*.html")) if folder.is_dir() else []
    return tuple(stamps) or None


def install_template_cache() -> None:
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


def render_one(root: str, assignment: str, student: str, force: bool, db_url: str | None = None,
               config=None) -> tuple[str, str, str, float]:
    """(assignment, student, WRITTEN / SKIPPED / FAILED, seconds): nbgrader's GenerateFeedbackApp for one
    graded submission of the course in `root`, in this process.

    `db_url`: the gradebook to read (default: the course's); `config`: nbgrader's configuration as resolved
    elsewhere (a cluster worker gets the course's), under the folder's own configuration files."""
    autograde.install_speedups()  # before nbgrader's first import in this process
    from nbgrader.apps import GenerateFeedbackApp

    install_template_cache()
    started = time.monotonic()
    before = None if force else _page_stamp(root, assignment, student)
    previous = os.getcwd()
    os.chdir(root)
    try:
        ok = autograde.run_for_one_submission(GenerateFeedbackApp, assignment, student, force, db_url, config)
    finally:
        os.chdir(previous)
    after = _page_stamp(root, assignment, student)
    status = FAILED if not ok or after is None else SKIPPED if before is not None and after == before else WRITTEN
    return assignment, student, status, time.monotonic() - started


def summary(results: list[tuple]) -> str:
    """One line saying what a feedback run did."""
    counts = {status: sum(1 for r in results if r[2] == status) for status in (WRITTEN, SKIPPED, FAILED)}
    line = f"feedback written for {counts[WRITTEN]} of {len(results)} submissions"
    if counts[SKIPPED]:
        line += f"; skipped {counts[SKIPPED]} already up to date (--force writes them again)"
    if counts[FAILED]:
        line += f"; {counts[FAILED]} failed"
    return line
