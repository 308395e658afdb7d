"""Grading past one machine: each submission autograded on a worker of a Dask distributed scheduler.

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
import datetime
import hashlib
import logging
import math
import os
import re
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path, PurePosixPath

from mlkit.grading import parallel, submission

SKIPPED_NAMES = {".ipynb_checkpoints", "__pycache__"}


class WorkerCannotSandbox(RuntimeError):
    """This worker would run student code unsandboxed: it grades nothing."""


class SchedulerLost(RuntimeError):
    """The scheduler went away (or never answered) during the run."""


class InsecureTransport(RuntimeError):
    """The scheduler would be reached in a way that lets others in: refused before connecting."""


class RefusedResult(ValueError):
    """What a worker sent back for a submission is not a result this client can write: the reason."""


# -- who takes part: the transport ------------------------------------------------------------------

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


# -- what travels -----------------------------------------------------------------------------------


def pack(document) -> bytes:
    """`document` (dicts with string keys, lists, bytes, strings, numbers, booleans, None) as msgpack bytes."""
    import msgpack

    return msgpack.packb(document, use_bin_type=True)


def unpack(data) -> object:
    """msgpack bytes back into plain data (no extension types; maps keyed by strings only).

    Raises RefusedResult when `data` is not bytes or not such a document."""
    import msgpack

    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise RefusedResult(f"the worker sent a {type(data).__name__}, not a msgpack document")
    try:
        return msgpack.unpackb(bytes(data), raw=False, strict_map_key=True, use_list=True)
    except (ValueError, TypeError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError) as error:
        raise RefusedResult(f"the worker sent bytes that are no msgpack document ({error})") from error


def read_tree(folder: Path) -> dict[str, bytes]:
    """The regular files under `folder` by relative path, read without following any link."""
    with tempfile.TemporaryDirectory(prefix="mlkit-read-") as scratch:
        copy = Path(scratch) / "copy"
        submission.copy_regular_tree(folder, copy)
        return {p.relative_to(copy).as_posix(): p.read_bytes() for p in sorted(copy.rglob("*"))
                if p.is_file() and not SKIPPED_NAMES & set(p.relative_to(copy).parts)}


def plain_relative_path(name) -> str:
    """`name` if it is a relative POSIX path of plain parts (no '..', '.', empty part, NUL, or part longer than
    255 bytes); raises RefusedResult otherwise."""
    if not isinstance(name, str) or not name or "\0" in name or name.startswith("/"):
        raise RefusedResult(f"refused a file path: {name!r}")
    parts = name.split("/")
    if any(part in ("", ".", "..") or len(part.encode()) > 255 for part in parts):
        raise RefusedResult(f"refused a file path outside its folder: {name!r}")
    return name


def write_tree(files: dict[str, bytes], folder: Path) -> None:
    """Write `files` (relative path -> bytes) under `folder` as regular files; a path that would leave it is
    refused (RefusedResult), and no existing link is followed."""
    folder.mkdir(parents=True, exist_ok=True)
    top = folder.resolve()
    for name, data in files.items():
        plain_relative_path(name)
        target = folder / name
        if top not in target.resolve().parents:
            raise RefusedResult(f"refused a file path outside its folder: {name!r}")
        target.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
        with os.fdopen(descriptor, "wb") as out:
            out.write(data)


# Settings grading never reads that may hold a credential or name the instructor's machine: they stay there.
WITHHELD_SECTIONS = re.compile(r"^(MlkitGrade|Exchange\w*|\w*Auth\w*|JupyterHub\w*|HubAuth\w*|ServerApp|"
                               r"NotebookApp|FormgradeExtension|CourseListHandler|Formgrader\w*)$")
WITHHELD_NAMES = re.compile(r"password|passwd|token|secret|credential|api_?key|private_?key|db_url|^root$", re.I)
URL_WITH_USER = re.compile(r"\w+://[^/\s@]*@")


class ConfigNotPortable(ValueError):
    """A setting of the course's configuration is no plain data, so it cannot travel to a worker."""


