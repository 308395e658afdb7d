"""Grading past one machine: each submission autograded on a worker of a Dask distributed scheduler.

    mlkit grade [ASSIGNMENT ...] --scheduler tcp://HOST:8786      (or c.MlkitGrade.scheduler in nbgrader_config.py)

Workers are `dask worker ADDRESS` processes on machines that share no folder with the course: each has the
kit installed (its wheel) and bubblewrap, nothing else of the course. What a worker needs travels with the
task as data, and what it produces travels back:

- to the worker, once per assignment (scattered, so each worker receives it once): the files of `source/<a>/`
  and `release/<a>/`, the course's `nbgrader_config.py`, the course's configuration as nbgrader resolved it on
  the instructor's machine (Jupyter's configuration folders included), and a SQLite gradebook holding the
  assignment as the course's gradebook records it (notebooks, graded, solution, task and source cells, due
  date: what autograde restores the hidden tests from); per submission: the regular files of
  `submitted/<student>/<a>/` (links and special files were first set aside by the same hook `nbgrader
  autograde` runs, and the record of what was left out goes with them);
- on the worker: a scratch course in a temporary folder, made once per assignment from that; per submission
  a copy of it, graded by nbgrader's `AutogradeApp` exactly as `mlkit grade` grades on one machine (the
  sandboxed student process, the boundary, every preprocessor of the course's configuration);
- back to the instructor's machine: the files of `autograded/<student>/<a>/`, and what autograde wrote into the
  gradebook for that submission (each grade's automatic score and whether it needs a manual grade, each
  comment's automatic text, each notebook's late penalty, the submission's time).

One writer: only the process running `mlkit grade` opens the course's gradebook (SQLite or PostgreSQL alike;
workers never need database access). It adds each submission with nbgrader's own
`Gradebook.update_or_create_submission` and sets the fields autograde sets: the graded folder is first written
beside its place (under a name of the same length, so any path that fits there fits), then the rows are
committed, then the folder moves into `autograded/` in one rename. A folder or rows that cannot be written fail
that submission alone, with the reason, and commit nothing. A submission whose grade was committed but whose
folder was not yet moved is graded again by the next run, and lands on the same gradebook rows: nothing is
counted twice.

Faults are Dask's to handle where Dask handles them: a worker that dies mid-notebook has its task run again on
another (Dask's `allowed-failures`); a task that has killed that many workers is reported as this submission's
failure, with the reason, and the rest of the class is still graded. A scheduler that goes away stops the run
with a message; every grade already written stays, and the next run grades only what is missing (with
`--force`, everything again, as nbgrader's `--force`). A worker that cannot sandbox student code refuses every
task with the reason; beyond that, a worker plugin the client registers makes each worker that can sandbox offer
a resource every grading task needs, so the scheduler gives no task to one that cannot, and workers that join
during the run (a batch queue starting them one by one) take tasks as soon as they are up.

Trust: workers hold the hidden tests and the reference solutions of the assignments they grade, as the
instructor's machine does; student code runs only inside each worker's sandbox, and never sees them.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

from mlkit.grading import parallel, submission

SKIPPED_NAMES = {".ipynb_checkpoints", "__pycache__"}


class WorkerCannotSandbox(RuntimeError):
    """This worker would run student code unsandboxed: it grades nothing."""


class SchedulerLost(RuntimeError):
    """The scheduler went away (or never answered) during the run."""


# -- what travels ----------------------------------------------------------------------------------


def read_tree(folder: Path) -> dict[str, bytes]:
    """The regular files under `folder` by relative path, read without following any link."""
    with tempfile.TemporaryDirectory(prefix="mlkit-read-") as scratch:
        copy = Path(scratch) / "copy"
        submission.copy_regular_tree(folder, copy)
        return {p.relative_to(copy).as_posix(): p.read_bytes() for p in sorted(copy.rglob("*"))
                if p.is_file() and not SKIPPED_NAMES & set(p.relative_to(copy).parts)}


def write_tree(files: dict[str, bytes], folder: Path) -> None:
    """Write `files` (relative path -> bytes) under `folder`; a path that would leave it is refused."""
    folder.mkdir(parents=True, exist_ok=True)
    top = folder.resolve()
    for name, data in files.items():
        target = (folder / name).resolve()
        if name.startswith("/") or ".." in Path(name).parts or top not in target.parents:
            raise ValueError(f"refused a file path outside its folder: {name!r}")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def _portable_config(config):
    """A copy of the course's resolved configuration without what names this machine's folders."""
    shown = config.copy()
    shown.CourseDirectory = shown.CourseDirectory.copy()
    for name in ("root", "db_url"):
        shown.CourseDirectory.pop(name, None)
    return shown


def released_gradebook(db_url: str, course_id: str, assignment: str) -> bytes:
    """A SQLite gradebook holding only `assignment` as the course's gradebook records it, as bytes.

    Autograde restores every graded cell from the gradebook's source cells, so a worker grading with this copy
    grades against exactly what stock autograde would (even when source/ was edited and not released again).
    The rows are copied through nbgrader's own Gradebook API: assignment (with its due date), notebooks
    (with their kernelspec), grade, solution, task and source cells with every attribute."""
    from nbgrader.api import Gradebook

    parallel._tools_on_path()  # a new gradebook is stamped with alembic, beside this Python
    with tempfile.TemporaryDirectory(prefix="mlkit-released-") as scratch:
        path = Path(scratch) / "gradebook.db"
        with Gradebook(db_url, course_id) as course_gb, Gradebook(f"sqlite:///{path}", course_id) as gb:
            found = course_gb.find_assignment(assignment)
            gb.add_assignment(assignment, duedate=found.duedate)
            for nb in found.notebooks:
                gb.add_notebook(nb.name, assignment, kernelspec=nb.kernelspec)
                for cell in nb.grade_cells:
                    gb.add_grade_cell(cell.name, nb.name, assignment, max_score=cell.max_score,
                                      cell_type=cell.cell_type)
                for cell in nb.solution_cells:
                    gb.add_solution_cell(cell.name, nb.name, assignment)
                for cell in nb.task_cells:
                    gb.add_task_cell(cell.name, nb.name, assignment, max_score=cell.max_score,
                                     cell_type=cell.cell_type)
                for cell in nb.source_cells:
                    gb.add_source_cell(cell.name, nb.name, assignment, cell_type=cell.cell_type, locked=cell.locked,
                                       source=cell.source, checksum=cell.checksum)
        return path.read_bytes()


def assignment_bundle(root: Path, assignment: str, config, db_url: str) -> dict:
    """What every worker needs to grade `assignment`: the same for each of its submissions."""
    course_id = config.CourseDirectory.get("course_id", "default_course")
    bundle = {
        "assignment": assignment,
        "source": read_tree(root / "source" / assignment),
        "release": read_tree(root / "release" / assignment),
        "config_file": (root / "nbgrader_config.py").read_bytes() if (root / "nbgrader_config.py").is_file() else b"",
        "config": pickle.dumps(config),
        "gradebook": released_gradebook(db_url, course_id, assignment),
    }
    digest = hashlib.sha256(pickle.dumps(sorted((k, v) for k, v in bundle.items() if k != "config")))
    digest.update(bundle["config"])
    bundle["key"] = digest.hexdigest()[:16]
    return bundle


# -- the worker's side -----------------------------------------------------------------------------

_TEMPLATES: dict[str, Path] = {}  # per worker process: bundle key -> scratch course of that assignment
_ZYGOTE = None
# A worker's folders hold hidden tests and student work: named after the worker's process, removed when it
# exits, and, should it be killed, by the next worker that starts grading on the machine.
TEMPLATE_PREFIX, SCRATCH_PREFIX = "mlkit-worker-", "mlkit-grading-"


def _sweep_and_clean_up_at_exit() -> None:
    import atexit

    from mlkit.grading import sandbox

    sandbox.sweep_stale_folders((TEMPLATE_PREFIX, SCRATCH_PREFIX))
    atexit.register(lambda: [shutil.rmtree(folder, ignore_errors=True) for folder in _TEMPLATES.values()])


def _worker_sandbox_refusal() -> str:
    """'' if this machine sandboxes student code; otherwise why not."""
    from mlkit.grading import sandbox

    mode = sandbox.detect()
    return "" if mode.name != "none" else f"this worker cannot sandbox student code: {mode.why}"


def _template(bundle: dict) -> Path:
    """A scratch course holding the assignment as the course released it (made once per worker process)."""
    key = bundle["key"]
    if key in _TEMPLATES and _TEMPLATES[key].is_dir():
        return _TEMPLATES[key]
    if not _TEMPLATES:
        _sweep_and_clean_up_at_exit()
    folder = Path(tempfile.mkdtemp(prefix=f"{TEMPLATE_PREFIX}{os.getpid()}-{key}-"))
    assignment = bundle["assignment"]
    (folder / "nbgrader_config.py").write_bytes(bundle["config_file"])
    write_tree(bundle["source"], folder / "source" / assignment)
    write_tree(bundle["release"], folder / "release" / assignment)
    (folder / "gradebook.db").write_bytes(bundle["gradebook"])
    _TEMPLATES[key] = folder
    return folder


def _start_zygote(config) -> str | None:
    """This worker's warm kernel parent, as `mlkit grade`'s local workers have (None: plain kernels)."""
    global _ZYGOTE
    if not parallel._uses_grading_kernel(config):
        return None
    from mlkit.grading import zygote

    if _ZYGOTE is None:
        import atexit

        zygote.install()
        _ZYGOTE = zygote.Zygote()
        atexit.register(_ZYGOTE.close)
    return zygote.KERNEL_NAME


def _records(url: str, assignment: str, student: str) -> dict:
    """What autograde wrote into the scratch gradebook for this submission, as plain data."""
    from nbgrader.api import Gradebook

    with Gradebook(url) as gb:
        found = gb.find_submission(assignment, student)
        return {
            "timestamp": found.timestamp,
            "notebooks": {
                nb.name: {
                    "late_submission_penalty": nb.late_submission_penalty,
                    "grades": {g.name: (g.auto_score, g.needs_manual_grade) for g in nb.grades},
                    "comments": {c.name: c.auto_comment for c in nb.comments},
                } for nb in found.notebooks
            },
        }


def grade_submission(bundle: dict, student: str, files: dict[str, bytes], left_out: bytes | None) -> dict:
    """A Dask task: autograde one submission in a scratch course; return its graded files and gradebook rows."""
    refusal = _worker_sandbox_refusal()
    if refusal:
        raise WorkerCannotSandbox(refusal)
    parallel._tools_on_path()
    assignment = bundle["assignment"]
    template = _template(bundle)
    config = pickle.loads(bundle["config"])
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-") as scratch:
        folder = Path(scratch) / "course"
        shutil.copytree(template, folder)
        submitted = folder / "submitted" / student / assignment
        write_tree(files, submitted)
        if left_out is not None:
            write_tree({submission.RECORD_NAME: left_out}, submission.left_out_folder(submitted))
        url = f"sqlite:///{folder / 'gradebook.db'}"
        kernel_name = _start_zygote(config)
        previous_kernel, previous_folder = parallel._KERNEL_NAME, os.getcwd()
        parallel._KERNEL_NAME = kernel_name
        try:
            _, _, status, _ = parallel._grade_one((assignment, student, str(folder), True, url), config)
        finally:
            parallel._KERNEL_NAME = previous_kernel
            os.chdir(previous_folder)
        graded = folder / "autograded" / student / assignment
        if status != parallel.GRADED or not graded.is_dir():
            return {"status": parallel.FAILED, "reason": "nbgrader autograde failed on the worker",
                    "seconds": time.monotonic() - started}
        return {"status": parallel.GRADED, "files": read_tree(graded), "records": _records(url, assignment, student),
                "seconds": time.monotonic() - started}


SANDBOX_RESOURCE = "mlkit-sandbox"  # what a worker that sandboxes student code offers; every grading task needs it


def _sandbox_check_plugin():
    """A Dask worker plugin: a worker that can sandbox student code offers SANDBOX_RESOURCE (one per thread);
    one that cannot offers nothing and logs why, so the scheduler never gives it a grading task. Registered
    by the client, it runs on every worker, those that join during the run included."""
    from distributed.diagnostics.plugin import WorkerPlugin

    class SandboxCheck(WorkerPlugin):
        idempotent = True
        name = "mlkit-sandbox-check"

        async def setup(self, worker):
            why = _worker_sandbox_refusal()
            if why:
                logging.getLogger("distributed.worker").warning("mlkit: no grading here: %s", why)
                return
            await worker.set_resources(**{SANDBOX_RESOURCE: worker.state.nthreads})

    return SandboxCheck()


def refusals(client) -> dict[str, str]:
    """{worker address: why it cannot sandbox} for every worker that cannot (asked of each worker)."""
    answers = client.run(_worker_sandbox_refusal)
    return {address: why for address, why in answers.items() if why}


# -- the instructor's side: the one writer ---------------------------------------------------------


def staging_folder(root: Path, assignment: str, student: str) -> Path:
    """Where a graded folder is written before it moves into place: beside it, with a name of the same length
    (a dot for its first character), so that every path that fits under autograded/ fits while it arrives."""
    return root / "autograded" / student / ("." + assignment[1:] if len(assignment) > 1 else ".")


def write_result(gb, root: Path, assignment: str, student: str, result: dict) -> None:
    """Record one graded submission: its graded folder written aside, its gradebook rows committed, then the
    folder moved into place in one rename. A folder that cannot be written costs this submission only, and
    before anything is committed: its rows are rolled back and its partial folder removed."""
    target = root / "autograded" / student / assignment
    staging = staging_folder(root, assignment, student)
    shutil.rmtree(staging, ignore_errors=True)
    try:
        write_tree(result["files"], staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    records = result["records"]
    try:
        gb.update_or_create_submission(assignment, student, timestamp=records["timestamp"])
        for name, wrote in records["notebooks"].items():
            notebook = gb.find_submission_notebook(name, assignment, student)
            notebook.late_submission_penalty = wrote["late_submission_penalty"]
            for grade in notebook.grades:
                if grade.name in wrote["grades"]:
                    grade.auto_score, grade.needs_manual_grade = wrote["grades"][grade.name]
            for comment in notebook.comments:
                if comment.name in wrote["comments"]:
                    comment.auto_comment = wrote["comments"][comment.name]
        gb.db.commit()
    except BaseException:
        gb.db.rollback()
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if target.exists():
        shutil.rmtree(target)
    os.rename(staging, target)


def _pending(root: Path, assignments: list[str], force: bool) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(to grade, skipped): a submission with a graded folder is skipped unless `force`, as autograde does."""
    todo, skipped = [], []
    for assignment, student in parallel.submissions(root, assignments):
        graded = root / "autograded" / student / assignment
        (skipped if graded.is_dir() and not force else todo).append((assignment, student))
    return todo, skipped


