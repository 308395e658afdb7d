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
  never emits) is skipped, in this process only; each metadata schema is
  checked against the JSON Schema meta-schema once, not once per cell;
  a worker keeps one database engine, with its compiled queries, instead
  of a new one each time nbgrader opens the gradebook;
- kernel start: each worker forks its kernels from a warm zygote
  (`mlkit.grading.zygote`), and connects to a new kernel without ZeroMQ's 100 ms
  reconnection wait or jupyter_client's 0.2 s of waiting for silence;
- wall time: kernels of different submissions run side by side, one per
  worker, each still a fresh kernel per notebook; a worker, its kernel and
  its student process share one core, where handing a request over is fast.
A progress bar (tqdm) on stderr counts graded submissions.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import sys
import time
import warnings
from pathlib import Path

# Skipped before anything imports jsonschema's format checkers (see module docstring).
sys.modules.setdefault("rfc3987_syntax", None)

from nbgrader.apps import AutogradeApp  # noqa: E402  (after the start-up trim above)


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


_check_each_schema_once()
_share_database_engines()

SQLITE_BUSY_SECONDS = 120  # workers share one SQLite gradebook; a writer waits instead of failing


def submissions(root: Path, assignments: list[str], stage: str = "submitted") -> list[tuple[str, str]]:
    """(assignment, student) for every folder of the given assignments in `stage` (submitted/ or autograded/)."""
    found = []
    for assignment in assignments:
        for folder in sorted((root / stage).glob(f"*/{assignment}")):
            if folder.is_dir():
                found.append((assignment, folder.parent.name))
    return found


_KERNEL_NAME: str | None = None  # per worker: the forked-kernel spec when this worker has a zygote


def _pin_to_one_core(counter) -> None:
    """Keep this worker, its kernels and their student processes on one core (workers take cores in turn).

    The three take turns: a cell or a request goes out, its reply comes back.  Waking a process on the
    core that is already running costs a few microseconds; on another core, tens of them, and a test
    may make thousands of requests to the student process."""
    try:
        cores = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return
    if len(cores) < 2:
        return
    with counter.get_lock():
        index = counter.value
        counter.value += 1
    os.sched_setaffinity(0, {cores[index % len(cores)]})


def _start_worker(use_zygote: bool, counter=None) -> None:
    """Pool initializer: pin this worker to a core, and give it its own kernel zygote (see mlkit.grading.zygote)."""
    global _KERNEL_NAME
    if counter is not None:
        _pin_to_one_core(counter)
    if not use_zygote:
        return
    from multiprocessing.util import Finalize

    from mlkit.grading import zygote

    parent = zygote.Zygote()
    Finalize(parent, parent.close, exitpriority=10)
    _KERNEL_NAME = zygote.KERNEL_NAME


GRADED, SKIPPED, FAILED = "graded", "skipped", "failed"


def _graded_stamp(root: str, assignment: str, student: str) -> tuple | None:
    """When the graded notebooks of a submission were written (None: not graded yet)."""
    folder = Path(root) / "autograded" / student / assignment
    stamps = sorted((p.name, p.stat().st_mtime_ns) for p in folder.glob("*.ipynb")) if folder.is_dir() else []
    return tuple(stamps) or None


def _grade_one(task: tuple[str, str, str, bool, str | None], config=None) -> tuple[str, str, str, float]:
    """(assignment, student, GRADED / SKIPPED / FAILED, seconds) for one submission.

    `config`, when given, is nbgrader's configuration as resolved elsewhere (a cluster worker gets the
    course's); the folder's own configuration files and the arguments still apply over it."""
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
    if _KERNEL_NAME:
        extra.append(f"--ResilientExecute.kernel_name={_KERNEL_NAME}")
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


def _grade_then(after, task: tuple[str, str, str, bool, str | None]) -> tuple:
    """_grade_one's result and, after it, what `after(root, assignment, student, status, db_url)` returns, in the
    worker that has just graded the submission (`mlkit grade --feedback`: its feedback pages)."""
    assignment, student, status, seconds = _grade_one(task)
    return assignment, student, status, seconds, after(task[2], assignment, student, status, task[4])


def _tools_on_path() -> None:
    """nbgrader runs `alembic` (beside this Python) when it creates a gradebook."""
    tools = str(Path(sys.executable).parent)
    if tools not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = tools + os.pathsep + os.environ.get("PATH", "")


def grade_here(root: Path, assignment: str, student: str, kernel_name: str | None = None) -> bool:
    """Autograde one submission in this process (self-study's fast path); True if nbgrader reported success."""
    global _KERNEL_NAME
    _tools_on_path()
    previous_kernel, previous_folder = _KERNEL_NAME, os.getcwd()
    _KERNEL_NAME = kernel_name
    try:
        return _grade_one((assignment, student, str(root), True, None))[2] == GRADED
    finally:
        _KERNEL_NAME = previous_kernel
        os.chdir(previous_folder)


def run_app(app_class, root: Path, argv: list[str]) -> bool:
    """Run another nbgrader application (generate_assignment, generate_feedback) in this process, in `root`."""
    _tools_on_path()
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


def _worker_db_url(db_url: str) -> str:
    """The gradebook URL the workers use: a SQLite file is shared, so a writer waits for the lock."""
    if db_url.startswith("sqlite:") and "timeout=" not in db_url:
        return db_url + ("&" if "?" in db_url else "?") + f"timeout={SQLITE_BUSY_SECONDS}"
    return db_url


