"""A hostile classmate on a shared hub, with real Unix accounts: an instructor, `alice` (honest) and `mallory`.

The hub is set up as the README's instructor workflow says: the kit's wheel installed into an environment of
Debian's own Python (3.11.2, the Python a hub machine has) that root owns and every account may use but not
change, `mlkit exchange init` run as root, the course made by `mlkit init` in the instructor's home (mode 0755,
as `useradd -m` leaves it on Debian), released by the instructor, fetched and submitted by both students
with nbgrader's own commands under their own accounts.  Each attack then comes from mallory's account
(`runuser`), through the real commands (`nbgrader submit`, `nbgrader collect`, `mlkit grade`), and is shown
to succeed with its defence switched off before it counts as contained with it:

    the exchange taken over (rename the course folder)        test_the_exchange_cannot_be_taken_over
    a folder planted in alice's name, a name without a date,  test_collection_takes_each_students_own_folder_
      a submission nested 700 folders deep                      and_survives_any_one_entry
    the sandbox's copies read in /tmp during grading          test_a_classmate_reads_no_notebook_while_the_class_is_graded
    the course read in the instructor's home                  test_the_course_is_the_instructors_alone
    a read-only environment                                   test_nothing_is_written_into_the_shared_environment
    the grading kernels' iopub read on 127.0.0.1 during        test_a_classmate_hears_nothing_of_the_grading_kernels
      grading (hidden tests, a classmate's answers)
    the sandbox's student user ID become through mallory's     test_no_account_becomes_the_student_process
      subordinate IDs (newuidmap) while root grades
    alice's own kernels in her Jupyter server read on          test_a_classmate_hears_nothing_of_a_students_kernels
      127.0.0.1 while she works

Accounts are named with a random suffix (several runs may share a machine) and removed afterwards.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import nbformat
import pytest
from nbgrader.utils import parse_utc

from mlkit import course
from mlkit.authoring import catalog
from mlkit.grading.sandbox import launcher as sandbox

ASSIGNMENT = "01_linear_regression"
NOTEBOOK = "linear_regression"
COURSE_ID = "ml-2027"  # what `mlkit init` sets for ~/courses/ml-2027 (the folder's name)
DEBIAN_PYTHON = Path("/usr/bin/python3.11")
STOCK_COLLECT = "--ExchangeFactory.collect=nbgrader.exchange.default.collect.ExchangeCollect"
STOCK_RELEASE = ("--ExchangeFactory.release_assignment="
                 "nbgrader.exchange.default.release_assignment.ExchangeReleaseAssignment")

pytestmark = [
    pytest.mark.xdist_group("accounts"),
    pytest.mark.skipif(os.geteuid() != 0, reason="makes Unix accounts: runs as root (as CI does)"),
    pytest.mark.skipif(not (shutil.which("useradd") and shutil.which("runuser") and shutil.which("bwrap")),
                       reason="needs useradd, runuser and bubblewrap"),
    pytest.mark.skipif(not DEBIAN_PYTHON.is_file(), reason="needs the machine's own Python 3.11"),
]


class Hub:
    """The machine's accounts, the shared environment, the exchange and the course."""

    def __init__(self, base: Path, suffix: str, venv: Path):
        self.base = base
        self.venv = venv
        self.exchange = base / "srv" / "nbgrader" / "exchange"
        self.instructor, self.alice, self.mallory = (f"{name}-{suffix}" for name in ("teach", "alice", "mallory"))
        self.accounts = [self.instructor, self.alice, self.mallory]

    def home(self, account: str) -> Path:
        return Path(pwd.getpwnam(account).pw_dir)

    @property
    def course(self) -> Path:
        return self.home(self.instructor) / "courses" / "ml-2027"

    def run(self, account: str, command: str, cwd: Path | None = None, check: bool = True,
            background: bool = False):
        """`command` in bash as `account`, with a clean login-like environment and the shared kit on PATH."""
        home = self.home(account)
        env = ["env", "-i", f"HOME={home}", f"USER={account}", f"LOGNAME={account}", "LANG=C.UTF-8",
               f"PATH={self.venv / 'bin'}:/usr/bin:/bin"]
        argv = ["runuser", "-u", account, "--", *env, "bash", "-c", command]
        if background:
            return subprocess.Popen(argv, cwd=cwd or home, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    text=True)
        done = subprocess.run(argv, cwd=cwd or home, capture_output=True, text=True)
        if check:
            assert done.returncode == 0, f"{account}: {command}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done

    def student_config(self, account: str, exchange: Path | None = None) -> None:
        folder = self.home(account) / ".jupyter"
        folder.mkdir(exist_ok=True)
        (folder / "nbgrader_config.py").write_text(
            f"c = get_config()\nc.CourseDirectory.course_id = {COURSE_ID!r}\n"
            f"c.Exchange.root = {str(exchange or self.exchange)!r}\n")
        _give(folder, account)

    def answer(self, account: str, answers: dict) -> None:
        """Write answers into the student's fetched notebook (her own file, her own account keeps it)."""
        path = self.home(account) / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
        nb = catalog.fill_answers(nbformat.read(path, as_version=4), answers)
        nbformat.write(nb, path)
        _give(path, account)


