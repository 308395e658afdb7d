"""What student code sees while it is graded, and that a course grades the same wherever it lives.

Everything here goes through the real `nbgrader autograde`, run from the
course folder: a *probe* submission prints, from its answer cell, what the
student process can see and do, and the tests read that from the
autograded notebook.  The course-copy cases grade a copied course that
holds the kit's own `mlkit/` folder, a submission that brings its own
`mlkit/` and `numpy/` folders, a course under a folder only its owner may
enter, grading as an unprivileged user, and a machine without bubblewrap.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest

import weakened
from mlkit import course, layout
from mlkit.authoring import catalog
from mlkit.grading.sandbox import launcher as sandbox
from mlkit.grading.sandbox import treebound

pytestmark = [
    pytest.mark.xdist_group("sandbox"),
    pytest.mark.skipif(sandbox.detect().name == "none", reason="needs a sandbox (bubblewrap)"),
]
ASSIGNMENT = "01_linear_regression"
FULL = 12.0
MARKER = "MLKIT-PROBE "

PROBE = '''
import json as _json, os as _os, resource as _resource, socket as _socket
def _try(action):
    try:
        return action()
    except BaseException as error:
        return "refused: " + type(error).__name__
_facts = {
    "uid": _os.getuid(),
    "cwd": _os.getcwd(),
    "cwd_files": sorted(_os.listdir(".")),
    "course_listing": _try(lambda: sorted(_os.listdir(COURSE))),
    "secret": _try(lambda: open(COURSE + "/SECRET.txt").read()),
    "gradebook": _try(lambda: len(open(COURSE + "/gradebook.db", "rb").read())),
    "kit_repo": _try(lambda: sorted(_os.listdir(KIT))),
    "environment": sorted(_os.environ),
    "imports": {name: _try(lambda: __import__(name) and "imported")
                for name in ("numpy", "json", "sklearn", "scipy", "mlkit", "nbgrader", "IPython", "matplotlib")},
    "write_cwd": _try(lambda: open("written.txt", "w").write("x")),
    "write_tmp": _try(lambda: open("/tmp/scratch.txt", "w").write("x")),
    "loopback": _try(lambda: _socket.create_connection(("127.0.0.1", PORT), timeout=2).close() or "connected"),
    "limits": [_resource.getrlimit(_resource.RLIMIT_AS)[0], _resource.getrlimit(_resource.RLIMIT_CPU)[0]],
    "processes": sorted(p for p in _os.listdir("/proc") if p.isdigit()),
    "write_dev_shm": _try(lambda: open("/dev/shm/filled", "w").write("x")),
    "write_dev": _try(lambda: open("/dev/filled", "w").write("x")),
    "dev_null": _try(lambda: open("/dev/null", "w").write("x")),
    "fork": _try(lambda: "started" if _os.fork() or _os._exit(0) else ""),
}
print("MLKIT-PROBE " + _json.dumps(_facts))
'''


def make_course(root: Path, students: dict[str, str], extra_answer: dict[str, str] | None = None) -> Path:
    """A course at `root` with submissions: student -> "reference" | "wrong" | "probe"."""
    c = course.new_course(root, [ASSIGNMENT])
    course.nbgrader(c, "generate_assignment", ASSIGNMENT, "--force")
    reference = catalog.reference_answers(ASSIGNMENT, root=c)
    wrong = next(m for m in catalog.mutants(ASSIGNMENT) if m.name == "gradient_sign_flipped").apply(reference)
    for student, kind in students.items():
        answers = dict(wrong if kind == "wrong" else reference)
        if kind == "probe":
            answers["gradient_descent"] += "\n" + (extra_answer or {}).get("probe", "")
        catalog.write_submission(c, student, ASSIGNMENT, catalog.submission_notebook(ASSIGNMENT, answers, root=c),
                                 root=c)
    (c / "SECRET.txt").write_text("course-secret")
    return c


def probe_code(c: Path, port: int) -> str:
    return f"COURSE = {str(c)!r}\nKIT = {str(layout.ROOT)!r}\nPORT = {port}\n" + PROBE


def autograded(c: Path, student: str):
    return nbformat.read(c / "autograded" / student / ASSIGNMENT / "linear_regression.ipynb", as_version=4)


def probe_facts(c: Path, student: str = "probe") -> dict:
    for cell in autograded(c, student).cells:
        for output in cell.get("outputs", []):
            for line in output.get("text", "").splitlines():
                if line.startswith(MARKER):
                    return json.loads(line[len(MARKER):])
    raise AssertionError("the probe printed nothing")


def scores(c: Path) -> dict[str, float]:
    return {student: per[ASSIGNMENT].auto_score for student, per in course.gradebook(c).items()}


@pytest.fixture(scope="module")
def listener():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    yield server.getsockname()[1]
    server.close()


@pytest.fixture(scope="module")
def probed(listener, tmp_path_factory):
    root = tmp_path_factory.mktemp("probe") / "course"
    c = make_course(root, {"probe": "probe", "honest": "reference"}, {"probe": probe_code(root, listener)})
    course.nbgrader(c, "autograde", ASSIGNMENT)
    return c, probe_facts(c)


def test_the_probe_itself_is_graded_normally(probed):
    c, _ = probed
    assert scores(c) == {"probe": FULL, "honest": FULL}


def test_the_sandbox_may_fork_only_where_a_control_group_bounds_its_tree(probed):
    _, facts = probed
    if treebound.kind():  # the group itself is seen from outside: test_tree_bound.py
        assert facts["fork"] == "started"
    else:
        assert facts["fork"] == "refused: BlockingIOError"


def test_student_code_runs_as_its_own_unprivileged_user(probed):
    _, facts = probed
    if sandbox.detect().name == "root":
        # the window starts past every subordinate range (which may have moved since, as accounts come and go)
        assert sandbox.FIRST_UID <= facts["uid"] < sandbox.student_uid_window() + sandbox.UID_RANGE
    else:
        assert facts["uid"] == 65534


def test_it_sees_its_notebook_folder_and_nothing_of_the_course(probed):
    c, facts = probed
    assert facts["cwd"] == str(c / "autograded" / "probe" / ASSIGNMENT)
    assert "linear_regression.ipynb" in facts["cwd_files"] and "data" in facts["cwd_files"]
    assert facts["course_listing"] == ["autograded"] or facts["course_listing"].startswith("refused")
    for key in ("secret", "gradebook", "kit_repo"):
        assert str(facts[key]).startswith("refused"), (key, facts[key])


def test_only_numpy_and_the_standard_library_import(probed):
    _, facts = probed
    assert facts["imports"]["numpy"] == facts["imports"]["json"] == "imported"
    for name in ("sklearn", "scipy", "mlkit", "nbgrader", "IPython", "matplotlib"):
        assert facts["imports"][name] == "refused: ModuleNotFoundError", name


def test_environment_network_writes_limits_and_processes(probed):
    _, facts = probed
    assert set(facts["environment"]) <= {"PATH", "HOME", "LANG", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                                         "MKL_NUM_THREADS", "NBGRADER_EXECUTION", "PWD"}
    assert facts["loopback"].startswith("refused"), "the student process reached the machine's loopback"
    assert facts["write_cwd"].startswith("refused")
    assert facts["write_tmp"] == 1
    assert facts["limits"] == [sandbox.limits.RLIMITS[sandbox.resource.RLIMIT_AS], sandbox.limits.RLIMITS[sandbox.resource.RLIMIT_CPU]]
    assert len(facts["processes"]) <= 3, f"the student process sees other processes: {facts['processes']}"


def test_a_copied_course_holding_the_kits_own_package_grades_the_same(tmp_path):
    c = make_course(tmp_path / "course", {"alice": "reference", "bob": "wrong"})
    # A stale copy of the kit's package in the course folder: imported by nothing that grades.
    shutil.copytree(layout.ROOT / "mlkit", c / "mlkit", ignore=shutil.ignore_patterns("__pycache__"))
    (c / "mlkit" / "checks.py").write_text("raise ImportError('the copy in the course folder was imported')\n")
    course.nbgrader(c, "autograde", ASSIGNMENT)
    grades = scores(c)
    assert grades["alice"] == FULL and 0 < grades["bob"] < FULL


def test_a_submission_bringing_its_own_mlkit_and_numpy_changes_nothing(tmp_path):
    c = make_course(tmp_path / "course", {"mallory": "wrong", "bob": "wrong"})
    folder = c / "submitted" / "mallory" / ASSIGNMENT
    for package in ("mlkit", "numpy"):
        (folder / package).mkdir()
        (folder / package / "__init__.py").write_text(
            "import builtins\nbuiltins.__import__ = None  # would break any process that imported this\n")
    course.nbgrader(c, "autograde", ASSIGNMENT)
    grades = scores(c)
    assert grades["mallory"] == grades["bob"] and 0 < grades["bob"] < FULL


def test_a_course_under_a_folder_only_its_owner_may_enter(tmp_path):
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    c = make_course(private / "course", {"alice": "reference"})
    os.chmod(private, 0o700)
    course.nbgrader(c, "autograde", ASSIGNMENT)
    assert scores(c) == {"alice": FULL}


def _without_bubblewrap() -> dict[str, str]:
    env = course.environment()
    env["PATH"] = str(course.BIN)  # nbgrader and Python, but no bwrap
    return env


def test_without_a_sandbox_grading_refuses_to_start_and_says_why(tmp_path):
    c = make_course(tmp_path / "course", {"alice": "reference", "bob": "reference"})
    run = subprocess.run([str(course.BIN / "nbgrader"), "autograde", ASSIGNMENT], cwd=c, env=_without_bubblewrap(),
                         capture_output=True, text=True)
    assert run.returncode != 0
    assert "bubblewrap" in run.stderr and "allow_unsandboxed" in run.stderr
    assert not (c / "autograded" / "bob").exists(), "grading went on after the refusal"
    graded = {s: per for s, per in course.gradebook(c).items() if per[ASSIGNMENT].auto_score}
    assert graded == {}, "nobody may be scored when grading refused to start"
    kit = subprocess.run([sys.executable, "-m", "mlkit.cli", "grade", "--course", str(c)], env=_without_bubblewrap(),
                         capture_output=True, text=True)
    assert kit.returncode == 2 and "bubblewrap" in kit.stderr


def test_a_course_that_allows_it_grades_unsandboxed_in_a_separate_process(tmp_path):
    c = make_course(tmp_path / "course", {"alice": "reference", "bob": "wrong"})
    with open(c / "nbgrader_config.py", "a") as config:
        config.write("\nc.ResilientExecute.allow_unsandboxed = True\n")
    subprocess.run([str(course.BIN / "nbgrader"), "autograde", ASSIGNMENT], cwd=c, env=_without_bubblewrap(),
                   capture_output=True, text=True, check=True)
    grades = scores(c)
    assert grades["alice"] == FULL and 0 < grades["bob"] < FULL


def test_the_user_namespace_sandbox_holds_too(listener, tmp_path):
    """The sandbox of a grader who is not root, asked for here with MLKIT_SANDBOX=userns."""
    root = tmp_path / "course"
    c = make_course(root, {"probe": "probe", "bob": "wrong"}, {"probe": probe_code(root, listener)})
    env = {**course.environment(), "MLKIT_SANDBOX": "userns"}
    subprocess.run([str(course.BIN / "nbgrader"), "autograde", ASSIGNMENT], cwd=c, env=env, capture_output=True,
                   text=True, check=True)
    assert_graded_in_a_user_namespace(c, grader_makes_groups=bool(treebound.kind()))


def test_in_the_user_namespace_dev_would_be_writable_without_the_read_only_remount(listener, tmp_path):
    """The attack is real: bubblewrap's /dev is the sandbox user's tmpfs in this mode, unsized."""
    root = tmp_path / "course"
    c = make_course(root, {"probe": "probe"}, {"probe": probe_code(root, listener)})
    weakened.weaken(c, {"dev_readonly"})
    env = {**course.environment(), "MLKIT_SANDBOX": "userns"}
    subprocess.run([str(course.BIN / "nbgrader"), "autograde", ASSIGNMENT], cwd=c, env=env, capture_output=True,
                   text=True, check=True)
    assert probe_facts(c)["write_dev_shm"] == 1


def assert_graded_in_a_user_namespace(c: Path, grader_makes_groups: bool) -> None:
    grades = scores(c)
    assert grades["probe"] == FULL and 0 < grades["bob"] < FULL
    facts = probe_facts(c)
    assert facts["uid"] == 65534
    # /dev is the sandbox user's own in this mode: read-only, so that no unsized tmpfs is there to fill.
    assert facts["write_dev_shm"].startswith("refused") and facts["write_dev"].startswith("refused")
    assert facts["dev_null"] == 1
    if grader_makes_groups:  # the tree is bounded by a control group of its own (test_tree_bound.py)
        assert facts["fork"] == "started"
    else:  # no control group bounds the tree, so the sandbox starts no process
        assert facts["fork"] == "refused: BlockingIOError", facts["fork"]
    assert str(facts["secret"]).startswith("refused") and facts["loopback"].startswith("refused")
    assert facts["imports"]["sklearn"] == "refused: ModuleNotFoundError"


def _readable_by_nobody(path: Path) -> bool:
    return subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "test", "-r", str(path)],
                          capture_output=True).returncode == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="switches to an unprivileged user to grade")
def test_grading_as_an_unprivileged_user_uses_a_user_namespace(listener, tmp_path):
    if subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "bwrap", "--unshare-user",
                       "--ro-bind", "/", "/", "true"], capture_output=True).returncode != 0:
        pytest.skip("this machine allows no unprivileged user namespaces")
    if not _readable_by_nobody(Path(sys.base_prefix) / "lib"):
        pytest.skip(f"an unprivileged user cannot read this machine's Python ({sys.base_prefix})")
    home = Path(tempfile.mkdtemp(prefix="mlkit-instructor-"))
    c = make_course(home / "course", {"probe": "probe", "bob": "wrong"}, {"probe": probe_code(home / "course", listener)})
    subprocess.run(["chown", "-R", "65534:65534", str(home)], check=True)
    env = {**course.environment(), "HOME": str(home), "JUPYTER_RUNTIME_DIR": str(home / "runtime")}
    run = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", str(course.BIN / "nbgrader"),
                          "autograde", ASSIGNMENT], cwd=c, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    nobody_makes_groups = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", str(sys.executable), "-c",
         "from mlkit.grading.sandbox import treebound; raise SystemExit(0 if treebound.kind() else 1)"],
        env=env, capture_output=True).returncode == 0
    assert_graded_in_a_user_namespace(c, grader_makes_groups=nobody_makes_groups)


def test_folders_of_ended_kernels_are_swept_and_live_ones_kept():
    """A kernel that ends without releasing its student's folder (nbclient's shutdown, a forked kernel's os._exit)
    leaves it only until the next student process starts on the machine."""
    import subprocess as sp
    import tempfile as tf

    ended = sp.Popen(["true"])
    ended.wait()
    stale = Path(tf.mkdtemp(prefix=f"{sandbox.COPY_PREFIX}{ended.pid}-"))
    live = Path(tf.mkdtemp(prefix=f"{sandbox.COPY_PREFIX}{os.getppid()}-"))
    (stale / "data").mkdir()
    (stale / "data" / "notebook.ipynb").write_text("a student's notebook")
    for path in (stale / "data" / "notebook.ipynb", stale / "data", stale):
        os.chmod(path, 0o444 if path.is_file() else 0o555)  # read-only, as the student process saw it
    try:
        sandbox.sweep_stale_folders()
        assert not stale.exists() and live.is_dir()
    finally:
        sandbox.release([live])
