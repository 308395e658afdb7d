"""What travels between `mlkit grade --scheduler`'s client and its Dask workers, both ways, as data.

Runs in both: the client (the instructor's process, which holds the course and its gradebook) packs an
assignment's bundle and each submission's files and checks every answer (`read_result`) before anything is
written; a worker (`mlkit.grading.backends.dask_worker`) unpacks the bundle and packs its answer
(`pack_result`). Neither side trusts what the other sends beyond its format: every document is msgpack of
plain bytes, strings and numbers, and every path, score, cell and notebook in an answer is checked against
what was sent and what the course's gradebook holds. The rules are told in full in
`mlkit.grading.backends.dask_client`.
"""

from __future__ import annotations

import datetime
import hashlib
import math
import os
import re
import tempfile
from pathlib import Path

from mlkit.grading import autograde, submission

SKIPPED_NAMES = {".ipynb_checkpoints", "__pycache__"}


class RefusedResult(ValueError):
    """What a worker sent back for a submission is not a result this client can write: the reason."""


class ConfigNotPortable(ValueError):
    """A setting of the course's configuration is no plain data, so it cannot travel to a worker."""


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

    autograde.tools_on_path()  # a new gradebook is stamped with alembic, beside this Python
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


def submission_rows(gb, assignment: str, student: str) -> dict:
    """One submission's rows of the gradebook `gb` (an open nbgrader Gradebook), as plain data:
    {"timestamp": ISO text or None, "notebooks": {name: {"late_submission_penalty": float or None,
    "grades": {cell: [auto, manual, extra credit, needs manual grade]}, "comments": {cell: [auto, manual]}}}}."""
    found = gb.find_submission(assignment, student)
    return {
        "timestamp": found.timestamp.isoformat() if found.timestamp is not None else None,
        "notebooks": {
            nb.name: {
                "late_submission_penalty": nb.late_submission_penalty,
                "grades": {g.name: [g.auto_score, g.manual_score, g.extra_credit, bool(g.needs_manual_grade)]
                           for g in nb.grades},
                "comments": {c.name: [c.auto_comment, c.manual_comment] for c in nb.comments},
            } for nb in found.notebooks
        },
    }


MAX_REASON = 600


def printable(text: str) -> str:
    """A worker's text, shown on the instructor's terminal: no control characters (escape sequences), bounded."""
    return "".join(ch if ch.isprintable() else " " for ch in text[:MAX_REASON])


def checked_number(value, low: float, high: float, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not low <= value <= high:
        raise RefusedResult(f"{what} is {value!r}, not a number from {low:g} to {high:g}")
    return float(value)


def describe_error(error: BaseException) -> str:
    if error.args and isinstance(error.args[0], (bytes, bytearray)):
        return f"{type(error).__name__}: the error the cluster sent is not read (it is no plain data)"
    text = str(error).strip().splitlines()
    return printable(f"{type(error).__name__}: {text[0][:300] if text else ''}".rstrip(": "))


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
    seconds = checked_number(result.get("seconds", 0.0), 0.0, 1e7, "the grading time")
    if status == autograde.FAILED:
        reason = result.get("reason")
        return {"status": status, "seconds": seconds,
                "reason": printable(reason if isinstance(reason, str) else "the worker gave no reason")}
    if status != autograde.GRADED:
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
            score = None if pair[0] is None else checked_number(pair[0], 0.0, cells["grades"][cell],
                                                           f"the score of {cell} in {name}")
            checked_grades[cell] = (score, pair[1])
        for cell, text in comments.items():
            if cell not in cells["comments"] or not (text is None or isinstance(text, str)):
                raise RefusedResult(f"the worker's comment on {printable(repr(cell))} in {name} is not a text on "
                                    "one of its answer cells")
        penalty = wrote.get("late_submission_penalty")
        if penalty is not None:
            penalty = checked_number(penalty, 0.0, cells["points"], f"the late penalty of {name}")
        notebooks[name] = {"grades": checked_grades, "comments": dict(comments), "late_submission_penalty": penalty}
    return {"status": status, "seconds": seconds, "reason": "", "files": files,
            "records": {"timestamp": timestamp, "notebooks": notebooks}}


def pack_result(digest: str, status: str, seconds: float, reason: str = "", files: dict | None = None,
                records: dict | None = None) -> bytes:
    """A worker's answer for one submission as msgpack bytes (what `read_result` checks on the client).

    `digest`: `submission_digest` of the task's inputs; `status`: GRADED or FAILED; `files`: the graded folder
    {path: bytes}; `records`: as `dask_worker._records` returns them."""
    result = {"digest": digest, "status": status, "seconds": seconds, "reason": reason}
    if files is not None:
        result.update(files=files, records=records)
    return pack(result)
