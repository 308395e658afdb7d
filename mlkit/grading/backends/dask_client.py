"""Grading past one machine, the client's side: each submission autograded on a worker of a Dask scheduler.

Runs in the process of `mlkit grade` on the instructor's machine, the one writer of the course's gradebook;
trusts the course, and neither the scheduler nor a worker beyond what their answers show (checked as data).
The bundle and the answers: `mlkit.grading.backends.dask_bundle`; the worker's task:
`mlkit.grading.backends.dask_worker`.

    mlkit grade [ASSIGNMENT ...] --scheduler tls://HOST:8786      (or c.MlkitGrade.scheduler in nbgrader_config.py)

Workers are `dask worker ADDRESS` processes on machines that share no folder with the course: each has the
kit installed (its wheel) and bubblewrap, nothing else of the course. What a worker needs travels with the
task as data, and what it produces travels back as data:

- to the worker, once per assignment (scattered, so each worker receives it once), as one msgpack document
  (`assignment_bundle`): the files of `source/<a>/` and `release/<a>/`, the course's configuration as nbgrader
  resolved it on the instructor's machine (Jupyter's configuration folders included) less everything grading
  does not read that may name a credential or this machine (`portable_config`: the gradebook's URL, the
  course's root, the cluster's own settings, exchange and hub sections, any setting named like a password,
  token or secret, any URL that carries a user), and a SQLite gradebook holding the assignment as the course's
  gradebook records it (notebooks, graded, solution, task and source cells, due date: what autograde restores
  the hidden tests from). The course's own `nbgrader_config.py` does not travel: it is code, and may hold the
  gradebook's password. Per submission: the regular files of `submitted/<student>/<a>/` (links and special
  files were first set aside by the same hook `nbgrader autograde` runs, and the record of what was left out
  goes with them), and a nonce;
- on the worker: a scratch course in a temporary folder, made once per assignment from that; per submission
  a copy of it, graded by nbgrader's `AutogradeApp` exactly as `mlkit grade` grades on one machine (the
  sandboxed student process, the boundary, every preprocessor of the course's configuration);
- back to the instructor's machine, as one msgpack document of plain bytes, strings and numbers
  (`pack_result`): the files of `autograded/<student>/<a>/`, what autograde wrote into the gradebook for that
  submission (each grade's automatic score and whether it needs a manual grade, each comment's automatic text,
  each notebook's late penalty, the submission's time), and the nonce's digest with the submission's files.

Who can take part (`cluster_security`): a scheduler is reached over Dask's mutual TLS (`tls://`), with the
cluster's CA, certificate and key from the course (`c.MlkitGrade.tls_ca_file`, `tls_cert_file`,
`tls_key_file`) or from Dask's own configuration (`distributed.comm.tls.*`); the scheduler and the workers
hold the same CA and accept only peers whose certificate it signed, so a client or a worker without the
cluster's credentials neither connects nor receives a bundle. A plain `tcp://` scheduler lets anyone who
reaches its port run code on it and on its workers, so it is refused unless the instructor says the network
is private (`--private-network`, `c.MlkitGrade.private_network = True`).

What a worker (or the scheduler) sends is data, never code (`refuse_unpickling`, `read_result`): the client
takes results only as msgpack (Dask's `deserializers`), subscribes to no worker event, and, while it is
connected, no pickle in this process may name a class or function but Python's own data types (a Python
audit hook on `pickle.find_class`), which is how an unpickled payload runs code: Dask's client otherwise
unpickles the error a task raised and any object a message carries. Each result is checked before anything is written: its
digest names the nonce and the files this client sent for that submission, each score is a number within its
cell's points, each notebook, cell and comment is one of the assignment's, and each file is one of the
submission's or a graded notebook, under a plain relative path. A result that fails a check is refused with
the reason and fails that submission alone. What a worker with the cluster's credentials can still do is
grade wrongly within those bounds: such a worker is trusted as the instructor's machine is.

One writer: only the process running `mlkit grade` opens the course's gradebook (SQLite or PostgreSQL alike;
workers never need database access). It adds each submission with nbgrader's own
`Gradebook.update_or_create_submission` and sets the fields autograde sets: the graded folder is first written
beside its place (under a name of the same length, so any path that fits there fits), then the rows are
committed, then the folder moves into `autograded/` in one step, swapping places with a folder graded before
(`replace_folder`): the graded folder is never missing, whatever stops the run. Writers of one student's results
take turns (a lock on the student's graded folder, `one_writer_at_a_time`), so a result written twice, or by two
runs of `mlkit grade` at once, leaves one graded folder and one set of rows, of the same copy. A folder or rows
that cannot be written fail that submission alone, with the reason, and commit nothing. A submission whose grade was committed but whose
folder was not yet moved is graded again by the next run, and lands on the same gradebook rows: nothing is
counted twice.

Faults are Dask's to handle where Dask handles them: a worker that dies mid-notebook has its task run again on
another (Dask's `allowed-failures`); a task that has killed that many workers is reported as this submission's
failure, and the rest of the class is still graded. A scheduler that goes away stops the run with a message;
every grade already written stays, and the next run grades only what is missing (with `--force`, everything
again, as nbgrader's `--force`). A worker that cannot sandbox student code refuses every task with the reason;
beyond that, a worker plugin the client registers makes each worker that can sandbox offer a resource every
grading task needs, so the scheduler gives no task to one that cannot, and workers that join during the run (a
batch queue starting them one by one) take tasks as soon as they are up.

Reuse: another kind of task (rendering feedback, say) sends its inputs with `pack`, runs its task inside
`refuse_unpickling()` on a client from `connect`, and takes each answer with `unpack` and checks of its own
in the manner of `read_result`.

Trust: workers hold the hidden tests and the reference solutions of the assignments they grade, as the
instructor's machine does; student code runs only inside each worker's sandbox, and never sees them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
import warnings
from pathlib import Path

from mlkit.grading import autograde, submission
from mlkit.grading.backends import dask_bundle, dask_worker

class WorkerCannotSandbox(RuntimeError):
    """This worker would run student code unsandboxed: it grades nothing."""


class SchedulerLost(RuntimeError):
    """The scheduler went away (or never answered) during the run."""


class InsecureTransport(RuntimeError):
    """The scheduler would be reached in a way that lets others in: refused before connecting."""


TLS_SETTINGS = ("tls_ca_file", "tls_cert_file", "tls_key_file")  # course settings of c.MlkitGrade


ENCRYPTED_SCHEMES = {"tls", "wss"}  # Dask's transports that authenticate both ends with the cluster's CA


def cluster_security(scheduler: str, settings, private_network: bool = False):
    """How to reach `scheduler`: a `distributed.Security` holding the cluster's credentials, or None.

    `settings`: the course's `MlkitGrade` section (a mapping; may hold `tls_ca_file`, `tls_cert_file`,
    `tls_key_file`: paths to PEM files); without them, Dask's own configuration (`distributed.comm.tls.ca-file`,
    `distributed.comm.tls.client.cert`, `distributed.comm.tls.client.key`, or DASK_DISTRIBUTED__COMM__TLS__...).
    `private_network`: the instructor says only trusted machines reach the scheduler's port.
    Returns the Security for a `tls://` (or `wss://`) scheduler; None for a plain one on a private network.
    Raises InsecureTransport, naming the fix, for a plain scheduler on a network not said to be private, for a
    TLS scheduler without a CA, certificate and key, and for named files that do not exist."""
    from distributed.comm.addressing import parse_address
    from distributed.security import Security

    scheme, _ = parse_address(scheduler, strict=False)
    named = {name: settings.get(name) or None for name in TLS_SETTINGS}
    if any(named.values()):
        missing = [name for name, value in named.items() if not value]
        if missing:
            raise InsecureTransport("the cluster's credentials are incomplete: set " +
                                    ", ".join(f"c.MlkitGrade.{name}" for name in missing) + " too")
        absent = [f"c.MlkitGrade.{name} = {value!r}" for name, value in named.items() if not Path(value).is_file()]
        if absent:
            raise InsecureTransport(f"no such file: {'; '.join(absent)}")
        security = Security(tls_ca_file=named["tls_ca_file"], tls_client_cert=named["tls_cert_file"],
                            tls_client_key=named["tls_key_file"], require_encryption=True)
    else:
        security = Security()  # Dask's own configuration, if it names the cluster's credentials
    if scheme in ENCRYPTED_SCHEMES:
        if not (security.tls_ca_file and security.tls_client_cert):
            raise InsecureTransport(
                f"{scheduler} needs the cluster's CA, certificate and key: set c.MlkitGrade.tls_ca_file, "
                "c.MlkitGrade.tls_cert_file and c.MlkitGrade.tls_key_file in nbgrader_config.py (or Dask's "
                "distributed.comm.tls.ca-file, .client.cert and .client.key)")
        return security
    if not private_network:
        raise InsecureTransport(
            f"refused to grade on {scheduler}: a plain {scheme}:// scheduler lets anyone who reaches its port run "
            "code on it and on its workers, read the hidden tests and change grades. Use a tls:// scheduler with "
            "the cluster's certificates (c.MlkitGrade.tls_ca_file, tls_cert_file, tls_key_file), or, where only "
            "the instructor's machines reach that port, say so: --private-network (c.MlkitGrade.private_network "
            "= True)")
    return None


_REFUSING = 0  # how many `refuse_unpickling` blocks are open in this process


_AUDIT_HOOK_ADDED = False


class UnpicklingRefused(TypeError):
    """A pickle that names a class or function, refused while this process talks to a cluster.

    A TypeError: Dask's client reads an error's traceback expecting one when it cannot be unpickled."""


# The globals a pickle may still name: Python's own data types, which build values from values and run no code
# of anyone's (Dask names `bytes` as the type of every result and of every error's payload).
DATA_TYPES = frozenset(("builtins", name) for name in (
    "bytes", "bytearray", "str", "int", "float", "complex", "bool", "list", "tuple", "dict", "set", "frozenset"))


def _refuse_named_globals(event: str, args: tuple) -> None:
    if event == "pickle.find_class" and _REFUSING and (args[0], args[1]) not in DATA_TYPES:
        raise UnpicklingRefused(f"refused to unpickle {args[0]}.{args[1]} from the cluster: results are data")


@contextlib.contextmanager
def refuse_unpickling():
    """While open, any pickle this process loads (in any thread: Dask's client runs in its own) fails as soon
    as it names a class or function other than Python's own data types (DATA_TYPES), which every pickle that
    runs code must do; pickles of bytes, strings, numbers and containers of them still load. A Python audit
    hook (added once per process; it stays, idle, after)."""
    global _REFUSING, _AUDIT_HOOK_ADDED
    if not _AUDIT_HOOK_ADDED:
        sys.addaudithook(_refuse_named_globals)
        _AUDIT_HOOK_ADDED = True
    _REFUSING += 1
    try:
        yield
    finally:
        _REFUSING -= 1


def connect(scheduler: str, security, timeout: float | None = None):
    """A Dask client of `scheduler` that reads only msgpack data from it and its workers, and listens to no
    worker's print or warning events. Use it inside `refuse_unpickling()`.

    `security`: from `cluster_security`. `timeout`: seconds to wait for the scheduler (Dask's default if None).
    Raises OSError or TimeoutError when no scheduler answers (or the TLS handshake fails)."""
    from distributed import Client

    options = {"timeout": timeout} if timeout else {}
    client = Client(scheduler, security=security, set_as_default=False, serializers=["msgpack", "pickle"],
                    deserializers=["msgpack"], **options)
    for topic in ("print", "warn"):  # a worker's text would reach the instructor's terminal unchecked
        client.unsubscribe_topic(topic)
    return client


def refusals(client) -> dict[str, str]:
    """{worker address: why it cannot sandbox} for every worker that cannot (asked of each worker)."""
    answers = client.run(dask_worker.sandbox_refusal)
    return {address: dask_bundle.printable(why if isinstance(why, str) else repr(why))
            for address, why in answers.items() if why}


def staging_folder(root: Path, assignment: str, student: str) -> Path:
    """Where a graded folder is written before it moves into place: beside it, with a name of the same length
    (a dot for its first character), so that every path that fits under autograded/ fits while it arrives; for a
    one-character name, that name after a dot (never "." itself: that is the student's folder)."""
    return root / "autograded" / student / ("." + (assignment[1:] if len(assignment) > 1 else assignment))


def write_result(gb, root: Path, assignment: str, student: str, result: dict) -> None:
    """Record one graded submission: its graded folder written aside, its gradebook rows committed, then the
    folder moved into place in one step (`replace_folder`). A folder that cannot be written costs this
    submission only, and before anything is committed: its rows are rolled back and its partial folder removed.

    Writers of one student's results take turns (`one_writer_at_a_time`, held from the staging to the move): a
    second copy of a result (written again, or by a second `mlkit grade` of the course at the same time) lands
    after the first, whole, and the graded folder and the rows are always the same copy's."""
    with one_writer_at_a_time(root / "autograded" / student):
        _write_result(gb, root, assignment, student, result)


@contextlib.contextmanager
def one_writer_at_a_time(folder: Path):
    """Hold an exclusive lock on `folder` (made if missing) while the block runs: an advisory `flock`, which
    every writer of the kit takes, in this process or another on this machine, and which ends with the
    process that held it, however it ends."""
    import fcntl

    folder.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # releases the lock


def _write_result(gb, root: Path, assignment: str, student: str, result: dict) -> None:
    target = root / "autograded" / student / assignment
    staging = staging_folder(root, assignment, student)
    shutil.rmtree(staging, ignore_errors=True)
    try:
        dask_bundle.write_tree(result["files"], staging)
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
    replace_folder(staging, target)


RENAME_EXCHANGE = 2  # renameat2's flag (Linux 3.15+): two paths swap their entries in one step


def _exchange(first: Path, second: Path) -> bool:
    """Swap the entries at `first` and `second` in one step (Linux's renameat2 with RENAME_EXCHANGE); False
    where this system or file system has no such call (then nothing was changed). Raises OSError otherwise."""
    import ctypes
    import errno

    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is None:
        return False
    at_working_folder = -100  # AT_FDCWD: the paths are taken as they are
    if renameat2(at_working_folder, os.fsencode(first), at_working_folder, os.fsencode(second), RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(first), None, str(second))


def replace_folder(new: Path, target: Path) -> None:
    """Move the folder `new` to `target` (a sibling), in place of any folder there, so that `target` is never
    missing: where a folder stands, the two swap in one step and the one swapped out (now at `new`) is removed;
    where none does, one rename. A second copy of a result replaces the first whole; an error (or a kill) at any
    point leaves the one or the other at `target`. Where the file system cannot swap, the old folder is removed
    first, then `new` renamed."""
    try:
        os.rename(new, target)  # nothing at `target` (or an empty folder): in place in one step
        return
    except OSError:
        if not target.is_dir() or target.is_symlink():
            raise
    if _exchange(new, target):  # raises, changing nothing, when `new` is gone (another copy took its place)
        shutil.rmtree(new)  # the folder swapped out
    else:
        shutil.rmtree(target)
        os.rename(new, target)


def _pending(root: Path, assignments: list[str], force: bool) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(to grade, skipped): a submission with a graded folder is skipped unless `force`, as autograde does."""
    todo, skipped = [], []
    for assignment, student in autograde.submissions(root, assignments):
        graded = root / "autograded" / student / assignment
        (skipped if graded.is_dir() and not force else todo).append((assignment, student))
    return todo, skipped


def grade(root: Path, assignments: list[str], scheduler: str, force: bool = False, progress: bool = True,
          timeout: float | None = None, config=None,
          private_network: bool = False) -> list[tuple[str, str, str, float, str]]:
    """Grade on the workers of `scheduler`; (assignment, student, status, seconds, reason) per submission.

    `config`: the course's configuration as `mlkit.course.course_config` resolves it (resolved here if not given);
    its `MlkitGrade` section may name the cluster's credentials and say the network is private (see
    `cluster_security`), as may `private_network` (the command's --private-network).

    `timeout`: how long to wait for the scheduler and its first worker; by default Dask's own setting
    (`distributed.comm.timeouts.connect`, e.g. DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT=10s).

    Raises InsecureTransport (before connecting), SchedulerLost, WorkerCannotSandbox, dask_bundle.ConfigNotPortable."""
    from mlkit import course

    autograde.install_speedups()  # the one writer opens the gradebook once per submission
    config = config if config is not None else course.course_config(root)
    settings = config.get("MlkitGrade", {})
    security = cluster_security(scheduler, settings, private_network or bool(settings.get("private_network")))
    shown = dask_bundle.portable_config(config)
    warnings.filterwarnings("ignore", message=".*not in session.*")  # nbgrader's SQLAlchemy autoflush notes
    autograde.tools_on_path()  # nbgrader runs alembic (beside this Python) when it opens a new gradebook
    todo, skipped = _pending(root, assignments, force)
    results = [(a, s, autograde.SKIPPED, 0.0, "") for a, s in skipped]
    if not todo:
        return results
    db_url = autograde.worker_db_url(config.CourseDirectory.db_url)
    autograde.add_missing_students(config, db_url, {student for _, student in todo})
    # Dask logs each refused payload with its bytes and a traceback; the submission's reason says it in one line.
    for name in ("distributed.protocol.core", "distributed.protocol.pickle"):
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)
    with refuse_unpickling():
        results += _grade_on(scheduler, security, timeout, root, todo, shown, db_url,
                             config.CourseDirectory.get("course_id", "default_course"), progress)
    return results


def _grade_on(scheduler: str, security, timeout: float | None, root: Path, todo: list[tuple[str, str]],
              shown: dict, db_url: str, course_id: str, progress: bool) -> list[tuple[str, str, str, float, str]]:
    from nbgrader.api import Gradebook
    from tqdm import tqdm

    results = []
    try:
        client = connect(scheduler, security, timeout)
    except (OSError, TimeoutError) as error:
        raise SchedulerLost(f"no Dask scheduler answered at {scheduler} ({dask_bundle.describe_error(error)})") from error
    bar = None
    try:
        dashboard = _dashboard(client)
        if dashboard and progress:
            print(f"Dask dashboard: {dask_bundle.printable(dashboard)}", file=sys.stderr)
        client.wait_for_workers(1, timeout=timeout or 60)
        client.register_plugin(dask_worker.sandbox_check_plugin(), name="mlkit-sandbox-check")
        refused = refusals(client)
        for address, why in refused.items():
            print(f"mlkit grade: worker {dask_bundle.printable(address)} refuses to grade: {why}", file=sys.stderr)
        able = [w for w in client.scheduler_info()["workers"] if w not in refused]
        if not able:
            raise WorkerCannotSandbox("no worker of the scheduler can sandbox student code; nothing was graded")
        bundles = {a: dask_bundle.assignment_bundle(root, a, shown, db_url, course_id) for a in sorted({a for a, _ in todo})}
        bundle_keys = {a: dask_bundle.unpack(bundle)["key"] for a, bundle in bundles.items()}
        scattered: dict[str, object] = {}

        def bundle_on_workers(assignment: str):
            # A copy on every worker, so a worker's death loses none; scattered data has no lineage to
            # recompute it from, so a bundle whose every holder died is scattered again (see below).
            if assignment not in scattered:
                (scattered[assignment],) = client.scatter([bundles[assignment]], broadcast=True, hash=False)
            return scattered[assignment]

        files = {}
        for assignment, student in todo:
            folder = root / "submitted" / student / assignment
            submission.set_aside(folder)  # what autograde's pre-convert hook does, before the files are read
            record = submission.left_out_folder(folder) / submission.RECORD_NAME
            left_out = record.read_bytes() if record.is_file() and not record.is_symlink() else None
            files[(assignment, student)] = (dask_bundle.read_tree(folder), left_out)
        digests: dict[tuple[str, str], str] = {}

        def send(assignment: str, student: str):
            nonce = os.urandom(16).hex()  # a new one per sending: an answer to an earlier sending is refused
            digests[(assignment, student)] = dask_bundle.submission_digest(nonce, bundle_keys[assignment], student,
                                                               *files[(assignment, student)])
            return client.submit(dask_worker.grade_submission, bundle_on_workers(assignment), student,
                                 *files[(assignment, student)], nonce,
                                 key=f"mlkit-grade-{os.urandom(8).hex()}",  # no names: the scheduler's pages show keys
                                 resources={dask_worker.SANDBOX_RESOURCE: 1}, pure=False)

        futures = {send(a, s): (a, s) for a, s in todo}
        bar = tqdm(total=len(futures), desc="grading", unit="notebook", file=sys.stderr, disable=not progress,
                   dynamic_ncols=True)
        with Gradebook(db_url, course_id) as gb:
            limits = {a: dask_bundle.assignment_limits(gb, a) for a in bundles}
            for assignment, student, answer, failure in answers(client, scheduler, futures, send,
                                                                forget=lambda a: scattered.pop(a, None),
                                                                kept=GRADES_KEPT):
                if failure is not None:
                    result = {"status": autograde.FAILED, "reason": failure, "seconds": 0.0}
                else:
                    try:
                        result = dask_bundle.read_result(answer, digests[(assignment, student)],
                                             set(files[(assignment, student)][0]), limits[assignment])
                    except dask_bundle.RefusedResult as refusal:
                        result = {"status": autograde.FAILED, "seconds": 0.0,
                                  "reason": f"refused the worker's result: {refusal}"}
                if result["status"] == autograde.GRADED:
                    try:
                        write_result(gb, root, assignment, student, result)
                    except Exception as error:  # noqa: BLE001 - this submission's folder or rows, not the class's
                        result = {"status": autograde.FAILED, "seconds": result["seconds"],
                                  "reason": f"its graded folder or gradebook rows could not be written "
                                            f"({dask_bundle.describe_error(error)})"}
                results.append((assignment, student, result["status"], result["seconds"], result.get("reason", "")))
                bar.update()
    except (SchedulerLost, WorkerCannotSandbox):
        raise
    except Exception as error:
        if is_lost(client, error):
            raise SchedulerLost(f"lost the Dask scheduler at {scheduler} ({dask_bundle.describe_error(error)}); "
                                f"{GRADES_KEPT}") from error
        raise
    finally:
        close_run(client, bar)
    return results


def close_run(client, bar=None) -> None:
    """End a run on the cluster: its progress bar, then its client, quietly where the scheduler is gone (the run
    has said so in one line: Dask's client would also log the traceback of its cancelled reconnection)."""
    if bar is not None:
        bar.close()
    if client.status != "running":
        logging.getLogger("distributed.client").setLevel(logging.CRITICAL)
    try:
        client.close(timeout=5)
    except Exception:  # noqa: BLE001 - a scheduler already gone cannot be said goodbye to
        pass


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


def is_lost(client, error: BaseException) -> bool:
    """Whether a task's error means the scheduler is gone (not that the submission failed)."""
    from distributed.comm.core import CommClosedError

    return isinstance(error, CommClosedError) or client.status != "running"


GRADES_KEPT = "every grade written so far is kept: run the same command again to grade the rest"
RESENDS = 3  # times a task is sent again when every worker holding its data died


def answers(client, scheduler: str, futures: dict, send, forget, kept: str):
    """Each task's answer as it finishes, for the grading and the feedback runs alike: (assignment, student,
    answer, None), or (assignment, student, None, reason) for a task that failed on the cluster.

    `futures`: {future: (assignment, student)} as sent by `send(assignment, student)`, which sends one again.
    A task cancelled because every worker holding its data died is sent again (at most RESENDS times), after
    `forget(assignment)` drops the scattered copies so that they are scattered anew. A scheduler that went away
    raises SchedulerLost, whose message ends with `kept` (what was written so far is kept, and how to go on)."""
    from distributed import as_completed

    resent: dict[tuple[str, str], int] = {}
    running = as_completed(list(futures), loop=client.loop)
    for future in running:
        assignment, student = futures.pop(future)
        try:
            answer = future.result()
        except Exception as error:  # noqa: BLE001 - one submission's failure, named, never the class's
            if is_lost(client, error):
                raise SchedulerLost(f"the scheduler at {scheduler} went away "
                                    f"({dask_bundle.describe_error(error)}); {kept}") from error
            if type(error).__name__ == "FutureCancelledError" and resent.get((assignment, student), 0) < RESENDS:
                resent[(assignment, student)] = resent.get((assignment, student), 0) + 1
                forget(assignment)
                again = send(assignment, student)
                futures[again] = (assignment, student)
                running.add(again)
                continue
            yield assignment, student, None, f"the task failed on the cluster ({dask_bundle.describe_error(error)})"
            continue
        yield assignment, student, answer, None
