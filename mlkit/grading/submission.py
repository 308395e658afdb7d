"""A submission is data: its links and special files are left out, never followed, opened or waited on.

nbgrader copies a submission twice, both times following links: `nbgrader collect` copies the exchange's
inbound with `shutil.copytree`, and autograde copies the non-notebook files of `submitted/` into
`autograded/` with `shutil.copy`.  A link planted there makes the grader copy, as the instructor, whatever
it points at (a solution notebook, `/dev/zero`), and a FIFO stops the copy of that student with an error.

Two plug-ins, both switched on in the course's `nbgrader_config.py`, keep them out:

`LinkSafeCollect`  (ExchangeFactory.collect)
    Collects as nbgrader's own collect does (its ignore patterns, `max_file_size`, `max_dir_size`, group
    permissions, timestamps), from a staged copy that holds only the inbound's regular files and folders.
    On a shared hub the inbound is every student's to write into, so it also: refuses an exchange that
    another account could have taken over (`mlkit.permissions`); takes, per student, the newest
    folder that student owns, and reports folders planted in a student's name by another account; and
    reports and skips any one entry it cannot read as a submission (a name without a date, a tree nested
    too deep or holding too many entries) while the rest of the class is collected.

`set_aside_unsafe_files`  (Autograde.pre_convert_hook; `mlkit grade` runs autograde, so both)
    Before autograde copies `submitted/<student>/<assignment>/`, each link, FIFO, socket or device file
    in it is moved, as it is (a rename, which follows nothing), into the sibling folder
    `.<assignment>.left-out/`.  A notebook that is itself a link stays where it is: the grading exporter
    refuses it without following it and grades it as an empty notebook with that reason.

Both write what they left out into `.<assignment>.left-out/left-out.json`; the grading exporter reads it
and records it as that notebook's grading issue (the formgrader's comment and `nbgrader export`).
"""

from __future__ import annotations

import datetime
import glob
import json
import os
import re
import shutil
import stat
import tempfile
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.exchange.default.collect import ExchangeCollect, groupby, pwd
from nbgrader.exchange.default.release_assignment import ExchangeReleaseAssignment
from nbgrader.exchange.default.release_feedback import ExchangeReleaseFeedback
from nbgrader.utils import parse_utc
from traitlets import Float

from mlkit import permissions
from mlkit.grading.sandbox import open_regular_file

RECORD_NAME = "left-out.json"
NAMES_SHOWN = 10  # a reason names this many left-out entries, then counts the rest


class SetAsideFailed(BaseException):
    """The unsafe entries of a submission could not be moved out of it.

    A BaseException: nbgrader's hook runner swallows an Exception, and autograde would then copy the
    links it was meant to avoid; this stops the run with the cause instead."""


def kind(mode: int) -> str | None:
    """What an entry is, when it must be left out (None for a regular file or a real folder)."""
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device file"
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    return "a special file"


def unsafe_entries(top: Path) -> list[tuple[Path, str]]:
    """(relative path, kind) of every entry under `top` that is not a regular file or a real folder.

    Nothing is followed: a link to a folder is one entry, and what it points at is never listed."""
    found = []
    for folder, subfolders, names in os.walk(top, followlinks=False):
        here = Path(folder)
        for name in sorted(subfolders + names):
            what = kind(os.lstat(here / name).st_mode)
            if what is not None:
                found.append(((here / name).relative_to(top), what))
        subfolders[:] = sorted(d for d in subfolders if kind(os.lstat(here / d).st_mode) is None)
    return found


def left_out_folder(submission: Path) -> Path:
    """Where the entries left out of `submission` are recorded (and, at autograde, moved)."""
    submission = Path(submission)
    return submission.parent / f".{submission.name}.left-out"