def _give(path: Path, account: str) -> None:
    entry = pwd.getpwnam(account)
    for item in [path, *(path.rglob("*") if path.is_dir() else [])]:
        os.lchown(item, entry.pw_uid, entry.pw_gid)


def _graded(hub: Hub) -> dict[str, float]:
    return {s: per[ASSIGNMENT].auto_score for s, per in course.gradebook(hub.course).items() if ASSIGNMENT in per}


@pytest.fixture(scope="module")
def hub(installed_kit):
    suffix = secrets.token_hex(3)
    base = Path(tempfile.mkdtemp(prefix=f"mlkit-hub-{suffix}-", dir="/opt" if os.path.isdir("/opt") else None))
    os.chmod(base, 0o755)
    # The kit's wheel, in an environment of the machine's own Python that root owns and all may use: the suite's
    # one installed kit (tests/conftest.py), made by the workflow's own install lines.
    assert installed_kit.python == DEBIAN_PYTHON
    hub = Hub(base, suffix, installed_kit.venv)
    made: list[str] = []
    try:
        for account in hub.accounts:
            subprocess.run(["useradd", "-m", "-s", "/bin/bash", account], check=True, capture_output=True)
            made.append(account)
            # The instructor's as Debian's useradd -m leaves it (HOME_MODE unset, UMASK 022); the students' as
            # Debian 12's adduser makes them (and `mlkit doctor` asks): their own only.
            os.chmod(hub.home(account), 0o755 if account == hub.instructor else 0o700)
        # The README's set-up, as root then as the instructor.
        subprocess.run([str(hub.venv / "bin" / "mlkit"), "exchange", "init", str(hub.exchange), "--course",
                        COURSE_ID, "--instructor", hub.instructor], check=True, capture_output=True)
        hub.run(hub.instructor, "mlkit init ~/courses/ml-2027 01")
        hub.run(hub.instructor, f"echo 'c.Exchange.root = \"{hub.exchange}\"' >> nbgrader_config.py && "
                                f"mlkit release && nbgrader release_assignment {ASSIGNMENT}", cwd=hub.course)
        for account, answers in ((hub.alice, catalog.reference_answers(ASSIGNMENT)),
                                 (hub.mallory, _wrong_answers())):
            hub.student_config(account)
            hub.run(account, f"nbgrader fetch_assignment {ASSIGNMENT}")
            hub.answer(account, answers)
            hub.run(account, f"nbgrader submit {ASSIGNMENT}")
        yield hub
    finally:
        for account in made:
            subprocess.run(["pkill", "-KILL", "-u", account], capture_output=True)
            subprocess.run(["userdel", "-r", account], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def _wrong_answers() -> dict:
    reference = catalog.reference_answers(ASSIGNMENT)
    return next(m for m in catalog.mutants(ASSIGNMENT) if m.name == "gradient_sign_flipped").apply(reference)


def _collected_notebook(hub: Hub, student: str, folder: str = "submitted") -> Path:
    return hub.course / folder / student / ASSIGNMENT / f"{NOTEBOOK}.ipynb"


def test_the_exchange_cannot_be_taken_over(hub):
    course_folder = hub.exchange / COURSE_ID
    # Contained: the root is sticky, so mallory cannot rename the instructor's course folder away.
    taken = hub.run(hub.mallory, f"mv {course_folder} {course_folder}.old", check=False)
    assert taken.returncode != 0 and "Operation not permitted" in taken.stderr
    assert course_folder.is_dir() and pwd.getpwuid(course_folder.stat().st_uid).pw_name == hub.instructor

    # Defence off: an exchange made as the README said before (`chmod 777`), released by stock nbgrader.
    old = hub.base / "old-exchange"
    old.mkdir()
    os.chmod(old, 0o777)
    hub.run(hub.instructor, f"nbgrader release_assignment {ASSIGNMENT} --Exchange.root={old} {STOCK_RELEASE}",
            cwd=hub.course)
    hub.run(hub.mallory, f"mv {old / COURSE_ID} {old / COURSE_ID}.old && mkdir -p {old / COURSE_ID / 'inbound'} && "
                         f"cp -r {old / COURSE_ID}.old/outbound {old / COURSE_ID} && "
                         f"chmod 777 {old / COURSE_ID / 'inbound'}")
    # alice's next submission lands in mallory's folder, where mallory reads it.
    hub.student_config(hub.alice, old)
    try:
        hub.run(hub.alice, f"nbgrader submit {ASSIGNMENT}")
    finally:
        hub.student_config(hub.alice)
    stolen = hub.run(hub.mallory, f"cat {old / COURSE_ID / 'inbound'}/{hub.alice}+*/{NOTEBOOK}.ipynb")
    assert nbformat.reads(stolen.stdout, as_version=4).cells  # the attack is real: alice's notebook, read

    # Contained: the kit's release and collect refuse that exchange, naming the fix.
    for command in (f"nbgrader release_assignment {ASSIGNMENT} --force", f"nbgrader collect {ASSIGNMENT}"):
        refused = hub.run(hub.instructor, f"{command} --Exchange.root={old}", cwd=hub.course, check=False)
        said = refused.stdout + refused.stderr
        assert refused.returncode != 0, said
        assert f"belongs to {hub.mallory}" in said and "mlkit exchange init" in said, said


def test_collection_takes_each_students_own_folder_and_survives_any_one_entry(hub):
    inbound = hub.exchange / COURSE_ID / "inbound"
    planted = inbound / f"{hub.alice}+{ASSIGNMENT}+2099-01-01 00:00:00.000000 UTC+x"
    undated = inbound / f"{hub.mallory}+{ASSIGNMENT}+not-a-date+x"
    deep = inbound / f"{hub.mallory}+{ASSIGNMENT}+2098-01-01 00:00:00.000000 UTC+y"
    # mallory writes into the inbound without listing it: her own names only.
    hub.run(hub.mallory, f"mkdir '{planted}' '{undated}' && cp -r ~/{ASSIGNMENT} '{deep}' && "
                         f"cd '{deep}' && for i in $(seq 700); do mkdir d && cd d; done")

    def collect(folder: str, stock: bool):
        return hub.run(hub.instructor, f"nbgrader collect {ASSIGNMENT} --CourseDirectory.submitted_directory="
                                       f"{folder} {STOCK_COLLECT if stock else ''}", cwd=hub.course, check=False)

    # Defence off (nbgrader's own collect): the undated name stops the class's collection.
    off = collect("submitted-off-1", stock=True)
    assert off.returncode != 0 and not (hub.course / "submitted-off-1").exists(), off.stdout + off.stderr

    # Contained: every student collected from her own newest folder; each planted entry named and skipped.
    on = collect("submitted", stock=False)
    said = on.stdout + on.stderr
    assert on.returncode == 0, said
    assert _collected_notebook(hub, hub.alice).is_file() and _collected_notebook(hub, hub.mallory).is_file()
    assert f"claims to be {hub.alice}'s but belongs to {hub.mallory}" in said
    assert "not-a-date" in said and "no readable date" in said
    assert "nested deeper than" in (hub.course / "submitted" / hub.mallory / f".{ASSIGNMENT}.left-out" /
                                    "left-out.json").read_text()
    graded = hub.run(hub.instructor, f"mlkit grade {ASSIGNMENT} -j 1", cwd=hub.course)
    assert "graded 2 of 2" in graded.stdout
    points = _graded(hub)
    assert points[hub.alice] == 12.0 and points[hub.mallory] < 12.0, points

    # Defence off, one entry at a time: the nested folders stop nbgrader's copy, then the planted folder
    # takes alice's place.
    hub.run(hub.mallory, f"rm -rf '{undated}'")
    off = collect("submitted-off-2", stock=True)
    assert off.returncode != 0 and "RecursionError" in off.stdout + off.stderr, off.stdout + off.stderr
    hub.run(hub.mallory, f"rm -rf '{deep}'")
    off = collect("submitted-off-3", stock=True)
    assert off.returncode == 0, off.stdout + off.stderr
    assert not _collected_notebook(hub, hub.alice, "submitted-off-3").exists()  # alice's work replaced
    hub.run(hub.mallory, f"rm -rf '{planted}'")


POLLER = r"""
import os, sys, time
stop, grader, found = sys.argv[1], int(sys.argv[2]), {"read": 0}
seen = set()
while not os.path.exists(stop):
    for entry in os.scandir("/tmp"):
        # The instructor's grading only: other graders may share this machine's /tmp.
        try:  # an entry may vanish between the listing and its stat
            mine = entry.stat(follow_symlinks=False).st_uid == grader
        except OSError:
            continue
        if entry.name.startswith("mlkit-student-folder-") and mine:
            seen.add(entry.name)
            try:
                for folder, _, names in os.walk(entry.path):
                    for name in names:
                        if name.endswith(".ipynb"):
                            with open(os.path.join(folder, name)) as handle:
                                if "def " in handle.read():
                                    found["read"] += 1
            except OSError:
                pass
    time.sleep(0.005)
print(len(seen), found["read"])
"""


def _grade_while_mallory_polls(hub: Hub) -> tuple[int, int, set[str]]:
    """`mlkit grade --force` as the instructor while mallory scans /tmp; (folders seen, notebooks read, left)."""
    poller = hub.home(hub.mallory) / "poll.py"
    poller.write_text(POLLER)
    stop = hub.home(hub.mallory) / "stop"
    stop.unlink(missing_ok=True)
    grader = pwd.getpwnam(hub.instructor).pw_uid
    watching = hub.run(hub.mallory, f"python3 {poller} {stop} {grader}", background=True)
    try:
        hub.run(hub.instructor, f"mlkit grade {ASSIGNMENT} -j 1 --force", cwd=hub.course)
    finally:
        stop.touch()
        out, _ = watching.communicate(timeout=60)
    seen, read = (int(n) for n in out.split()[-2:])
    return seen, read, _copies_of(grader)


def _copies_of(uid: int) -> set[str]:
    """The sandbox copies in /tmp that the account `uid` made (other graders may share the machine)."""
    found = set()
    for path in Path("/tmp").glob("mlkit-student-folder-*"):
        try:
            if path.lstat().st_uid == uid:
                found.add(path.name)
        except FileNotFoundError:
            pass
    return found


def _weaken_copies(hub: Hub, defence: str = "private_copies") -> None:
    """The course grades with tests/weakened_kernel.py's `defence` switched off, run by the shared
    environment's Python (a kernelspec root writes into that environment, as tests/weakened.py does)."""
    script = hub.base / "weakened_kernel.py"
    shutil.copy(Path(__file__).with_name("weakened_kernel.py"), script)
    os.chmod(script, 0o644)
    name = "mlkit-weakened-" + defence.replace("_", "")
    folder = hub.venv / "share" / "jupyter" / "kernels" / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "kernel.json").write_text(json.dumps({
        "argv": [str(hub.venv / "bin" / "python"), "-I", str(script), defence, "-f", "{connection_file}",
                 "--InteractiveShell.xmode=Plain"], "display_name": f"weakened: {defence}", "language": "python"}))
    with open(hub.course / "nbgrader_config.py", "a") as config:
        config.write(f"\nc.ResilientExecute.kernel_name = {name!r}\n")


