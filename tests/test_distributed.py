"""`mlkit grade --scheduler`: a class graded on a real Dask scheduler's workers gets stock autograde's gradebook.

A real `dask scheduler` and two `dask worker` processes run on 127.0.0.1, each started in an empty folder of
its own, so a worker can reach the course only through what its tasks carry. One worker is killed with
SIGKILL while it grades; the notebook it held is graded again by the other and lands once. One class goes
into a PostgreSQL gradebook. A worker that cannot sandbox refuses its tasks, and nothing is graded there.

The module's cluster speaks Dask's mutual TLS with certificates made here (openssl): the scheduler, its workers
and `mlkit grade` hold the cluster's CA, certificate and key. Another account (`mlkit-mallory`), without
them, gets nothing from it; on a plain tcp:// scheduler (allowed only with --private-network) the same account
runs code on the workers and receives the hidden tests. A worker that holds the credentials but forges its
results has each forgery refused, and the rest of the class is graded; so has a worker that forges the
feedback pages of `mlkit feedback --scheduler`, whose pages land for the honest submission alone.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import pytest

from mlkit import course, layout
from mlkit.authoring import catalog
from mlkit.grading.sandbox import launcher as sandbox
import postgres
import support
from support import gradebook_rows

pytestmark = [pytest.mark.xdist_group("distributed"),
              pytest.mark.skipif(sandbox.detect().name == "none", reason="grading needs the sandbox")]
ASSIGNMENTS = ["01_linear_regression", "07_knn"]
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Certificates:
    """The cluster's credentials, made with openssl: a CA, and one certificate and key it signed, which the
    scheduler, the workers and the client all hold (as Dask's `Security.temporary()` makes them)."""

    def __init__(self, folder: Path, name: str = "mlkit-test-cluster"):
        folder.mkdir(parents=True, exist_ok=True)
        self.ca, self.cert, self.key = folder / "ca.pem", folder / "cluster.pem", folder / "cluster.key"
        ca_key = folder / "ca.key"
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        def run(*args):
            subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=folder)

        run("req", "-x509", *ec, "-keyout", str(ca_key), "-out", str(self.ca), "-days", "2", "-subj", f"/CN={name}-ca")
        run("req", *ec, "-keyout", str(self.key), "-out", "cluster.csr", "-subj", f"/CN={name}")
        run("x509", "-req", "-in", "cluster.csr", "-CA", str(self.ca), "-CAkey", str(ca_key), "-CAcreateserial",
            "-out", str(self.cert), "-days", "2")

    def dask_options(self) -> list[str]:
        return ["--tls-ca-file", str(self.ca), "--tls-cert", str(self.cert), "--tls-key", str(self.key)]

    def course_settings(self) -> str:
        """The lines of nbgrader_config.py that give `mlkit grade` the cluster's credentials."""
        return (f"\nc.MlkitGrade.tls_ca_file = {str(self.ca)!r}\nc.MlkitGrade.tls_cert_file = {str(self.cert)!r}"
                f"\nc.MlkitGrade.tls_key_file = {str(self.key)!r}\n")

    def dask_environment(self) -> dict[str, str]:
        """The same credentials as Dask's own configuration, in environment variables."""
        return {"DASK_DISTRIBUTED__COMM__TLS__CA_FILE": str(self.ca),
                "DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT": str(self.cert),
                "DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY": str(self.key)}

    def security(self):
        from distributed.security import Security

        return Security(tls_ca_file=str(self.ca), tls_client_cert=str(self.cert), tls_client_key=str(self.key),
                        require_encryption=True)


