"""Feedback throughput: stock `nbgrader generate_feedback` against `mlkit feedback`, on one graded class, in one run.

    .venv/bin/python benchmarks/feedback_throughput.py --demo            # the demo's class: 4 students x 10
    .venv/bin/python benchmarks/feedback_throughput.py --students 10     # 10 students x all ten assignments

Method
- The class: with --demo, the demo's sample class (alice, bob, carol, dave: see mlkit.demo); otherwise
  the synthetic class of benchmarks/grading_throughput.py (student i submits catalog entry i modulo the
  catalog's size for every assignment). It is graded once with `mlkit grade`.
- Two identical copies of the graded course get their feedback on the same machine, one after the
  other, with the same nbgrader_config.py: stock = one `nbgrader generate_feedback ASSIGNMENT` per
  assignment, as nbgrader's documentation runs it; kit = one `mlkit feedback` for the whole class (its
  default: one worker per core). Wall-clock time of each, from the first command's start to the last's end,
  both as subprocesses started from this script (so each pays its own start-up).
- The pages must be identical, byte for byte (every file under feedback/).
- Then `--repeat` more rounds in alternating order (kit first, then stock), each into a fresh feedback/
  (`--force`): the ratio is reported per round and as the median, since the machine is shared and noisy.
Compare the ratio within one run, not absolute numbers across runs.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))

from grading_throughput import build_class  # noqa: E402
from mlkit import course, demo, layout  # noqa: E402
from mlkit.authoring import release  # noqa: E402


def pages(root: Path) -> dict[str, bytes]:
    folder = root / "feedback"
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def stock_feedback(root: Path, assignments: list[str]) -> float:
    shutil.rmtree(root / "feedback", ignore_errors=True)
    started = time.monotonic()
    for assignment in assignments:
        course.nbgrader(root, "generate_feedback", assignment, "--force")
    return time.monotonic() - started


def kit_feedback(root: Path, jobs: int | None) -> float:
    shutil.rmtree(root / "feedback", ignore_errors=True)
    command = [sys.executable, "-m", "mlkit.cli", "feedback", "--course", str(root), "--force"]
    if jobs:
        command += ["--jobs", str(jobs)]
    started = time.monotonic()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=course.environment())
    return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", action="store_true", help="the demo's sample class (4 students)")
    parser.add_argument("--students", type=int, default=10)
    parser.add_argument("--assignments", nargs="*", default=None)
    parser.add_argument("--jobs", type=int, default=None, help="mlkit feedback workers (default: one per core)")
    parser.add_argument("--repeat", type=int, default=1, help="more rounds, kit first (default 1)")
    args = parser.parse_args()
    assignments = args.assignments or layout.assignments()

    work = Path(tempfile.mkdtemp(prefix="mlkit-feedback-bench-"))
    try:
        base = course.new_course(work / "base", assignments)
        if args.demo:
            release.release(base, assignments, log=lambda *_: None)
            demo.write_sample_class(base, assignments)
        else:
            build_class(base, assignments, args.students)
        subprocess.run([sys.executable, "-m", "mlkit.cli", "grade", "--course", str(base)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=course.environment())
        notebooks = len(list((base / "autograded").glob("*/*/*.ipynb")))
        stock, kit = work / "stock", work / "kit"
        shutil.copytree(base, stock)
        shutil.copytree(base, kit)

        rounds = [(stock_feedback(stock, assignments), kit_feedback(kit, args.jobs))]
        identical = pages(stock) == pages(kit) and len(pages(kit)) >= notebooks
        for _ in range(args.repeat - 1):
            kit_seconds = kit_feedback(kit, args.jobs)
            rounds.append((stock_feedback(stock, assignments), kit_seconds))
        identical = identical and pages(stock) == pages(kit)

        who = "demo class (alice, bob, carol, dave)" if args.demo else f"{args.students} students"
        print(f"class: {who} x {len(assignments)} assignments = {notebooks} graded notebooks ({os.cpu_count()} cores)")
        print(f"{'round':<8}{'stock s':>10}{'kit s':>10}{'stock nb/s':>12}{'kit nb/s':>10}{'ratio':>8}")
        for i, (stock_seconds, kit_seconds) in enumerate(rounds, 1):
            print(f"{i:<8}{stock_seconds:>10.1f}{kit_seconds:>10.1f}{notebooks / stock_seconds:>12.2f}"
                  f"{notebooks / kit_seconds:>10.2f}{stock_seconds / kit_seconds:>7.2f}x")
        print(f"ratio (kit / stock throughput), median of {len(rounds)}: "
              f"{statistics.median(s / k for s, k in rounds):.2f}x")
        print(f"pages identical: {identical}")
        return 0 if identical else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