def portable_config(config) -> dict:
    """The course's resolved configuration (a traitlets Config) as plain data a worker can grade with.

    Withheld: whole sections grading does not read that may hold credentials (WITHHELD_SECTIONS), any setting
    whose name says password, token, secret, credential, key, db_url or root (WITHHELD_NAMES), and any setting
    whose text holds a URL with a user in it. Returns {section: {name: value}} of strings, numbers, booleans,
    None, lists and string-keyed dicts of those. Raises ConfigNotPortable naming each setting that is no such
    data (e.g. a class object: name it by its dotted path instead)."""
    not_data: list[str] = []

    def plain(value, where: str):
        if value is None or isinstance(value, (str, bool, int, float)):
            return value
        if isinstance(value, (list, tuple)):
            return [plain(item, where) for item in value]
        if isinstance(value, dict) and all(isinstance(key, str) for key in value):
            return {key: plain(item, where) for key, item in value.items()}
        not_data.append(f"{where} ({type(value).__name__})")
        return None

    def carries_a_user(value) -> bool:
        if isinstance(value, str):
            return bool(URL_WITH_USER.search(value))
        if isinstance(value, (list, tuple)):
            return any(carries_a_user(item) for item in value)
        if isinstance(value, dict):
            return any(carries_a_user(item) for item in value.values())
        return False

    shown: dict[str, dict] = {}
    for section, settings in config.items():
        if not isinstance(settings, dict) or WITHHELD_SECTIONS.match(section):
            continue
        kept = {}
        for name, value in settings.items():
            if WITHHELD_NAMES.search(name) or carries_a_user(value):
                continue
            kept[name] = plain(value, f"c.{section}.{name}")
        if kept:
            shown[section] = kept
    if not_data:
        raise ConfigNotPortable("these settings cannot travel to the workers, being no plain data: " +
                                ", ".join(not_data))
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


def assignment_bundle(root: Path, assignment: str, config: dict, db_url: str, course_id: str) -> bytes:
    """What every worker needs to grade `assignment`, the same for each of its submissions, as msgpack bytes:
    {"assignment", "source": {path: bytes}, "release": {path: bytes}, "config": portable_config(...),
    "gradebook": SQLite bytes, "key": hex digest of the rest}.

    `config`: the course's configuration as `portable_config` returns it; `db_url`: the course's gradebook, read
    here and never sent."""
    bundle = {
        "assignment": assignment,
        "source": read_tree(root / "source" / assignment),
        "release": read_tree(root / "release" / assignment),
        "config": config,
        "gradebook": released_gradebook(db_url, course_id, assignment),
    }
    bundle["key"] = hashlib.sha256(pack(bundle)).hexdigest()[:16]
    return pack(bundle)


def submission_digest(nonce: str, bundle_key: str, student: str, files: dict[str, bytes],
                      left_out: bytes | None) -> str:
    """What a worker echoes back to show its result answers this task: a SHA-256 of the client's nonce, the
    assignment's bundle, the student and every file sent (hex)."""
    digest = hashlib.sha256()
    for part in (nonce, bundle_key, student):
        digest.update(part.encode() + b"\0")
    for name in sorted(files):
        digest.update(hashlib.sha256(name.encode()).digest() + hashlib.sha256(files[name]).digest())
    digest.update(hashlib.sha256(left_out).digest() if left_out is not None else b"-")
    return digest.hexdigest()


def assignment_limits(gb, assignment: str) -> dict[str, dict]:
    """What a result for `assignment` may name, from the course's gradebook (nbgrader's Gradebook `gb`):
    {notebook: {"grades": {grade cell: max score}, "comments": {solution cell names}, "points": notebook's max}}."""
    limits = {}
    for nb in gb.find_assignment(assignment).notebooks:
        grades = {cell.name: float(cell.max_score) for cell in nb.grade_cells}
        limits[nb.name] = {"grades": grades, "comments": {cell.name for cell in nb.solution_cells},
                           "points": sum(grades.values())}
    return limits


