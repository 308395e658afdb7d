"""`mlkit release`: regenerate a course's release/ from its source/ with nbgrader's own generate_assignment.

What students receive is nbgrader's release of each notebook: solutions and hidden tests stripped, cells locked.
The demo builds its release here too.
"""

from __future__ import annotations

from pathlib import Path

from mlkit import course, layout


def release(root: Path, assignments: list[str], log=print) -> None:
    """`nbgrader generate_assignment ASSIGNMENT --force` in the course `root` for each of `assignments`, in turn;
    `log` is given one line per assignment before it runs."""
    for assignment in assignments:
        log(f"nbgrader generate_assignment {assignment}")
        course.nbgrader(root, "generate_assignment", assignment, "--force")


def command(args) -> int:
    """`mlkit release [ASSIGNMENTS] [--course DIR]`: the named assignments of the course (all by default)."""
    root = course.find(args.course)
    release(root, layout.resolve_assignments(args.assignments, root) or layout.assignments(root))
    return 0
