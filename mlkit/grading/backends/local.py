"""The class graded, or its feedback rendered, on this machine: a pool of forked worker processes.

    mlkit grade [ASSIGNMENT ...] [--jobs N] [--force]
    mlkit feedback [ASSIGNMENT ...] [--jobs N] [--force]

Runs in the process of the `mlkit` command and its forked workers, which hold the course (hidden tests,
gradebook); student code runs only in the sandbox each notebook's grading kernel starts.

Each submission (student x assignment) is one task; `--jobs` worker processes (for grading, default two per
core, since a worker mostly waits for its kernel and the kernel for its worker; for feedback, all CPU, one
per core) take tasks from a queue and run one submission each through `mlkit.grading.autograde.grade_one`
(nbgrader's `AutogradeApp`) or `mlkit.grading.render.render_one` (nbgrader's `GenerateFeedbackApp`), with
the course's `nbgrader_config.py`: the same plug-ins and gradebook as `nbgrader autograde` and
`nbgrader generate_feedback`.

What is saved compared with one `nbgrader autograde` per assignment:
- start-up: nbgrader is imported once, in the parent, before the workers fork, with the speed-ups of
  `autograde.install_speedups` (and, for feedback, `render.install_template_cache`);
- kernel start: each grading worker forks its kernels from a warm zygote (`mlkit.grading.kernel.zygote`),
  and connects to a new kernel without ZeroMQ's 100 ms reconnection wait or jupyter_client's 0.2 s of
  waiting for silence;
- wall time: kernels of different submissions run side by side, one per worker, each still a fresh kernel
  per notebook; a worker, its kernel and its student process share one core, where handing a request over
  is fast.
A progress bar (tqdm) on stderr counts submissions.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import sys
from pathlib import Path

from mlkit.grading import autograde, render

_KERNEL_NAME: str | None = None  # per worker: the forked-kernel spec when this worker has a zygote


def _pin_to_one_core(counter) -> None:
    """Keep this worker, its kernels and their student processes on one core (workers take cores in turn).

    The three take turns: a cell or a request goes out, its reply comes back.  Waking a process on the
    core that is already running costs a few microseconds; on another core, tens of them, and a test
    may make thousands of requests to the student process."""
    try:
        cores = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return
    if len(cores) < 2:
        return
    with counter.get_lock():
        index = counter.value
        counter.value += 1
    os.sched_setaffinity(0, {cores[index % len(cores)]})


def _start_worker(use_zygote: bool, counter=None) -> None:
    """Pool initializer: pin this worker to a core, and give it its own kernel zygote
    (see mlkit.grading.kernel.zygote)."""
    global _KERNEL_NAME
    if counter is not None:
        _pin_to_one_core(counter)
    if not use_zygote:
        return
    from multiprocessing.util import Finalize

    from mlkit.grading.kernel import zygote

    parent = zygote.Zygote()
    Finalize(parent, parent.close, exitpriority=10)
    _KERNEL_NAME = zygote.KERNEL_NAME


def _grade_task(task: tuple[str, str, str, bool, str | None]) -> tuple[str, str, str, float]:
    """One pool task: `autograde.grade_one` with this worker's forked kernel, if it has a zygote."""
    return autograde.grade_one(task, kernel_name=_KERNEL_NAME)


def _grade_then(after, task: tuple[str, str, str, bool, str | None]) -> tuple:
    """grade_one's result and, after it, what `after(root, assignment, student, status, db_url)` returns, in the
    worker that has just graded the submission (`mlkit grade --feedback`: its feedback pages)."""
    assignment, student, status, seconds = autograde.grade_one(task, kernel_name=_KERNEL_NAME)
    return assignment, student, status, seconds, after(task[2], assignment, student, status, task[4])


def grade(root: Path, assignments: list[str], jobs: int | None = None, force: bool = False,
          progress: bool = True, forked_kernels: bool = True, config=None, after=None) -> list[tuple]:
    """Autograde every submission of `assignments`; returns (assignment, student, status, seconds) per task.

    `config`: the course's configuration as `mlkit.course.course_config` resolves it (resolved here if not given).
    `after`: a module-level function run by the worker right after each submission, given (root, assignment,
    student, status, db_url); what it returns ends that submission's tuple."""
    tasks = autograde.submissions(root, assignments)
    if not tasks:
        return []
    from mlkit import course

    autograde.install_speedups()  # before the workers fork: each inherits them

    config = config if config is not None else course.course_config(root)
    autograde.preflight(config)
    db_url = autograde.worker_db_url(config.CourseDirectory.db_url)
    autograde.add_missing_students(config, db_url, {student for _, student in tasks})
    jobs = jobs or 2 * (os.cpu_count() or 1)
    use_zygote = forked_kernels and autograde.uses_grading_kernel(config)
    if use_zygote:
        from mlkit.grading.kernel import zygote

        zygote.install()
    from tqdm import tqdm

    results = []
    bar = tqdm(total=len(tasks), desc="grading", unit="notebook", file=sys.stderr, disable=not progress,
               dynamic_ncols=True)
    context = multiprocessing.get_context("fork")
    workers = min(jobs, len(tasks))
    counter = context.Value("i", 0)
    pool = context.Pool(workers, initializer=_start_worker, initargs=(use_zygote, counter))
    try:
        work = [(a, s, str(root), force, db_url) for a, s in tasks]
        task = _grade_task if after is None else functools.partial(_grade_then, after)
        for result in pool.imap_unordered(task, work):
            results.append(result)
            bar.update()
        pool.close()  # workers exit normally, so each closes its zygote
    finally:
        bar.close()
        pool.join() if results and len(results) == len(tasks) else pool.terminate()
    return results


def _render_task(task: tuple[str, str, str, bool, str]) -> tuple[str, str, str, float]:
    root, assignment, student, force, db_url = task
    return render.render_one(root, assignment, student, force, db_url)


def generate_feedback(root: Path, assignments: list[str], jobs: int | None = None, force: bool = False,
                      progress: bool = True, config=None) -> list[tuple[str, str, str, float]]:
    """Feedback for every graded submission of `assignments`; (assignment, student, status, seconds) each.

    `config`: the course's configuration as `mlkit.course.course_config` resolves it (resolved here if not given)."""
    tasks = render.graded_submissions(root, assignments)
    if not tasks:
        return []
    from tqdm import tqdm

    from mlkit import course

    autograde.install_speedups()
    render.install_template_cache()  # before the workers fork: each inherits it
    autograde.tools_on_path()
    config = config if config is not None else course.course_config(root)
    db_url = autograde.worker_db_url(config.CourseDirectory.db_url)
    jobs = jobs or os.cpu_count() or 1  # rendering is all CPU: one worker per core
    results = []
    bar = tqdm(total=len(tasks), desc="feedback", unit="notebook", file=sys.stderr, disable=not progress,
               dynamic_ncols=True)
    context = multiprocessing.get_context("fork")
    pool = context.Pool(min(jobs, len(tasks)))
    try:
        work = [(str(root), a, s, force, db_url) for a, s in tasks]
        for result in pool.imap_unordered(_render_task, work):
            results.append(result)
            bar.update()
        pool.close()
    finally:
        bar.close()
        pool.join() if len(results) == len(tasks) else pool.terminate()
    return results