def test_a_classmate_reads_no_notebook_while_the_class_is_graded(hub):
    config = hub.course / "nbgrader_config.py"
    kept = config.read_text()
    if not _collected_notebook(hub, hub.alice).is_file():
        hub.run(hub.instructor, f"nbgrader collect {ASSIGNMENT}", cwd=hub.course)
    # Defence off: the copies as the sandbox made them before (everyone may read; left in /tmp).
    _weaken_copies(hub)
    try:
        seen, read, left = _grade_while_mallory_polls(hub)
    finally:
        config.write_text(kept)
    assert read >= 1 and left, (seen, read, left)  # mallory read a classmate's notebook
    for name in left:
        shutil.rmtree(Path("/tmp") / name, ignore_errors=True)

    # Contained: she sees the folders exist, opens none of them, and none outlives grading.
    seen, read, left = _grade_while_mallory_polls(hub)
    assert read == 0, (seen, read)
    deadline = time.monotonic() + 30
    while left and time.monotonic() < deadline:  # the removal runs as the grading kernel ends
        time.sleep(0.1)
        left = {name for name in left if (Path("/tmp") / name).exists()}
    assert not left


SNIFFER = r"""
import base64, json, os, re, sys, time, zmq
stop, grader = sys.argv[1], int(sys.argv[2])
context, poller, ports, said = zmq.Context(), zmq.Poller(), set(), []
while not os.path.exists(stop):
    with open("/proc/net/tcp") as table:  # every account may read which account listens where
        for line in table.read().splitlines()[1:]:
            fields = line.split()
            address, port = fields[1].split(":")
            if fields[3] == "0A" and int(fields[7]) == grader and address == "0100007F" and port not in ports:
                ports.add(port)
                listener = context.socket(zmq.SUB)
                listener.setsockopt(zmq.SUBSCRIBE, b"")
                listener.setsockopt(zmq.LINGER, 0)
                listener.connect(f"tcp://127.0.0.1:{int(port, 16)}")
                poller.register(listener, zmq.POLLIN)
    for listener, _ in poller.poll(5):
        parts = listener.recv_multipart()
        if b"<IDS|MSG>" in parts:  # a kernel's message: signed, not encrypted
            at = parts.index(b"<IDS|MSG>")
            content = json.loads(parts[at + 5])
            code = content.get("code", "")
            for answer in re.findall(r"run_student_cell\('([A-Za-z0-9+/=]+)'", code):
                code += base64.b64decode(answer).decode()  # the answers, handed to the student process
            said.append(code)
hidden = sum("BEGIN HIDDEN TESTS" in code for code in said)
answers = sum("def fit" in code for code in said)
print(len(said), hidden, answers)
"""


