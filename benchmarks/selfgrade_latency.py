"""Self-study feedback latency: how long `mlkit selfgrade` takes, as the learner waits for it.

    .venv/bin/python benchmarks/selfgrade_latency.py [--runs 5] [ASSIGNMENT ...]

Method
- The learner's notebook is the assignment's reference solution, written
  where a learner keeps it.
- cold: a new, empty self-study workspace, so the attempt includes building
  the private course (nbgrader generate_assignment) and the first gradebook;
  warm: a second attempt in that same workspace.
- Each figure is the wall-clock time of the whole command
  (`python -m mlkit.cli selfgrade NOTEBOOK --workspace W`, a new process
  every time: imports, kernel, sandbox, autograde, feedback, history and
  dashboard), median of `--runs` runs; the minimum and maximum are printed too.
- Targets: 3 s warm, 8 s cold.  Machines here are noisy: rerun before
  drawing conclusions from a small difference.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from mlkit.authoring import catalog

WARM_TARGET, COLD_TARGET = 3.0, 8.0


def timed(command: list[str]) -> float:
    started = time.monotonic()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignments", nargs="*", default=None)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    assignments = args.assignments or catalog.assignments()
    work = Path(tempfile.mkdtemp(prefix="mlkit-selfgrade-bench-"))
    print(f"{'notebook':<26}{'cold median':>12}{'(min-max)':>14}{'warm median':>13}{'(min-max)':>14}")
    met = True
    try:
        for assignment in assignments:
            notebook = work / "learner" / assignment / catalog.notebook_path(assignment, "release").name
            notebook.parent.mkdir(parents=True)
            nbformat.write(catalog.submission_notebook(assignment, catalog.catalog_answers(assignment)["reference"]),
                           notebook)
            cold, warm = [], []
            for run in range(args.runs):
                workspace = work / f"workspace-{assignment}-{run}"
                command = [sys.executable, "-m", "mlkit.cli", "selfgrade", str(notebook), "--workspace", str(workspace)]
                cold.append(timed(command))
                warm.append(timed(command))
                shutil.rmtree(workspace, ignore_errors=True)
            c, w = statistics.median(cold), statistics.median(warm)
            met = met and c <= COLD_TARGET and w <= WARM_TARGET
            print(f"{assignment:<26}{c:>10.2f} s {min(cold):>5.2f}-{max(cold):<5.2f} s"
                  f"{w:>10.2f} s {min(warm):>5.2f}-{max(warm):<5.2f} s")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"targets ({WARM_TARGET:g} s warm, {COLD_TARGET:g} s cold) met: {met}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
