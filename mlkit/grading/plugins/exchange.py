"""The exchange's plug-ins: collect and release, refusing what another account planted or could take over.

Runs in nbgrader's process (the instructor's `nbgrader collect`, `release_assignment`, `release_feedback`),
which trusts the course and its own account, never the exchange's inbound (every student's to write into).

`LinkSafeCollect`  (ExchangeFactory.collect)
    Collects as nbgrader's own collect does (its ignore patterns, `max_file_size`, `max_dir_size`, group
    permissions, timestamps), from a staged copy that holds only the inbound's regular files and folders
    (`mlkit.grading.submission.copy_regular_tree`). On a shared hub it also: refuses an exchange that
    another account could have taken over (`mlkit.permissions`); takes, per student, the newest folder that
    student owns, and reports folders planted in a student's name by another account; and reports and skips
    any one entry it cannot read as a submission (a name without a date, a tree nested too deep or holding
    too many entries) while the rest of the class is collected.

`CheckedReleaseAssignment`, `CheckedReleaseFeedback`  (ExchangeFactory.release_assignment, release_feedback)
    nbgrader's releases, refusing an exchange whose folders another account could take over.
"""

from __future__ import annotations

import datetime
import glob
import os
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
from mlkit.grading import submission


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
        if not submission.STUDENT_NAME.fullmatch(student) or {".", ".."} & set(Path(dest).parts):
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
        if submission.kind(os.lstat(src).st_mode) is not None or not os.path.isdir(src):
            # The inbound entry itself is a link (to the instructor's source/, say) or a special file:
            # nothing of it is collected.
            self.log.error("Not collected: %s is %s, not a folder, and is never followed", src,
                           submission.kind(os.lstat(src).st_mode) or "a file")
            return False
        staging = Path(tempfile.mkdtemp(prefix="mlkit-collect-"))
        try:
            try:
                left_out = submission.copy_regular_tree(Path(src), staging / "submission",
                                             max_file_bytes=1000 * self.coursedir.max_file_size,
                                             max_total_bytes=1000 * self.coursedir.max_dir_size)
            except (submission.TooLarge, OSError) as refused:
                # That student's submission only: the rest of the class is still collected.
                self.log.error("Not collected: %s (%s)", src, refused)
                return False
            # nbgrader's own copy, on a tree that has nothing to follow: its ignore patterns, size
            # limits and group permissions apply as they always do.
            super().do_copy(str(staging / "submission"), dest, log=log)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        # The submission's time as collect decided it (its record), never the timestamp.txt the student wrote.
        name = os.path.basename(os.path.normpath(src))
        recorded = next((record["timestamp"] for record in self.src_records if record["filename"] == name), None)
        if recorded is not None:
            Path(dest, "timestamp.txt").write_text(recorded.strftime("%Y-%m-%d %H:%M:%S.%f UTC"))
        # The left-out folder belongs to the submission it describes: a new collection replaces both.
        shutil.rmtree(submission.left_out_folder(Path(dest)), ignore_errors=True)
        if left_out:
            submission.write_record(Path(dest), left_out)
            self.log.warning("Left out of %s (never opened): %s", dest, submission.reason(left_out))
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