MAX_REASON = 600


def printable(text: str) -> str:
    """A worker's text, shown on the instructor's terminal: no control characters (escape sequences), bounded."""
    return "".join(ch if ch.isprintable() else " " for ch in text[:MAX_REASON])


def _number(value, low: float, high: float, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not low <= value <= high:
        raise RefusedResult(f"{what} is {value!r}, not a number from {low:g} to {high:g}")
    return float(value)


def read_result(data, digest: str, sent: set[str], limits: dict[str, dict]) -> dict:
    """A worker's answer for one submission, checked; raises RefusedResult with the reason.

    `data`: what the task returned (msgpack bytes, as `pack_result` makes). `digest`: `submission_digest` of
    what was sent. `sent`: the relative paths of the files sent (a graded folder holds those and the graded
    notebooks). `limits`: `assignment_limits` of the assignment.
    Returns {"status": GRADED or FAILED, "reason": str, "seconds": float, and when graded "files":
    {path: bytes}, "records": {"timestamp": datetime or None, "notebooks": {name: {"late_submission_penalty",
    "grades": {cell: (score or None, bool)}, "comments": {cell: str or None}}}}}."""
    result = unpack(data)
    if not isinstance(result, dict):
        raise RefusedResult("the worker's result is not a map")
    if result.get("digest") != digest:
        raise RefusedResult("the worker's result does not answer the submission that was sent (its digest "
                            "differs)")
    status = result.get("status")
    seconds = _number(result.get("seconds", 0.0), 0.0, 1e7, "the grading time")
    if status == parallel.FAILED:
        reason = result.get("reason")
        return {"status": status, "seconds": seconds,
                "reason": printable(reason if isinstance(reason, str) else "the worker gave no reason")}
    if status != parallel.GRADED:
        raise RefusedResult(f"the worker's result has the status {printable(repr(status))}")
    files, records = result.get("files"), result.get("records")
    if not isinstance(files, dict) or not all(isinstance(v, bytes) for v in files.values()):
        raise RefusedResult("the worker's graded folder is not a map of paths to bytes")
    allowed = sent | {f"{name}.ipynb" for name in limits}
    for name in files:
        plain_relative_path(name)
        if name not in allowed:
            raise RefusedResult(f"the worker's graded folder holds a file that is neither the submission's nor a "
                                f"graded notebook: {printable(name)!r}")
    if not isinstance(records, dict) or not isinstance(records.get("notebooks"), dict):
        raise RefusedResult("the worker's gradebook rows are not a map")
    stamp = records.get("timestamp")
    try:
        timestamp = None if stamp is None else datetime.datetime.fromisoformat(stamp)
    except (TypeError, ValueError):
        raise RefusedResult(f"the submission's time is {printable(repr(stamp))}, not a date") from None
    notebooks = {}
    for name, wrote in records["notebooks"].items():
        if name not in limits or not isinstance(wrote, dict):
            raise RefusedResult(f"the worker's rows name a notebook the assignment has not: {printable(name)!r}")
        cells = limits[name]
        grades, comments = wrote.get("grades", {}), wrote.get("comments", {})
        if not isinstance(grades, dict) or not isinstance(comments, dict):
            raise RefusedResult(f"the worker's rows of {name} are not maps")
        checked_grades = {}
        for cell, pair in grades.items():
            if cell not in cells["grades"] or not isinstance(pair, list) or len(pair) != 2 \
                    or not isinstance(pair[1], bool):
                raise RefusedResult(f"the worker's grade of {printable(repr(cell))} in {name} is not one of its "
                                    "graded cells with a score and a manual-grade flag")
            score = None if pair[0] is None else _number(pair[0], 0.0, cells["grades"][cell],
                                                           f"the score of {cell} in {name}")
            checked_grades[cell] = (score, pair[1])
        for cell, text in comments.items():
            if cell not in cells["comments"] or not (text is None or isinstance(text, str)):
                raise RefusedResult(f"the worker's comment on {printable(repr(cell))} in {name} is not a text on "
                                    "one of its answer cells")
        penalty = wrote.get("late_submission_penalty")
        if penalty is not None:
            penalty = _number(penalty, 0.0, cells["points"], f"the late penalty of {name}")
        notebooks[name] = {"grades": checked_grades, "comments": dict(comments), "late_submission_penalty": penalty}
    return {"status": status, "seconds": seconds, "reason": "", "files": files,
            "records": {"timestamp": timestamp, "notebooks": notebooks}}


# -- the worker's side -----------------------------------------------------------------------------

_TEMPLATES: dict[str, Path] = {}  # per worker process: bundle key -> scratch course of that assignment
_ZYGOTE = None
_KERNEL_INSTALLED = False
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
    write_tree(bundle["source"], folder / "source" / assignment)
    write_tree(bundle["release"], folder / "release" / assignment)
    (folder / "gradebook.db").write_bytes(bundle["gradebook"])
    _TEMPLATES[key] = folder
    return folder


def _grading_kernel(config) -> str | None:
    """The kernel this worker grades with: its warm kernel parent, as `mlkit grade`'s local workers have, when
    the course grades through the trusted grading kernel (installed here, as the course's configuration file
    installs it on the instructor's machine); None: the course's own kernel."""
    global _ZYGOTE, _KERNEL_INSTALLED
    if not parallel._uses_grading_kernel(config):
        return None
    from mlkit.grading import kernel, zygote

    if not _KERNEL_INSTALLED:
        kernel.install()
        _KERNEL_INSTALLED = True
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
            "timestamp": found.timestamp.isoformat() if found.timestamp is not None else None,
            "notebooks": {
                nb.name: {
                    "late_submission_penalty": nb.late_submission_penalty,
                    "grades": {g.name: [g.auto_score, bool(g.needs_manual_grade)] for g in nb.grades},
                    "comments": {c.name: c.auto_comment for c in nb.comments},
                } for nb in found.notebooks
            },
        }


