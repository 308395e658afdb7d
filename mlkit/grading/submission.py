"""A submission is data: its links and special files are left out, never followed, opened or waited on.

nbgrader copies a submission twice, both times following links: `nbgrader collect` copies the exchange's
inbound with `shutil.copytree`, and autograde copies the non-notebook files of `submitted/` into
`autograded/` with `shutil.copy`.  A link planted there makes the grader copy, as the instructor, whatever
it points at (a solution notebook, `/dev/zero`), and a FIFO stops the copy of that student with an error.

This module holds the rules and routines, used wherever a submission's files are handled (nbgrader's
process through the plug-ins of `mlkit.grading.plugins`: `exchange.LinkSafeCollect` and
`reading.set_aside_unsafe_files`; `mlkit grade --scheduler`'s client, which reads a submission to send it):
`set_aside` moves each link, FIFO, socket or device file of a submitted folder, as it is, into the sibling
folder `.<assignment>.left-out/`, and writes what it left out into `.<assignment>.left-out/left-out.json`,
which the grading exporter reads and records as that notebook's grading issue (the formgrader's comment and
`nbgrader export`); `copy_regular_tree` copies only regular files and folders, by descriptors, so nothing is
followed even while the tree changes under it. Nothing here trusts the submission.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

from mlkit.grading import limits
from mlkit.grading.sandbox.launcher import open_regular_file

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


def write_record(submission: Path, entries: list[dict]) -> None:
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
        write_record(submission, read_record(submission) + moved)
    return moved


def read_notebook(path):
    """A submitted notebook, read within the grader's bounds: a regular file only (a link or a FIFO is refused,
    never followed or waited on), at most `limits.MAX_NOTEBOOK_BYTES` (parsing costs the grader many times a
    file's size) and `limits.MAX_CELLS` cells, as nbformat 4 (not validated). Raises OSError or ValueError (or
    nbformat's reading errors) naming why it cannot be read."""
    import nbformat

    with open_regular_file(path) as handle:
        raw = handle.read(limits.MAX_NOTEBOOK_BYTES + 1)
    if len(raw) > limits.MAX_NOTEBOOK_BYTES:
        raise ValueError(f"it is larger than {limits.MAX_NOTEBOOK_BYTES // 10**6} MB")
    nb = nbformat.reads(raw.decode("utf-8"), as_version=4)
    if len(nb.cells) > limits.MAX_CELLS:
        raise ValueError(f"it has more than {limits.MAX_CELLS} cells")
    return nb


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