def _grade_while_mallory_listens(hub: Hub) -> tuple[int, int, int]:
    """`mlkit grade --force` as the instructor while mallory subscribes to every port the instructor's
    processes open on 127.0.0.1; (kernel messages she received, with hidden tests, with a student's answers)."""
    sniffer = hub.home(hub.mallory) / "listen.py"
    sniffer.write_text(SNIFFER)
    stop = hub.home(hub.mallory) / "stop-listening"
    stop.unlink(missing_ok=True)
    listening = hub.run(hub.mallory, f"python3 {sniffer} {stop} {pwd.getpwnam(hub.instructor).pw_uid}",
                        background=True)
    try:
        hub.run(hub.instructor, f"mlkit grade {ASSIGNMENT} -j 1 --force", cwd=hub.course)
    finally:
        stop.touch()
        out, _ = listening.communicate(timeout=60)
    messages, hidden, answers = (int(n) for n in out.split()[-3:])
    return messages, hidden, answers


def test_a_classmate_hears_nothing_of_the_grading_kernels(hub):
    """On jupyter_client's default transport each grading kernel listens on TCP ports of 127.0.0.1, which
    every account reaches, and its iopub channel publishes each cell's code to any subscriber."""
    config = hub.course / "nbgrader_config.py"
    kept = config.read_text()
    if not _collected_notebook(hub, hub.alice).is_file():
        hub.run(hub.instructor, f"nbgrader collect {ASSIGNMENT}", cwd=hub.course)
    # Defence off: the grading kernels on jupyter_client's default TCP ports.
    module = hub.base / "tcpkernels.py"
    module.write_text("from mlkit.grading.plugins.execute import ResilientExecute\n\n\n"
                      "class TcpKernelExecute(ResilientExecute):\n"
                      "    def _private_kernel_sockets(self, manager):\n        pass\n")
    os.chmod(module, 0o644)
    with open(config, "a") as settings:
        settings.write(f"\nimport sys\nsys.path.insert(0, {str(hub.base)!r})\n"
                       "c.Autograde.autograde_preprocessors = ['tcpkernels.TcpKernelExecute' if p.endswith("
                       "'ResilientExecute') else p for p in c.Autograde.autograde_preprocessors]\n")
    try:
        messages, hidden, answers = _grade_while_mallory_listens(hub)
    finally:
        config.write_text(kept)
    assert hidden >= 1 and answers >= 1, (messages, hidden, answers)  # the hidden tests and the answers

    # Contained: the kernels speak over Unix sockets in a folder only the instructor enters.
    messages, hidden, answers = _grade_while_mallory_listens(hub)
    assert messages == 0, (messages, hidden, answers)
    assert not [p for p in Path("/tmp").glob("mlkit-kernel-*")
                if p.lstat().st_uid == pwd.getpwnam(hub.instructor).pw_uid]  # removed with each kernel


