"""Grade one assignment's whole catalog in a scratch course and print what happened.

    .venv/bin/python tests/try_assignment.py 01_linear_regression

For authors of a notebook: shows each submission's automatic score per test
cell and, for every failed cell, the error line the feedback shows.  It runs
the same code path as the kit's tests (tests/support.py).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from support import graded_catalog  # noqa: E402


def main(assignment: str) -> None:
    graded = graded_catalog(assignment)
    for name, grade in graded.grades.items():
        print(f"{name:45s} {grade.auto_score:g}/{grade.auto_max:g}")
        nb = graded.autograded(name)
        for cell in nb.cells:
            for output in cell.get("outputs", []):
                if output.output_type == "error":
                    print(f"    {cell.metadata.get('nbgrader', {}).get('grade_id', '?')}: "
                          f"{output.ename}: {output.evalue[:200]}")
    print(f"course folder: {graded.course}")


if __name__ == "__main__":
    main(sys.argv[1])