def read_record(submission: Path) -> list[dict]:
    """The entries recorded as left out of `submission` ([] when none were)."""
    path = left_out_folder(submission) / RECORD_NAME
    try:
        with open_regular_file(path) as handle:
            entries = json.loads(handle.read().decode("utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(entries, list):
        return []
    return [e for e in entries if isinstance(e, dict) and isinstance(e.get("path"), str)
            and isinstance(e.get("kind"), str)]


def _write_record(submission: Path, entries: list[dict]) -> None:
    folder = left_out_folder(submission)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / RECORD_NAME).write_text(json.dumps(entries, indent=1) + "\n")


def reason(entries: list[dict]) -> str:
    """The grading issue's sentence for the entries left out ('' when there are none)."""
    if not entries:
        return ""
    # Names are the student's text: shown quoted and short, never as markup (pages escape comments).
    named = [f"{e['path'][:80]!r} ({e['kind']}, at {e.get('step', 'grading')})" for e in entries[:NAMES_SHOWN]]
    more = f" and {len(entries) - NAMES_SHOWN} more" if len(entries) > NAMES_SHOWN else ""
    return "left out of the submission and never opened: " + ", ".join(named) + more


def set_aside(submission: Path, step: str = "autograde") -> list[dict]:
    """Move every unsafe entry of `submission` into its left-out folder; return the entries moved.

    A notebook at the top of the submission stays: the grading exporter refuses it with its reason."""
    submission = Path(submission)
    if not submission.is_dir() or submission.is_symlink():
        return []
    folder = left_out_folder(submission)
    moved = []
    for relative, what in unsafe_entries(submission):
        if len(relative.parts) == 1 and relative.suffix == ".ipynb":
            continue
        target = folder / "files" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if os.path.lexists(target):
            os.remove(target)
        os.rename(submission / relative, target)  # renames the entry itself; a link is not followed
        moved.append({"path": relative.as_posix(), "kind": what, "step": step})
    if moved:
        _write_record(submission, read_record(submission) + moved)
    return moved


def set_aside_unsafe_files(assignment=None, student=None, notebooks=(), **_) -> None:
    """Autograde's pre-convert hook: set aside the unsafe entries of the submission about to be copied."""
    for folder in sorted({Path(notebook).parent for notebook in notebooks}):
        try:
            set_aside(folder)
        except OSError as error:
            raise SetAsideFailed(f"could not move the links and special files out of {folder} before "
                                 f"autograde copies it ({type(error).__name__}: {error})") from error


class TooLarge(Exception):
    """A submission holds more bytes than the course allows (nbgrader's max_dir_size), or more entries than
    MAX_ENTRIES."""


# A submission is a notebook and a few files.  Deeper folders are left out (and named); more entries than
# this stop that submission's copy: both are bounds on the work one student's tree costs the collection.
MAX_DEPTH = 32
MAX_ENTRIES = 10_000


_FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK


def copy_regular_tree(source: Path, target: Path, max_file_bytes: int | None = None,
                      max_total_bytes: int | None = None) -> list[dict]:
    """Copy the regular files and real folders of `source` into `target` (created); return what was left out.

    Everything is opened relative to a folder already open, never by path, and with O_NOFOLLOW: a folder
    renamed and replaced by a link while the copy runs (the student can watch it with inotify) is refused,
    not followed.  Bytes are counted as they are copied, so a file that grows meanwhile stops at the limit:
    a file over `max_file_bytes` is left out, and a tree over `max_total_bytes` raises TooLarge."""
    source, target = Path(source), Path(target)
    left_out: list[dict] = []
    copied = [0]
    entries_seen = [0]

    def leave(relative: Path, what: str) -> None:
        left_out.append({"path": relative.as_posix(), "kind": what, "step": "collect"})

    def copy_file(folder_fd: int, name: str, relative: Path, into: Path) -> None:
        try:
            fd = os.open(name, _FILE_FLAGS, dir_fd=folder_fd)
        except OSError:  # a link (ELOOP) or gone since it was listed
            return leave(relative, "a file swapped while copied")
        with os.fdopen(fd, "rb") as reading:
            status = os.fstat(reading.fileno())
            if not stat.S_ISREG(status.st_mode):
                return leave(relative, kind(status.st_mode) or "a special file")
            written = 0
            with open(into, "wb") as writing:
                while chunk := reading.read(1 << 20):
                    written += len(chunk)
                    copied[0] += len(chunk)
                    if max_total_bytes is not None and copied[0] > max_total_bytes:
                        raise TooLarge(f"the submission holds more than {max_total_bytes} bytes")
                    if max_file_bytes is not None and written > max_file_bytes:
                        break
                    writing.write(chunk)
        if max_file_bytes is not None and written > max_file_bytes:
            into.unlink()
            return leave(relative, f"a file larger than {max_file_bytes} bytes")
        os.chmod(into, stat.S_IMODE(status.st_mode) & 0o777)
        os.utime(into, ns=(status.st_atime_ns, status.st_mtime_ns))

    def copy_folder(folder_fd: int, relative: Path, into: Path) -> None:
        into.mkdir(exist_ok=True)
        with os.scandir(folder_fd) as entries:
            names = sorted(entry.name for entry in entries)
        entries_seen[0] += len(names)
        if entries_seen[0] > MAX_ENTRIES:
            raise TooLarge(f"the submission holds more than {MAX_ENTRIES} files and folders")
        for name in names:
            here = relative / name
            try:
                mode = os.stat(name, dir_fd=folder_fd, follow_symlinks=False).st_mode
            except OSError:
                continue
            what = kind(mode)
            if what is not None:
                leave(here, what)
            elif stat.S_ISDIR(mode):
                if len(here.parts) > MAX_DEPTH:
                    leave(here, f"a folder nested deeper than {MAX_DEPTH} levels")
                    continue
                try:
                    inner = os.open(name, _FOLDER_FLAGS, dir_fd=folder_fd)
                except OSError:
                    leave(here, "a folder swapped while copied")
                    continue
                try:
                    copy_folder(inner, here, into / name)
                finally:
                    os.close(inner)
            else:
                copy_file(folder_fd, name, here, into / name)

    top = os.open(source, _FOLDER_FLAGS)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        copy_folder(top, Path(), target)
    finally:
        os.close(top)
    return left_out


# A student's name is the first part of an inbound folder's name, which the student chooses; nbgrader's own
# pages print it unescaped (the formgrader's templates), so only a plain account name is ever collected.
STUDENT_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@-]{0,63}")