BECOMER = r"""
import os, pwd, subprocess, sys, time
me = pwd.getpwuid(os.getuid()).pw_name
with open("/etc/subuid") as table:
    ranges = [(int(first), int(first) + int(count)) for name, first, count in
              (line.strip().split(":") for line in table if line.count(":") == 2) if name == me]
stop, marker, read, uids = sys.argv[1], sys.argv[2], 0, set()
while not os.path.exists(stop):
    for entry in os.scandir("/tmp"):
        if not entry.name.startswith("mlkit-student-folder-"):
            continue
        try:
            uid = entry.stat(follow_symlinks=False).st_uid
        except OSError:
            continue
        uids.add(uid)
        if any(first <= uid < end for first, end in ranges):
            # Her own user namespace, where she is that user ID (newuidmap grants it from her range).
            became = subprocess.run(["unshare", f"--map-users={uid},0,1", f"--map-groups={uid},0,1", "--setuid",
                                     "0", "--setgid", "0", "sh", "-c", f"cat {entry.path}/*"],
                                    capture_output=True, text=True)
            read += marker in became.stdout  # alice's, of this hub (other graders may share /tmp)
    time.sleep(0.002)
print(len(uids), read)
"""


def _grade_as_root_while_mallory_becomes(hub: Hub, marker: str) -> tuple[int, int]:
    """`mlkit grade --force` as root (the sandbox's root mode: a user ID per notebook) while mallory becomes,
    through newuidmap, each student user ID she finds in her subordinate range; (IDs seen, copies of alice's
    submission read: the copies holding `marker`)."""
    script = hub.home(hub.mallory) / "become.py"
    script.write_text(BECOMER)
    stop = hub.home(hub.mallory) / "stop-becoming"
    stop.unlink(missing_ok=True)
    becoming = hub.run(hub.mallory, f"python3 {script} {stop} {marker}", background=True)
    try:
        graded = subprocess.run(["env", "-i", "HOME=/root", "LANG=C.UTF-8", f"PATH={hub.venv / 'bin'}:/usr/bin:/bin",
                                 "mlkit", "grade", ASSIGNMENT, "-j", "1", "--force"], cwd=hub.course,
                                capture_output=True, text=True)
        assert graded.returncode == 0, graded.stdout[-2000:] + graded.stderr[-2000:]
    finally:
        stop.touch()
        out, _ = becoming.communicate(timeout=60)
        _give(hub.course, hub.instructor)  # what root wrote in the course is the instructor's again
    seen, read = (int(n) for n in out.split()[-2:])
    return seen, read


