"""A class graded into a real PostgreSQL gradebook by `mlkit grade` gets, grade for grade, the SQLite gradebook.

The server is Debian's PostgreSQL, started for these tests in a private folder
(tests/postgres.py).  The PostgreSQL course's gradebook is named only in
Jupyter's configuration folder (`JUPYTER_CONFIG_DIR`), one of the places
nbgrader reads `c.CourseDirectory.db_url` from, not in the course's own file;
the SQLite course is graded by stock `nbgrader autograde`, the reference.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

import postgres
from mlkit import course
from mlkit.authoring import catalog
from support import gradebook_rows

ASSIGNMENTS = ["01_linear_regression", "10_model_selection"]
pytestmark = pytest.mark.xdist_group("postgres")


@pytest.fixture(scope="module")
def server():
    if postgres.binaries() is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed: `./run tests` installs Debian's postgresql package as root")
        pytest.skip("needs PostgreSQL's server (Debian package postgresql)")
    running = postgres.Server()
    yield running
    running.stop()


def _jupyter_config(folder, url: str) -> dict[str, str]:
    """An environment whose Jupyter configuration folder, and nothing in the course, names the gradebook."""
    folder.mkdir()
    (folder / "nbgrader_config.py").write_text(f"c = get_config()\nc.CourseDirectory.db_url = {url!r}\n")
    return {**course.environment(), "JUPYTER_CONFIG_DIR": str(folder)}


def _sqlite_files(root) -> list:
    """Every SQLite database file anywhere under `root`, by its header."""
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            with open(path, "rb") as handle:
                if handle.read(16) == b"SQLite format 3\x00":
                    found.append(path)
    return found


@pytest.fixture(scope="module")
def two_gradebooks(server, tmp_path_factory):
    work = tmp_path_factory.mktemp("postgres")
    lite = course.new_course(work / "sqlite", ASSIGNMENTS)
    pg = course.new_course(work / "postgres", ASSIGNMENTS)
    url = server.create_database("gradebook")
    env = _jupyter_config(work / "jupyter-config", url)
    assert not any(line.strip().startswith("c.CourseDirectory.db_url")
                   for line in (pg / "nbgrader_config.py").read_text().splitlines())
    students = []
    for assignment in ASSIGNMENTS:
        course.nbgrader(lite, "generate_assignment", assignment, "--force")
        subprocess.run([str(course.BIN / "nbgrader"), "generate_assignment", assignment, "--force"], cwd=pg, env=env,
                       check=True, capture_output=True)
        entries = catalog.catalog_answers(assignment, root=lite)
        chosen = ["reference", "untouched", *[n for n in entries if n.startswith("alt-")][:1],
                  *[n for n in entries if n.startswith("mutant-")][:4]]
        for name in chosen:
            nb = catalog.submission_notebook(assignment, entries[name], root=lite)
            catalog.write_submission(lite, name, assignment, nb, root=lite)
        students += chosen
    shutil.copytree(lite / "submitted", pg / "submitted")
    for assignment in ASSIGNMENTS:
        course.nbgrader(lite, "autograde", assignment)
    run = subprocess.run([sys.executable, "-m", "mlkit.cli", "grade", "--course", str(pg), "--jobs", "3"],
                         capture_output=True, text=True, env=env)
    return lite, pg, url, run, len(students)


def test_mlkit_grade_writes_to_postgresql_only(two_gradebooks):
    _, pg, url, run, submissions = two_gradebooks
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"graded {submissions} of {submissions} submissions" in run.stdout
    assert _sqlite_files(pg) == [], "nothing may go to a SQLite file anywhere in the course"
    assert len(gradebook_rows(pg, db_url=url)) > 100


def test_postgresql_gradebook_equals_the_sqlite_one(two_gradebooks):
    lite, pg, url, _, _ = two_gradebooks
    sqlite_rows, postgres_rows = gradebook_rows(lite), gradebook_rows(pg, db_url=url)
    assert len(sqlite_rows) > 100
    assert postgres_rows == sqlite_rows


def test_the_gradebook_is_found_the_way_nbgrader_finds_it(tmp_path, monkeypatch):
    """A db_url set in Jupyter's configuration folder, not in the course's file, is the one graded into."""
    root = course.new_course(tmp_path / "course", ASSIGNMENTS[:1])
    assert course.course_config(root).CourseDirectory.db_url == f"sqlite:///{root / 'gradebook.db'}"
    folder = tmp_path / "jupyter-config"
    folder.mkdir()
    (folder / "nbgrader_config.py").write_text(
        "c = get_config()\nc.CourseDirectory.db_url = 'postgresql+psycopg://grader@db.example/course'\n")
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(folder))
    assert course.course_config(root).CourseDirectory.db_url == "postgresql+psycopg://grader@db.example/course"


def test_the_gradebook_and_class_report_commands_read_the_postgresql_gradebook(two_gradebooks, tmp_path):
    """`mlkit gradebook` and `mlkit class-report` show the grades nbgrader has, with the db_url only in Jupyter's
    configuration folder, and create no SQLite file."""
    lite, pg, _, _, submissions = two_gradebooks
    env = _jupyter_config(tmp_path / "jupyter-config", two_gradebooks[2])
    table = subprocess.run([sys.executable, "-m", "mlkit.cli", "gradebook", "--course", str(pg)],
                           capture_output=True, text=True, env=env)
    assert table.returncode == 0, table.stderr
    assert table.stdout.strip() == course.format_gradebook(course.gradebook(lite), ASSIGNMENTS).strip()
    report = subprocess.run([sys.executable, "-m", "mlkit.cli", "class-report", "--course", str(pg)],
                            capture_output=True, text=True, env=env)
    assert report.returncode == 0, report.stderr
    assert f"{submissions} graded submissions" in (pg / "reports" / "class_report.html").read_text()
    assert _sqlite_files(pg) == []
