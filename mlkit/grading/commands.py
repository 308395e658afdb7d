"""The grading verbs of the `mlkit` command: `mlkit grade`, `mlkit feedback` and `mlkit doctor`.

Each turns its parsed arguments into a call of the module that does the work (`parallel.main`,
`class_feedback.main`, `doctor.main`), imported only when the verb runs: nbgrader is imported by grading, not by
the command line.  Runs in the instructor's process.
"""

from __future__ import annotations

from mlkit import course, layout


def grade_command(args) -> int:
    """`mlkit grade [ASSIGNMENTS] [-j N] [--force] [--scheduler URL] [--private-network] [--feedback] [--course DIR]`:
    autograde the class, here or on a Dask cluster; with --feedback, each graded submission's feedback too."""
    root = course.find(args.course)
    names = layout.resolve_assignments(args.assignments, root)
    from mlkit.grading import parallel  # nbgrader's imports: once the course and its assignments are known

    follow_up = None
    if args.feedback:
        from mlkit.grading import class_feedback as follow_up
    return parallel.main(names, args.jobs, args.force, root, args.scheduler, args.private_network, follow_up)


def feedback_command(args) -> int:
    """`mlkit feedback [ASSIGNMENTS] [-j N] [--force] [--scheduler URL] [--private-network] [--course DIR]`:
    nbgrader's generate_feedback for the class, here or on a Dask cluster."""
    root = course.find(args.course)
    names = layout.resolve_assignments(args.assignments, root)
    from mlkit.grading import class_feedback  # nbgrader's imports: once the course and its assignments are known

    return class_feedback.main(names, args.jobs, args.force, root, args.scheduler, args.private_network)


def doctor_command(args) -> int:
    """`mlkit doctor [--course DIR]`: the checks of this machine and of the course (given, or the folder it runs
    in if that is one); 1 on a problem."""
    from mlkit.grading import doctor

    try:
        root = course.find(args.course)
    except course.NotACourse:
        if args.course:
            raise
        root = None
    return doctor.main(root, course.course_config(root) if root else None)