@pytest.mark.skipif(not shutil.which("newuidmap"), reason="needs newuidmap (Debian's uidmap package)")
def test_no_account_becomes_the_student_process(hub):
    """Debian's `useradd` gives each account 65 536 subordinate user IDs from 100 000 on, and newuidmap lets
    the account be any of them in a user namespace of its own; the sandbox (as root) ran each student process
    as 200 000 + its kernel's process ID modulo 100 000, inside the third and fourth accounts' ranges.  Here
    mallory's range is that whole window, so that the attack does not depend on the order accounts were made."""
    window = f"{sandbox.FIRST_UID}-{sandbox.FIRST_UID + sandbox.UID_RANGE - 1}"
    subprocess.run(["usermod", "--add-subuids", window, "--add-subgids", window, hub.mallory], check=True)
    config = hub.course / "nbgrader_config.py"
    kept, handed_in = config.read_text(), None
    try:
        if not _collected_notebook(hub, hub.alice).is_file():
            hub.run(hub.instructor, f"nbgrader collect {ASSIGNMENT}", cwd=hub.course)
        # A comment of alice's own in her answers, which the sandbox's copy of her notebook holds.
        notebook = _collected_notebook(hub, hub.alice)
        handed_in = notebook.read_bytes()
        marker = f"alice-of-hub-{secrets.token_hex(8)}"
        nb = nbformat.reads(handed_in.decode(), as_version=4)
        answer = next(cell for cell in nb.cells if cell.cell_type == "code" and "def fit" in cell.source)
        answer.source += f"\n# {marker}\n"
        nbformat.write(nb, notebook)
        # Defence off: the student process's user ID from the fixed window.
        _weaken_copies(hub, "subordinate_ids")
        try:
            seen, read = _grade_as_root_while_mallory_becomes(hub, marker)
        finally:
            config.write_text(kept)
        assert read >= 1, (seen, read)  # mallory read alice's copy, as the user ID of alice's student process

        # Contained: the student processes' user IDs lie past every subordinate range.
        seen, read = _grade_as_root_while_mallory_becomes(hub, marker)
        assert seen >= 1 and read == 0, (seen, read)
    finally:
        subprocess.run(["usermod", "--del-subuids", window, "--del-subgids", window, hub.mallory], check=True)
        if handed_in is not None:
            _collected_notebook(hub, hub.alice).write_bytes(handed_in)


STUDENT_SESSION = r"""
# A student's Jupyter server from the shared environment, and cells run in one of its kernels as JupyterLab runs
# them (its REST and websocket API); prints how many cells ran.
import json, socket, subprocess, sys, time, urllib.request, uuid
import websocket
cells = int(sys.argv[1])
probe = socket.socket(); probe.bind(("127.0.0.1", 0)); port = probe.getsockname()[1]; probe.close()
token = uuid.uuid4().hex
server = subprocess.Popen([sys.executable, "-m", "jupyter_server", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
                           "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
base, auth = f"http://127.0.0.1:{port}", {"Authorization": f"token {token}"}
ok = 0
try:
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(urllib.request.Request(base + "/api/status", headers=auth), timeout=5)
            break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                raise
            time.sleep(0.2)
    made = urllib.request.Request(base + "/api/kernels", data=b"{}", method="POST",
                                  headers={**auth, "Content-Type": "application/json"})
    kernel = json.load(urllib.request.urlopen(made, timeout=60))["id"]
    channels = websocket.create_connection(f"ws://127.0.0.1:{port}/api/kernels/{kernel}/channels",
                                           header=[f"Authorization: token {token}"], timeout=60)
    session = uuid.uuid4().hex
    for cell in range(cells):
        msg_id = uuid.uuid4().hex
        channels.send(json.dumps({"header": {"msg_id": msg_id, "session": session, "username": "student",
                                             "msg_type": "execute_request", "version": "5.3"},
                                  "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
                                  "content": {"code": f"def fit(X, y):  # my own answer, cell {cell}\n    return X",
                                              "silent": False, "store_history": True, "user_expressions": {},
                                              "allow_stdin": False, "stop_on_error": True}}))
        while True:
            reply = json.loads(channels.recv())
            if reply.get("msg_type") == "execute_reply" and reply["parent_header"].get("msg_id") == msg_id:
                ok += reply["content"]["status"] == "ok"
                break
        time.sleep(0.2)
    channels.close()
finally:
    server.terminate()
    server.wait(timeout=60)
print(ok)
"""


def _work_while_mallory_listens(hub: Hub, cells: int = 20) -> tuple[int, int, int]:
    """alice runs `cells` cells of her own in her own Jupyter server while mallory subscribes to every port
    alice's processes open on 127.0.0.1; (cells that ran, kernel messages mallory received, with alice's code)."""
    sniffer = hub.home(hub.mallory) / "listen.py"
    sniffer.write_text(SNIFFER)
    stop = hub.home(hub.mallory) / "stop-listening"
    stop.unlink(missing_ok=True)
    session = hub.home(hub.alice) / "session.py"
    session.write_text(STUDENT_SESSION)
    _give(session, hub.alice)
    listening = hub.run(hub.mallory, f"python3 {sniffer} {stop} {pwd.getpwnam(hub.alice).pw_uid}", background=True)
    try:
        ran = int(hub.run(hub.alice, f"python3 {session} {cells}").stdout.split()[-1])
    finally:
        stop.touch()
        out, _ = listening.communicate(timeout=60)
    messages, _, answers = (int(n) for n in out.split()[-3:])
    return ran, messages, answers


