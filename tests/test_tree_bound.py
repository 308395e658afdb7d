"""The whole student process tree is bounded, not each process: a submission that forks and allocates.

The attacker's answer forks three children that each write 1.5 GiB and holds 1 GiB itself: 5.5 GiB at once,
within every per-process limit.  It is graded by `mlkit grade --jobs 2` beside two honest students, while
this test samples, from outside, the resident memory of every student process on the machine (root mode
gives each its own user ID) every 20 ms.  With the kit the tree peaks at about 4 GiB (its control group's
bound) and the honest students keep full marks; with the tree bound switched off (tests/weakened.py) the
same submission holds over 4.5 GiB.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

import weakened
from mlkit import course
from mlkit.authoring import catalog
from mlkit.grading.sandbox import launcher as sandbox
from mlkit.grading.sandbox import treebound

pytestmark = [
    pytest.mark.xdist_group("tree_bound"),
    pytest.mark.skipif(sandbox.detect().name != "root", reason="samples student processes by their own user IDs"),
    pytest.mark.skipif(not treebound.kind(), reason="no control group can be made on this machine"),
]
ASSIGNMENT = "01_linear_regression"
FULL = 12.0
GiB = 1024**3
FORK_AND_ALLOCATE = """
import os as _os, time as _time
_children = []
for _ in range(3):
    _pid = _os.fork()
    if _pid == 0:
        _block = np.ones(3 * 1024**3 // 16)  # 1.5 GiB, every page written
        _time.sleep(15)  # held long enough for all to overlap, however slowly this machine hands out pages
        _os._exit(0)
    _children.append(_pid)
_hold = np.ones(1024**3 // 8)
for _pid in _children:
    _os.waitpid(_pid, 0)
del _hold
"""


def _student_memory(grader: int) -> int:
    """Resident bytes of every process running as a student user ID below the process `grader`, summed.

    Only this class's students count: the suite grades other classes beside it, whose students run under the
    same user-ID window."""
    statuses = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as handle:
                statuses[int(entry)] = dict(line.split(":", 1) for line in handle if ":" in line)
        except OSError:
            continue
    parents = {pid: int(status.get("PPid", "0").split()[0]) for pid, status in statuses.items()}

    def below_grader(pid: int) -> bool:
        for _ in range(64):
            pid = parents.get(pid, 0)
            if pid == grader:
                return True
            if pid <= 1:
                return False
        return False

    total = 0
    for pid, status in statuses.items():
        uid = int(status.get("Uid", "0").split()[0])
        if sandbox.FIRST_UID <= uid < sandbox.student_uid_window() + sandbox.UID_RANGE and below_grader(pid):
            total += int(status.get("VmRSS", "0 kB").split()[0]) * 1024
    return total


def _graded_class(root: Path, defences: set[str]) -> tuple[dict, int]:
    c = course.new_course(root / "course", [ASSIGNMENT])
    with open(c / "nbgrader_config.py", "a") as config:
        # Writing 5.5 GiB of fresh pages can take a virtual machine well over the 20 s per call and 30 s per cell.
        config.write("\nc.ResilientExecute.student_call_seconds = 150.0\nc.ResilientExecute.timeout = 300\n")
    if defences:
        weakened.weaken(c, defences)
    course.nbgrader(c, "generate_assignment", ASSIGNMENT, "--force")
    reference = catalog.reference_answers(ASSIGNMENT, root=c)
    attacking = {**reference, "gradient_descent": reference["gradient_descent"] + FORK_AND_ALLOCATE}
    for student, answers in (("honest1", reference), ("forker", attacking), ("honest2", reference)):
        catalog.write_submission(c, student, ASSIGNMENT, catalog.submission_notebook(ASSIGNMENT, answers, root=c),
                                 root=c)
    peak, sampling = [0], threading.Event()
    sampling.set()
    grading = subprocess.Popen([sys.executable, "-m", "mlkit.cli", "grade", ASSIGNMENT, "--course", str(c),
                                "--jobs", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=course.environment())

    def sample():
        while sampling.is_set():
            peak[0] = max(peak[0], _student_memory(grading.pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        out, err = grading.communicate(timeout=900)
    finally:
        sampling.clear()
        sampler.join()
    assert grading.returncode == 0, out[-2000:] + err[-2000:]
    grades = {s: g[ASSIGNMENT].auto_score for s, g in course.gradebook(c).items()}
    shutil.rmtree(root, ignore_errors=True)
    return grades, peak[0]


@pytest.fixture(scope="module")
def runs():
    root = Path(tempfile.mkdtemp(prefix="mlkit-tree-"))
    return {"kit": _graded_class(root / "kit", set()), "weakened": _graded_class(root / "weakened", {"tree_bound"})}


def test_the_tree_peaks_at_its_bound_and_the_others_keep_their_grades(runs):
    grades, peak = runs["kit"]
    assert peak <= treebound.limits.TREE_MEMORY + 0.5 * GiB, f"the student processes held {peak / GiB:.2f} GiB at once"
    assert grades["honest1"] == FULL and grades["honest2"] == FULL


def test_without_the_tree_bound_the_same_submission_holds_more(runs):
    """The attack is real: per-process limits alone let it hold far more than the tree's bound."""
    _, peak = runs["weakened"]
    assert peak > 4.5 * GiB, f"only {peak / GiB:.2f} GiB at once: the attack tests nothing"