class Cluster:
    """A scheduler and its workers, each a `dask` process in an empty folder of its own; over mutual TLS when
    given the cluster's certificates, else plain tcp://."""

    def __init__(self, base: Path, tls: Certificates | None = None):
        self.base, self.tls = base, tls
        self.address = f"{'tls' if tls else 'tcp'}://127.0.0.1:{_free_port()}"
        self.processes: list[subprocess.Popen] = []
        self.workers: dict[str, subprocess.Popen] = {}
        port = self.address.rsplit(":", 1)[1]
        secure = ["--protocol", "tls", *tls.dask_options()] if tls else []
        self.scheduler = self._start("scheduler", ["scheduler", "--host", "127.0.0.1", "--port", port,
                                                    "--no-dashboard", *secure])
        self._wait_for_port(int(port))

    def client(self):
        from distributed import Client

        return Client(self.address, timeout=30, security=self.tls.security() if self.tls else None)

    def _start(self, name: str, args: list[str], env: dict | None = None, user: str | None = None,
               folder: Path | None = None) -> subprocess.Popen:
        folder = folder or self.base / name
        folder.mkdir(parents=True, exist_ok=True)
        log = open(folder / "log.txt", "w")
        command = [str(BIN / "dask"), *args]
        if user:
            shutil.chown(folder, user)
            shutil.chown(folder / "log.txt", user)
            command = ["runuser", "-u", user, "--", *SHARED_PYTHON, "-m", "dask", *args]
        process = subprocess.Popen(command, cwd=folder, stdout=log, stderr=subprocess.STDOUT,
                                   env={**os.environ, **(env or {})}, start_new_session=True)
        self.processes.append(process)
        return process

    def _wait_for_port(self, port: int) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.2)
        raise RuntimeError("the Dask scheduler did not start")

    def add_worker(self, name: str, env: dict | None = None, options: list[str] | None = None,
                   user: str | None = None, folder: Path | None = None) -> subprocess.Popen:
        """A `dask worker` named `name`; by default with the cluster's credentials, run as this account.
        `options` replace the credentials (and may add a --preload); `user` runs it as that account."""
        folder = folder or self.base / name
        # One thread, no nanny: one process per worker, which SIGKILL ends as a crashed machine would.
        credentials = options if options is not None else self.tls.dask_options() if self.tls else []
        process = self._start(name, ["worker", self.address, "--nthreads", "1", "--no-nanny", "--name", name,
                                     "--no-dashboard", "--local-directory", str(folder), *credentials], env, user,
                              folder)
        self.workers[name] = process
        return process

    def wait_for_workers(self, count: int) -> None:
        with self.client() as client:
            client.wait_for_workers(count, timeout=60)

    def worker_names(self) -> set[str]:
        with self.client() as client:
            return {w["name"] for w in client.scheduler_info(n_workers=-1)["workers"].values()}

    def log(self, name: str) -> str:
        return (self.base / name / "log.txt").read_text()

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def _class(base: Path) -> Path:
    """A course with a small class: reference, untouched, an alternative and mistakes, per assignment."""
    root = course.new_course(base / "course", ASSIGNMENTS)
    for assignment in ASSIGNMENTS:
        course.nbgrader(root, "generate_assignment", assignment, "--force")
        entries = catalog.catalog_answers(assignment, root=root)
        chosen = ["reference", "untouched", *[n for n in entries if n.startswith("alt-")][:1],
                  *[n for n in entries if n.startswith("mutant-")][:2]]
        for name in chosen:
            catalog.write_submission(root, name, assignment,
                                     catalog.submission_notebook(assignment, entries[name], root=root), root=root)
    return root


def _mlkit(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mlkit.cli", *args], capture_output=True, text=True,
                          env={**course.environment(), **(env or {})})


@pytest.fixture(scope="module")
def certificates(tmp_path_factory) -> Certificates:
    return Certificates(tmp_path_factory.mktemp("cluster-credentials"))


@pytest.fixture(scope="module")
def graded(tmp_path_factory, certificates):
    """One class graded two ways: stock autograde, and mlkit grade on a TLS cluster that loses a worker (the
    cluster's credentials given as course settings)."""
    base = tmp_path_factory.mktemp("distributed")
    root = _class(base)
    # Long names: the deepest file must fit in a worker's scratch course (in /tmp) as it fits in the course.
    stock, kit = base / "graded-by-stock-nbgrader-autograde", base / "graded-on-the-dask-cluster-by-mlkit"
    shutil.copytree(root, stock)
    shutil.copytree(root, kit)
    for copy in (stock, kit):
        _deepest_file(copy, "reference", ASSIGNMENTS[0])
    for assignment in ASSIGNMENTS:
        course.nbgrader(stock, "autograde", assignment)
    with open(kit / "nbgrader_config.py", "a") as settings:
        settings.write(certificates.course_settings())
    cluster = Cluster(base / "cluster", tls=certificates)
    try:
        doomed = cluster.add_worker("worker-a")
        cluster.add_worker("worker-b")
        cluster.wait_for_workers(2)
        grading = subprocess.Popen([sys.executable, "-m", "mlkit.cli", "grade", "--course", str(kit),
                                    "--scheduler", cluster.address], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True, env=course.environment())
        # Kill worker-a while it grades: it has started a notebook (its kernel parent is up) and the scheduler
        # counts grading tasks on it. Each look is one sample of a busy machine: worker-a may be missing from
        # one answer of the scheduler (a late heartbeat), so the loop waits for the condition, never on a look.
        held: list[str] = []
        with cluster.client() as observer:
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline and not (held and _children(doomed.pid)):
                addresses = [a for a, w in observer.scheduler_info()["workers"].items() if w["name"] == "worker-a"]
                held = [str(k) for a in addresses for k in observer.processing().get(a, ())
                        if "mlkit-grade-" in str(k)]
                time.sleep(0.1)
            os.killpg(doomed.pid, signal.SIGKILL)
        out, err = grading.communicate(timeout=600)
        cluster.held_when_killed = held
        yield stock, kit, grading.returncode, out, err, cluster
    finally:
        cluster.stop()


def _deepest_file(root: Path, student: str, assignment: str) -> Path:
    """A file in a submission nested so deep that its graded copy's path is as long as Linux allows.

    Stock autograde writes it; a grader that stages the graded folder under a longer name first would fail on
    it (and once did: one such file stopped the whole distributed run)."""
    graded = root / "autograded" / student / assignment
    room = os.pathconf("/", "PC_PATH_MAX") - 2 - len(str(graded)) - 1  # the path, its final NUL, one to spare
    parts = []
    while room > 255:
        parts.append("d" * 200)
        room -= 201
    parts.append("f" * room)
    path = root / "submitted" / student / assignment / Path(*parts)
    path.parent.mkdir(parents=True)
    path.write_text("a student's file at the limit of a path's length\n")
    return path


def _children(pid: int) -> list[str]:
    """The processes the worker `pid` has started (its kernel parent, once it grades)."""
    return subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()


