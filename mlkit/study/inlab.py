"""Grading from inside JupyterLab: the last cell of a practice notebook grades the notebook it is in.

    from mlkit.study.inlab import grade_this_notebook
    grade_this_notebook()

It runs `mlkit selfgrade` on the notebook's file as last saved (save with
Ctrl-S first) and prints the same summary as the terminal, in the cell.  The
notebook is the one JupyterLab opened (the server tells its kernels the
notebook's path in JPY_SESSION_NAME); a practice notebook is graded in the
workspace it was written to.  While the notebook is being graded, this cell
is the learner's own code and runs in the grading sandbox, where mlkit does
not exist: the cell's `ImportError` guard makes it do nothing there.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

CELL = '''# Grade this notebook with the hidden tests, here (save it first: Ctrl-S). Does nothing while being graded.
try:
    from mlkit.study.inlab import grade_this_notebook
except ImportError:  # the grading sandbox has no mlkit
    pass
else:
    grade_this_notebook()
'''


def this_notebook() -> Path | None:
    name = os.environ.get("JPY_SESSION_NAME")
    if not name:
        return None
    path = Path.cwd() / Path(name).name  # the kernel starts in the notebook's folder
    return path if path.suffix == ".ipynb" and path.exists() else None


def workspace_of(notebook: Path) -> Path | None:
    """The self-study workspace a practice notebook lives in (WORKSPACE/practice/ASSIGNMENT/NOTEBOOK)."""
    return notebook.parents[2] if len(notebook.parents) > 2 and notebook.parents[1].name == "practice" else None


def time_left(notebook: Path, now: dt.datetime | None = None) -> str:
    """"Time left: 12 of 30 minutes (deadline 14:35 UTC)." for a practice notebook with a deadline, else ""."""
    import json

    try:
        practice = json.loads(notebook.read_text(encoding="utf-8")).get("metadata", {}).get("mlkit_practice", {})
        deadline = dt.datetime.fromisoformat(practice["deadline"])
        minutes = float(practice["minutes"])
    except (OSError, ValueError, KeyError, TypeError):
        return ""
    now = now or dt.datetime.now(dt.timezone.utc)
    left = (deadline - now).total_seconds() / 60
    at = f"{deadline.astimezone():%H:%M} {deadline.astimezone().tzname()}"
    if left >= 0:
        return f"Time left: {left:.0f} of {minutes:.0f} minutes (deadline {at})."
    return f"Time is up: {-left:.0f} minutes past the deadline ({at}); the clock runs on until full marks."


def grade_this_notebook() -> int:
    notebook = this_notebook()
    if notebook is None:
        print("This is not a notebook opened in JupyterLab (or it has no file yet): save it, then run "
              "`mlkit selfgrade PATH` in a terminal.")
        return 2
    saved = dt.datetime.fromtimestamp(notebook.stat().st_mtime).strftime("%H:%M:%S")
    left = time_left(notebook)
    if left:
        print(left)
    print(f"Grading {notebook.name} as saved at {saved} ...", flush=True)
    command = [sys.executable, "-m", "mlkit.cli", "selfgrade", str(notebook)]
    workspace = workspace_of(notebook)
    if workspace is not None:
        command += ["--workspace", str(workspace)]
    result = subprocess.run(command, capture_output=True, text=True)
    print(result.stdout, end="")
    if result.returncode != 0 or result.stderr.strip():
        print(result.stderr, end="", file=sys.stderr)
    return result.returncode
