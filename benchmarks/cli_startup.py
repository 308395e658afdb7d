"""Start-up time of the `mlkit` command: what every verb pays before it does its work.

    .venv/bin/python benchmarks/cli_startup.py [--runs 20]

Method
- Each figure is the wall-clock time of a new process, median of `--runs`
  runs (minimum and maximum printed too), on whatever else the machine runs:
  compare the rows of one run with each other, not with another day's.
- `mlkit --help`: the installed console script, as a learner types it.
- `import every verb's module`: `python -c` importing the modules the command
  line imported eagerly before its verbs were looked up lazily (mlkit.course,
  mlkit.demo, mlkit.authoring.catalog, mlkit.reports.classreport,
  mlkit.study.selfgrade): what `mlkit --help` cost then.
- `python -c pass`: the interpreter alone, the floor.
- With `--baseline DIR` (a checkout of another version, e.g. `git archive
  main` unpacked): `python -m mlkit.cli --help` of this version and of that
  one (its package first on PYTHONPATH), both run from a folder of their own.
The whole `mlkit selfgrade` is measured by benchmarks/selfgrade_latency.py.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EAGER = "import sys; sys.modules.setdefault('rfc3987_syntax', None); import mlkit.course, mlkit.demo, mlkit.authoring.catalog, mlkit.reports.classreport, mlkit.study.selfgrade"


def timed(command: list[str], env: dict | None = None) -> float:
    started = time.monotonic()
    # In a folder of its own: a checkout's folder first on sys.path would decide which mlkit runs.
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                   cwd=tempfile.gettempdir())
    return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--baseline", type=Path, help="a checkout of the version to compare with")
    args = parser.parse_args()
    script = str(Path(sys.executable).parent / "mlkit")
    rows = {
        "mlkit --help": [script, "--help"],
        "import every verb's module": [sys.executable, "-c", EAGER],
        "python -c pass": [sys.executable, "-c", "pass"],
    }
    envs: dict[str, dict | None] = {name: None for name in rows}
    if args.baseline:
        rows["python -m mlkit.cli --help"] = [sys.executable, "-m", "mlkit.cli", "--help"]
        rows["  baseline's"] = rows["python -m mlkit.cli --help"]
        envs["python -m mlkit.cli --help"] = None
        envs["  baseline's"] = {**os.environ, "PYTHONPATH": str(args.baseline.resolve())}
    times: dict[str, list[float]] = {name: [] for name in rows}
    for _ in range(args.runs):  # interleaved, so that a busy moment slows every row alike
        for name, command in rows.items():
            times[name].append(timed(command, envs[name]))
    print(f"{'command':<30}{'median':>9}{'(min-max)':>16}")
    for name, values in times.items():
        print(f"{name:<30}{statistics.median(values):>7.2f} s {min(values):>6.2f}-{max(values):<6.2f} s")
    ratio = statistics.median(times["import every verb's module"]) / statistics.median(times["mlkit --help"])
    print(f"eager imports / mlkit --help: {ratio:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