def written_time(folder: str) -> datetime.datetime | None:
    """When `folder` or an entry at its top (the notebooks graded) last changed, as naive UTC: the latest
    status-change time (ctime), which the kernel sets and no account but root can set back; None if unreadable."""
    try:
        times = [os.lstat(folder).st_ctime]
        with os.scandir(folder) as entries:
            times += [entry.stat(follow_symlinks=False).st_ctime for entry in entries]
    except OSError:
        return None
    return datetime.datetime.fromtimestamp(max(times), datetime.timezone.utc).replace(tzinfo=None)


class LinkSafeCollect(ExchangeCollect):
    """nbgrader's collect, copying only the regular files of each submission, each student's own."""

    # The time a submission claims (its folder's name, its timestamp.txt) is the student's own text, and the
    # student may change the folder's files after the due date: neither is the time of what is collected.
    claimed_time_slack = Float(60.0, help="seconds by which a submission's files may have changed after the time "
                                          "it claims before the later time is recorded as its submission time "
                                          "(an exchange copied without its files' status-change times: raise it)"
                               ).tag(config=True)

    def init_src(self):
        """nbgrader's choice of one inbound folder per student, but only among the folders that student owns,
        and without stopping at a folder whose name is not a submission's."""
        if self.coursedir.course_id == "":
            self.fail("No course id specified. Re-run with --course flag.")
        self.course_path = os.path.join(self.root, self.coursedir.course_id)
        self.inbound_path = os.path.join(self.course_path, "inbound")
        _refuse_unsafe_exchange(self)
        permissions.warn_if_open(self.coursedir.root, self.log)
        if not os.path.isdir(self.inbound_path):
            self.fail(f"Course not found: {self.inbound_path}")
        student_id = self.coursedir.student_id if self.coursedir.student_id else "*"
        pattern = os.path.join(glob.escape(self.inbound_path), f"{student_id}+{self.coursedir.assignment_id}+*")
        records = []
        for path in sorted(glob.glob(pattern)):
            record = self._readable_record(path)
            if record is not None:
                records.append(record)
        with Gradebook(self.coursedir.db_url, self.coursedir.course_id) as gb:
            try:
                self.duedate = gb.find_assignment(self.coursedir.assignment_id).duedate
            except MissingEntry:
                self.duedate = None
        self.src_records = []
        for submissions in groupby(records, lambda record: record["username"]).values():
            newest_first = self._sort_by_timestamp(submissions)
            if self.duedate is not None and self.before_duedate:
                in_time = [record for record in newest_first if record["timestamp"] <= self.duedate]
                newest_first = in_time or newest_first
            self.src_records.append(newest_first[0])

    def _readable_record(self, path: str) -> dict | None:
        """The record of one inbound folder, or None (said in the log) when it is no student's submission."""
        name = os.path.basename(path)
        parts = name.rsplit("+", 3)
        if len(parts) < 3:
            self.log.error("Not collected: %r is not named as nbgrader names a submission", name[:200])
            return None
        try:
            timestamp = parse_utc(parts[2])
        except Exception as error:  # dateutil's ValueError, OverflowError, ...: the name is the student's text
            self.log.error("Not collected: %r has no readable date in its name (%s)", name[:200],
                           type(error).__name__)
            return None
        username = parts[0]
        if self.check_owner and pwd is not None:
            try:
                owner_id = os.lstat(path).st_uid
            except OSError:
                return None
            try:
                owner = pwd.getpwuid(owner_id).pw_name
            except KeyError:
                owner = f"user ID {owner_id}"
            if owner != username:
                # Planted in a classmate's name: it must not hide (or replace) that classmate's own folders.
                self.log.error("Not collected: %s claims to be %s's but belongs to %s; %s's own submissions "
                               "are collected as if it were not there", path, username, owner, username)
                return None
        if timestamp.tzinfo is not None:
            timestamp = timestamp.replace(tzinfo=None)  # nbgrader compares naive UTC times
        written = written_time(path)
        if written is not None and (written - timestamp).total_seconds() > self.claimed_time_slack:
            self.log.warning("%s claims to be submitted at %s, but its files changed at %s UTC: that is its "
                             "submission time", path, parts[2], written)
            timestamp = written
        if not hasattr(self, "_submission_times"):
            self._submission_times: dict[str, datetime.datetime] = {}
        self._submission_times[name] = timestamp
        return {"username": username, "filename": name, "timestamp": timestamp}

    def do_copy(self, src, dest, log=None):
        try:
            collected = self._copy_checked(src, dest, log)
        except (RecursionError, OSError, ValueError) as error:
            # One student's entry that nbgrader's own copy cannot take: that student alone is not collected.
            self.log.error("Not collected: %s (%s: %s)", src, type(error).__name__, str(error)[:200])
            collected = False
        if not collected:
            try:
                Path(dest).parent.rmdir()  # the student's folder nbgrader made for it, if nothing else is there
            except OSError:
                pass

    def _copy_checked(self, src, dest, log) -> bool:
        """Collect one submission unless it must be refused; False when it was not collected."""
        student = Path(dest).parent.name
        if not STUDENT_NAME.fullmatch(student) or {".", ".."} & set(Path(dest).parts):
            self.log.error("Not collected: %r is not a plain account name (the inbound folder's name is the "
                           "student's to choose)", student)
            return False
        if self.check_owner and pwd is not None:
            try:
                owner = pwd.getpwuid(os.lstat(src).st_uid).pw_name
            except KeyError:
                owner = None
            if owner != student:
                # nbgrader only warns here; a submission in another student's name would replace theirs.
                self.log.error("Not collected: %s claims to be %s's but belongs to %s (CollectApp.check_owner)",
                               src, student, owner or "an unknown user")
                return False
        if kind(os.lstat(src).st_mode) is not None or not os.path.isdir(src):
            # The inbound entry itself is a link (to the instructor's source/, say) or a special file:
            # nothing of it is collected.
            self.log.error("Not collected: %s is %s, not a folder, and is never followed", src,
                           kind(os.lstat(src).st_mode) or "a file")
            return False
        staging = Path(tempfile.mkdtemp(prefix="mlkit-collect-"))
        try:
            try:
                left_out = copy_regular_tree(Path(src), staging / "submission",
                                             max_file_bytes=1000 * self.coursedir.max_file_size,
                                             max_total_bytes=1000 * self.coursedir.max_dir_size)
            except (TooLarge, OSError) as refused:
                # That student's submission only: the rest of the class is still collected.
                self.log.error("Not collected: %s (%s)", src, refused)
                return False
            # nbgrader's own copy, on a tree that has nothing to follow: its ignore patterns, size
            # limits and group permissions apply as they always do.
            super().do_copy(str(staging / "submission"), dest, log=log)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        # The submission's time as collect decided it, never the timestamp.txt the student wrote.
        recorded = getattr(self, "_submission_times", {}).get(os.path.basename(os.path.normpath(src)))
        if recorded is not None:
            Path(dest, "timestamp.txt").write_text(recorded.strftime("%Y-%m-%d %H:%M:%S.%f UTC"))
        # The left-out folder belongs to the submission it describes: a new collection replaces both.
        shutil.rmtree(left_out_folder(Path(dest)), ignore_errors=True)
        if left_out:
            _write_record(Path(dest), left_out)
            self.log.warning("Left out of %s (never opened): %s", dest, reason(left_out))
        return True


