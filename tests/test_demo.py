"""The main job runs in a course folder of its own, and `mlkit clean` removes only what the demo made."""

from __future__ import annotations

import csv
import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from mlkit import course, demo, layout
from mlkit.grading.sandbox import launcher as sandbox

pytestmark = [pytest.mark.xdist_group("demo"),
              pytest.mark.skipif(sandbox.detect().name == "none", reason="grading needs the sandbox")]


def _mlkit(*args: str, cwd: Path, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mlkit.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env=course.environment(), input=stdin)


def _kit_state() -> dict[str, str]:
    """The kit's own course folder, where the demo must write nothing."""
    names = ["gradebook.db", *[str(p.relative_to(layout.ROOT)) for folder in ("submitted", "autograded", "feedback")
                               for p in (layout.ROOT / folder).rglob("*") if p.is_file()]]
    return {n: hashlib.sha256((layout.ROOT / n).read_bytes()).hexdigest() if (layout.ROOT / n).is_file() else ""
            for n in names}


def test_the_demo_makes_its_own_course_and_clean_removes_only_that(tmp_path):
    before = _kit_state()
    run = _mlkit("demo", "01", cwd=tmp_path)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    made = tmp_path / demo.DEFAULT_FOLDER
    assert (made / demo.MARKER).is_file() and (made / "gradebook.db").is_file()
    grades = course.gradebook(made)
    assert grades["alice"]["01_linear_regression"].auto_score == grades["alice"]["01_linear_regression"].auto_max
    assert grades["carol"]["01_linear_regression"].auto_score == 0
    assert _kit_state() == before, "the demo wrote into the kit's own course folder"
    _the_demo_class_goes_to_canvas_and_moodle(made)

    asked = _mlkit("clean", cwd=tmp_path, stdin="n\n")
    assert "This removes the demo course" in asked.stdout and made.is_dir()  # it asks, and no means no
    assert _mlkit("clean", "--yes", cwd=tmp_path).returncode == 0 and not made.exists()


def _the_demo_class_goes_to_canvas_and_moodle(made: Path) -> None:
    """The demo class's grades in Canvas's and Moodle's import formats (docs/instructor/lms.md), read back."""
    from nbgrader.api import Gradebook

    (made / "canvas.csv").write_text("Student,ID,SIS User ID,SIS Login ID,Section\r\n" + "".join(
        f"\"{name.capitalize()}, Demo\",{900 + number},,{name},\r\n"
        for number, name in enumerate(["alice", "bob", "carol", "dave"])))
    (made / "moodle.csv").write_text("First name,Last name,ID number,Email address,Username\r\n" + "".join(
        f"Demo,{name.capitalize()},N{number},{name}@example.edu,{name}\r\n"
        for number, name in enumerate(["alice", "bob", "carol", "dave"])))
    with Gradebook(course.db_url(made)) as gb:
        expected = {}
        for name in ("alice", "bob", "carol", "dave"):
            submission = gb.find_submission("01_linear_regression", name)
            expected[name] = "" if submission.needs_manual_grade else f"{submission.score:g}"
    for lms, identity in (("canvas", ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]),
                          ("moodle", ["First name", "Last name", "ID number", "Email address"])):
        assert _mlkit("roster", "import", f"{lms}.csv", "--lms", lms, cwd=made).returncode == 0
        run = _mlkit("export", "--lms", lms, cwd=made)
        assert run.returncode == 0, run.stderr
        with open(made / "exports" / f"grades-{lms}.csv", newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
        assert rows[0] == [*identity, "01_linear_regression"]
        body = rows[2:] if lms == "canvas" else rows[1:]
        got = {row[3].split("@")[0]: row[-1] for row in body}  # SIS Login ID / the email's name
        assert got == expected, lms


def test_neither_runs_in_a_folder_the_demo_did_not_make(tmp_path):
    real = course.new_course(tmp_path / "real-course", ["01_linear_regression"])
    (real / "submitted" / "someone").mkdir(parents=True)
    for command in (["demo", "01", "--into", str(real)], ["clean", "--yes", "--into", str(real)]):
        run = _mlkit(*command, cwd=tmp_path)
        assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
    assert (real / "submitted" / "someone").is_dir() and not (real / "gradebook.db").exists()


def test_init_writes_a_course_elsewhere_that_the_commands_then_work_on(tmp_path):
    made = tmp_path / "my-course"
    run = _mlkit("init", str(made), "01", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert (made / "nbgrader_config.py").is_file() and (made / "source" / "01_linear_regression" / "data").is_dir()
    assert sorted(p.name for p in (made / "source").iterdir()) == ["01_linear_regression"]
    released = _mlkit("release", cwd=made)
    assert released.returncode == 0, released.stderr
    assert (made / "release" / "01_linear_regression" / "linear_regression.ipynb").is_file()
    table = _mlkit("gradebook", cwd=made)
    assert table.returncode == 0 and table.stdout.startswith("student")
    again = _mlkit("init", str(made), cwd=tmp_path)
    assert again.returncode == 2 and "not an empty folder" in again.stderr
