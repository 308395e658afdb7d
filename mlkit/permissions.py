"""Who may read and change the course and the exchange on a shared hub: the set-up, and the checks of it.

On a JupyterHub every student is a Unix account on the machine that holds the course and nbgrader's
exchange.  File ownership is then the boundary between classmates, and these are the modes it rests on:

    the exchange root           root-owned, 1777: nbgrader requires every account to write there; the sticky
                                bit stops anyone renaming or removing an entry that is not theirs (the
                                course folder above all)
    <root>/<course_id>/         the instructor's, 0755: nobody else makes, renames or replaces its folders
      outbound/                 the instructor's, 0755: what students fetch is the instructor's alone
      inbound/                  the instructor's, 3733: everyone may submit into it (write and search),
                                nobody else may list it, and (sticky) nobody may rename or remove a
                                submission that is not theirs; setgid as nbgrader makes it
      feedback/                 the instructor's, 0711: a student opens only the file whose name she can
                                compute from her own submission
    the course folder           its owner's only (0700), or a named group of graders' (0750): the hidden
                                tests (source/), the gradebook and every student's work are in it

`init_exchange` makes that layout (as root: the root is root's, the course folder the instructor's);
`exchange_problems` and `course_problems` say, each with its fix, where a tree differs from it.
The exchange plug-ins of `mlkit.grading.plugins.exchange` (release, collect, release feedback; switched on in the
course's `nbgrader_config.py`) refuse an exchange with a problem before anything is copied into or out of
it.  Standard library only: `mlkit doctor` and `mlkit init` use it without nbgrader.
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
from dataclasses import dataclass
from pathlib import Path

ROOT_MODE = 0o1777
COURSE_MODE = 0o755
OUTBOUND_MODE = 0o755
INBOUND_MODE = 0o3733
FEEDBACK_MODE = 0o711
# The folders of the course that hold what no student may read (the hidden tests, the gradebook, others' work).
PRIVATE_PARTS = ("source", "gradebook.db", "submitted", "autograded", "feedback", "nbgrader_config.py")


@dataclass(frozen=True)
class Problem:
    """One way a folder breaks the threat model: where, what a classmate could then do, and the fix."""
    path: Path
    what: str
    fix: str

    def __str__(self) -> str:
        return f"{self.path}: {self.what}. Fix: {self.fix}"


class SetupRefused(Exception):
    """`init_exchange` cannot make the layout safely (not root, an unknown account, a folder planted by another)."""


def _mode(status: os.stat_result) -> int:
    return stat.S_IMODE(status.st_mode)


def _owner_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"user ID {uid}"


def init_command(root: Path | str, course_id: str, instructor: str) -> str:
    """The command that makes (or repairs) the exchange, as the fixes name it."""
    return f"as root: mlkit exchange init {root} --course {course_id} --instructor {instructor}"


def _open_to_others(status: os.stat_result) -> bool:
    """A folder where another account may rename or remove entries: writable by group or others, no sticky bit."""
    return bool(_mode(status) & 0o022) and not _mode(status) & stat.S_ISVTX


def init_exchange(root: Path | str, course_id: str, instructor: str) -> list[str]:
    """Make or repair the exchange `root` for course `course_id` taught from the account `instructor`.

    Must run as root.  Returns one line per folder made or changed.  Raises SetupRefused when it cannot
    be made safe: a folder on the way to `root` that others may change, a link, or a course folder (or
    one of its folders) that another account made; a folder planted there must be looked at, not adopted."""
    if os.geteuid() != 0:
        raise SetupRefused("mlkit exchange init must run as root: the exchange root is root's, the course "
                           "folder in it is the instructor's")
    try:
        account = pwd.getpwnam(instructor)
    except KeyError:
        raise SetupRefused(f"no account named {instructor!r} on this machine") from None
    root = Path(os.path.abspath(root))
    done: list[str] = []
    for ancestor in reversed(root.parents):
        if not ancestor.exists():
            ancestor.mkdir(mode=0o755)
            done.append(f"made {ancestor} (root's, 0755)")
        status = os.lstat(ancestor)
        if stat.S_ISLNK(status.st_mode) and os.stat(ancestor).st_uid != 0:
            raise SetupRefused(f"{ancestor} is a link to a folder not owned by root: give the exchange a path of "
                               "real folders")
        if _open_to_others(os.stat(ancestor)):
            raise SetupRefused(f"{ancestor} may be changed by other accounts (mode {_mode(os.stat(ancestor)):o}, "
                               "no sticky bit), so the exchange under it could be renamed away: put it elsewhere")

    def make(path: Path, mode: int, uid: int, gid: int) -> None:
        if os.path.lexists(path):
            status = os.lstat(path)
            if not stat.S_ISDIR(status.st_mode):
                raise SetupRefused(f"{path} is not a folder ({'a link' if stat.S_ISLNK(status.st_mode) else 'a file'})"
                                   ": move it aside and run this again")
            if status.st_uid not in (uid, 0):
                raise SetupRefused(f"{path} belongs to {_owner_name(status.st_uid)}, not to {_owner_name(uid)}: "
                                   "another account made it; move it aside (look at what is in it) and run this "
                                   "again")
        else:
            path.mkdir()
            done.append(f"made {path}")
        status = os.lstat(path)
        if (status.st_uid, status.st_gid) != (uid, gid):
            os.chown(path, uid, gid, follow_symlinks=False)
            done.append(f"{path}: owner {_owner_name(uid)}")
        if _mode(status) != mode:
            os.chmod(path, mode)
            done.append(f"{path}: mode {mode:o}")

    make(root, ROOT_MODE, 0, 0)
    course = root / course_id
    make(course, COURSE_MODE, account.pw_uid, account.pw_gid)
    for name, mode in (("outbound", OUTBOUND_MODE), ("inbound", INBOUND_MODE), ("feedback", FEEDBACK_MODE)):
        make(course / name, mode, account.pw_uid, account.pw_gid)
    return done


def exchange_command(args) -> int:
    """`mlkit exchange init ROOT COURSE_ID INSTRUCTOR`: make or repair a course's exchange folders (`init_exchange`),
    then check them as release does; 2 when the set-up is refused, 1 while a problem is left."""
    import sys

    try:
        for line in init_exchange(args.root, args.course_id, args.instructor):
            print(line)
    except (SetupRefused, OSError) as refused:
        print(f"mlkit exchange init: {refused}", file=sys.stderr)
        return 2
    problems = exchange_problems(args.root, args.course_id, pwd.getpwnam(args.instructor).pw_uid)
    for problem in problems:
        print(f"mlkit exchange init: still a problem: {problem}", file=sys.stderr)
    return 1 if problems else 0


def exchange_problems(root: Path | str, course_id: str, instructor_uid: int | None = None,
                      need_feedback: bool = False, missing_ok: bool = False) -> list[Problem]:
    """Where the exchange `root` of `course_id` lets an account other than the instructor (`instructor_uid`,
    default: this process's user) take over, read or replace what is not theirs; [] when it is as
    `init_exchange` makes it.  A missing feedback/ is a problem only with `need_feedback`; with
    `missing_ok`, no missing folder is (nbgrader's release is about to make them, as the instructor)."""
    uid = os.geteuid() if instructor_uid is None else instructor_uid
    instructor = _owner_name(uid)
    root = Path(os.path.abspath(root))
    fix = init_command(root, course_id, instructor)
    problems: list[Problem] = []
    for ancestor in [*reversed(root.parents), root]:
        try:
            status = os.stat(ancestor)
        except OSError as error:
            return [Problem(ancestor, f"cannot be read ({error.strerror})", fix)]
        if _open_to_others(status):
            what = ("anyone may rename the course folder in it and put their own in its place (mode "
                    f"{_mode(status):o}, no sticky bit)")
            problems.append(Problem(ancestor, what, fix if ancestor == root else
                                    f"chmod o-w,g-w {ancestor} (or chmod +t), or put the exchange elsewhere"))
    course = root / course_id
    wanted = [(course, False), (course / "outbound", False), (course / "inbound", False),
              (course / "feedback", not need_feedback)]
    for path, optional in wanted:
        try:
            status = os.lstat(path)
        except FileNotFoundError:
            if not optional and not missing_ok:
                problems.append(Problem(path, "does not exist: the exchange is not set up for this course", fix))
            continue
        if stat.S_ISLNK(status.st_mode) or not stat.S_ISDIR(status.st_mode):
            problems.append(Problem(path, "is not a real folder (a link or a file)", fix))
            continue
        if status.st_uid != uid:
            problems.append(Problem(path, f"belongs to {_owner_name(status.st_uid)}, not to the instructor "
                                          f"({instructor}): its owner decides what students fetch, submit into "
                                          "or read", fix))
        mode = _mode(status)
        if path.name == "inbound" and path.parent == course:
            if not mode & stat.S_ISVTX:
                problems.append(Problem(path, f"has no sticky bit (mode {mode:o}): a student may rename or "
                                              "remove a classmate's submission", fix))
            if mode & 0o004:
                problems.append(Problem(path, f"may be listed by everyone (mode {mode:o}): the names of "
                                              "submission folders, which nbgrader leaves writable, are seen", fix))
        elif path.name == "feedback" and path.parent == course:
            if mode & 0o006:
                problems.append(Problem(path, f"may be listed or changed by everyone (mode {mode:o}): every "
                                              "student's feedback is open", fix))
        elif mode & 0o022:
            problems.append(Problem(path, f"may be changed by other accounts (mode {mode:o})", fix))
    return problems


def course_problems(course: Path | str, group: str | None = None) -> list[Problem]:
    """Which of the course's private parts (PRIVATE_PARTS) other accounts can read: through the course
    folder when it is open to them, or the part itself (its own modes and those of the folders above it
    decide).  A group of graders (`group`) may read; nobody else."""
    course = Path(course)
    allowed_gid = grp.getgrnam(group).gr_gid if group else None
    try:
        top = os.stat(course)
    except OSError:
        return []
    fix_mode = f"chmod 750 {{}} && chgrp {group} {{}}" if group else "chmod 700 {}"
    # Others reach the course only through folders they may search, each folder above it included.
    reachable = all(os.stat(folder).st_mode & 0o001 for folder in course.resolve().parents)
    # Without a graders' group, the group bits are left alone: Debian gives each account a group of its own.
    if reachable and (top.st_mode & 0o001 or (group and top.st_mode & 0o010 and top.st_gid != allowed_gid)):
        present = [name for name in PRIVATE_PARTS if os.path.lexists(course / name)]
        readable = [name for name in present if _readable_by_others(course / name, group and allowed_gid)]
        if readable:
            who = "every account" if top.st_mode & 0o001 else "its group"
            return [Problem(course, f"{who} can open the course folder, and so read {', '.join(readable)} "
                                    f"(mode {_mode(top):o})", fix_mode.format(course, course))]
    return []


def _readable_by_others(path: Path, allowed_gid: int | None) -> bool:
    status = os.lstat(path)
    others = 0o005 if stat.S_ISDIR(status.st_mode) else 0o004
    group = 0o050 if stat.S_ISDIR(status.st_mode) else 0o040
    return bool(status.st_mode & others) or (allowed_gid is not None and bool(status.st_mode & group)
                                             and status.st_gid != allowed_gid)


def make_private(course: Path | str, group: str | None = None) -> None:
    """The course folder readable by its owner only (0700), or by `group` too (0750, that group's)."""
    course = Path(course)
    if group:
        os.chown(course, -1, grp.getgrnam(group).gr_gid)
        os.chmod(course, 0o750)
    else:
        os.chmod(course, 0o700)


def warn_if_open(course: Path | str, log=None) -> list[Problem]:
    """Print (or log) a warning for each way other accounts can read the course; returns the problems."""
    problems = course_problems(course)
    for problem in problems:
        message = f"warning: the course is readable by other accounts: {problem}"
        if log is not None:
            log.warning(message)
        else:
            import sys

            print(message, file=sys.stderr)
    return problems