def pack_result(digest: str, status: str, seconds: float, reason: str = "", files: dict | None = None,
                records: dict | None = None) -> bytes:
    """A worker's answer for one submission as msgpack bytes (what `read_result` checks on the client).

    `digest`: `submission_digest` of the task's inputs; `status`: GRADED or FAILED; `files`: the graded folder
    {path: bytes}; `records`: as `_records` returns them."""
    result = {"digest": digest, "status": status, "seconds": seconds, "reason": reason}
    if files is not None:
        result.update(files=files, records=records)
    return pack(result)


def grade_submission(bundle_bytes: bytes, student: str, files: dict[str, bytes], left_out: bytes | None,
                     nonce: str) -> bytes:
    """A Dask task: autograde one submission in a scratch course; its graded files and gradebook rows (or why
    it failed) as `pack_result` bytes. Never raises: an error is this submission's failure, as data.

    `bundle_bytes`: `assignment_bundle`; `files`: the submission's regular files {path: bytes}; `left_out`: the
    record of entries set aside (bytes) or None; `nonce`: the client's, echoed in the result's digest."""
    import msgpack

    started = time.monotonic()
    bundle = msgpack.unpackb(bundle_bytes, raw=False)
    digest = submission_digest(nonce, bundle["key"], student, files, left_out)
    try:
        refusal = _worker_sandbox_refusal()
        if refusal:
            return pack_result(digest, parallel.FAILED, 0.0, refusal)
        return _grade_in_scratch_course(bundle, student, files, left_out, digest, started)
    except Exception as error:  # noqa: BLE001 - reported as this submission's failure, as data
        return pack_result(digest, parallel.FAILED, time.monotonic() - started,
                           f"grading failed on the worker ({_describe(error)})")


