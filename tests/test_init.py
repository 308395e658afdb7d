"""`mlkit init` makes a course of the instructor's own: its course id, the notebooks asked for, no caches."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlkit import course, layout
from mlkit.authoring import lint


def _mlkit(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mlkit.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env=course.environment())


def _config(folder: Path):
    return course.course_config(folder)


def test_init_gives_the_course_its_id_the_two_notebooks_and_their_spec(tmp_path):
    made = tmp_path / "courses" / "ml-2027"
    run = _mlkit("init", str(made), "01", "07", "--course-id", "ml-2027", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert _config(made).CourseDirectory.course_id == "ml-2027"
    assert sorted(p.name for p in (made / "source").iterdir()) == ["01_linear_regression", "07_knn"]
    assert sorted(p.name for p in (made / "catalog").iterdir()) == ["01_linear_regression", "07_knn"]
    spec = (made / "SPEC.md").read_text()
    assert lint.spec_names(made / "SPEC.md", "01_linear_regression") and lint.spec_names(made / "SPEC.md", "07_knn")
    assert [a for a in layout.assignments() if f"## {a}" in spec] == ["01_linear_regression", "07_knn"]
    assert "## What student code may use" in spec  # the general rules stay
    assert not [p for p in made.rglob("*") if p.name in ("__pycache__", ".ipynb_checkpoints") or p.suffix == ".pyc"]
    assert _mlkit("lint", cwd=made).returncode == 0


def test_the_id_comes_from_the_folder_and_is_never_the_kits(tmp_path):
    assert _mlkit("init", str(tmp_path / "Fall 2027"), "02", cwd=tmp_path).returncode == 0
    assert _config(tmp_path / "Fall 2027").CourseDirectory.course_id == "fall-2027"
    refused = _mlkit("init", str(tmp_path / course.KIT_COURSE_ID), "02", cwd=tmp_path)
    assert refused.returncode == 2 and "--course-id" in refused.stderr and "Traceback" not in refused.stderr
    assert not (tmp_path / course.KIT_COURSE_ID / "nbgrader_config.py").exists()


def test_caches_in_the_kits_course_are_not_copied(tmp_path, monkeypatch):
    kit = tmp_path / "kit"
    for name in ("source", "catalog"):
        shutil.copytree(layout.ROOT / name / "07_knn", kit / name / "07_knn", ignore=course.CACHES)
    shutil.copy2(layout.ROOT / "nbgrader_config.py", kit / "nbgrader_config.py")
    for folder in (kit / "source" / "07_knn", kit / "catalog" / "07_knn" / "alternatives"):
        (folder / "__pycache__").mkdir()
        (folder / "__pycache__" / "stale.cpython-311.pyc").write_bytes(b"\0")
        (folder / ".ipynb_checkpoints").mkdir()
    monkeypatch.setattr(layout, "ROOT", kit)
    monkeypatch.setattr(layout, "CATALOG", kit / "catalog")
    made = course.init(tmp_path / "ml-2027", ["07"], "ml-2027")
    assert (made / "source" / "07_knn" / "knn.ipynb").is_file() and (made / "catalog" / "07_knn").is_dir()
    assert not [p for p in made.rglob("*") if p.name in ("__pycache__", ".ipynb_checkpoints") or p.suffix == ".pyc"]


def test_doctor_on_a_course_whose_exchange_is_not_made_yet_prints_the_command_that_makes_it(tmp_path):
    """The workflow's order: init, set c.Exchange.root, doctor. The note names the missing folder and the
    `mlkit exchange init` line for it, and that line, run as printed (as root), makes an exchange doctor accepts."""
    made = tmp_path / "ml-2027"
    started = _mlkit("init", str(made), "07", "--course-id", "ml-2027", cwd=tmp_path)
    assert started.returncode == 0, started.stderr
    exchange = tmp_path / "srv" / "exchange"
    with (made / "nbgrader_config.py").open("a") as config:
        config.write(f'c.Exchange.root = "{exchange}"\n')
    # The commands init prints next, run as printed from where init ran: cd, then doctor.
    printed = [line.split("#")[0].strip() for line in started.stdout.splitlines()[1:]]
    assert printed[0] == f"cd {made}" and printed[1].endswith("-m mlkit.cli doctor"), started.stdout
    doctor = subprocess.run(" && ".join(printed[:2]), shell=True, capture_output=True, text=True, cwd=tmp_path,
                            env=course.environment())
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    note = next(line for line in doctor.stdout.splitlines() if "exchange" in line)
    assert note.startswith("note") and f"c.Exchange.root is {exchange}, which does not exist" in note, doctor.stdout
    printed = note.split("Fix, as root: ", 1)[1]
    assert "exchange init" in printed and "--course ml-2027" in printed
    if os.geteuid() != 0:
        pytest.skip("mlkit exchange init runs as root")
    tmp_path.chmod(0o755)  # exchange init refuses a folder on the way that others may change, as a hub's /srv is
    made_it = subprocess.run(printed, shell=True, capture_output=True, text=True, cwd=made, env=course.environment())
    assert made_it.returncode == 0, made_it.stderr
    again = _mlkit("doctor", cwd=made)
    assert f"ok       exchange {exchange / 'ml-2027'}: the instructor's" in again.stdout, again.stdout


def test_doctor_without_an_exchange_says_how_to_make_one(tmp_path):
    if os.path.isdir("/usr/local/share/nbgrader/exchange"):
        pytest.skip("this machine has an exchange at nbgrader's default place")
    made = tmp_path / "ml-2027"
    assert _mlkit("init", str(made), "07", "--course-id", "ml-2027", cwd=tmp_path).returncode == 0
    doctor = _mlkit("doctor", cwd=made)
    note = next(line for line in doctor.stdout.splitlines() if "exchange" in line)
    assert note.startswith("note") and "students hand in another way" in note
    assert "exchange init" in note and "--course ml-2027" in note and "set c.Exchange.root" in note


def test_the_commands_init_prints_next_run_after_its_cd_when_mlkit_was_typed_as_a_relative_path(tmp_path):
    """`.venv/bin/mlkit init ...` prints `cd COURSE` then the doctor's line: that line must not be relative to
    the folder init ran in."""
    script = Path(sys.executable).parent / "mlkit"
    if not script.is_file():
        pytest.skip("no mlkit script beside this interpreter")
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "mlkit").symlink_to(script)
    env = {**course.environment(), "PATH": "/usr/bin:/bin"}  # no mlkit on PATH: the script is named as typed
    started = subprocess.run(["bin/mlkit", "init", "ml-2027", "07"], capture_output=True, text=True, cwd=tmp_path,
                             env=env)
    assert started.returncode == 0, started.stderr
    printed = [line.split("#")[0].strip() for line in started.stdout.splitlines()[1:]]
    assert printed[1] == f"{tmp_path / 'bin' / 'mlkit'} doctor", printed
    doctor = subprocess.run(" && ".join(printed[:2]), shell=True, capture_output=True, text=True, cwd=tmp_path,
                            env=env)
    assert doctor.returncode == 0 and "all clear" in doctor.stdout, doctor.stdout + doctor.stderr