def _describe(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0][:300] if text else ''}".rstrip(": ")


def grade(root: Path, assignments: list[str], scheduler: str, force: bool = False, progress: bool = True,
          timeout: float | None = None, config=None) -> list[tuple[str, str, str, float, str]]:
    """Grade on the workers of `scheduler`; (assignment, student, status, seconds, reason) per submission.

    `config`: the course's configuration as `mlkit.course.course_config` resolves it (resolved here if not given).

    `timeout`: how long to wait for the scheduler and its first worker; by default Dask's own setting
    (`distributed.comm.timeouts.connect`, e.g. DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT=10s)."""
    from distributed import Client, as_completed
    from nbgrader.api import Gradebook
    from tqdm import tqdm

    from mlkit import course

    warnings.filterwarnings("ignore", message=".*not in session.*")  # nbgrader's SQLAlchemy autoflush notes
    parallel._tools_on_path()  # nbgrader runs alembic (beside this Python) when it opens a new gradebook
    todo, skipped = _pending(root, assignments, force)
    results = [(a, s, parallel.SKIPPED, 0.0, "") for a, s in skipped]
    if not todo:
        return results
    config = config if config is not None else course.course_config(root)
    db_url = parallel._worker_db_url(config.CourseDirectory.db_url)
    parallel._add_missing_students(config, db_url, {student for _, student in todo})
    try:
        client = Client(scheduler, set_as_default=False, **({"timeout": timeout} if timeout else {}))
    except (OSError, TimeoutError) as error:
        raise SchedulerLost(f"no Dask scheduler answered at {scheduler} ({_describe(error)})") from error
    bar = None
    try:
        dashboard = _dashboard(client)
        if dashboard and progress:
            print(f"Dask dashboard: {dashboard}", file=sys.stderr)
        client.wait_for_workers(1, timeout=timeout or 60)
        client.register_plugin(_sandbox_check_plugin(), name="mlkit-sandbox-check")
        refused = refusals(client)
        for address, why in refused.items():
            print(f"mlkit grade: worker {address} refuses to grade: {why}", file=sys.stderr)
        able = [w for w in client.scheduler_info()["workers"] if w not in refused]
        if not able:
            raise WorkerCannotSandbox("no worker of the scheduler can sandbox student code; nothing was graded")
        shown = _portable_config(config)
        bundles = {a: assignment_bundle(root, a, shown, db_url) for a in sorted({a for a, _ in todo})}
        scattered: dict[str, object] = {}

        def bundle_on_workers(assignment: str):
            # A copy on every worker, so a worker's death loses none; scattered data has no lineage to
            # recompute it from, so a bundle whose every holder died is scattered again (see below).
            # In a list: a dict given to scatter would become one Dask key per entry, named by its keys.
            if assignment not in scattered:
                (scattered[assignment],) = client.scatter([bundles[assignment]], broadcast=True, hash=False)
            return scattered[assignment]

        files = {}
        for assignment, student in todo:
            folder = root / "submitted" / student / assignment
            submission.set_aside(folder)  # what autograde's pre-convert hook does, before the files are read
            record = submission.left_out_folder(folder) / submission.RECORD_NAME
            left_out = record.read_bytes() if record.is_file() and not record.is_symlink() else None
            files[(assignment, student)] = (read_tree(folder), left_out)

        def send(assignment: str, student: str):
            return client.submit(grade_submission, bundle_on_workers(assignment), student,
                                 *files[(assignment, student)],
                                 key=f"mlkit-grade-{assignment}-{student}-{os.urandom(4).hex()}",
                                 resources={SANDBOX_RESOURCE: 1}, pure=False)

        futures = {send(a, s): (a, s) for a, s in todo}
        resent: dict[tuple[str, str], int] = {}
        bar = tqdm(total=len(futures), desc="grading", unit="notebook", file=sys.stderr, disable=not progress,
                   dynamic_ncols=True)
        with Gradebook(db_url, config.CourseDirectory.get("course_id", "default_course")) as gb:
            running = as_completed(list(futures), loop=client.loop)
            for future in running:
                assignment, student = futures.pop(future)
                try:
                    result = future.result()
                except WorkerCannotSandbox as refusal:
                    result = {"status": parallel.FAILED, "reason": _describe(refusal), "seconds": 0.0}
                except Exception as error:  # noqa: BLE001 - one submission's failure, named, never the class's
                    if _is_lost(client, error):
                        raise SchedulerLost(f"the scheduler at {scheduler} went away ({_describe(error)}); every "
                                            "grade written so far is kept: run the same command again to grade "
                                            "the rest") from error
                    if type(error).__name__ == "FutureCancelledError" and resent.get((assignment, student), 0) < 3:
                        # The workers holding this assignment's files all died: send them again.
                        resent[(assignment, student)] = resent.get((assignment, student), 0) + 1
                        scattered.pop(assignment, None)
                        again = send(assignment, student)
                        futures[again] = (assignment, student)
                        running.add(again)
                        continue
                    result = {"status": parallel.FAILED, "reason": _describe(error), "seconds": 0.0}
                if result["status"] == parallel.GRADED:
                    try:
                        write_result(gb, root, assignment, student, result)
                    except Exception as error:  # noqa: BLE001 - this submission's folder or rows, not the class's
                        result = {"status": parallel.FAILED, "seconds": result["seconds"],
                                  "reason": f"its graded folder or gradebook rows could not be written "
                                            f"({_describe(error)})"}
                results.append((assignment, student, result["status"], result["seconds"], result.get("reason", "")))
                bar.update()
    except (SchedulerLost, WorkerCannotSandbox):
        raise
    except Exception as error:
        if _is_lost(client, error):
            raise SchedulerLost(f"lost the Dask scheduler at {scheduler} ({_describe(error)}); every grade "
                                "written so far is kept: run the same command again to grade the rest") from error
        raise
    finally:
        if bar is not None:
            bar.close()
        if client.status != "running":
            # The scheduler is gone and the run says so in one line: Dask's client would also log the
            # traceback of its cancelled reconnection while it closes.
            logging.getLogger("distributed.client").setLevel(logging.CRITICAL)
        try:
            client.close(timeout=5)
        except Exception:  # noqa: BLE001 - a scheduler already gone cannot be said goodbye to
            pass
    return results


def _dashboard(client) -> str:
    """The scheduler's dashboard address, if it serves one ('' otherwise).

    A scheduler always runs its HTTP server, but serves the dashboard only where bokeh is installed: the
    address is given only when its page answers."""
    import urllib.request

    if "dashboard" not in client.scheduler_info().get("services", {}):
        return ""
    link = client.dashboard_link
    try:
        with urllib.request.urlopen(link, timeout=2) as page:
            return link if page.status == 200 else ""
    except (OSError, ValueError):
        return ""


def _is_lost(client, error: BaseException) -> bool:
    """Whether a task's error means the scheduler is gone (not that the submission failed)."""
    from distributed.comm.core import CommClosedError

    return isinstance(error, CommClosedError) or client.status != "running"