def test_a_classmate_hears_nothing_of_a_students_kernels(hub):
    """A student's own kernels (JupyterLab's, on the hub) are on jupyter_client's default TCP ports unless the
    shared environment's Jupyter configuration says otherwise: the hub set-up's jupyter_server_config.json."""
    config = hub.venv / "etc" / "jupyter" / "jupyter_server_config.json"
    assert not config.exists()
    # Defence off: the environment as pip leaves it.
    ran, messages, answers = _work_while_mallory_listens(hub)
    assert ran == 20 and answers >= 1, (ran, messages, answers)  # mallory reads alice's code as she runs it

    # Contained: the set-up's line, as root, in the shared environment (docs/instructor/workflow.md).
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(json.dumps({"KernelManager": {"transport": "ipc"}}))
    try:
        ran, messages, answers = _work_while_mallory_listens(hub)
    finally:
        config.unlink()
    assert ran == 20 and messages == 0, (ran, messages, answers)


def test_the_course_is_the_instructors_alone(hub):
    hidden = hub.course / "source" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    steal = f"cat {hidden} | grep -c 'BEGIN HIDDEN TESTS'"
    assert hub.run(hub.mallory, steal, check=False).returncode != 0  # contained: mlkit init made it 0700
    doctor = hub.run(hub.instructor, "mlkit doctor", cwd=hub.course)
    assert "all clear" in doctor.stdout and "PROBLEM" not in doctor.stdout, doctor.stdout

    # Defence off: the course with the modes it had before (the umask's 0755).
    os.chmod(hub.course, 0o755)
    try:
        assert int(hub.run(hub.mallory, steal).stdout) > 0  # mallory reads the hidden tests
        warned = hub.run(hub.instructor, "mlkit gradebook", cwd=hub.course)
        assert "readable by other accounts" in warned.stderr and "chmod 700" in warned.stderr
        doctor = hub.run(hub.instructor, "mlkit doctor", cwd=hub.course, check=False)
        assert doctor.returncode == 1 and f"Fix: chmod 700 {hub.course}" in doctor.stdout, doctor.stdout
    finally:
        os.chmod(hub.course, 0o700)


def test_doctor_names_the_fix_for_a_broken_exchange(hub):
    inbound = hub.exchange / COURSE_ID / "inbound"
    os.chmod(inbound, 0o2733)  # as nbgrader makes it: no sticky bit
    try:
        doctor = hub.run(hub.instructor, "mlkit doctor", cwd=hub.course, check=False)
        assert doctor.returncode == 1
        assert "no sticky bit" in doctor.stdout and "mlkit exchange init" in doctor.stdout, doctor.stdout
    finally:
        os.chmod(inbound, 0o3733)


def test_nothing_is_written_into_the_shared_environment(hub):
    """The instructor (not root) ran the whole course above from root's environment; the course as it was
    configured before (the kernelspec installed by loading nbgrader_config.py) fails there."""
    assert not (hub.venv / "share" / "jupyter" / "kernels" / "mlkit-grading").exists()
    old_style = hub.course / "old-style"
    old_style.mkdir()
    _give(old_style, hub.instructor)
    (old_style / "nbgrader_config.py").write_text(
        "from mlkit.grading.kernel import spec\nspec.write_kernelspec('mlkit-grading', ['-m', 'ipykernel_launcher', "
        "'-f', '{connection_file}'], 'the kit before')\n")
    failed = hub.run(hub.instructor, "nbgrader list", cwd=old_style, check=False)
    assert "PermissionError" in failed.stdout + failed.stderr


# What mallory runs: alice's submission secret from nbgrader's cache in alice's home, then the page nbgrader
# released for it, named by a hash of that secret, from the exchange's feedback folder (0711: not listable).
READ_ALICES_FEEDBACK = """
import glob, hashlib, sys
from nbgrader.utils import notebook_hash
home, feedback = sys.argv[1:]
# One secret per submission the student made (the module's tests submit more than once): try each.
secrets = glob.glob(home + "/.local/share/jupyter/nbgrader_cache/*/*/submission_secret.txt")
read = 0
for secret in secrets:
    page = feedback + "/" + notebook_hash(secret=open(secret).read(), notebook_id="linear_regression") + ".html"
    try:
        print(hashlib.sha256(open(page, "rb").read()).hexdigest())
        read += 1
    except OSError:
        pass
sys.exit(0 if read else f"read nothing ({len(secrets)} secrets found)")
"""


