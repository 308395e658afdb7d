"""`mlkit grade --scheduler`: a class graded on a real Dask scheduler's workers gets stock autograde's gradebook.

A real `dask scheduler` and two `dask worker` processes run on 127.0.0.1, each started in an empty folder of
its own, so a worker can reach the course only through what its tasks carry. One worker is killed with
SIGKILL while it grades; the notebook it held is graded again by the other and lands once. One class goes
into a PostgreSQL gradebook. A worker that cannot sandbox refuses its tasks, and nothing is graded there.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlkit import course
from mlkit.authoring import catalog
from mlkit.grading import sandbox
import postgres
from support import gradebook_rows

pytestmark = [pytest.mark.xdist_group("distributed"),
              pytest.mark.skipif(sandbox.detect().name == "none", reason="grading needs the sandbox")]
ASSIGNMENTS = ["01_linear_regression", "07_knn"]
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """A scheduler and its workers, each a `dask` process in an empty folder of its own."""

    def __init__(self, base: Path):
        self.base = base
        self.address = f"tcp://127.0.0.1:{_free_port()}"
        self.processes: list[subprocess.Popen] = []
        self.workers: dict[str, subprocess.Popen] = {}
        port = self.address.rsplit(":", 1)[1]
        self.scheduler = self._start("scheduler", ["scheduler", "--host", "127.0.0.1", "--port", port,
                                                    "--no-dashboard"])
        self._wait_for_port(int(port))

    def _start(self, name: str, args: list[str], env: dict | None = None) -> subprocess.Popen:
        folder = self.base / name
        folder.mkdir(parents=True)
        log = open(folder / "log.txt", "w")
        process = subprocess.Popen([str(BIN / "dask"), *args], cwd=folder, stdout=log, stderr=subprocess.STDOUT,
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

    def add_worker(self, name: str, env: dict | None = None) -> subprocess.Popen:
        # One thread, no nanny: one process per worker, which SIGKILL ends as a crashed machine would.
        process = self._start(name, ["worker", self.address, "--nthreads", "1", "--no-nanny", "--name", name,
                                     "--no-dashboard", "--local-directory", str(self.base / name)], env)
        self.workers[name] = process
        return process

    def wait_for_workers(self, count: int) -> None:
        from distributed import Client

        with Client(self.address, timeout=30) as client:
            client.wait_for_workers(count, timeout=60)

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
def graded(tmp_path_factory):
    """One class graded three ways: stock autograde, and mlkit grade on a cluster that loses a worker."""
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
    cluster = Cluster(base / "cluster")
    try:
        doomed = cluster.add_worker("worker-a")
        cluster.add_worker("worker-b")
        cluster.wait_for_workers(2)
        grading = subprocess.Popen([sys.executable, "-m", "mlkit.cli", "grade", "--course", str(kit),
                                    "--scheduler", cluster.address], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True, env=course.environment())
        # Kill worker-a while it grades: it has started a notebook (its kernel parent is up) and the scheduler
        # counts grading tasks on it.
        from distributed import Client

        held: list[str] = []
        with Client(cluster.address, timeout=30) as observer:
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline and not (held and _children(doomed.pid)):
                (address,) = [a for a, w in observer.scheduler_info()["workers"].items() if w["name"] == "worker-a"]
                held = [str(k) for k in observer.processing().get(address, ()) if "mlkit-grade-" in str(k)]
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
    _, kit, _, _, _, cluster = graded
    lost = kit / "autograded" / "reference" / ASSIGNMENTS[0]
    shutil.rmtree(lost)  # as if the client had stopped before this one landed
    before = gradebook_rows(kit)
    run = _mlkit("grade", "--course", str(kit), "--scheduler", cluster.address)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "graded 1 of 10 submissions; skipped 9 graded before" in run.stdout
    assert lost.is_dir() and gradebook_rows(kit) == before


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
        run = _mlkit("grade", "--course", str(root), "--scheduler", cluster.address)
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
                                    first.address], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   env=course.environment())
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
        run = _mlkit("grade", "--course", str(root), "--scheduler", second.address)
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
        run = _mlkit("grade", "--course", str(root), "--scheduler", cluster.address)
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
                 env={"DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "3s"})
    assert run.returncode == 2 and "no Dask scheduler answered at tcp://127.0.0.1:" in run.stderr
    assert "Traceback" not in run.stderr
    # The same scheduler named as a course setting instead of on the command line.
    port = _free_port()
    with open(root / "nbgrader_config.py", "a") as config:
        config.write(f'\nc.MlkitGrade.scheduler = "tcp://127.0.0.1:{port}"\n')
    run = _mlkit("grade", "--course", str(root), env={"DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "3s"})
    assert run.returncode == 2 and f"no Dask scheduler answered at tcp://127.0.0.1:{port}" in run.stderr


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
    cluster = Cluster(tmp_path / "cluster")
    try:
        doomed = cluster.add_worker("worker-a")
        cluster.add_worker("worker-b")
        cluster.wait_for_workers(2)
        from distributed import Client

        with Client(cluster.address, timeout=30) as observer:
            (address,) = [a for a, w in observer.scheduler_info()["workers"].items() if w["name"] == "worker-a"]
        rendering = subprocess.Popen([sys.executable, "-m", "mlkit.cli", "feedback", "--course", str(kit),
                                      "--scheduler", cluster.address], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=course.environment())
        held: list[str] = []
        with Client(cluster.address, timeout=30) as observer:
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
