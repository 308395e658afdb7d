"""How the learner started mlkit, so that every command the kit prints runs as printed.

    command("selfgrade", path)  ->  "./run selfgrade /home/me/.mlkit-selfstudy/practice/.../x.ipynb"

`CommandRefused` is the refusal any verb may raise (see `mlkit.cli.main`).

The kit is started three ways, and a printed command starts it the same way:
- `./run VERB ...` in a checkout: the script exports how it was called
  (`MLKIT_RUN`, its path as typed) and the folder it was called from
  (`MLKIT_RUN_CWD`); a command printed for that folder begins with that path,
  elsewhere (a kernel started in another folder) with the script's absolute path;
- an installed `mlkit` script: `mlkit` when that name on PATH is this script,
  otherwise the script's path as typed (`.venv/bin/mlkit`);
- `python -m mlkit.cli`: this interpreter's absolute path with `-m mlkit.cli`.
Every argument is quoted for a POSIX shell.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path

# As the process started: grading changes the folder and the PATH later (mlkit.cli imports this module first).
_CWD = os.getcwd()
_PATH = os.environ.get("PATH", "")


class CommandRefused(Exception):
    """A command cannot do what it was asked (no course in that folder, no such assignment, a folder it did not
    make): `mlkit` prints `mlkit VERB: ` and the message, without a traceback, and exits with status 2."""


def program() -> list[str]:
    """The words that start mlkit the way this process was started (see the module's docstring)."""
    run = os.environ.get("MLKIT_RUN")
    if run:
        called_from = os.environ.get("MLKIT_RUN_CWD", "")
        if called_from and Path(called_from).resolve() == Path(_CWD).resolve():
            return [run]
        return [str((Path(called_from) / run).resolve())]
    script = sys.argv[0] if sys.argv else ""
    if Path(script).name == "mlkit":
        on_path = shutil.which("mlkit", path=_PATH)
        started = Path(_CWD) / script
        if on_path and started.exists() and os.path.samefile(on_path, started):
            return ["mlkit"]
        return [script]  # as typed, relative to the folder the learner typed it in
    return [sys.executable, "-m", "mlkit.cli"]


def command(*words: object) -> str:
    """One command line, runnable as printed: the program, then `words` (paths are made absolute by the
    caller where the learner may be elsewhere), each quoted for the shell."""
    return " ".join(shlex.quote(str(word)) for word in [*program(), *words])
