"""One submission autograded, in this process, by nbgrader's own AutogradeApp: what every back-end runs.

Runs in the process that grades (a worker of `mlkit grade`'s local pool, a Dask worker, self-study's
command); trusts the course's files and configuration, never the submission, whose code nbgrader hands to
the grading kernel (`mlkit.grading.kernel`) and through it to the sandbox (`mlkit.grading.sandbox`).

`grade_one` is the one autograde of one (assignment, student): nbgrader's `AutogradeApp` with the course's
`nbgrader_config.py`, so the grading boundary, the sandbox and every preprocessor apply exactly as with
`nbgrader autograde`, and grades land in the same gradebook.  The back-ends (`mlkit.grading.backends`)
decide where it runs.

`install_speedups()` (called by every entry point below; idempotent) makes nbgrader cheaper to run many
times in one process without changing what it does:
- the import of `rfc3987_syntax` (a grammar built at import time, only used to validate URI formats in
  Jupyter's event schemas, which grading never emits) is skipped, in this process only, when nbgrader is not
  imported yet;
- each metadata schema is checked against the JSON Schema meta-schema once, not once per cell;
- a process keeps one database engine per gradebook, with its compiled queries, instead of a new one each
  time nbgrader opens the gradebook.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from pathlib import Path

from mlkit.grading import limits


def _check_each_schema_once() -> None:
    """nbgrader checks every cell's metadata with `jsonschema.validate`, which first validates the schema
    itself against the JSON Schema meta-schema: most of the cost, the same answer every time.  Here each
    schema is checked once and its validator kept; the metadata is validated exactly as before."""
    import json
    import types

    import jsonschema
    from nbgrader.nbgraderformat import common

    validators: dict[str, object] = {}

    def validate(instance, schema):
        key = json.dumps(schema, sort_keys=True)
        validator = validators.get(key)
        if validator is None:
            kind = jsonschema.validators.validator_for(schema)
            kind.check_schema(schema)
            validator = validators[key] = kind(schema)
        error = jsonschema.exceptions.best_match(validator.iter_errors(instance))
        if error is not None:
            raise error

    common.jsonschema = types.SimpleNamespace(validate=validate)


def _share_database_engines() -> None:
    """nbgrader opens its gradebook about ten times per notebook, each time with a new SQLAlchemy engine,
    so every query is compiled anew and the tables are looked up again.  Here a worker keeps one engine per
    database URL (per process: never one inherited across a fork), with its compiled queries, and makes sure
    of the tables once: same database, same sessions and commits."""
    import sqlalchemy
    from nbgrader import api

    engines: dict[tuple, sqlalchemy.engine.Engine] = {}

    def create_engine(url, **options):
        key = (os.getpid(), str(url), tuple(sorted(options.items())))
        engine = engines.get(key)
        if engine is None:
            engine = engines[key] = sqlalchemy.create_engine(url, **options)
        return engine

    api.create_engine = create_engine

    # Each Gradebook also asks the database which tables it has and creates the missing ones; once they
    # exist in this worker's database, they stay.
    ensured: set[int] = set()
    create_all = api.Base.metadata.create_all

    class Tables:
        def __init__(self, names):
            self.names = names

        def get_table_names(self):
            return self.names

    def inspect(engine):
        if id(engine) in ensured:
            return Tables(["assignment"])  # only "there are tables" is asked of it
        return sqlalchemy.inspect(engine)

    def create_tables(bind=None, **options):
        if id(bind) in ensured:
            return
        create_all(bind=bind, **options)
        if any(bind is engine for engine in engines.values()):
            ensured.add(id(bind))

    api.inspect = inspect
    api.Base.metadata.create_all = create_tables


_SPEEDUPS_INSTALLED = False


def install_speedups() -> None:
    """Make nbgrader cheaper to run many times in this process (see the module docstring); what it does is
    unchanged.  Idempotent; a forked child keeps its parent's."""
    global _SPEEDUPS_INSTALLED
    if _SPEEDUPS_INSTALLED:
        return
    # Skipped only if nothing has imported jsonschema's format checkers yet.
    sys.modules.setdefault("rfc3987_syntax", None)
    _check_each_schema_once()
    _share_database_engines()
    _SPEEDUPS_INSTALLED = True


def submissions(root: Path, assignments: list[str], stage: str = "submitted") -> list[tuple[str, str]]:
    """(assignment, student) for every folder of the given assignments in `stage` (submitted/ or autograded/)."""
    found = []
    for assignment in assignments:
        for folder in sorted((root / stage).glob(f"*/{assignment}")):
            if folder.is_dir():
                found.append((assignment, folder.parent.name))
    return found


GRADED, SKIPPED, FAILED = "graded", "skipped", "failed"


def _graded_stamp(root: str, assignment: str, student: str) -> tuple | None:
    """When the graded notebooks of a submission were written (None: not graded yet)."""
    folder = Path(root) / "autograded" / student / assignment
    stamps = sorted((p.name, p.stat().st_mtime_ns) for p in folder.glob("*.ipynb")) if folder.is_dir() else []
    return tuple(stamps) or None


