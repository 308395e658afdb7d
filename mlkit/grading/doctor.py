"""`mlkit doctor [--course DIR]`: what the kit relies on, on this machine, in plain lines.

Each line starts with `ok`, `note` or `PROBLEM`.  A PROBLEM breaks a promise of the README's threat model
(student code unsandboxed, a course or an exchange that a classmate can read or take over, a scheduler
anyone on the network can join) and says its fix; the command then exits 1.  A note is worth knowing and
breaks nothing (no control group: the sandbox falls back on its no-fork bound).
"""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
import stat
import sys
from importlib import metadata
from pathlib import Path

from mlkit import invocation, permissions
from mlkit.grading.kernel import spec as kernel_spec
from mlkit.grading.sandbox import launcher, treebound


class Report:
    def __init__(self, out=sys.stdout):
        self.out, self.problems = out, 0

    def ok(self, text: str) -> None:
        print(f"ok       {text}", file=self.out)

    def note(self, text: str) -> None:
        print(f"note     {text}", file=self.out)

    def problem(self, text: str) -> None:
        self.problems += 1
        print(f"PROBLEM  {text}", file=self.out)


def _version() -> str:
    try:
        return metadata.version("mlkit")
    except metadata.PackageNotFoundError:
        return "not installed as a package (a checkout)"


def check_machine(report: Report) -> None:
    report.ok(f"mlkit {_version()} at {Path(__file__).resolve().parents[1]}, Python {sys.version.split()[0]}")
    mode = launcher.detect()
    if mode.name == "none":
        report.problem(f"sandbox: none ({mode.why}); student code cannot be graded safely here. Fix: install "
                       "bubblewrap, and grade as root or allow unprivileged user namespaces")
    else:
        report.ok(f"sandbox: {mode.name} ({launcher.describe()})")
    if mode.name == "root":
        try:
            first = launcher.student_uid_window()
        except launcher.SandboxUnavailable as full:
            report.problem(f"student user IDs: {full}. Fix: shrink the ranges in /etc/subuid and /etc/subgid")
        else:
            report.ok(f"student user IDs: {first}..{first + launcher.UID_RANGE - 1}, past every account's "
                      "subordinate range (/etc/subuid, /etc/subgid)")
    if treebound.kind():
        report.ok(f"tree bound: {treebound.describe()}")
    else:
        report.note(f"tree bound: {treebound.describe()}")
    spec = kernel_spec.SPECS / kernel_spec.KERNEL_NAME / "kernel.json"
    if spec.is_file():
        report.ok(f"kernelspec {kernel_spec.KERNEL_NAME}: {spec} (comes with the kit; nothing is installed)")
    else:
        report.problem(f"kernelspec {kernel_spec.KERNEL_NAME} missing at {spec}. Fix: reinstall the kit")


def check_course(report: Report, root: Path, config) -> None:
    problems = permissions.course_problems(root)
    if problems:
        for problem in problems:
            report.problem(f"course: {problem}")
    else:
        report.ok(f"course {root}: readable by its owner ({_owner(root)}) only "
                  f"(mode {stat.S_IMODE(os.stat(root).st_mode):o})")
    url = config.CourseDirectory.get("db_url", "") or f"sqlite:///{root / 'gradebook.db'}"
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///"):].split("?")[0])
        inside = root in path.parents
        where = "in the course folder" if inside else "outside the course folder"
        if not inside and path.exists() and os.stat(path).st_mode & 0o004:
            report.problem(f"gradebook {path} ({where}) is readable by every account. Fix: chmod 600 {path}")
        else:
            report.ok(f"gradebook: SQLite {path} ({where}; readable as the course folder is)")
    else:
        host = url.split("@")[-1].split("/")[0] if "@" in url else url.split("://")[-1].split("/")[0]
        report.ok(f"gradebook: {url.split(':', 1)[0]} on {host or 'a local socket'} (its password, if any, "
                  "lives in configuration only the instructor reads)")
    check_exchange(report, config)
    check_student_homes(report, url)
    check_scheduler(report, config)


