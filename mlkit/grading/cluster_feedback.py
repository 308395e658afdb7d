"""Feedback past one machine: each graded submission's pages rendered on a worker of a Dask scheduler.

    mlkit feedback [ASSIGNMENT ...] --scheduler tcp://HOST:8786      (or c.MlkitGrade.scheduler)

The same workers as `mlkit grade --scheduler` (`mlkit.grading.cluster`), the same rule: workers share no folder
with the course, and only the process running the command opens the course's gradebook and writes the pages.

- to the worker, once per assignment (scattered to every worker): the assignment's bundle as
  `cluster.assignment_bundle` makes it for grading (the course's configuration and `nbgrader_config.py`, and a
  SQLite gradebook holding the assignment as the course's gradebook records it); per submission, as plain
  data: the files of `autograded/<student>/<a>/`, and that submission's rows of the course's gradebook (each
  grade's automatic and manual score, extra credit and whether it needs a manual grade, each comment's
  automatic and manual text, each notebook's late penalty, the submission's time as ISO text);
- on the worker: a scratch course holding those, in which nbgrader's `GenerateFeedbackApp` renders the
  submission's feedback exactly as `mlkit feedback` does on one machine (`mlkit.grading.feedback.render_one`);
- back, as plain data (no pickled object): {"status": str, "files": {relative path: bytes}, "milliseconds": int}
  or {"status": "failed", "reason": str}.

The writer puts a submission's pages beside their place (under a name of the same length), then moves the
folder into `feedback/<student>/<a>/` in one rename: a page lands whole, and once, even when a worker dies
mid-task and Dask runs the task again elsewhere (each task's result is received once). Rendering runs no
student code, so a feedback task needs no sandbox on its worker.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

from mlkit.grading import cluster, feedback, parallel


# -- what travels ----------------------------------------------------------------------------------


def submission_rows(gb, assignment: str, student: str) -> dict:
    """One submission's rows of the gradebook `gb` (an open nbgrader Gradebook), as plain data."""
    found = gb.find_submission(assignment, student)
    return {
        "timestamp": found.timestamp.isoformat() if found.timestamp is not None else None,
        "notebooks": {
            nb.name: {
                "late_submission_penalty": nb.late_submission_penalty,
                "grades": {g.name: [g.auto_score, g.manual_score, g.extra_credit, g.needs_manual_grade]
                           for g in nb.grades},
                "comments": {c.name: [c.auto_comment, c.manual_comment] for c in nb.comments},
            } for nb in found.notebooks
        },
    }


def _store_rows(url: str, assignment: str, student: str, rows: dict) -> None:
    """Write `rows` (as `submission_rows` gives them) into the scratch gradebook at `url`, through nbgrader's API."""
    from nbgrader.api import Gradebook

    with Gradebook(url) as gb:
        timestamp = {"timestamp": rows["timestamp"]} if rows["timestamp"] else {}
        gb.update_or_create_student(student)
        gb.update_or_create_submission(assignment, student, **timestamp)
        for name, wrote in rows["notebooks"].items():
            notebook = gb.find_submission_notebook(name, assignment, student)
            notebook.late_submission_penalty = wrote["late_submission_penalty"]
            for grade in notebook.grades:
                if grade.name in wrote["grades"]:
                    (grade.auto_score, grade.manual_score, grade.extra_credit,
                     grade.needs_manual_grade) = wrote["grades"][grade.name]
            for comment in notebook.comments:
                if comment.name in wrote["comments"]:
                    comment.auto_comment, comment.manual_comment = wrote["comments"][comment.name]
        gb.db.commit()


def _bundle_config(bundle: dict):
    """The course's resolved configuration carried by a grading bundle (as `cluster.grade_submission` reads it)."""
    import pickle

    return pickle.loads(bundle["config"])


# -- the worker's side -----------------------------------------------------------------------------