def grade_one(task: tuple[str, str, str, bool, str | None], config=None,
              kernel_name: str | None = None) -> tuple[str, str, str, float]:
    """(assignment, student, GRADED / SKIPPED / FAILED, seconds) for one submission.

    `task`: (assignment, student, course root, force, gradebook URL or None for the course's own).
    `config`, when given, is nbgrader's configuration as resolved elsewhere (a cluster worker gets the
    course's); the folder's own configuration files and the arguments still apply over it.
    `kernel_name`: the kernelspec to grade with instead of the course's (the forked kernel of a warm zygote
    this process holds), or None."""
    install_speedups()  # before nbgrader's first import in this process
    from nbgrader.apps import AutogradeApp

    assignment, student, root, force, db_url = task
    started = time.monotonic()
    before = None if force else _graded_stamp(root, assignment, student)
    # SQLAlchemy's autoflush notes from nbgrader's gradebook code are not ours to act on.
    warnings.filterwarnings("ignore", message=".*not in session.*")
    os.chdir(root)
    # nbgrader logs a warning per restored test cell of every notebook; errors still show.
    # nbconvert checks the notebook against the schema after each of nbgrader's eight preprocessors;
    # optimistic validation checks it once, after the last (the notebook read was checked already).
    extra = ["--Exporter.optimistic_validation=True"]
    if kernel_name:
        extra.append(f"--ResilientExecute.kernel_name={kernel_name}")
    ok = run_for_one_submission(AutogradeApp, assignment, student, force, db_url, config, extra)
    # Without --force nbgrader skips a submission graded before (unless it was submitted again since).
    status = FAILED if not ok else SKIPPED if before is not None and _graded_stamp(root, assignment, student) == before \
        else GRADED
    return assignment, student, status, time.monotonic() - started


def run_for_one_submission(app_class, assignment: str, student: str, force: bool, db_url: str | None, config,
                           extra: list[str] = ()) -> bool:
    """Run nbgrader's `app_class` (AutogradeApp, GenerateFeedbackApp) in this process for one student's
    submission of `assignment`, in the current folder; whether it succeeded.

    nbgrader exits non-zero when a submission failed; any other error has been logged by nbgrader: that
    submission fails and the class goes on."""
    install_speedups()
    argv = [assignment, "--student", student, "--log-level=ERROR", *extra]
    if force:
        argv.append("--force")
    if db_url:
        argv.append(f"--CourseDirectory.db_url={db_url}")
    app = app_class(config=config) if config is not None else app_class()
    try:
        app.initialize(argv)
        app.start()
        return True
    except SystemExit as stop:
        return stop.code in (0, None)
    except Exception:  # noqa: BLE001
        return False
    finally:
        app_class.clear_instance()


def tools_on_path() -> None:
    """nbgrader runs `alembic` (beside this Python) when it creates a gradebook."""
    tools = str(Path(sys.executable).parent)
    if tools not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = tools + os.pathsep + os.environ.get("PATH", "")


def grade_here(root: Path, assignment: str, student: str, kernel_name: str | None = None) -> bool:
    """Autograde one submission in this process (self-study's fast path); True if nbgrader reported success."""
    tools_on_path()
    previous_folder = os.getcwd()
    try:
        return grade_one((assignment, student, str(root), True, None), kernel_name=kernel_name)[2] == GRADED
    finally:
        os.chdir(previous_folder)


def run_app(app_class, root: Path, argv: list[str]) -> bool:
    """Run another nbgrader application (generate_assignment, generate_feedback) in this process, in `root`."""
    install_speedups()
    tools_on_path()
    previous = os.getcwd()
    os.chdir(root)
    app = app_class()
    try:
        app.initialize([*argv, "--log-level=ERROR"])
        app.start()
        return True
    except SystemExit as stop:
        return stop.code in (0, None)
    finally:
        app_class.clear_instance()
        os.chdir(previous)


def worker_db_url(db_url: str) -> str:
    """The gradebook URL the workers use: a SQLite file is shared, so a writer waits for the lock."""
    if db_url.startswith("sqlite:") and "timeout=" not in db_url:
        return db_url + ("&" if "?" in db_url else "?") + f"timeout={limits.SQLITE_BUSY_SECONDS}"
    return db_url


def add_missing_students(config, db_url: str, students: set[str]) -> None:
    """Put every student in the gradebook before the workers start, as autograde would one at a time.

    Two workers grading two assignments of one new student would both add the student, and on a
    server database (PostgreSQL) one of them would fail on the duplicate row."""
    from nbgrader.api import Gradebook, MissingEntry

    if not config.Autograde.get("create_student", True):
        return  # the course wants unknown students refused, which autograde itself reports
    with Gradebook(db_url, config.CourseDirectory.get("course_id", "default_course")) as gradebook:
        for student in sorted(students):
            try:
                gradebook.find_student(student)
            except MissingEntry:
                gradebook.update_or_create_student(student)


def uses_grading_kernel(config) -> bool:
    """Whether the course grades through the trusted grading kernel (which the zygote forks, warm)."""
    from mlkit.grading.kernel import spec as kernel_spec

    return config.ResilientExecute.get("kernel_name") == kernel_spec.KERNEL_NAME


def preflight(config) -> None:
    """Stop before the first notebook if student code would run unsandboxed against the course's wishes."""
    from mlkit.grading.sandbox import launcher

    launcher.require(config.ResilientExecute.get("allow_unsandboxed", False))