def test_a_class_graded_on_the_cluster_equals_stock_autograde(graded):
    stock, kit, code, out, err, _ = graded
    assert code == 0, out + err[-3000:]
    assert "graded 10 of 10 submissions" in out
    assert "Dask dashboard" not in err  # this scheduler serves none (no bokeh): no address that would not answer
    stock_rows, kit_rows = gradebook_rows(stock), gradebook_rows(kit)
    assert len(stock_rows) > 100 and kit_rows == stock_rows
    def graded_notebooks(root):
        return sorted(p.relative_to(root).as_posix() for p in (root / "autograded").glob("*/*/*.ipynb"))

    assert graded_notebooks(kit) == graded_notebooks(stock) and len(graded_notebooks(kit)) == 10
    (deep,) = [p for p in (kit / "autograded").rglob("f*") if p.is_file()]
    assert len(str(deep)) == os.pathconf("/", "PC_PATH_MAX") - 2  # graded as stock grades it, at the limit


def test_the_killed_worker_lost_nothing(graded):
    _, kit, _, _, err, cluster = graded
    assert cluster.workers["worker-a"].poll() == -signal.SIGKILL
    assert cluster.held_when_killed, "worker-a was killed before it held a notebook"
    # Every submission is in the gradebook exactly once, and none is missing.
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{kit / 'gradebook.db'}") as gb:
        count = sum(len(a.submissions) for a in gb.assignments)
    assert count == 10
    assert "10/10" in err  # the progress bar counted each notebook once


def test_a_rerun_grades_only_what_is_missing(graded, tmp_path):
    _, kit, _, out, err, cluster = graded
    lost = kit / "autograded" / "reference" / ASSIGNMENTS[0]
    assert lost.is_dir(), out + err[-3000:]  # the killed-worker run landed it
    shutil.rmtree(lost)  # as if the client had stopped before this one landed
    # What has no graded folder now: that one, and any the module's earlier runs left ungraded on a busy machine.
    missing = {(s.parent.name, s.name) for s in (kit / "submitted").glob("*/*")
               if not (kit / "autograded" / s.parent.name / s.name).is_dir()}
    kept = sorted({student for student, _ in ((s.parent.name, s.name) for s in (kit / "submitted").glob("*/*"))}
                  - {student for student, _ in missing})
    before = gradebook_rows(kit, kept)
    run = _mlkit("grade", "--course", str(kit), "--scheduler", cluster.address)
    assert run.returncode == 0, run.stderr[-3000:]
    total = len(list((kit / "submitted").glob("*/*")))
    assert f"graded {len(missing)} of {total} submissions; skipped {total - len(missing)} graded before" in run.stdout
    assert ("reference", ASSIGNMENTS[0]) in missing and lost.is_dir() and gradebook_rows(kit, kept) == before


@pytest.mark.skipif(postgres.binaries() is None, reason="needs PostgreSQL's server (Debian package postgresql)")
def test_a_postgresql_gradebook_gets_the_same_grades(graded, tmp_path):
    """The course's gradebook on PostgreSQL: the one writer puts there what stock autograde put in SQLite."""
    stock, _, _, _, _, cluster = graded
    server = postgres.Server()
    try:
        url = server.create_database("distributed")
        root = tmp_path / "pg-course"
        shutil.copytree(stock.parent / "course", root)
        (root / "gradebook.db").unlink()  # the class as released into SQLite: here it goes to PostgreSQL
        with open(root / "nbgrader_config.py", "a") as config:
            config.write(f"\nc.CourseDirectory.db_url = {url!r}\n")
        for assignment in ASSIGNMENTS:
            course.nbgrader(root, "generate_assignment", assignment, "--force")
        run = _mlkit("grade", "--course", str(root), "--scheduler", cluster.address,
                     env=cluster.tls.dask_environment())  # the credentials as Dask's own configuration
        assert run.returncode == 0, run.stderr[-3000:]
        assert "graded 10 of 10 submissions" in run.stdout
        assert gradebook_rows(root, db_url=url) == gradebook_rows(stock)
        assert not (root / "gradebook.db").exists()
    finally:
        server.stop()


def test_a_scheduler_that_goes_away_stops_the_run_and_keeps_what_was_graded(graded, tmp_path):
    stock = graded[0]
    root = tmp_path / "course"
    shutil.copytree(stock.parent / "course", root)
    first = Cluster(tmp_path / "first")
    try:
        first.add_worker("only")
        first.wait_for_workers(1)
        grading = subprocess.Popen([sys.executable, "-m", "mlkit.cli", "grade", "--course", str(root), "--scheduler",
                                    first.address, "--private-network"], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True, env=course.environment())
        deadline = time.monotonic() + 240
        while len(list((root / "autograded").glob("*/*/*.ipynb"))) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        os.killpg(first.scheduler.pid, signal.SIGKILL)
        out, err = grading.communicate(timeout=300)
    finally:
        first.stop()
    assert grading.returncode == 2, out + err[-3000:]
    assert "every grade written so far is kept: run the same command again to grade the rest" in err
    assert "Traceback" not in err
    kept = sorted(p.parent.relative_to(root / "autograded") for p in (root / "autograded").glob("*/*/*.ipynb"))
    assert 3 <= len(kept) < 10
    assert sorted({(r[0], r[1]) for r in gradebook_rows(root)}) == sorted((p.parts[0], p.parts[1]) for p in kept)

    second = Cluster(tmp_path / "second")
    try:
        second.add_worker("again")
        second.wait_for_workers(1)
        run = _mlkit("grade", "--course", str(root), "--scheduler", second.address, "--private-network")
    finally:
        second.stop()
    assert run.returncode == 0, run.stderr[-3000:]
    assert f"graded {10 - len(kept)} of 10 submissions; skipped {len(kept)} graded before" in run.stdout
    assert gradebook_rows(root) == gradebook_rows(stock)


