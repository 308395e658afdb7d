"""`mlkit feedback` and `mlkit grade --feedback`: the class's feedback pages, on this machine or on a Dask cluster.

    mlkit feedback [ASSIGNMENT ...] [--jobs N] [--scheduler ADDRESS] [--force]
    mlkit grade [ASSIGNMENT ...] --feedback [...]

Runs in the `mlkit` command's process, which holds the course. Each page is rendered by
`mlkit.grading.render.render_one` (nbgrader's GenerateFeedbackApp for one submission): on this machine in a
pool of worker processes (`mlkit.grading.backends.local`); with a scheduler (`--scheduler` or
`c.MlkitGrade.scheduler`) on the workers that grade (`mlkit.grading.backends.dask_feedback`). With `mlkit grade
--feedback`, this module is the follow-up `mlkit.grading.grade.main` is given: each local worker renders a submission's feedback right
after grading it (`after_grading`); on a cluster the same workers render the feedback once the class is graded,
again for every submission graded in that run (`on_cluster`).
"""

from __future__ import annotations

import sys
from pathlib import Path

from mlkit.grading import autograde, render


def after_grading(root: str, assignment: str, student: str, graded: str, db_url: str | None) -> str:
    """`mlkit grade --feedback`'s follow-up in the worker that has just graded a submission: its feedback,
    rendered again if it was graded again (WRITTEN / SKIPPED / FAILED; '' for a submission not graded)."""
    if graded == autograde.FAILED:
        return ""
    return render.render_one(root, assignment, student, graded == autograde.GRADED, db_url)[2]


def on_cluster(root: Path, assignments: list[str], scheduler: str, graded_now: set, config,
               private_network: bool = False) -> list[tuple]:
    """`mlkit grade --feedback --scheduler`: the feedback of `assignments` on the same workers, rendered again
    for the submissions just graded (`graded_now`, (assignment, student) each); (a, s, status, seconds, reason)."""
    from mlkit.grading.backends import dask_feedback

    return dask_feedback.generate(root, assignments, scheduler, graded_now or False, config=config,
                                     private_network=private_network)


def report(results: list[tuple]) -> int:
    """Print what a feedback run did, (assignment, student, status, seconds[, reason]) each; the failures' count."""
    results = [r for r in results if r[2]]
    if not results:
        return 0
    print(render.summary(results))
    failed = [r for r in results if r[2] == render.FAILED]
    for result in failed:
        reason = result[4] if len(result) > 4 and result[4] else "see the log above"
        print(f"  feedback failed: {result[1]} / {result[0]} ({reason})")
    return len(failed)


def command(args) -> int:
    """`mlkit feedback [ASSIGNMENTS] [-j N] [--force] [--scheduler URL] [--private-network] [--course DIR]`:
    nbgrader's generate_feedback for the class, here or on a Dask cluster."""
    from mlkit import course, layout

    root = course.find(args.course)
    names = layout.resolve_assignments(args.assignments, root)
    return main(names, args.jobs, args.force, root, args.scheduler, args.private_network)


def main(assignments: list[str], jobs: int | None, force: bool, root: Path, scheduler: str | None = None,
         private_network: bool = False) -> int:
    """`mlkit feedback`: the named assignments (all by default) of the course in `root`, on this machine or,
    with a scheduler (`--scheduler` or `c.MlkitGrade.scheduler`), on the workers of a Dask cluster."""
    from mlkit import course, layout

    names = assignments or layout.assignments(root)
    config = course.course_config(root)
    scheduler = scheduler or config.get("MlkitGrade", {}).get("scheduler") or None
    if scheduler:
        from mlkit.grading.backends import dask_bundle, dask_client, dask_feedback

        try:
            results = dask_feedback.generate(root, names, scheduler, force, config=config,
                                                private_network=private_network)
        except (dask_client.SchedulerLost, dask_client.InsecureTransport, dask_bundle.ConfigNotPortable) as stop:
            print(f"mlkit feedback: {stop}", file=sys.stderr)
            return 2
    else:
        from mlkit.grading.backends import local

        results = local.generate_feedback(root, names, jobs, force, config=config)
    if not results:
        print(f"no graded submissions of {', '.join(names)} in {root / 'autograded'} (mlkit grade first)")
        return 0
    return 1 if report(results) else 0
