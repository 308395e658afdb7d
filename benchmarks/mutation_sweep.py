"""Mutation score of the hidden tests: every machine-made mutant of every reference solution, graded.

    .venv/bin/python benchmarks/mutation_sweep.py [ASSIGNMENT ...] [--jobs 2] [--confirm 20] [--json FILE]

Method
- Mutants: `mlkit.authoring.mutation.generate` makes one mutant per mutation
  point on every line of the reference answer cells, the scaffold around the
  solution regions included (the operators are listed in that module's
  docstring); `mlkit mutate ASSIGNMENT` prints the same for one notebook.  Mutants whose code equals the
  reference after the change ("identical") are counted, not run.
- Verdicts: each mutant's answers and the source notebook's test cells
  (hidden tests included) run in a fresh forked process
  (`mutation.verdicts`); a test cell passes when it raises nothing, as
  nbgrader scores it.  A mutant is killed when any test cell fails, or it
  times out (30 s) or crashes.
- Equivalent mutants: a survivor listed in
  `catalog/<assignment>/equivalent_mutants.toml` with a reviewed reason.
  Every other survivor is reported by id and description.
- Kill rate = killed / (generated - identical - equivalent).
- The reference comes first: a notebook whose reference solution fails one
  of its own test cells gets no score (the cells and messages are printed).
- Hand-written mistakes (`catalog/<assignment>/mutants.toml`) run beside
  them: each must lose points and a failing check must name its declared
  diagnosis; every other one is printed as a finding.
- `--jobs N`: notebooks swept at once (each runs its mutants one at a time).
- `--confirm N`: a fixed sample of N mutants per notebook is graded again
  through the real `nbgrader autograde` in a scratch course; each check's
  pass or fail must equal the fast verdict.
"""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from mlkit import layout
from mlkit.authoring import mutation


def _summary(assignment: str) -> dict:
    result = mutation.sweep(assignment)
    result["descriptions"] = {i: m.description for i, m in result.pop("mutants", {}).items()}
    return result


def confirm(assignment: str, ids: list[str], fast: dict) -> list[str]:
    """Grade the mutants `ids` with `nbgrader autograde`; returns the ids whose verdicts differ."""
    mutants = {m.id: m for m in mutation.generate(assignment)[0]}
    real = mutation.autograde_verdicts(assignment, {i: mutants[i].answers for i in ids})
    return [i for i in ids if not mutation.same_verdict(fast[i], real[i])]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignments", nargs="*")
    parser.add_argument("--confirm", type=int, default=0, help="mutants per notebook to confirm with nbgrader")
    parser.add_argument("--json", type=Path, help="write every verdict here")
    parser.add_argument("--jobs", type=int, default=2, help="notebooks swept at once (default 2)")
    args = parser.parse_args()
    names = args.assignments or layout.assignments()
    with ProcessPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(_summary, names))
    refused = [row for row in rows if row["reference_failures"]]
    for row in refused:
        print(f"{row['assignment']}: no score, its reference fails "
              + "; ".join(f"{test}: {why}" for test, why in row["reference_failures"]))
    rows = [row for row in rows if not row["reference_failures"]]
    print(f"{'notebook':<24}{'generated':>10}{'identical':>10}{'killed':>8}{'survived':>9}{'equivalent':>11}"
          f"{'kill rate':>11}")
    for row in rows:
        print(f"{row['assignment']:<24}{row['generated']:>10}{row['identical']:>10}{row['killed']:>8}"
              f"{row['survived']:>9}{row['equivalent']:>11}{100 * row['kill_rate']:>10.1f}%")
    for row in rows:
        for mutant_id in row["survivors"]:
            print(f"  survivor {row['assignment']} {mutant_id}: {row['descriptions'][mutant_id]}")
        for why, ids in row["stale_equivalents"].items():
            for mutant_id in ids:
                print(f"  stale equivalent {row['assignment']} {mutant_id}: {why}")
    mistakes = [(row["assignment"], m) for row in rows for m in row["named_mistakes"]]
    print(f"hand-written mistakes: {len(mistakes)}, caught {sum(m['caught'] for _, m in mistakes)}, "
          f"caught and named {sum(m['caught'] and m['named'] for _, m in mistakes)}")
    for row in rows:
        for line in mutation.mistake_findings(row["named_mistakes"]):
            print(f"  {row['assignment']} {line}")
    status = 1 if refused else 0
    if args.confirm:
        for row in rows:
            ids = mutation.sample(sorted(row["verdicts"]), args.confirm, seed=row["assignment"])
            differ = confirm(row["assignment"], ids, row["verdicts"])
            print(f"confirmed through nbgrader autograde: {row['assignment']} {len(ids) - len(differ)} / {len(ids)}"
                  + (f" (differ: {differ})" if differ else ""))
            status |= bool(differ)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1, default=str))
    return status


if __name__ == "__main__":
    sys.exit(main())