def _grade_in_scratch_course(bundle: dict, student: str, files: dict[str, bytes], left_out: bytes | None,
                             digest: str, started: float) -> bytes:
    from traitlets.config import Config

    parallel._tools_on_path()
    assignment = bundle["assignment"]
    template = _template(bundle)
    config = Config(bundle["config"])
    with tempfile.TemporaryDirectory(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-") as scratch:
        folder = Path(scratch) / "course"
        shutil.copytree(template, folder)
        submitted = folder / "submitted" / student / assignment
        write_tree(files, submitted)
        if left_out is not None:
            write_tree({submission.RECORD_NAME: left_out}, submission.left_out_folder(submitted))
        url = f"sqlite:///{folder / 'gradebook.db'}"
        kernel_name = _grading_kernel(config)
        previous_kernel, previous_folder = parallel._KERNEL_NAME, os.getcwd()
        parallel._KERNEL_NAME = kernel_name
        try:
            _, _, status, _ = parallel._grade_one((assignment, student, str(folder), True, url), config)
        finally:
            parallel._KERNEL_NAME = previous_kernel
            os.chdir(previous_folder)
        graded = folder / "autograded" / student / assignment
        if status != parallel.GRADED or not graded.is_dir():
            return pack_result(digest, parallel.FAILED, time.monotonic() - started,
                               "nbgrader autograde failed on the worker")
        return pack_result(digest, parallel.GRADED, time.monotonic() - started, files=read_tree(graded),
                           records=_records(url, assignment, student))


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
    return {address: printable(why if isinstance(why, str) else repr(why))
            for address, why in answers.items() if why}


# -- the instructor's side: the one writer ---------------------------------------------------------


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
    for assignment, student in parallel.submissions(root, assignments):
        graded = root / "autograded" / student / assignment
        (skipped if graded.is_dir() and not force else todo).append((assignment, student))
    return todo, skipped


def _describe(error: BaseException) -> str:
    if error.args and isinstance(error.args[0], (bytes, bytearray)):
        return f"{type(error).__name__}: the error the cluster sent is not read (it is no plain data)"
    text = str(error).strip().splitlines()
    return printable(f"{type(error).__name__}: {text[0][:300] if text else ''}".rstrip(": "))


def grade(root: Path, assignments: list[str], scheduler: str, force: bool = False, progress: bool = True,
          timeout: float | None = None, config=None,
          private_network: bool = False) -> list[tuple[str, str, str, float, str]]:
    """Grade on the workers of `scheduler`; (assignment, student, status, seconds, reason) per submission.

    `config`: the course's configuration as `mlkit.course.course_config` resolves it (resolved here if not given);
    its `MlkitGrade` section may name the cluster's credentials and say the network is private (see
    `cluster_security`), as may `private_network` (the command's --private-network).

    `timeout`: how long to wait for the scheduler and its first worker; by default Dask's own setting
    (`distributed.comm.timeouts.connect`, e.g. DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT=10s).

    Raises InsecureTransport (before connecting), SchedulerLost, WorkerCannotSandbox, ConfigNotPortable."""
    from mlkit import course

    config = config if config is not None else course.course_config(root)
    settings = config.get("MlkitGrade", {})
    security = cluster_security(scheduler, settings, private_network or bool(settings.get("private_network")))
    shown = portable_config(config)
    warnings.filterwarnings("ignore", message=".*not in session.*")  # nbgrader's SQLAlchemy autoflush notes
    parallel._tools_on_path()  # nbgrader runs alembic (beside this Python) when it opens a new gradebook
    todo, skipped = _pending(root, assignments, force)
    results = [(a, s, parallel.SKIPPED, 0.0, "") for a, s in skipped]
    if not todo:
        return results
    db_url = parallel._worker_db_url(config.CourseDirectory.db_url)
    parallel._add_missing_students(config, db_url, {student for _, student in todo})
    # Dask logs each refused payload with its bytes and a traceback; the submission's reason says it in one line.
    for name in ("distributed.protocol.core", "distributed.protocol.pickle"):
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)
    with refuse_unpickling():
        results += _grade_on(scheduler, security, timeout, root, todo, shown, db_url,
                             config.CourseDirectory.get("course_id", "default_course"), progress)
    return results


