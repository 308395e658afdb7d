"""`mlkit feedback` and `mlkit grade --feedback`: the class's feedback pages, on this machine or on a Dask cluster.

    mlkit feedback [ASSIGNMENT ...] [--jobs N] [--scheduler ADDRESS] [--force]
    mlkit grade [ASSIGNMENT ...] --feedback [...]

On this machine the pages are rendered by `mlkit.grading.feedback` (nbgrader's GenerateFeedbackApp per
submission in a pool of worker processes); with a scheduler (`--scheduler` or `c.MlkitGrade.scheduler`) by
`mlkit.grading.cluster_feedback` on the workers that grade. With `mlkit grade --feedback`, this module is
the follow-up `mlkit.grading.parallel.main` is given: each local worker renders a submission's feedback right
after grading it (`after_grading`); on a cluster the same workers render the feedback once the class is graded,
again for every submission graded in that run (`on_cluster`).
"""

from __future__ import annotations

import sys
from pathlib import Path

from mlkit.grading import feedback, parallel


def after_grading(root: str, assignment: str, student: str, graded: str, db_url: str | None) -> str:
    """`mlkit grade --feedback`'s follow-up in the worker that has just graded a submission: its feedback,
    rendered again if it was graded again (WRITTEN / SKIPPED / FAILED; '' for a submission not graded)."""
    if graded == parallel.FAILED:
        return ""
    return feedback.render_one(root, assignment, student, graded == parallel.GRADED, db_url)[2]


def on_cluster(root: Path, assignments: list[str], scheduler: str, graded_now: set, config,
               private_network: bool = False) -> list[tuple]:
    """`mlkit grade --feedback --scheduler`: the feedback of `assignments` on the same workers, rendered again
    for the submissions just graded (`graded_now`, (assignment, student) each); (a, s, status, seconds, reason)."""
    from mlkit.grading import cluster_feedback

    return cluster_feedback.generate(root, assignments, scheduler, graded_now or False, config=config,
                                     private_network=private_network)


def report(results: list[tuple]) -> int:
    """Print what a feedback run did, (assignment, student, status, seconds[, reason]) each; the failures' count."""
    results = [r for r in results if r[2]]
    if not results:
        return 0
    print(feedback.summary(results))
    failed = [r for r in results if r[2] == feedback.FAILED]
    for result in failed:
        reason = result[4] if len(result) > 4 and result[4] else "see the log above"
        print(f"  feedback failed: {result[1]} / {result[0]} ({reason})")
    return len(failed)


def main(assignments: list[str], jobs: int | None, force: bool, root: Path, scheduler: str | None = None,
         private_network: bool = False) -> int:
    """`mlkit feedback`: the named assignments (all by default) of the course in `root`, on this machine or,
    with a scheduler (`--scheduler` or `c.MlkitGrade.scheduler`), on the workers of a Dask cluster."""
    from mlkit import course, layout

    names = assignments or layout.assignments(root)
    config = course.course_config(root)
    scheduler = scheduler or config.get("MlkitGrade", {}).get("scheduler") or None
    if scheduler:
        from mlkit.grading import cluster, cluster_feedback

        try:
            results = cluster_feedback.generate(root, names, scheduler, force, config=config,
                                                private_network=private_network)
        except (cluster.SchedulerLost, cluster.InsecureTransport, cluster.ConfigNotPortable) as stop:
            print(f"mlkit feedback: {stop}", file=sys.stderr)
            return 2
    else:
        results = feedback.generate(root, names, jobs, force, config=config)
    if not results:
        print(f"no graded submissions of {', '.join(names)} in {root / 'autograded'} (mlkit grade first)")
        return 0
    return 1 if report(results) else 0