def check_student_homes(report: Report, db_url: str) -> None:
    """The homes of the gradebook's students who have an account here: one that other accounts may enter gives
    classmates the student's working notebooks and, through nbgrader's cache there (the submission's secret),
    the feedback released to them (its page in the exchange is named by a hash of that secret)."""
    from nbgrader.api import Gradebook

    try:
        with Gradebook(db_url) as gb:
            students = sorted(student.id for student in gb.students)
    except Exception as error:  # the gradebook is reported above; here it only names whom to check
        report.note(f"students' homes not checked: the gradebook could not be read ({type(error).__name__})")
        return
    open_homes = []
    for student in students:
        try:
            home = Path(pwd.getpwnam(student).pw_dir)
            mode = stat.S_IMODE(os.stat(home).st_mode)
        except (KeyError, OSError):
            continue  # no account of that name here (an LMS course), or no home
        if mode & 0o005:
            open_homes.append(f"{home} ({mode:o})")
    if open_homes:
        report.problem(f"students' homes other accounts may enter: {', '.join(open_homes[:20])}"
                       f"{f' and {len(open_homes) - 20} more' if len(open_homes) > 20 else ''}: a classmate reads "
                       "their notebooks, and from nbgrader's cache there their released feedback. Fix: chmod 700 "
                       "each (adduser's default on Debian 12; useradd -m leaves 755)")
    else:
        report.ok(f"students' homes: none of the {len(students)} in the gradebook open to other accounts")


def check_exchange(report: Report, config) -> None:
    root = config.Exchange.get("root", "/usr/local/share/nbgrader/exchange")
    course_id = config.CourseDirectory.get("course_id", "")
    if not course_id or not os.path.isdir(root):
        make = exchange_init_command(root, course_id or "COURSE_ID")
        if "root" in config.Exchange:
            # The course names an exchange that is not there: release_assignment and collect would fail on it.
            report.note(f"exchange: c.Exchange.root is {root}, which does not exist. Fix, as root: {make}")
        else:
            report.note(f"exchange: none at nbgrader's default {root} (students hand in another way; for an "
                        f"exchange, as root: {make}, then set c.Exchange.root in nbgrader_config.py)")
        return
    problems = permissions.exchange_problems(root, course_id)
    if problems:
        for problem in problems:
            report.problem(f"exchange: {problem}")
    else:
        report.ok(f"exchange {Path(root) / course_id}: the instructor's; the inbound is sticky and unlistable, "
                  "the root sticky")


def exchange_init_command(root: str, course_id: str) -> str:
    """`mlkit exchange init ROOT --course ID --instructor NAME` for the account running this, as root runs it:
    the kit's own script by its absolute path (root's PATH need not hold the instructor's environment)."""
    words = invocation.program()
    if words == ["mlkit"]:
        words = [shutil.which("mlkit") or "mlkit"]
    instructor = pwd.getpwuid(os.getuid()).pw_name
    return " ".join(shlex.quote(str(word)) for word in [*words, "exchange", "init", root, "--course", course_id,
                                                         "--instructor", instructor])


def check_scheduler(report: Report, config) -> None:
    settings = config.get("MlkitGrade", {})
    scheduler = settings.get("scheduler") or ""
    if not scheduler:
        report.ok("scheduler: none configured (mlkit grade grades on this machine)")
        return
    if scheduler.startswith("tls://"):
        missing = [name for name in ("tls_ca_file", "tls_cert_file", "tls_key_file") if not settings.get(name)]
        if missing:
            report.note(f"scheduler {scheduler}: TLS, with {', '.join(missing)} not set in the course "
                        "(Dask's own configuration must give them)")
        else:
            report.ok(f"scheduler {scheduler}: mutual TLS with the course's certificate, key and CA")
    elif settings.get("private_network"):
        report.note(f"scheduler {scheduler}: not encrypted or authenticated; the course declares its network "
                    "private (c.MlkitGrade.private_network)")
    else:
        report.problem(f"scheduler {scheduler}: anyone who reaches its port can run code as the grader and "
                       "read the hidden tests. Fix: a tls:// scheduler with c.MlkitGrade.tls_ca_file, "
                       "tls_cert_file and tls_key_file")


def _owner(path: Path) -> str:
    uid = os.stat(path).st_uid
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"user ID {uid}"


def command(args) -> int:
    """`mlkit doctor [--course DIR]`: the checks of this machine and of the course (given, or the folder it runs
    in if that is one); 1 on a problem."""
    from mlkit import course

    try:
        root = course.find(args.course)
    except course.NotACourse:
        if args.course:
            raise
        root = None
    return main(root, course.course_config(root) if root else None)


def main(root: Path | None, config=None, out=sys.stdout) -> int:
    """Print the checks for this machine (and the course at `root`, with its nbgrader `config`); 1 on a PROBLEM."""
    report = Report(out)
    check_machine(report)
    if root is not None:
        check_course(report, root, config)
    else:
        report.note("no course given (--course DIR, or run in the course folder): its checks are skipped")
    print(f"{report.problems} problem(s)" if report.problems else "all clear", file=out)
    return 1 if report.problems else 0
