"""Record what every catalogued submission scores, check by check, through the real nbgrader pipeline.

    .venv/bin/python tests/record_catalog_verdicts.py [ASSIGNMENT ...]

Writes tests/data/catalog_verdicts.json: for each assignment and catalogued
submission (reference, alternatives, mutants, the untouched release), each
graded test cell's score and the declared mistake it was diagnosed with
(None when it passed or failed without a declared mistake).  The table is
the record that a change to the grading machinery must reproduce
(tests/test_catalog.py compares against it); re-record it only when a
notebook's tests or the catalog change on purpose.
"""

from __future__ import annotations

import json
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

TABLE = HERE / "data" / "catalog_verdicts.json"


def verdicts(assignment: str) -> dict:
    from mlkit.reports import results
    from support import graded_catalog

    graded = graded_catalog(assignment)
    table = {}
    for name in graded.entries:
        checks = results.check_results(graded.autograded(name), assignment)
        table[name] = {r.test_id: [r.score, r.mistake] for r in checks}
    return table


def main(argv: list[str]) -> int:
    from mlkit import layout

    names = argv or layout.assignments()
    table = json.loads(TABLE.read_text()) if TABLE.exists() else {}
    with ProcessPoolExecutor(2) as pool:
        for assignment, found in zip(names, pool.map(verdicts, names)):
            table[assignment] = found
            print(f"{assignment}: {len(found)} submissions", flush=True)
    TABLE.write_text(json.dumps(dict(sorted(table.items())), indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