def render_submission(bundle: dict, student: str, files: dict[str, bytes], rows: dict) -> dict:
    """A Dask task: render one graded submission's feedback in a scratch course; its pages as plain data."""
    parallel._tools_on_path()
    assignment = bundle["assignment"]
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"{cluster.SCRATCH_PREFIX}{os.getpid()}-") as scratch:
        folder = Path(scratch) / "course"
        folder.mkdir()
        (folder / "nbgrader_config.py").write_bytes(bundle["config_file"])
        (folder / "gradebook.db").write_bytes(bundle["gradebook"])
        cluster.write_tree(files, folder / "autograded" / student / assignment)
        url = f"sqlite:///{folder / 'gradebook.db'}"
        _store_rows(url, assignment, student, rows)
        _, _, status, _ = feedback.render_one(str(folder), assignment, student, True, url, _bundle_config(bundle))
        pages = folder / "feedback" / student / assignment
        if status != feedback.WRITTEN or not pages.is_dir():
            return {"status": feedback.FAILED, "reason": "nbgrader generate_feedback failed on the worker"}
        return {"status": feedback.WRITTEN, "files": cluster.read_tree(pages),
                "milliseconds": int(1000 * (time.monotonic() - started))}


def _valid_result(result) -> dict:
    """The worker's answer, checked to be the plain data this module sends back, before anything is written."""
    if not isinstance(result, dict) or result.get("status") not in (feedback.WRITTEN, feedback.FAILED):
        raise ValueError("a worker answered with something that is not a feedback result")
    if result["status"] == feedback.WRITTEN:
        files = result.get("files")
        if not isinstance(files, dict) or not files or not all(
                isinstance(k, str) and isinstance(v, bytes) for k, v in files.items()):
            raise ValueError("a worker's feedback result holds no pages, or something that is no file")
    return result


# -- the instructor's side: the one writer ---------------------------------------------------------


def staging_folder(root: Path, assignment: str, student: str) -> Path:
    """Where a submission's pages are written before they move into place: beside it, a name of the same length."""
    return root / "feedback" / student / ("." + assignment[1:] if len(assignment) > 1 else ".")


def write_pages(root: Path, assignment: str, student: str, files: dict[str, bytes], mode: int) -> None:
    """The submission's feedback folder replaced by `files` in one rename (files given `mode`, as nbgrader's)."""
    target = root / "feedback" / student / assignment
    staging = staging_folder(root, assignment, student)
    shutil.rmtree(staging, ignore_errors=True)
    try:
        cluster.write_tree(files, staging)
        for path in staging.rglob("*"):
            if path.is_file():
                path.chmod(mode)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if target.exists():
        shutil.rmtree(target)
    os.rename(staging, target)


def up_to_date(root: Path, assignment: str, student: str) -> bool:
    """Whether a submission's feedback stands as nbgrader would leave it without --force: a page for every
    graded notebook, written from a submission no newer than the graded one."""
    from nbgrader.coursedir import CourseDirectory

    graded, pages = root / "autograded" / student / assignment, root / "feedback" / student / assignment
    if any(not (pages / (nb.stem + ".html")).is_file() for nb in graded.glob("*.ipynb")):
        return False
    stamps = CourseDirectory()
    new, old = stamps.get_existing_timestamp(str(graded)), stamps.get_existing_timestamp(str(pages))
    return not (new is not None and old is not None and new > old)


