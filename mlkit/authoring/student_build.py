"""What students receive: the release notebooks and the kit's wheel, without the course's source or catalog.

    mlkit student-build OUT

writes OUT/ with
    release/<NN_algorithm>/   the notebooks students work in (and their data files), as nbgrader releases them
    wheels/mlkit-*.whl        the kit's package: the checking library the visible tests import
                              (it holds code only: no notebook, no hidden test, no reference solution)
    requirements.lock         the pinned dependencies the wheel was tested with
    SPEC.md                   the student-facing API of every notebook
    README.md                 how to install and start

A course that hands out assignments through nbgrader's exchange gives
students only the release; this build is for a self-contained hand-out (a
zip, a course website).  tests/test_student_build.py checks that nothing in
it, inside the wheel included, carries a hidden test or a reference solution.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from mlkit import layout

STUDENT_README = """# NumPy ML from scratch: the notebooks

Install (Python 3.11):

    python3.11 -m venv .venv
    .venv/bin/pip install -c requirements.lock wheels/mlkit-*.whl
    .venv/bin/jupyter lab release/

Each notebook's visible tests run in JupyterLab as you work; the hidden tests run when your instructor grades
(or when you grade yourself with the full kit: `mlkit selfgrade`). SPEC.md lists every name each notebook asks
you to implement, with its shapes. Only NumPy and Python's standard library may be used.
"""


def build(out: Path, root: Path = layout.ROOT) -> Path:
    out = out.resolve()
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty")
    out.mkdir(parents=True, exist_ok=True)
    # The kit's usual wheel carries its course, solutions included (setup.py); the students' one is built from
    # a copy of the package alone, where there is no course to pack (and no build/ folder shared with another).
    with tempfile.TemporaryDirectory() as scratch:
        tree = Path(scratch) / "kit"
        tree.mkdir()
        for name in ("pyproject.toml", "setup.py", "README.md"):
            shutil.copy2(root / name, tree / name)
        shutil.copytree(root / "mlkit", tree / "mlkit",
                        ignore=shutil.ignore_patterns("__pycache__", "course_files", "*.pyc"))
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out / "wheels"),
                        str(tree)], check=True, capture_output=True)
    shutil.copytree(root / "release", out / "release")
    for name in ("requirements.lock", "SPEC.md"):
        shutil.copy2(root / name, out / name)
    (out / "README.md").write_text(STUDENT_README)
    return out


def command(args) -> int:
    """`mlkit student-build OUT`: `build` into the folder OUT and print it; 2 when OUT is not empty."""
    try:
        path = build(Path(args.out))
    except FileExistsError as error:
        print(f"mlkit student-build: {error}", file=sys.stderr)
        return 2
    print(path)
    return 0