def _small_course(tmp_path: Path) -> Path:
    root = course.new_course(tmp_path / "course", ASSIGNMENTS[:1])
    course.nbgrader(root, "generate_assignment", ASSIGNMENTS[0])
    catalog.write_submission(root, "someone", ASSIGNMENTS[0],
                             catalog.submission_notebook(ASSIGNMENTS[0], None, root=root), root=root)
    return root


def test_a_worker_that_cannot_sandbox_grades_nothing(tmp_path):
    """A worker without bubblewrap refuses, with the reason, and no notebook is graded anywhere."""
    root = _small_course(tmp_path)
    cluster = Cluster(tmp_path / "cluster")
    try:
        # Its PATH holds only the kit's environment: no bwrap to be found, as on a machine without it.
        cluster.add_worker("no-sandbox", env={"PATH": str(BIN)})
        cluster.wait_for_workers(1)
        run = _mlkit("grade", "--course", str(root), "--scheduler", cluster.address, "--private-network")
    finally:
        cluster.stop()
    assert run.returncode == 2, run.stdout + run.stderr
    assert "refuses to grade: this worker cannot sandbox student code: bubblewrap (bwrap) is not installed" \
        in run.stderr
    assert "no worker of the scheduler can sandbox student code; nothing was graded" in run.stderr
    assert not (root / "autograded" / "someone").exists() and "Traceback" not in run.stderr
    assert course.gradebook(root) == {}