def generate(root: Path, assignments: list[str], scheduler: str, force: bool | set = False, progress: bool = True,
             timeout: float | None = None, config=None) -> list[tuple[str, str, str, float, str]]:
    """Feedback rendered on the workers of `scheduler`; (assignment, student, status, seconds, reason) each.

    `force`: True renders every page again, a set of (assignment, student) those only (as `mlkit grade
    --feedback` asks for what it has just graded), False what is missing or older than its grading."""
    from distributed import Client, as_completed
    from nbgrader.api import Gradebook
    from tqdm import tqdm

    from mlkit import course

    warnings.filterwarnings("ignore", message=".*not in session.*")  # nbgrader's SQLAlchemy autoflush notes
    parallel._tools_on_path()
    todo, results = [], []
    for assignment, student in feedback.graded_submissions(root, assignments):
        again = force is True or (force and (assignment, student) in force)
        if again or not up_to_date(root, assignment, student):
            todo.append((assignment, student))
        else:
            results.append((assignment, student, feedback.SKIPPED, 0.0, ""))
    if not todo:
        return results
    config = config if config is not None else course.course_config(root)
    db_url = parallel._worker_db_url(config.CourseDirectory.db_url)
    course_id = config.CourseDirectory.get("course_id", "default_course")
    mode = int(str(config.GenerateFeedback.get("permissions", 664 if config.CourseDirectory.get("groupshared")
                                                else 644)), 8)
    try:
        client = Client(scheduler, set_as_default=False, **({"timeout": timeout} if timeout else {}))
    except (OSError, TimeoutError) as error:
        raise cluster.SchedulerLost(f"no Dask scheduler answered at {scheduler} ({cluster._describe(error)})") \
            from error
    bar = None
    try:
        client.wait_for_workers(1, timeout=timeout or 60)
        shown = cluster._portable_config(config)
        bundles = {a: cluster.assignment_bundle(root, a, shown, db_url) for a in sorted({a for a, _ in todo})}
        scattered: dict[str, object] = {}

        # On every worker, all before the first task runs (so a dead worker loses no copy, and no broadcast
        # waits on a worker that died mid-run: the scheduler would retry its replication to it forever).
        # In a list: a dict given to scatter would become one Dask key per entry.
        for assignment, bundle in bundles.items():
            (scattered[assignment],) = client.scatter([bundle], broadcast=True, hash=False)

        def bundle_on_workers(assignment: str):
            # Scattered again, to the workers alive, if every holder died.
            if assignment not in scattered:
                (scattered[assignment],) = client.scatter([bundles[assignment]], hash=False)
            return scattered[assignment]

        with Gradebook(db_url, course_id) as gb:
            sent = {(a, s): (cluster.read_tree(root / "autograded" / s / a), submission_rows(gb, a, s))
                    for a, s in todo}

        def send(assignment: str, student: str):
            return client.submit(render_submission, bundle_on_workers(assignment), student,
                                 *sent[(assignment, student)], pure=False,
                                 key=f"mlkit-feedback-{assignment}-{student}-{os.urandom(4).hex()}")

        futures = {send(a, s): (a, s) for a, s in todo}
        resent: dict[tuple[str, str], int] = {}
        bar = tqdm(total=len(futures), desc="feedback", unit="notebook", file=sys.stderr, disable=not progress,
                   dynamic_ncols=True)
        running = as_completed(list(futures), loop=client.loop)
        for future in running:
            assignment, student = futures.pop(future)
            try:
                result = _valid_result(future.result())
            except Exception as error:  # noqa: BLE001 - one submission's failure, named, never the class's
                if cluster._is_lost(client, error):
                    raise cluster.SchedulerLost(f"the scheduler at {scheduler} went away ({cluster._describe(error)}"
                                                "); every page written so far is kept: run the same command "
                                                "again for the rest") from error
                if type(error).__name__ == "FutureCancelledError" and resent.get((assignment, student), 0) < 3:
                    resent[(assignment, student)] = resent.get((assignment, student), 0) + 1
                    scattered.pop(assignment, None)
                    again = send(assignment, student)
                    futures[again] = (assignment, student)
                    running.add(again)
                    continue
                result = {"status": feedback.FAILED, "reason": cluster._describe(error)}
            if result["status"] == feedback.WRITTEN:
                try:
                    write_pages(root, assignment, student, result["files"], mode)
                except Exception as error:  # noqa: BLE001 - this submission's pages, not the class's
                    result = {"status": feedback.FAILED,
                              "reason": f"its pages could not be written ({cluster._describe(error)})"}
            results.append((assignment, student, result["status"], result.get("milliseconds", 0) / 1000,
                            result.get("reason", "")))
            bar.update()
    except cluster.SchedulerLost:
        raise
    except Exception as error:
        if cluster._is_lost(client, error):
            raise cluster.SchedulerLost(f"lost the Dask scheduler at {scheduler} ({cluster._describe(error)}); "
                                        "every page written so far is kept: run the same command again for the "
                                        "rest") from error
        raise
    finally:
        if bar is not None:
            bar.close()
        try:
            client.close(timeout=5)
        except Exception:  # noqa: BLE001 - a scheduler already gone cannot be said goodbye to
            pass
    return results
