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
- `--baseline DIR` (a checkout of another version: a git worktree of main
  set up with `./run`, or `git archive main` unpacked) also times that
  version's command on the same notebook, run by run in turn with this one,
  and prints the ratio of the medians: on a shared, busy machine the ratio
  within one run is the figure to compare, the seconds only say how busy it
  was.  A checkout with its own `.venv` runs with that environment's Python,
  so a change of pinned dependencies is measured too; otherwise with this
  Python and the checkout first on PYTHONPATH.
- The load average (1 minute) is printed before and after, so that the
  seconds can be read against how busy the machine was.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from mlkit import layout
from mlkit.authoring import catalog

WARM_TARGET, COLD_TARGET = 3.0, 8.0


def timed(command: list[str], env: dict | None = None) -> float:
    started = time.monotonic()
    # In a folder of its own: a checkout's folder first on sys.path would decide which mlkit runs.
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                   cwd=tempfile.gettempdir())
    return time.monotonic() - started


def cold_and_warm(command: list[str], workspace: Path, env: dict | None = None) -> tuple[float, float]:
    """One cold attempt (a new workspace) and one warm attempt (the same workspace again)."""
    cold = timed([*command, "--workspace", str(workspace)], env)
    warm = timed([*command, "--workspace", str(workspace)], env)
    shutil.rmtree(workspace, ignore_errors=True)
    return cold, warm


def _line(name: str, cold: list[float], warm: list[float]) -> str:
    c, w = statistics.median(cold), statistics.median(warm)
    return (f"{name:<26}{c:>10.2f} s {min(cold):>5.2f}-{max(cold):<5.2f} s"
            f"{w:>10.2f} s {min(warm):>5.2f}-{max(warm):<5.2f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignments", nargs="*", default=None)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--baseline", type=Path, help="a checkout of the version to compare with")
    args = parser.parse_args()
    assignments = args.assignments or layout.assignments()
    work = Path(tempfile.mkdtemp(prefix="mlkit-selfgrade-bench-"))
    baseline_env, baseline_python = None, sys.executable
    if args.baseline:
        own = args.baseline.resolve() / ".venv" / "bin" / "python"
        if own.exists():
            baseline_env = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
            baseline_python = str(own)
        else:
            baseline_env = {**os.environ, "PYTHONPATH": str(args.baseline.resolve())}
    print(f"load average before: {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores)")
    print(f"{'notebook':<26}{'cold median':>12}{'(min-max)':>14}{'warm median':>13}{'(min-max)':>14}")
    met = True
    try:
        for assignment in assignments:
            notebook = work / "learner" / assignment / layout.notebook_path(assignment, "release").name
            notebook.parent.mkdir(parents=True)
            nbformat.write(catalog.submission_notebook(assignment, catalog.catalog_answers(assignment)["reference"]),
                           notebook)
            command = [sys.executable, "-m", "mlkit.cli", "selfgrade", str(notebook)]
            cold, warm, base_cold, base_warm = [], [], [], []
            for run in range(args.runs):
                c, w = cold_and_warm(command, work / f"workspace-{assignment}-{run}")
                cold.append(c)
                warm.append(w)
                if baseline_env is not None:
                    c, w = cold_and_warm([baseline_python, *command[1:]], work / f"baseline-{assignment}-{run}",
                                         baseline_env)
                    base_cold.append(c)
                    base_warm.append(w)
            met = met and statistics.median(cold) <= COLD_TARGET and statistics.median(warm) <= WARM_TARGET
            print(_line(assignment, cold, warm))
            if baseline_env is not None:
                print(_line("  baseline", base_cold, base_warm)
                      + f"   this/baseline: cold {statistics.median(cold) / statistics.median(base_cold):.2f},"
                        f" warm {statistics.median(warm) / statistics.median(base_warm):.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    print(f"targets ({WARM_TARGET:g} s warm, {COLD_TARGET:g} s cold) met: {met}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
