"""Hostile and broken submissions change nothing but their own score (through the real `nbgrader autograde`).

One class is graded twice, from the course folder as an instructor runs it:
first two bystanders (an honest student and one with an honest mistake),
then, in a second `nbgrader autograde` run, every attack in tests/attacks.py,
with a secret file in the course folder, a secret in the grader's
environment and a listening socket on loopback for them to find.  The
bystanders' gradebook entries and files, the course's files, the submitted
folder and the gradebook's integrity must come out of the second run
unchanged; no secret may show up in any attacker's graded notebook; nothing
may reach the socket, and no student process may outlive grading.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

import weakened
from attacks import ASSIGNMENT, ATTACKS, FULL, SECRET_FILE, SECRETS, submission
from mlkit import course, layout
from mlkit.authoring import catalog
from mlkit.grading.sandbox import launcher as sandbox
from mlkit.grading.plugins.issues import grading_issue
from support import gradebook_rows

pytestmark = [
    pytest.mark.xdist_group("integrity"),
    pytest.mark.skipif(sandbox.detect().name == "none", reason="the attack suite needs the sandbox"),
]
NOTEBOOK = "linear_regression"


def tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


BYSTANDERS = ["honest", "mistaken"]


def graded_bystanders(root: Path) -> tuple[Path, dict]:
    """A course with the two bystanders graded, a secret file in it; and what the bystanders have."""
    c = course.new_course(root / "course", [ASSIGNMENT])
    course.nbgrader(c, "generate_assignment", ASSIGNMENT, "--force")
    reference = catalog.reference_answers(ASSIGNMENT, root=c)
    mistaken = next(m for m in catalog.mutants(ASSIGNMENT) if m.name == "gradient_sign_flipped").apply(reference)
    for student, answers in (("honest", reference), ("mistaken", mistaken)):
        catalog.write_submission(c, student, ASSIGNMENT, catalog.submission_notebook(ASSIGNMENT, answers, root=c), root=c)
    course.nbgrader(c, "autograde", ASSIGNMENT)
    (c / SECRET_FILE).write_text(SECRETS[0])
    with open(c / "nbgrader_config.py", "a") as config:  # the two attacks that hang need not wait the default 20 s
        config.write("\nc.ResilientExecute.student_call_seconds = 5.0\n")
    return c, _bystanders(c)


def _bystanders(c: Path) -> dict:
    return {"rows": gradebook_rows(c, BYSTANDERS),
            "autograded": {s: tree_digest(c / "autograded" / s) for s in BYSTANDERS},
            "source": tree_digest(c / "source")}


def grade_attacks(c: Path, before: dict, attacks: list, defences: set[str] = frozenset()) -> dict:
    """`attacks` graded in one more `nbgrader autograde` run of course `c` (its bystanders graded before), with
    `defences` switched off for that run (tests/weakened.py); what the tests below look at."""
    if defences:
        weakened.weaken(c, set(defences))
    reference = catalog.reference_answers(ASSIGNMENT, root=c)
    mistaken = next(m for m in catalog.mutants(ASSIGNMENT) if m.name == "gradient_sign_flipped").apply(reference)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    listener.settimeout(0.2)
    reached: list[bytes] = []
    listening = threading.Event()
    listening.set()

    def accept():
        while listening.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                continue
            reached.append(connection.recv(100))
            connection.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()

    release_nb = nbformat.read(layout.notebook_path(ASSIGNMENT, "release", c), as_version=4)
    for attack in attacks:
        folder = c / "submitted" / attack.name / ASSIGNMENT
        catalog.write_submission(c, attack.name, ASSIGNMENT, release_nb, root=c)
        notebook = folder / f"{NOTEBOOK}.ipynb"
        if attack.link_to:
            notebook.unlink()
            notebook.symlink_to(attack.link_to.replace("{course}", str(c)))
        else:
            notebook.write_bytes(
                submission(attack, reference, mistaken, release_nb, course=str(c), port=listener.getsockname()[1]))
    submitted_before = tree_digest(c / "submitted")
    course_before = {k: v for k, v in tree_digest(c).items() if not k.startswith(("autograded/", "gradebook.db"))}
    env = {**course.environment(), "MLKIT_TEST_SECRET": SECRETS[1]}
    # An attack with its defence switched off may wreck the grading kernel: that run gets a deadline.
    run = subprocess.run([str(course.BIN / "nbgrader"), "autograde", ASSIGNMENT], cwd=c, env=env,
                         capture_output=True, text=True, timeout=900 if defences else None)
    time.sleep(1.0)
    listening.clear()
    thread.join()
    listener.close()
    after = _bystanders(c)
    return {"course": c, "before": before, "submitted_before": submitted_before, "run": run,
            "grades": course.gradebook(c), "reached": reached, "course_before": course_before,
            "survivors": student_processes(c),
            "damaged": after["rows"] != before["rows"] or after["autograded"] != before["autograded"]}


@pytest.fixture(scope="module")
def attacked():
    return grade_attacks(*graded_bystanders(Path(tempfile.mkdtemp(prefix="mlkit-attacks-"))), ATTACKS)


def student_processes(course_folder: Path) -> list[str]:
    """Processes still running under a student user ID in one of this course's notebook folders.

    Other gradings on the machine (the suite's other worker) have student processes of their own;
    a sandboxed process's working folder reads as its notebook's folder, which tells them apart.
    """
    found = []
    # Listed by name, each read inside the try: a process may end between the listing and the reading.
    for status in (Path("/proc", pid, "status") for pid in os.listdir("/proc") if pid.isdigit()):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
            cwd = os.readlink(status.parent / "cwd")
        except OSError:
            continue
        uid = int(fields.get("Uid", "0").split()[0])
        if sandbox.FIRST_UID <= uid < sandbox.student_uid_window() + sandbox.UID_RANGE and cwd.startswith(str(course_folder)):
            found.append(f"{status.parent.name} {fields.get('Name', '').strip()} uid {uid} in {cwd}")
    return found


def test_the_batch_completes_for_every_student(attacked):
    assert attacked["run"].returncode == 0, attacked["run"].stderr[-3000:]
    graded = attacked["grades"]
    for attack in ATTACKS:
        assert ASSIGNMENT in graded.get(attack.name, {}), f"{attack.name} has no grade: it would stay 'needs autograding'"
        assert (attacked["course"] / "autograded" / attack.name / ASSIGNMENT / f"{NOTEBOOK}.ipynb").exists()


def test_bystanders_scores_and_files_are_unchanged(attacked):
    c = attacked["course"]
    assert gradebook_rows(c, BYSTANDERS) == attacked["before"]["rows"]
    for student in ("honest", "mistaken"):
        assert tree_digest(c / "autograded" / student) == attacked["before"]["autograded"][student]
    assert attacked["grades"]["honest"][ASSIGNMENT].auto_score == FULL


def test_source_submitted_and_gradebook_are_intact(attacked):
    c = attacked["course"]
    assert tree_digest(c / "source") == attacked["before"]["source"]
    assert tree_digest(c / "submitted") == attacked["submitted_before"], "submitted/ must never be modified"
    with sqlite3.connect(c / "gradebook.db") as connection:
        assert connection.execute("pragma integrity_check").fetchone() == ("ok",)
    with Gradebook(f"sqlite:///{c / 'gradebook.db'}") as gb:
        assert gb.find_assignment(ASSIGNMENT).max_score == FULL + 3  # twelve automatic + three manual points
    now = {k: v for k, v in tree_digest(c).items() if not k.startswith(("autograded/", "gradebook.db"))}
    assert now == attacked["course_before"], "only grading's own outputs may change in the course folder"


def _printed(nb) -> str:
    """Everything the notebook's cells printed or displayed while graded."""
    parts = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            parts += [output.get("text", ""), output.get("evalue", ""), *output.get("traceback", [])]
            parts += [str(value) for value in output.get("data", {}).values()]
    return "\n".join(parts)


def test_no_secret_reaches_any_attacker(attacked):
    c = attacked["course"]
    source = nbformat.read(c / "source" / ASSIGNMENT / f"{NOTEBOOK}.ipynb", as_version=4)
    hidden = [line.strip() for cell in source.cells for line in cell.source.split("### BEGIN HIDDEN TESTS")[-1].splitlines()
              if "### BEGIN HIDDEN TESTS" in cell.source and line.strip().startswith("def test_")]
    assert hidden, "the source notebook has hidden test functions to look for"
    for attack in ATTACKS:
        printed = _printed(nbformat.read(c / "autograded" / attack.name / ASSIGNMENT / f"{NOTEBOOK}.ipynb", as_version=4))
        for secret in [*SECRETS, *hidden]:
            assert secret not in printed, f"{attack.name} got hold of {secret!r}"
        assert "stole the reference solution" not in printed and "patched the checks" not in printed, attack.name
    probe = _printed(nbformat.read(c / "autograded" / "read_everything" / ASSIGNMENT / f"{NOTEBOOK}.ipynb", as_version=4))
    assert "'PATH'" in probe, "the probe ran and printed its environment"


def test_nothing_reaches_the_loopback_and_nothing_outlives_grading(attacked):
    assert attacked["reached"] == [], "a student process reached a socket on the machine's loopback"
    assert attacked["survivors"] == []

@pytest.mark.parametrize("attack", ATTACKS, ids=[a.name for a in ATTACKS])
def test_attack_earns_nothing_unearned_and_its_reason_is_recorded(attacked, attack):
    grade = attacked["grades"][attack.name][ASSIGNMENT]
    wrong = attacked["grades"]["mistaken"][ASSIGNMENT].auto_score
    assert 0 < wrong < FULL
    assert grade.auto_max == FULL, "the points of the test cells come from the source, not the submission"
    if attack.max_points is None:
        assert grade.auto_score <= wrong, f"{attack.name}: {attack.what}"
    else:  # repaired damage keeps full marks; a crash keeps exactly the points earned before it
        assert grade.auto_score == attack.max_points, f"{attack.name}: {attack.what}"
    with Gradebook(f"sqlite:///{attacked['course'] / 'gradebook.db'}") as gb:
        reason = grading_issue(gb, attack.name, ASSIGNMENT, NOTEBOOK)
        if attack.reason:
            assert attack.reason in reason, f"recorded reason: {reason!r}"


def test_huge_output_is_truncated(attacked):
    path = attacked["course"] / "autograded" / "huge_output" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    assert path.stat().st_size < 1_000_000


def test_nbgrader_export_shows_each_reason(attacked):
    import csv

    c = attacked["course"]
    course.nbgrader(c, "export", "--to", "grades.csv")
    with open(c / "grades.csv", newline="") as handle:
        rows = {row["student_id"]: row for row in csv.DictReader(handle)}
    for attack in ATTACKS:
        if attack.reason:
            assert attack.reason in rows[attack.name]["grading_issue"]
    assert rows["honest"]["grading_issue"] == ""


def test_regrading_is_idempotent(attacked):
    """Autograding the same submissions again (--force) records exactly the same grades, flags and reasons."""
    c = attacked["course"]
    students = ["honest", "gradebook_write", "not_utf8", "kernel_crash", "stripped_metadata", "lying_objects"]

    before = gradebook_rows(c, students)
    for student in students:
        course.nbgrader(c, "autograde", ASSIGNMENT, "--student", student, "--force")
    assert gradebook_rows(c, students) == before
    assert tree_digest(c / "submitted") == attacked["submitted_before"]


# -- every attack that can gain does gain, with its defence switched off -------------------------------------

GAINING = [a for a in ATTACKS if a.defences]


@pytest.fixture(scope="module")
def weakened_runs():
    """The attacks graded again with their defence switched off (tests/weakened.py), in copies of one graded class:
    those that gain points or secrets in one run per defence, each that does damage in a run of its own."""
    root = Path(tempfile.mkdtemp(prefix="mlkit-weakened-"))
    template, before = graded_bystanders(root / "template")
    groups: dict[tuple, list] = {}
    for attack in GAINING:
        groups.setdefault((attack.defences, attack.name if attack.sign == "damage" else attack.sign), []).append(attack)
    runs = {}
    for number, (key, group) in enumerate(sorted(groups.items())):
        c = root / f"run-{number}" / "course"
        shutil.copytree(template, c)
        run = grade_attacks(c, before, group, set(key[0]))
        runs.update({attack.name: run for attack in group})
    return runs


def what_it_gained(run: dict, attack) -> str:
    """What `attack` got in a graded run ('' if nothing)."""
    c = run["course"]
    if attack.sign == "points":
        mine = run["grades"][attack.name][ASSIGNMENT].auto_score
        base = FULL if attack.honest_base else run["grades"]["mistaken"][ASSIGNMENT].auto_score
        return f"{mine} points where its answers earn {base}" if mine > base else ""
    if attack.sign == "secret":
        printed = _printed(nbformat.read(c / "autograded" / attack.name / ASSIGNMENT / f"{NOTEBOOK}.ipynb",
                                         as_version=4))
        return "a secret in its output" if any(secret in printed for secret in SECRETS) else ""
    if attack.sign == "damage":
        return "a bystander's grades or files changed" if run["damaged"] else ""
    if attack.sign == "loopback":
        return "a connection to the machine's loopback" if run["reached"] else ""
    raise AssertionError(attack.sign)


@pytest.mark.parametrize("attack", GAINING, ids=[a.name for a in GAINING])
def test_attack_gains_with_its_defence_switched_off(weakened_runs, attacked, attack):
    assert what_it_gained(weakened_runs[attack.name], attack), \
        f"{attack.name} gains nothing with {attack.defences} switched off: it tests nothing"
    assert not what_it_gained(attacked, attack), f"{attack.name} gained with the kit as it is"
