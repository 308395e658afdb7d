"""`mlkit grade`: the class autograded through nbgrader's AutogradeApp, on this machine or on a Dask cluster.

    mlkit grade [ASSIGNMENT ...] [--jobs N] [--force] [--scheduler ADDRESS [--private-network]] [--feedback]

Runs in the `mlkit` command's process, which holds the course. `main` picks the back-end
(`mlkit.grading.backends.local`: a pool of forked workers; `mlkit.grading.backends.dask_client`: the workers
of a Dask scheduler), both of which grade each submission with `mlkit.grading.autograde.grade_one`, and
prints what was graded and the class's standing.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mlkit.grading import autograde


def command(args) -> int:
    """`mlkit grade [ASSIGNMENTS] [-j N] [--force] [--scheduler URL] [--private-network] [--feedback] [--course DIR]`:
    autograde the class, here or on a Dask cluster; with --feedback, each graded submission's feedback too."""
    from mlkit import course, layout

    root = course.find(args.course)
    names = layout.resolve_assignments(args.assignments, root)
    follow_up = None
    if args.feedback:
        from mlkit.grading import feedback as follow_up
    return main(names, args.jobs, args.force, root, args.scheduler, args.private_network, follow_up)


def main(assignments: list[str], jobs: int | None, force: bool, root: Path, scheduler: str | None = None,
         private_network: bool = False, follow_up=None) -> int:
    """`mlkit grade`: the named assignments (all by default) of the course in `root`, on this machine or, with
    a scheduler (`--scheduler` or `c.MlkitGrade.scheduler`), on the workers of a Dask cluster; a plain tcp://
    scheduler only with `private_network` (--private-network or `c.MlkitGrade.private_network`).

    `follow_up`: the feedback step (the module `mlkit.grading.feedback`, given by `mlkit grade --feedback`): on
    this machine each worker renders a submission's feedback right after grading it; on a cluster the same
    workers render the graded submissions' feedback."""
    from mlkit import course, layout
    from mlkit.grading.sandbox.launcher import SandboxUnavailable

    names = assignments or layout.assignments(root)
    config = course.course_config(root)
    scheduler = scheduler or config.get("MlkitGrade", {}).get("scheduler") or None
    reasons: dict[tuple[str, str], str] = {}
    rendered: list[tuple] = []
    try:
        if scheduler:
            from mlkit.grading.backends import dask_bundle, dask_client

            try:
                found = dask_client.grade(root, names, scheduler, force, config=config, private_network=private_network)
                results = [(a, s, status, seconds) for a, s, status, seconds, _ in found]
                if follow_up is not None:
                    again = {(a, s) for a, s, status, _ in results if status == autograde.GRADED}
                    rendered = follow_up.on_cluster(root, names, scheduler, again, config, private_network)
            except (dask_client.SchedulerLost, dask_client.WorkerCannotSandbox, dask_client.InsecureTransport,
                    dask_bundle.ConfigNotPortable) as stop:
                print(f"mlkit grade: {stop}", file=sys.stderr)
                return 2
            reasons = {(a, s): why for a, s, _, _, why in found if why}
        else:
            after = follow_up.after_grading if follow_up is not None else None
            from mlkit.grading.backends import local

            results = local.grade(root, names, jobs, force, config=config, after=after)
            rendered = [(a, s, done, 0.0, "") for a, s, _, _, done in results] if after else []
            results = [result[:4] for result in results]
    except SandboxUnavailable as stop:
        print(f"mlkit grade: {stop}", file=sys.stderr)
        return 2
    by_status = {status: [(a, s) for a, s, got, _ in results if got == status] for status in (autograde.GRADED, autograde.SKIPPED, autograde.FAILED)}
    line = f"graded {len(by_status[autograde.GRADED])} of {len(results)} submissions"
    if by_status[autograde.SKIPPED]:
        line += f"; skipped {len(by_status[autograde.SKIPPED])} graded before (--force grades them again)"
    if by_status[autograde.FAILED]:
        line += f"; {len(by_status[autograde.FAILED])} failed"
    print(line if results else f"no submissions of {', '.join(names)} in {root / 'submitted'}")
    for a, s in by_status[autograde.FAILED]:
        print(f"  failed: {s} / {a} ({reasons.get((a, s), 'see the autograde log above')})")
    if results:
        print(course.format_standing(course.gradebook(root), names))
    failed_pages = follow_up.report(rendered) if follow_up is not None and results else 0
    return 1 if by_status[autograde.FAILED] or failed_pages else 0