def _refuse_unsafe_exchange(exchange, need_feedback: bool = False, missing_ok: bool = False) -> None:
    """Stop an exchange command (nbgrader's `fail`) when another account could have taken the exchange over."""
    if exchange.coursedir.groupshared:
        return  # a course shared by a group of graders: nbgrader's own checks of group ownership apply
    problems = permissions.exchange_problems(exchange.root, exchange.coursedir.course_id, need_feedback=need_feedback,
                                             missing_ok=missing_ok)
    if problems:
        exchange.fail("the exchange is not safe for this course on a shared machine:\n  "
                      + "\n  ".join(str(problem) for problem in problems))


def _secure_inbound(exchange) -> None:
    """The inbound nbgrader has just made (setgid 0733) gets the sticky bit, when it is ours to change."""
    inbound = Path(exchange.root) / exchange.coursedir.course_id / "inbound"
    try:
        status = os.lstat(inbound)
    except OSError:
        return
    if stat.S_ISDIR(status.st_mode) and status.st_uid == os.geteuid() and not status.st_mode & stat.S_ISVTX:
        os.chmod(inbound, (stat.S_IMODE(status.st_mode) | stat.S_ISVTX) & ~0o004)


class CheckedReleaseAssignment(ExchangeReleaseAssignment):
    """nbgrader's release_assignment, refusing an exchange that another account could take over."""

    def init_dest(self):
        _refuse_unsafe_exchange(self, missing_ok=True)  # before nbgrader's own owner check, which names no fix
        super().init_dest()
        _secure_inbound(self)
        _refuse_unsafe_exchange(self)


class CheckedReleaseFeedback(ExchangeReleaseFeedback):
    """nbgrader's release_feedback, refusing an exchange whose feedback folder is not the instructor's."""

    def init_dest(self):
        _refuse_unsafe_exchange(self, missing_ok=True)
        super().init_dest()
        _refuse_unsafe_exchange(self, need_feedback=True)
