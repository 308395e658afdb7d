"""The grading kernel's sandbox holds even for code the gate would have refused.

These tests start the `mlkit-sandbox` kernel the way nbgrader does (through
jupyter_client, from a notebook's folder inside a course) and run hostile
code in it directly, bypassing the gate: defence in depth.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from jupyter_client.manager import start_new_kernel

from mlkit import sandbox

pytestmark = [
    pytest.mark.xdist_group("integrity"),
    pytest.mark.skipif(not sandbox.available(), reason="needs bubblewrap and root"),
]


@pytest.fixture(scope="module")
def kernel():
    sandbox.install()
    course = Path(tempfile.mkdtemp(prefix="mlkit-sandbox-course-"))
    os.chmod(course, 0o755)
    (course / "nbgrader_config.py").write_text("")
    (course / "gradebook.db").write_text("grades")
    (course / "source" / "a").mkdir(parents=True)
    (course / "source" / "a" / "solution.ipynb").write_text("the hidden tests")
    workdir = course / "autograded" / "mallory" / "a"
    workdir.mkdir(parents=True)
    (course / "autograded" / "alice" / "a").mkdir(parents=True)
    (course / "autograded" / "alice" / "a" / "nb.ipynb").write_text("alice's work")
    os.environ["MLKIT_TEST_SECRET"] = "grader-secret"
    try:
        manager, client = start_new_kernel(kernel_name=sandbox.KERNEL_NAME, cwd=str(workdir), startup_timeout=60)
    finally:
        del os.environ["MLKIT_TEST_SECRET"]
    yield client, course
    client.stop_channels()
    manager.shutdown_kernel(now=True)


def run(client, code: str) -> str:
    """Execute `code`; return what it printed, or 'ERROR <name>' if it raised."""
    reply = client.execute_interactive(code, timeout=60, output_hook=_collect)
    printed = "".join(_collect.lines)
    _collect.lines.clear()
    if reply["content"]["status"] == "error":
        return f"ERROR {reply['content']['ename']}"
    return printed.strip()


def _collect(message):
    if message["msg_type"] == "stream":
        _collect.lines.append(message["content"]["text"])


_collect.lines = []


def test_runs_as_an_unprivileged_user(kernel):
    client, _ = kernel
    assert run(client, "import os; print(os.getuid(), os.getgid())") == "65534 65534"


def test_course_files_are_invisible(kernel):
    client, course = kernel
    assert run(client, f"import os; print(sorted(os.listdir({str(course)!r})))") == "['autograded']"
    unreadable = ("ERROR FileNotFoundError", "ERROR PermissionError")
    for path in (course / "gradebook.db", course / "source" / "a" / "solution.ipynb",
                 course / "autograded" / "alice" / "a" / "nb.ipynb"):
        assert run(client, f"print(open({str(path)!r}).read())") in unreadable


def test_nothing_outside_private_scratch_is_writable(kernel):
    client, course = kernel
    refused = ("ERROR OSError", "ERROR PermissionError")  # read-only file system, or not ours
    assert run(client, "open('answer.txt', 'w')") in refused
    assert run(client, "open('/etc/hostname', 'a')") in refused
    assert run(client, "open('/tmp/scratch', 'w').write('ok'); print('ok')") == "ok"


def test_environment_is_cleared(kernel):
    client, _ = kernel
    assert run(client, "import os; print(os.environ.get('MLKIT_TEST_SECRET'))") == "None"


def test_memory_is_limited(kernel):
    client, _ = kernel
    assert run(client, "import numpy as np; x = np.ones(10**9)") == "ERROR MemoryError"  # 8 GB


def test_processes_are_limited(kernel):
    client, _ = kernel
    code = ("import resource; print(resource.getrlimit(resource.RLIMIT_NPROC)[0], "
            "resource.getrlimit(resource.RLIMIT_CPU)[0], resource.getrlimit(resource.RLIMIT_FSIZE)[0])")
    nproc, cpu, fsize = (int(x) for x in run(client, code).split())
    assert (nproc, cpu, fsize) == (sandbox.LIMITS[sandbox.resource.RLIMIT_NPROC],
                                   sandbox.LIMITS[sandbox.resource.RLIMIT_CPU],
                                   sandbox.LIMITS[sandbox.resource.RLIMIT_FSIZE])


def test_scratch_space_is_capped(kernel):
    client, _ = kernel
    code = "f = open('/tmp/fill', 'wb')\nfor _ in range(200):\n    f.write(b'x' * 1024 * 1024)\nf.close()"
    assert run(client, code) == "ERROR OSError"  # 16 MB file-size limit, 64 MB tmpfs