def test_a_scheduler_that_is_not_there_is_named(tmp_path):
    root = _small_course(tmp_path)
    run = _mlkit("grade", "--course", str(root), "--scheduler", f"tcp://127.0.0.1:{_free_port()}",
                 "--private-network", env={"DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "3s"})
    assert run.returncode == 2 and "no Dask scheduler answered at tcp://127.0.0.1:" in run.stderr
    assert "Traceback" not in run.stderr
    # The same scheduler named as a course setting instead of on the command line.
    port = _free_port()
    with open(root / "nbgrader_config.py", "a") as config:
        config.write(f'\nc.MlkitGrade.scheduler = "tcp://127.0.0.1:{port}"\nc.MlkitGrade.private_network = True\n')
    run = _mlkit("grade", "--course", str(root), env={"DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "3s"})
    assert run.returncode == 2 and f"no Dask scheduler answered at tcp://127.0.0.1:{port}" in run.stderr


def test_a_plain_scheduler_is_refused_unless_the_network_is_said_to_be_private(tmp_path):
    """Refused before connecting: nothing listens at these addresses, and the refusal names the fix."""
    root = _small_course(tmp_path)
    plain = f"tcp://127.0.0.1:{_free_port()}"
    run = _mlkit("grade", "--course", str(root), "--scheduler", plain)
    assert run.returncode == 2, run.stdout + run.stderr
    assert f"refused to grade on {plain}: a plain tcp:// scheduler lets anyone who reaches its port run code" \
        in run.stderr and "--private-network" in run.stderr and "c.MlkitGrade.tls_ca_file" in run.stderr
    assert "no Dask scheduler answered" not in run.stderr and "Traceback" not in run.stderr
    # A TLS scheduler without the cluster's credentials is no better, and says which settings are missing.
    run = _mlkit("grade", "--course", str(root), "--scheduler", f"tls://127.0.0.1:{_free_port()}")
    assert run.returncode == 2 and "needs the cluster's CA, certificate and key: set c.MlkitGrade.tls_ca_file" \
        in run.stderr, run.stderr
    assert course.gradebook(root) == {} and not (root / "autograded").exists()


MALLORY = "mlkit-mallory"  # a cluster user: an account of this machine without the cluster's credentials
# Her Python: the machine's own, with the libraries and the kit every account can read (the suite's environment
# lives where only root may go).
SHARED_PYTHON = ["env", f"PYTHONPATH={layout.ROOT}:{sysconfig.get_paths()['purelib']}", "/usr/bin/python3"]

# Mallory's worker keeps a copy of every piece of data the scheduler gives it.
SPY = '''
import threading, time
from pathlib import Path

LOOT = Path("LOOT_FOLDER")  # Dask runs a copy of this file from its scratch space: the folder is named here


def dask_setup(worker):
    def copy_what_arrives():
        seen = set()
        while True:
            for key, value in list(worker.data.items()):
                if key not in seen:
                    seen.add(key)
                    LOOT.mkdir(exist_ok=True)
                    data = value if isinstance(value, bytes) else repr(value).encode()
                    (LOOT / f"{len(seen)}.bin").write_bytes(data)
            time.sleep(0.02)

    threading.Thread(target=copy_what_arrives, daemon=True).start()
'''

# Mallory's client: runs code on every worker of the scheduler, if it lets her in.
INTRUDER = '''
import os, sys
from distributed import Client
from distributed.security import Security

address, folder = sys.argv[1], sys.argv[2]
own = Security(tls_ca_file=f"{folder}/ca.pem", tls_client_cert=f"{folder}/cluster.pem",
               tls_client_key=f"{folder}/cluster.key") if address.startswith("tls") else None
try:
    with Client(address, timeout=10, security=own) as client:
        print("ran code as the accounts", sorted(set(client.run(os.getuid).values())))
except Exception as error:
    print("refused:", type(error).__name__)
'''


@pytest.fixture(scope="module")
def mallory(tmp_path_factory):
    """Mallory's account, her scripts and her own certificates (signed by a CA of hers), in her home."""
    if os.geteuid() != 0:
        pytest.skip("making an account needs root")
    if not os.access("/usr/bin/python3", os.X_OK) or subprocess.run(
            ["/usr/bin/python3", "-c", "import sys; assert sys.version_info[:2] == (3, 11)"]).returncode:
        pytest.skip("the other account needs the machine's own Python 3.11 (/usr/bin/python3)")
    made = subprocess.run(["useradd", "--create-home", "--shell", "/bin/sh", MALLORY], capture_output=True, text=True)
    assert made.returncode in (0, 9), made.stderr  # 9: the account is left from a run that was stopped
    account = pwd.getpwnam(MALLORY)
    home = Path(account.pw_dir)
    Certificates(home / "certificates", "mallory")
    (home / "intruder.py").write_text(INTRUDER)
    for path in [home, *home.rglob("*")]:
        os.chown(path, account.pw_uid, account.pw_gid)
    try:
        yield home
    finally:
        subprocess.run(["pkill", "-KILL", "-u", MALLORY], capture_output=True)  # her processes only
        subprocess.run(["userdel", "--remove", MALLORY], capture_output=True)


def _as_mallory(*args: str) -> str:
    run = subprocess.run(["runuser", "-u", MALLORY, "--", *SHARED_PYTHON, *args], capture_output=True,
                         text=True, timeout=120, cwd="/")
    return run.stdout + run.stderr


def _spy_worker(cluster: Cluster, home: Path, name: str, options: list[str]) -> Path:
    """Mallory's `dask worker` with her spy, run as her account; returns the folder her loot lands in."""
    folder = home / name
    folder.mkdir()
    (folder / "spy.py").write_text(SPY.replace("LOOT_FOLDER", str(folder / "loot")))
    shutil.chown(folder, MALLORY)
    cluster.add_worker(name, options=[*options, "--preload", str(folder / "spy.py")], user=MALLORY, folder=folder,
                       env={"HOME": str(home)})
    return folder / "loot"


def _loot(loot: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(loot.glob("*.bin"))) if loot.is_dir() else b""


def _files_under(folders) -> bytes:
    return b"".join(p.read_bytes() for folder in folders for p in Path(folder).rglob("*") if p.is_file())


HIDDEN = b"BEGIN HIDDEN TESTS"


@pytest.mark.skipif(postgres.binaries() is None, reason="needs PostgreSQL's server (Debian package postgresql)")
def test_a_cluster_user_without_the_credentials_gets_nothing(graded, mallory, tmp_path):
    """Mallory's client and worker against the module's TLS scheduler get nothing; against a plain tcp://
    one (accepted only with --private-network) they run code as root on a worker and receive the hidden tests.
    Either way no bundle holds the gradebook's password, which the course's own nbgrader_config.py names."""
    tls_cluster = graded[5]
    password = "pw-" + os.urandom(8).hex()
    server = postgres.Server()
    open_cluster = Cluster(tmp_path / "open")
    try:
        root = _small_course(tmp_path)
        (root / "gradebook.db").unlink()
        url = server.create_database("mallory").replace("postgres@", f"postgres:{password}@")  # trust: accepted
        with open(root / "nbgrader_config.py", "a") as config:
            config.write(f"\nc.CourseDirectory.db_url = {url!r}\n")
        course.nbgrader(root, "generate_assignment", ASSIGNMENTS[0], "--force")
        assert password in course.course_config(root).CourseDirectory.db_url  # what would travel, unstripped

        # The defence off: a plain scheduler on a network said to be private, which mallory reaches.
        honest = open_cluster.add_worker("honest")
        loot = _spy_worker(open_cluster, mallory, "open-spy", [])
        open_cluster.wait_for_workers(2)
        assert "ran code as the accounts [0, " in _as_mallory(str(mallory / "intruder.py"), open_cluster.address,
                                                              str(mallory / "certificates"))
        run = _mlkit("grade", "--course", str(root), "--scheduler", open_cluster.address, "--private-network")
        deadline = time.monotonic() + 60
        while HIDDEN not in _loot(loot) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert HIDDEN in _loot(loot), run.stdout + run.stderr  # her worker received the assignment's bundle
        assert password.encode() not in _loot(loot)
        # Nor is it in anything the honest worker wrote: its scratch courses live as long as it does.
        written = [*Path(tempfile.gettempdir()).glob(f"mlkit-worker-{honest.pid}-*"), tmp_path / "open" / "honest"]
        # (Whether it graded at all is the scheduler's choice: mallory's worker may have taken every task.)
        assert password.encode() not in _files_under(written)
        open_cluster.stop()

        # The defence on: the module's TLS scheduler. Her certificate is signed by her own CA, not the cluster's.
        with open(root / "nbgrader_config.py", "a") as config:
            config.write(tls_cluster.tls.course_settings())
        theirs = mallory / "certificates"
        loot = _spy_worker(tls_cluster, mallory, "tls-spy", ["--tls-ca-file", str(theirs / "ca.pem"), "--tls-cert",
                                                             str(theirs / "cluster.pem"), "--tls-key",
                                                             str(theirs / "cluster.key")])
        assert "refused:" in _as_mallory(str(mallory / "intruder.py"), tls_cluster.address, str(theirs))
        run = _mlkit("grade", "--course", str(root), "--scheduler", tls_cluster.address, "--force")
        assert run.returncode == 0 and "graded 1 of 1 submissions" in run.stdout, run.stdout + run.stderr[-3000:]
        assert tls_cluster.worker_names() == {"worker-b"}  # hers never joined
        assert _loot(loot) == b"" and tls_cluster.workers["tls-spy"].poll() in (None, 1)
    finally:
        open_cluster.stop()
        for name in ("tls-spy",):
            process = tls_cluster.workers.pop(name, None)
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        server.stop()


# A page of each of Dask's default scheduler routes (distributed.yaml: distributed.scheduler.http.routes), with
# what it tells whoever asks: the scheduler's identity and address, its workers, its metrics, that it is up.
SCHEDULER_PAGES = {"/json/identity.json": b'"type": "Scheduler"', "/json/index.html": b"identity.json",
                   "/info/main/workers.html": b"Workers", "/metrics": b"dask_scheduler", "/health": b"ok",
                   "/statics/css/base.css": b"body"}


def _documented_scheduler(folder: Path, routes_emptied: bool) -> tuple[subprocess.Popen, str]:
    """The scheduler as docs/instructor/cluster.md starts it (its block `tls-scheduler`, run by bash in `folder`,
    which holds the cluster's credentials), on free ports of 127.0.0.1 (the page's 8786 and 8787 may be taken on
    a shared machine); with `routes_emptied` False, the same command without the emptied HTTP routes.
    Returns the process (its own session) and the address of its HTTP server."""
    *before, command = support.doc_commands("instructor/cluster.md", "tls-scheduler")
    emptied = "DASK_DISTRIBUTED__SCHEDULER__HTTP__ROUTES='[]' "
    assert command.startswith(emptied) and command.endswith(" --no-dashboard"), command
    port, http = _free_port(), _free_port()
    command = command if routes_emptied else command[len(emptied):]
    script = "\n".join([*before, f"{command} --host 127.0.0.1 --port {port} --dashboard-address 127.0.0.1:{http}"])
    with open(folder / f"scheduler-{port}.log", "w") as log:
        process = subprocess.Popen(["bash", "-c", script], cwd=folder, stdout=log, stderr=subprocess.STDOUT,
                                   env={**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"}, start_new_session=True)
    deadline = time.monotonic() + 120
    while not all(_listening(p) for p in (port, http)):
        assert process.poll() is None and time.monotonic() < deadline, (folder / f"scheduler-{port}.log").read_text()
        time.sleep(0.2)
    return process, f"http://127.0.0.1:{http}"


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _page_as_mallory(url: str) -> tuple[int, bytes]:
    """(HTTP status, body) of `url`, asked by mallory's account with curl."""
    run = subprocess.run(["runuser", "-u", MALLORY, "--", "curl", "--silent", "--max-time", "60", "--output", "-",
                          "--write-out", "\n%{http_code}", url], capture_output=True, timeout=120, cwd="/")
    body, _, status = run.stdout.rpartition(b"\n")
    return int(status or 0), body


def test_the_documented_scheduler_serves_no_http_page_to_another_account(certificates, mallory):
    """The scheduler's HTTP server needs no credentials, whatever the transport: as the docs start it (routes
    emptied, no dashboard) every default page answers 404 to mallory; without the emptied routes, `--no-dashboard`
    alone, each of them answers her, the scheduler's identity and address included."""
    for routes_emptied in (True, False):
        process, http = _documented_scheduler(certificates.ca.parent, routes_emptied)
        try:
            pages = {path: _page_as_mallory(http + path) for path in SCHEDULER_PAGES}
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
        if routes_emptied:
            assert {path: status for path, (status, _) in pages.items()} == dict.fromkeys(SCHEDULER_PAGES, 404)
            assert not any(b"Scheduler" in body or b"dask" in body for _, body in pages.values())
        else:
            assert all(status == 200 and SCHEDULER_PAGES[path] in body for path, (status, body) in pages.items()), \
                {path: (status, body[:200]) for path, (status, body) in pages.items()}
            assert b"tls://127.0.0.1:" in pages["/json/identity.json"][1]


# A worker that holds the cluster's credentials and forges what it sends back, per student.
FORGER = '''
import os, sys
import msgpack
from mlkit.grading.backends import dask_bundle, dask_worker

MARKER = os.environ["FORGE_MARKER"]
# Run by whatever process unpickles it: leaves a file named after that process, holding its command line.
PAYLOAD = (exec, (f"import os, sys; open({MARKER!r} + '-' + str(os.getpid()), 'w').write(' '.join(sys.argv))",))


class RunsCodeWhenUnpickled:
    def __reduce__(self):
        return PAYLOAD


class RaisedToRunCode(Exception):
    def __reduce__(self):
        return PAYLOAD


honest = getattr(dask_worker, 'honest', dask_worker.grade_submission)  # Dask may run a preload twice
dask_worker.honest = honest


def forged(bundle, student, files, left_out, nonce):
    if student == "pickled":
        return RunsCodeWhenUnpickled()
    if student == "raises":
        raise RaisedToRunCode()
    if student == "swap":  # a well-formed result, but not for what was sent
        return dask_bundle.pack_result("0" * 64, "graded", 1.0, files={}, records={"timestamp": None, "notebooks": {}})
    result = msgpack.unpackb(honest(bundle, student, files, left_out, nonce), raw=False)
    if student == "over":
        grades = next(iter(result["records"]["notebooks"].values()))["grades"]
        grades[next(iter(grades))][0] = 1000.0
    elif student == "escape":
        result["files"]["../../../../escaped.txt"] = b"written outside the graded folder"
    return msgpack.packb(result, use_bin_type=True)


dask_worker.grade_submission = forged  # the tasks name this function; on this worker it is the forger
'''


def test_a_forged_result_is_refused_and_fails_that_submission_alone(tmp_path):
    root = course.new_course(tmp_path / "course", ASSIGNMENTS[:1])
    course.nbgrader(root, "generate_assignment", ASSIGNMENTS[0])
    reference = catalog.submission_notebook(ASSIGNMENTS[0], catalog.catalog_answers(ASSIGNMENTS[0], root=root)
                                            ["reference"], root=root)
    students = ["honest", "over", "escape", "swap", "pickled", "raises"]
    for student in students:
        catalog.write_submission(root, student, ASSIGNMENTS[0], reference, root=root)
    (tmp_path / "forger.py").write_text(FORGER)
    marker = tmp_path / "ran"
    cluster = Cluster(tmp_path / "cluster")
    try:
        cluster.add_worker("forger", options=["--preload", str(tmp_path / "forger.py")],
                           env={"FORGE_MARKER": str(marker)})
        cluster.wait_for_workers(1)
        run = _mlkit("grade", "--course", str(root), "--scheduler", cluster.address, "--private-network")
        # The defence off: a Dask client that unpickles what the cluster sends runs the forger's code.
        from distributed import Client
        from mlkit.grading.backends import dask_worker as client_side

        with Client(cluster.address, timeout=30) as plain:
            plain.submit(client_side.grade_submission, b"", "pickled", {}, None, "", pure=False).result(timeout=60)
    finally:
        cluster.stop()
    assert run.returncode == 1, run.stdout + run.stderr[-3000:]
    assert "graded 1 of 6 submissions; 5 failed" in run.stdout, run.stdout
    failed = {line.split("failed: ")[1].split(" / ")[0]: line for line in run.stdout.splitlines() if "failed: " in line}
    assert "refused the worker's result: the score of" in failed["over"] and "not a number from 0 to" in failed["over"]
    assert "refused the worker's result: refused a file path outside its folder" in failed["escape"]
    assert "does not answer the submission that was sent" in failed["swap"]
    assert "the error the cluster sent is not read" in failed["raises"]
    assert set(failed) == set(students) - {"honest"}, run.stdout
    assert {row[0] for row in gradebook_rows(root)} == {"honest"}
    assert sorted(p.name for p in (root / "autograded").iterdir()) == ["honest"]
    assert not list(tmp_path.rglob("escaped.txt")) and "Traceback" not in run.stderr
    ran = {p.name: p.read_text() for p in tmp_path.glob("ran-*")}
    assert not [argv for argv in ran.values() if "mlkit.cli" in argv], ran  # never in `mlkit grade`
    assert f"ran-{os.getpid()}" in ran  # but in the plain client


def test_feedback_on_two_workers_one_killed_lands_every_page_once(graded, tmp_path):
    """`mlkit feedback --scheduler`: worker-a is killed while it renders; every page lands once, as stock's."""
    # Both from the class the cluster graded (whose gradebook equals stock autograde's, tested above): the
    # two graded copies of the fixture differ in the name of their deepest file.
    stock, kit = tmp_path / "stock", tmp_path / "kit"
    shutil.copytree(graded[1], stock)
    shutil.copytree(graded[1], kit)
    for folder in (stock, kit):
        shutil.rmtree(folder / "feedback", ignore_errors=True)
    for assignment in ASSIGNMENTS:
        course.nbgrader(stock, "generate_feedback", assignment)
    # A TLS cluster: the kit's copy of the course names the cluster's credentials (the fixture's settings).
    cluster = Cluster(tmp_path / "cluster", tls=graded[5].tls)
    try:
        doomed = cluster.add_worker("worker-a")
        cluster.add_worker("worker-b")
        cluster.wait_for_workers(2)
        with cluster.client() as observer:
            (address,) = [a for a, w in observer.scheduler_info()["workers"].items() if w["name"] == "worker-a"]
        rendering = subprocess.Popen([sys.executable, "-m", "mlkit.cli", "feedback", "--course", str(kit),
                                      "--scheduler", cluster.address], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=course.environment())
        held: list[str] = []
        with cluster.client() as observer:
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline and not held and rendering.poll() is None:
                held = [str(k) for k in observer.processing().get(address, ()) if "mlkit-feedback-" in str(k)]
                time.sleep(0.05)
            os.killpg(doomed.pid, signal.SIGKILL)
        out, err = rendering.communicate(timeout=600)
    finally:
        cluster.stop()
    assert held, "worker-a was killed before it rendered a page:\n" + cluster.log("worker-a")[-3000:]
    assert rendering.returncode == 0, out + err[-3000:]
    assert "feedback written for 10 of 10 submissions" in out and "10/10" in err

    def pages(root):
        return {p.relative_to(root / "feedback").as_posix(): p.read_bytes()
                for p in sorted((root / "feedback").rglob("*")) if p.is_file()}

    got, expected = pages(kit), pages(stock)
    assert len([name for name in expected if name.endswith(".html")]) == 10
    assert sorted(got) == sorted(expected)  # every page once, no half-written or staging folder left
    assert [name for name in expected if got[name] != expected[name]] == []
    assert sorted(p.name for p in (kit / "feedback").glob("*/*")) == sorted(
        p.name for p in (stock / "feedback").glob("*/*"))


# A worker that holds the cluster's credentials and forges the feedback pages it sends back, per student.
FEEDBACK_FORGER = '''
import os
import msgpack
from mlkit.grading.backends import dask_feedback as cluster_feedback

MARKER = os.environ["FORGE_MARKER"]
PAYLOAD = (exec, (f"import os, sys; open({MARKER!r} + '-' + str(os.getpid()), 'w').write(' '.join(sys.argv))",))


class RunsCodeWhenUnpickled:
    def __reduce__(self):
        return PAYLOAD


honest = getattr(cluster_feedback, 'honest', cluster_feedback.render_submission)  # Dask may run a preload twice
cluster_feedback.honest = honest


def forged(bundle, templates, student, files, rows, nonce):
    if student == "pickled":
        return RunsCodeWhenUnpickled()
    result = msgpack.unpackb(honest(bundle, templates, student, files, rows, nonce), raw=False)
    if student == "escape":
        result["files"]["../../../../escaped.html"] = b"<script>a page outside the feedback folder</script>"
    elif student == "planted":
        result["files"]["index.html"] = b"<script>a page no notebook has</script>"
    elif student == "swap":  # well-formed pages, but not an answer to what was sent
        result["digest"] = "0" * 64
    return msgpack.packb(result, use_bin_type=True)


cluster_feedback.render_submission = forged  # the tasks name this function; on this worker it is the forger
'''


def test_forged_feedback_pages_are_refused_and_fail_that_submission_alone(tmp_path):
    root = course.new_course(tmp_path / "course", ASSIGNMENTS[:1])
    course.nbgrader(root, "generate_assignment", ASSIGNMENTS[0])
    reference = catalog.submission_notebook(ASSIGNMENTS[0], catalog.catalog_answers(ASSIGNMENTS[0], root=root)
                                            ["reference"], root=root)
    students = ["honest", "escape", "planted", "swap", "pickled"]
    for student in students:
        catalog.write_submission(root, student, ASSIGNMENTS[0], reference, root=root)
    course.nbgrader(root, "autograde", ASSIGNMENTS[0])
    (tmp_path / "forger.py").write_text(FEEDBACK_FORGER)
    marker = tmp_path / "ran"
    cluster = Cluster(tmp_path / "cluster")
    try:
        cluster.add_worker("forger", options=["--preload", str(tmp_path / "forger.py")],
                           env={"FORGE_MARKER": str(marker)})
        cluster.wait_for_workers(1)
        run = _mlkit("feedback", "--course", str(root), "--scheduler", cluster.address, "--private-network")
        # The defence off: a Dask client that unpickles what the cluster sends runs the forger's code.
        from distributed import Client
        from mlkit.grading.backends import dask_feedback as cluster_feedback

        with Client(cluster.address, timeout=30) as plain:
            plain.submit(cluster_feedback.render_submission, b"", b"", "pickled", {}, b"", "",
                         pure=False).result(timeout=60)
    finally:
        cluster.stop()
    assert run.returncode == 1, run.stdout + run.stderr[-3000:]
    assert "feedback written for 1 of 5 submissions; 4 failed" in run.stdout, run.stdout
    failed = {line.split("failed: ")[1].split(" / ")[0]: line for line in run.stdout.splitlines() if "failed: " in line}
    assert set(failed) == set(students) - {"honest"}, run.stdout
    assert "refused the worker's result: refused a file path outside its folder" in failed["escape"]
    assert "neither a graded notebook's page nor a graded file: 'index.html'" in failed["planted"]
    assert "does not answer the submission that was sent" in failed["swap"]
    assert sorted(p.name for p in (root / "feedback").iterdir()) == ["honest"]
    pages, graded = root / "feedback" / "honest" / ASSIGNMENTS[0], root / "autograded" / "honest" / ASSIGNMENTS[0]
    assert sorted(p.stem for p in pages.glob("*.html")) == sorted(p.stem for p in graded.glob("*.ipynb")) != []
    assert not list(tmp_path.rglob("escaped.html")) and "Traceback" not in run.stderr
    ran = {p.name: p.read_text() for p in tmp_path.glob("ran-*")}
    assert not [argv for argv in ran.values() if "mlkit.cli" in argv], ran  # never in `mlkit feedback`
    assert f"ran-{os.getpid()}" in ran  # but in the plain client