def test_a_classmate_reads_no_feedback_through_a_students_home(hub):
    hub.run(hub.instructor, f"nbgrader collect {ASSIGNMENT} --update && mlkit grade 01 --force && "
                            f"mlkit feedback 01 --force && nbgrader release_feedback {ASSIGNMENT}", cwd=hub.course)
    alices_page = hub.course / "feedback" / hub.alice / ASSIGNMENT / f"{NOTEBOOK}.html"
    expected = hashlib.sha256(alices_page.read_bytes()).hexdigest()
    script = hub.home(hub.mallory) / "read_feedback.py"
    script.write_text(READ_ALICES_FEEDBACK)
    _give(script, hub.mallory)
    steal = f"python {script} {hub.home(hub.alice)} {hub.exchange / COURSE_ID / 'feedback'}"
    taken = hub.run(hub.mallory, steal, check=False)
    assert taken.returncode != 0 and expected not in taken.stdout  # alice's home is hers alone
    doctor = hub.run(hub.instructor, "mlkit doctor", cwd=hub.course)
    assert "students' homes: none of the" in doctor.stdout, doctor.stdout

    # Defence off: alice's home as Debian's useradd -m leaves it (755).
    os.chmod(hub.home(hub.alice), 0o755)
    try:
        assert expected in hub.run(hub.mallory, steal).stdout.split()  # mallory reads alice's feedback page
        doctor = hub.run(hub.instructor, "mlkit doctor", cwd=hub.course, check=False)
        assert doctor.returncode == 1 and f"{hub.home(hub.alice)} (755)" in doctor.stdout, doctor.stdout
        assert "chmod 700" in doctor.stdout
    finally:
        os.chmod(hub.home(hub.alice), 0o700)


def test_exchange_init_adopts_no_folder_another_account_made(tmp_path):
    """A course folder made in the exchange by another account before the set-up (the root is every account's
    to write in) is refused, not adopted: what it holds is that account's."""
    from mlkit import permissions

    root = tmp_path / "exchange"
    root.mkdir(mode=0o1777)
    os.chmod(root, 0o1777)
    planted = root / COURSE_ID
    planted.mkdir()
    os.chown(planted, 65534, 65534)  # nobody's
    with pytest.raises(permissions.SetupRefused, match="belongs to nobody"):
        permissions.init_exchange(root, COURSE_ID, "root")
    problems = permissions.exchange_problems(root, COURSE_ID, 0)
    assert any("belongs to nobody" in str(problem) and "mlkit exchange init" in str(problem) for problem in problems)


def test_a_student_who_backdates_her_own_submission_is_collected_at_the_time_she_wrote_it(hub):
    """After the due date, mallory writes a submission into the inbound herself (hers to write in, in her own
    name) and names it, and its timestamp.txt, a date long past: nbgrader collects it with the time it claims,
    so no late penalty applies.  The kit records when its files were written (their ctime, which no account but
    root sets back)."""
    past = "2020-01-01 00:00:00.000000 UTC"
    inbound = hub.exchange / COURSE_ID / "inbound"
    earlier = hub.course.parent / "mallory-earlier-submissions"  # the fixture's own submissions, set aside by
    earlier.mkdir()                                             # the test so that hers is the one collected
    for folder in inbound.glob(f"{hub.mallory}+{ASSIGNMENT}+*"):
        folder.rename(earlier / folder.name)
    backdated = inbound / f"{hub.mallory}+{ASSIGNMENT}+{past}+x"
    try:
        # As mallory, in the inbound she may write in but not list: only what her own account can do.
        hub.run(hub.mallory, f"mkdir '{backdated}' && cp ~/{ASSIGNMENT}/{NOTEBOOK}.ipynb '{backdated}/' && "
                             f"echo '{past}' > '{backdated}/timestamp.txt'")

        def collect(folder: str, slack: str = "") -> tuple[str, str]:
            run = hub.run(hub.instructor, f"nbgrader collect {ASSIGNMENT} --student {hub.mallory} "
                                          f"--CourseDirectory.submitted_directory={folder} {slack}", cwd=hub.course)
            recorded = (hub.course / folder / hub.mallory / ASSIGNMENT / "timestamp.txt").read_text().strip()
            return recorded, run.stdout + run.stderr

        # Defence off (the files' times never override the claim): collected as submitted in 2020.
        recorded, _ = collect("submitted-backdated-off", "--LinkSafeCollect.claimed_time_slack=1e12")
        assert recorded.startswith("2020-01-01"), recorded
        # Contained: the time her files were written, and the log says what the folder claimed.
        recorded, said = collect("submitted-backdated")
        written = parse_utc(recorded).replace(tzinfo=None)
        assert abs((datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - written).total_seconds()) < 3600, recorded  # when she wrote it
        assert f"claims to be submitted at {past}" in said, said
    finally:
        shutil.rmtree(backdated, ignore_errors=True)
        for folder in earlier.iterdir():
            folder.rename(inbound / folder.name)
        earlier.rmdir()