def _grade_on(scheduler: str, security, timeout: float | None, root: Path, todo: list[tuple[str, str]],
              shown: dict, db_url: str, course_id: str, progress: bool) -> list[tuple[str, str, str, float, str]]:
    from distributed import as_completed
    from nbgrader.api import Gradebook
    from tqdm import tqdm

    results = []
    try:
        client = connect(scheduler, security, timeout)
    except (OSError, TimeoutError) as error:
        raise SchedulerLost(f"no Dask scheduler answered at {scheduler} ({_describe(error)})") from error
    bar = None
    try:
        dashboard = _dashboard(client)
        if dashboard and progress:
            print(f"Dask dashboard: {printable(dashboard)}", file=sys.stderr)
        client.wait_for_workers(1, timeout=timeout or 60)
        client.register_plugin(_sandbox_check_plugin(), name="mlkit-sandbox-check")
        refused = refusals(client)
        for address, why in refused.items():
            print(f"mlkit grade: worker {printable(address)} refuses to grade: {why}", file=sys.stderr)
        able = [w for w in client.scheduler_info()["workers"] if w not in refused]
        if not able:
            raise WorkerCannotSandbox("no worker of the scheduler can sandbox student code; nothing was graded")
        bundles = {a: assignment_bundle(root, a, shown, db_url, course_id) for a in sorted({a for a, _ in todo})}
        bundle_keys = {a: unpack(bundle)["key"] for a, bundle in bundles.items()}
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
            files[(assignment, student)] = (read_tree(folder), left_out)
        digests: dict[tuple[str, str], str] = {}

        def send(assignment: str, student: str):
            nonce = os.urandom(16).hex()  # a new one per sending: an answer to an earlier sending is refused
            digests[(assignment, student)] = submission_digest(nonce, bundle_keys[assignment], student,
                                                               *files[(assignment, student)])
            return client.submit(grade_submission, bundle_on_workers(assignment), student,
                                 *files[(assignment, student)], nonce,
                                 key=f"mlkit-grade-{os.urandom(8).hex()}",  # no names: the scheduler's pages show keys
                                 resources={SANDBOX_RESOURCE: 1}, pure=False)

        futures = {send(a, s): (a, s) for a, s in todo}
        resent: dict[tuple[str, str], int] = {}
        bar = tqdm(total=len(futures), desc="grading", unit="notebook", file=sys.stderr, disable=not progress,
                   dynamic_ncols=True)
        with Gradebook(db_url, course_id) as gb:
            limits = {a: assignment_limits(gb, a) for a in bundles}
            running = as_completed(list(futures), loop=client.loop)
            for future in running:
                assignment, student = futures.pop(future)
                try:
                    answer = future.result()
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
                    answer = None
                    result = {"status": parallel.FAILED, "reason": f"the task failed on the cluster "
                                                                   f"({_describe(error)})", "seconds": 0.0}
                if answer is not None:
                    try:
                        result = read_result(answer, digests[(assignment, student)],
                                             set(files[(assignment, student)][0]), limits[assignment])
                    except RefusedResult as refusal:
                        result = {"status": parallel.FAILED, "seconds": 0.0,
                                  "reason": f"refused the worker's result: {refusal}"}
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


def _is_lost(client, error: BaseException) -> bool:
    """Whether a task's error means the scheduler is gone (not that the submission failed)."""
    from distributed.comm.core import CommClosedError

    return isinstance(error, CommClosedError) or client.status != "running"