def _add_missing_students(config, db_url: str, students: set[str]) -> None:
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


def _uses_grading_kernel(config) -> bool:
    """Whether the course grades through the trusted grading kernel (which the zygote forks, warm)."""
    from mlkit.grading import kernel

    return config.ResilientExecute.get("kernel_name") == kernel.KERNEL_NAME


def preflight(config) -> None:
    """Stop before the first notebook if student code would run unsandboxed against the course's wishes."""
    from mlkit.grading import sandbox

    sandbox.require(config.ResilientExecute.get("allow_unsandboxed", False))


def grade(root: Path, assignments: list[str], jobs: int | None = None, force: bool = False,
          progress: bool = True, forked_kernels: bool = True, config=None, after=None) -> list[tuple]:
    """Autograde every submission of `assignments`; returns (assignment, student, status, seconds) per task.

    `config`: the course's configuration as `mlkit.course.course_config` resolves it (resolved here if not given).
    `after`: a module-level function run by the worker right after each submission, given (root, assignment,
    student, status, db_url); what it returns ends that submission's tuple."""
    tasks = submissions(root, assignments)
    if not tasks:
        return []
    from mlkit import course

    config = config if config is not None else course.course_config(root)
    preflight(config)
    db_url = _worker_db_url(config.CourseDirectory.db_url)
    _add_missing_students(config, db_url, {student for _, student in tasks})
    jobs = jobs or 2 * (os.cpu_count() or 1)
    use_zygote = forked_kernels and _uses_grading_kernel(config)
    if use_zygote:
        from mlkit.grading import zygote

        zygote.install()
    from tqdm import tqdm

    results = []
    bar = tqdm(total=len(tasks), desc="grading", unit="notebook", file=sys.stderr, disable=not progress,
               dynamic_ncols=True)
    context = multiprocessing.get_context("fork")
    workers = min(jobs, len(tasks))
    counter = context.Value("i", 0)
    pool = context.Pool(workers, initializer=_start_worker, initargs=(use_zygote, counter))
    try:
        work = [(a, s, str(root), force, db_url) for a, s in tasks]
        task = _grade_one if after is None else functools.partial(_grade_then, after)
        for result in pool.imap_unordered(task, work):
            results.append(result)
            bar.update()
        pool.close()  # workers exit normally, so each closes its zygote
    finally:
        bar.close()
        pool.join() if results and len(results) == len(tasks) else pool.terminate()
    return results


def main(assignments: list[str], jobs: int | None, force: bool, root: Path, scheduler: str | None = None,
         private_network: bool = False, follow_up=None) -> int:
    """`mlkit grade`: the named assignments (all by default) of the course in `root`, on this machine or, with
    a scheduler (`--scheduler` or `c.MlkitGrade.scheduler`), on the workers of a Dask cluster; a plain tcp://
    scheduler only with `private_network` (--private-network or `c.MlkitGrade.private_network`).

    `follow_up`: the feedback step (the module `mlkit.grading.class_feedback`, given by `mlkit grade --feedback`;
    this module does not import it, which imports this one): on this machine each worker renders a submission's
    feedback right after grading it; on a cluster the same workers render the graded submissions' feedback."""
    from mlkit import course, layout
    from mlkit.grading.sandbox import SandboxUnavailable

    names = assignments or layout.assignments(root)
    config = course.course_config(root)
    scheduler = scheduler or config.get("MlkitGrade", {}).get("scheduler") or None
    reasons: dict[tuple[str, str], str] = {}
    rendered: list[tuple] = []
    try:
        if scheduler:
            from mlkit.grading import cluster

            try:
                found = cluster.grade(root, names, scheduler, force, config=config, private_network=private_network)
                results = [(a, s, status, seconds) for a, s, status, seconds, _ in found]
                if follow_up is not None:
                    again = {(a, s) for a, s, status, _ in results if status == GRADED}
                    rendered = follow_up.on_cluster(root, names, scheduler, again, config, private_network)
            except (cluster.SchedulerLost, cluster.WorkerCannotSandbox, cluster.InsecureTransport,
                    cluster.ConfigNotPortable) as stop:
                print(f"mlkit grade: {stop}", file=sys.stderr)
                return 2
            reasons = {(a, s): why for a, s, _, _, why in found if why}
        else:
            after = follow_up.after_grading if follow_up is not None else None
            results = grade(root, names, jobs, force, config=config, after=after)
            rendered = [(a, s, done, 0.0, "") for a, s, _, _, done in results] if after else []
            results = [result[:4] for result in results]
    except SandboxUnavailable as stop:
        print(f"mlkit grade: {stop}", file=sys.stderr)
        return 2
    by_status = {status: [(a, s) for a, s, got, _ in results if got == status] for status in (GRADED, SKIPPED, FAILED)}
    line = f"graded {len(by_status[GRADED])} of {len(results)} submissions"
    if by_status[SKIPPED]:
        line += f"; skipped {len(by_status[SKIPPED])} graded before (--force grades them again)"
    if by_status[FAILED]:
        line += f"; {len(by_status[FAILED])} failed"
    print(line if results else f"no submissions of {', '.join(names)} in {root / 'submitted'}")
    for a, s in by_status[FAILED]:
        print(f"  failed: {s} / {a} ({reasons.get((a, s), 'see the autograde log above')})")
    if results:
        print(course.format_standing(course.gradebook(root), names))
    failed_pages = follow_up.report(rendered) if follow_up is not None and results else 0
    return 1 if by_status[FAILED] or failed_pages else 0
