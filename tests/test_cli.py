"""The `mlkit` command line: each verb's module imported only when it runs, and printed commands that run as printed."""

from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlkit import cli

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = Path(sys.executable).parent / "mlkit"  # the console script pip installed, as an installed kit has it


def _imported_by(*argv: str) -> set[str]:
    """The modules a new process has imported after parsing `mlkit ARGV` (the --help exit included)."""
    probe = ("import contextlib, io, sys\nfrom mlkit import cli\ntry:\n"
             "    with contextlib.redirect_stdout(io.StringIO()):\n        cli.build_parser().parse_args(sys.argv[1:])\n"
             "except SystemExit:\n    pass\nprint('\\n'.join(sorted(sys.modules)))")
    result = subprocess.run([sys.executable, "-c", probe, *argv], capture_output=True, text=True, check=True)
    return set(result.stdout.split())


@pytest.mark.parametrize("argv", [["--help"], ["selfgrade", "--help"], ["practice", "--help"]])
def test_the_command_line_imports_no_verb_before_it_runs(argv):
    loaded = _imported_by(*argv)
    heavy = {name for name in loaded if name.split(".")[0] in ("nbgrader", "numpy", "fsrs", "jupyter_client")}
    assert not heavy, sorted(heavy)
    # The LMS verbs' arguments are defined beside their code (mlkit.reports.lms, which reads the course folder):
    # that module is imported to build the parser; no study, grading or authoring verb's module is.
    verbs = {name for name in loaded if name.startswith(("mlkit.study", "mlkit.grading", "mlkit.demo"))
             or name in ("mlkit.authoring.lint", "mlkit.authoring.mutation", "mlkit.reports.classreport")}
    assert not verbs, sorted(verbs)


def test_a_reader_that_goes_away_is_no_error_of_the_command():
    """`mlkit ... | head`: the reader closes the pipe before the command has written; the command ends quietly with
    the status a shell gives a process a closed pipe ended (no traceback)."""
    piped = subprocess.run(["bash", "-c", f"set -o pipefail; {sys.executable} -m mlkit.cli --help | true"],
                           capture_output=True, text=True)
    assert "Traceback" not in piped.stderr and "BrokenPipeError" not in piped.stderr, piped.stderr
    assert piped.returncode in (0, 141), piped  # 0 only if the help fitted into the pipe before it closed


def test_every_verb_has_its_arguments_and_a_function_to_run():
    parser = cli.build_parser()
    verbs = parser._subparsers._group_actions[0].choices  # argparse keeps the sub-commands here
    assert set(verbs) == set(cli.VERBS)
    for verb, target in cli.VERBS.items():
        module, function = target.split(":")
        assert callable(getattr(importlib.import_module(module), function)), verb


def test_practice_help_says_mock_takes_an_algorithm():
    result = subprocess.run([str(SCRIPT), "practice", "--help"], capture_output=True, text=True, check=True)
    assert "--mock [ALGORITHM]" in result.stdout and "(--mock knn)" in " ".join(result.stdout.split())


def _practice(program: list[str], workspace: Path, env: dict, cwd: Path) -> str:
    result = subprocess.run([*program, "practice", "knn", "--workspace", str(workspace)], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return re.search(r"^  (\S+.* selfgrade .+)$", result.stdout, re.M).group(1)


@pytest.mark.parametrize("way", ["./run", "installed mlkit on PATH", ".venv/bin/mlkit", "python -m mlkit.cli"])
def test_a_printed_command_starts_the_kit_the_way_the_learner_did_and_runs(way, tmp_path):
    workspace = tmp_path / "workspace"
    env = {key: value for key, value in os.environ.items() if not key.startswith("MLKIT_RUN")}
    bin_folder = str(SCRIPT.parent)
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if p != bin_folder)
    cwd = ROOT
    if way == "./run":
        program, expected = ["./run"], "./run selfgrade "
    elif way == "installed mlkit on PATH":
        env["PATH"] = bin_folder + os.pathsep + env["PATH"]
        program, expected, cwd = ["mlkit"], "mlkit selfgrade ", tmp_path
    elif way == ".venv/bin/mlkit":
        program, expected = [os.path.relpath(SCRIPT, ROOT)], f"{os.path.relpath(SCRIPT, ROOT)} selfgrade "
    else:
        program, expected, cwd = [sys.executable, "-m", "mlkit.cli"], f"{sys.executable} -m mlkit.cli selfgrade ", tmp_path
    printed = _practice(program, workspace, env, cwd)
    assert printed.startswith(expected), printed
    graded = subprocess.run(["bash", "-c", printed], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert graded.returncode == 0 and "07_knn: 0 / " in graded.stdout, graded.stderr
    hint = re.search(r"^  (\S+.* hint .+)$", graded.stdout, re.M).group(1)
    assert hint.startswith(expected.replace("selfgrade ", "hint "))
    hinted = subprocess.run(["bash", "-c", hint], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert hinted.returncode == 0 and "Hint 1 of 3" in hinted.stdout, hinted.stderr


def test_run_grades_a_notebook_path_relative_to_where_it_was_typed(tmp_path):
    """`./run` works in its checkout, but a notebook path is the learner's: relative to the folder they typed it in."""
    workspace = tmp_path / "workspace"
    env = {**os.environ, "MLKIT_SELFSTUDY": str(workspace)}
    subprocess.run([str(ROOT / "run"), "practice", "knn"], cwd=tmp_path, env=env, capture_output=True, check=True,
                   timeout=300)
    notebook = next((workspace / "practice" / "07_knn").glob("*.ipynb"))
    shutil.copy(notebook, tmp_path / "mine.ipynb")
    graded = subprocess.run([str(ROOT / "run"), "selfgrade", "mine.ipynb"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    assert graded.returncode == 0 and "07_knn: 0 / " in graded.stdout, graded.stderr
    # Typed from elsewhere, the printed commands name the script by its full path.
    assert f"  {ROOT / 'run'} selfgrade {tmp_path / 'mine.ipynb'}" in graded.stdout
