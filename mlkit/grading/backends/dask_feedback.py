"""Feedback past one machine: each graded submission's pages rendered on a worker of a Dask scheduler.

    mlkit feedback [ASSIGNMENT ...] --scheduler tls://HOST:8786      (or c.MlkitGrade.scheduler)

The same workers as `mlkit grade --scheduler` (`mlkit.grading.backends.dask_client`), under the same rules: the scheduler is
reached over mutual TLS with the course's credentials (a plain `tcp://` one only with `--private-network`:
`dask_client.cluster_security`), the client reads only msgpack and no pickle that names code while it is connected
(`dask_client.connect`, `dask_client.refuse_unpickling`), workers share no folder with the course, and only the process
running the command opens the course's gradebook and writes the pages.

- to the worker, once per assignment (scattered to every worker): the assignment's bundle exactly as grading
  sends it (`dask_bundle.assignment_bundle`: msgpack bytes holding `dask_bundle.portable_config` of the course's
  configuration, no gradebook URL and no secret, and a SQLite gradebook holding the assignment); once per run,
  the template folders the configuration names (`travelling_templates`): a folder inside an installed package
  of the kit's stack (mlkit's own feedback template, nbgrader's) travels as the package's name and a path
  inside it and is found in the worker's installed package; a folder of the course travels as its files; any
  other folder is refused before connecting (ConfigNotPortable). Per submission, as plain data: the files of
  `autograded/<student>/<a>/`, that submission's rows of the course's gradebook (`dask_bundle.submission_rows`), a nonce;
- on the worker: a scratch course holding those, in which nbgrader's `GenerateFeedbackApp` renders the
  submission's feedback with the travelling configuration (`mlkit.grading.render.render_one`);
- back, as msgpack bytes (`pack_pages`): {"digest", "status", "seconds", "reason", "files": {path: bytes}}. The
  client checks each answer (`read_pages`) before writing anything: the digest names the nonce and everything
  sent for that submission, each path is plain and relative and is a page of a graded notebook or a file the
  submission's graded folder holds (which nbgrader copies, so it must come back byte for byte), and each page
  is of a sane size. A refused answer fails that submission alone, with the reason.

The writer puts a submission's pages beside their place (under a name of the same length, with
`dask_bundle.write_tree`), then moves the folder into `feedback/<student>/<a>/` in one rename: a page lands whole,
and once, even when a worker dies mid-task and Dask runs the task again elsewhere (each task's result is
received once). Rendering runs no student code, so a feedback task needs no sandbox on its worker.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

from mlkit.grading import autograde, render
from mlkit.grading.backends import dask_bundle, dask_client, dask_worker

# Settings of nbconvert's exporters that name template folders (lists of paths) or a template file (a path).
TEMPLATE_FOLDER_SETTINGS = frozenset({"extra_template_basedirs", "extra_template_paths", "template_paths"})
# Installed packages a template folder may lie in: the worker has them too, wherever they are installed there.
TEMPLATE_PACKAGES = ("mlkit", "nbgrader", "nbconvert")
PACKAGED, COURSE = "mlkit-package:", "mlkit-course-templates:"  # how a folder is named while it travels
MAX_PAGE_BYTES = 64 * 2**20  # one feedback page; nbconvert's pages of our notebooks are a few hundred KiB


# -- what travels ----------------------------------------------------------------------------------


def _package_folder(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    locations = list(spec.submodule_search_locations or []) if spec else []
    return Path(locations[0]).resolve() if locations else None


def travelling_templates(shown: dict, root: Path) -> tuple[dict, bytes]:
    """The portable configuration `shown` ({section: {name: value}}, as `dask_bundle.portable_config` gives it) with
    each template folder it names made portable, and the course's own template folders as msgpack bytes
    {"key": hex, "folders": {index: {path: bytes}}}.

    A folder in an installed package of TEMPLATE_PACKAGES becomes "mlkit-package:<package>/<path inside it>"; a
    folder inside the course `root` becomes "mlkit-course-templates:<index>" and travels as its files. Raises
    dask_bundle.ConfigNotPortable naming each setting that names a folder elsewhere (it would not exist on a worker)."""
    packages = {name: folder for name in TEMPLATE_PACKAGES if (folder := _package_folder(name)) is not None}
    course_root = Path(root).resolve()
    folders: dict[str, dict[str, bytes]] = {}
    elsewhere: list[str] = []

    def portable(path: str, where: str) -> str:
        found = Path(path).expanduser()
        found = (course_root / found if not found.is_absolute() else found).resolve()
        for name, package in packages.items():
            if found == package or package in found.parents:
                return f"{PACKAGED}{name}/{found.relative_to(package).as_posix()}".rstrip("/.")
        if found == course_root or course_root in found.parents:
            index = str(len(folders))
            folders[index] = dask_bundle.read_tree(found) if found.is_dir() else {}
            return f"{COURSE}{index}"
        elsewhere.append(f"{where} ({path})")
        return path

    made = {}
    for section, settings in shown.items():
        made[section] = dict(settings)
        for name, value in settings.items():
            if name in TEMPLATE_FOLDER_SETTINGS and isinstance(value, list):
                made[section][name] = [portable(p, f"c.{section}.{name}") if isinstance(p, str) else p
                                       for p in value]
            elif name == "template_file" and isinstance(value, str) and os.path.isabs(value):
                made[section][name] = portable(value, f"c.{section}.{name}")
    if elsewhere:
        raise dask_bundle.ConfigNotPortable(
            "these template folders would not exist on the workers: " + ", ".join(elsewhere) + ". Keep a course's "
            "templates in the course's folder (they travel) or in an installed package")
    document = {"folders": folders}
    document["key"] = hashlib.sha256(dask_bundle.pack(document)).hexdigest()[:16]
    return made, dask_bundle.pack(document)


def _resolve_templates(config: dict, folders: dict[str, dict[str, bytes]], scratch: Path) -> dict:
    """On the worker: `config` with each travelling template folder named where it is here (the course's own
    written under `scratch`)."""
    def here(path):
        if not isinstance(path, str):
            return path
        if path.startswith(PACKAGED):
            package, _, inside = path[len(PACKAGED):].partition("/")
            found = _package_folder(package)
            if found is None:
                raise RuntimeError(f"the package {package} is not installed on this worker")
            return os.fspath(found / inside) if inside else os.fspath(found)
        if path.startswith(COURSE):
            index = path[len(COURSE):]
            target = scratch / "templates" / index
            if not target.is_dir():
                dask_bundle.write_tree(folders.get(index, {}), target)
            return os.fspath(target)
        return path

    resolved = {}
    for section, settings in config.items():
        resolved[section] = dict(settings)
        for name, value in settings.items():
            if name in TEMPLATE_FOLDER_SETTINGS and isinstance(value, list):
                resolved[section][name] = [here(p) for p in value]
            elif name == "template_file":
                resolved[section][name] = here(value)
    return resolved


def feedback_digest(nonce: str, bundle_key: str, templates_key: str, student: str, files: dict[str, bytes],
                    rows: bytes) -> str:
    """What a worker echoes back to show its pages answer this task: `dask_bundle.submission_digest` of the nonce,
    the assignment's bundle and the template folders (their keys), the student, the graded files and the rows
    (msgpack bytes)."""
    return dask_bundle.submission_digest(nonce, f"{bundle_key}/{templates_key}", student, files, rows)


def pack_pages(digest: str, status: str, seconds: float, reason: str = "", files: dict | None = None) -> bytes:
    """A worker's answer for one submission as msgpack bytes (what `read_pages` checks on the client).

    `status`: render.WRITTEN or render.FAILED; `files`: the feedback folder {relative path: bytes}."""
    result = {"digest": digest, "status": status, "seconds": seconds, "reason": reason}
    if files is not None:
        result["files"] = files
    return dask_bundle.pack(result)


def read_pages(data, digest: str, sent: dict[str, bytes]) -> dict:
    """A worker's answer for one submission, checked; raises dask_bundle.RefusedResult with the reason.

    `data`: what the task returned (msgpack bytes, as `pack_pages` makes). `digest`: `feedback_digest` of what was
    sent. `sent`: the graded folder's files that were sent {relative path: bytes}.
    Returns {"status": WRITTEN or FAILED, "seconds": float, "reason": str, and when written "files":
    {path: bytes}: a page `<notebook>.html` for each graded notebook, of at most MAX_PAGE_BYTES, and copies of
    the graded folder's other files, each identical to the file sent}."""
    result = dask_bundle.unpack(data)
    if not isinstance(result, dict):
        raise dask_bundle.RefusedResult("the worker's result is not a map")
    if result.get("digest") != digest:
        raise dask_bundle.RefusedResult("the worker's result does not answer the submission that was sent (its "
                                    "digest differs)")
    status = result.get("status")
    seconds = dask_bundle.checked_number(result.get("seconds", 0.0), 0.0, 1e7, "the rendering time")
    if status == render.FAILED:
        reason = result.get("reason")
        return {"status": status, "seconds": seconds,
                "reason": dask_bundle.printable(reason if isinstance(reason, str) else "the worker gave no reason")}
    if status != render.WRITTEN:
        raise dask_bundle.RefusedResult(f"the worker's result has the status {dask_bundle.printable(repr(status))}")
    files = result.get("files")
    if not isinstance(files, dict) or not all(isinstance(v, bytes) for v in files.values()):
        raise dask_bundle.RefusedResult("the worker's feedback folder is not a map of paths to bytes")
    pages = {name[:-len(".ipynb")] + ".html" for name in sent if name.endswith(".ipynb")}
    for name, data in files.items():
        dask_bundle.plain_relative_path(name)
        if name in sent and not name.endswith(".ipynb"):
            if data != sent[name]:
                raise dask_bundle.RefusedResult(f"the worker's copy of {dask_bundle.printable(name)!r} differs from the "
                                            "graded file")
        elif name in pages:
            if len(data) > MAX_PAGE_BYTES:
                raise dask_bundle.RefusedResult(f"the worker's page {dask_bundle.printable(name)!r} is {len(data)} bytes, "
                                            f"more than {MAX_PAGE_BYTES}")
        else:
            raise dask_bundle.RefusedResult(f"the worker's feedback folder holds a file that is neither a graded "
                                        f"notebook's page nor a graded file: {dask_bundle.printable(name)!r}")
    missing = sorted(pages - set(files))
    if missing:
        raise dask_bundle.RefusedResult(f"the worker's feedback folder lacks the page {dask_bundle.printable(missing[0])!r}")
    return {"status": status, "seconds": seconds, "reason": "", "files": files}


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


# -- the worker's side -----------------------------------------------------------------------------


def render_submission(bundle_bytes: bytes, templates_bytes: bytes, student: str, files: dict[str, bytes],
                      rows: bytes, nonce: str) -> bytes:
    """A Dask task: render one graded submission's feedback in a scratch course; its pages (or why it failed) as
    `pack_pages` bytes. Never raises: an error is this submission's failure, as data.

    `bundle_bytes`: `dask_bundle.assignment_bundle`; `templates_bytes`: `travelling_templates`' folders; `files`: the
    graded folder {path: bytes}; `rows`: `submission_rows` as msgpack bytes; `nonce`: echoed in the digest."""
    import msgpack

    started = time.monotonic()
    bundle = msgpack.unpackb(bundle_bytes, raw=False)
    templates = msgpack.unpackb(templates_bytes, raw=False)
    digest = feedback_digest(nonce, bundle["key"], templates["key"], student, files, rows)
    try:
        return _render_in_scratch_course(bundle, templates["folders"], student, files,
                                         msgpack.unpackb(rows, raw=False), digest, started)
    except Exception as error:  # noqa: BLE001 - reported as this submission's failure, as data
        return pack_pages(digest, render.FAILED, time.monotonic() - started,
                          f"rendering failed on the worker ({dask_bundle.describe_error(error)})")


def _render_in_scratch_course(bundle: dict, folders: dict, student: str, files: dict[str, bytes], rows: dict,
                              digest: str, started: float) -> bytes:
    from traitlets.config import Config

    autograde.tools_on_path()
    assignment = bundle["assignment"]
    with tempfile.TemporaryDirectory(prefix=f"{dask_worker.SCRATCH_PREFIX}{os.getpid()}-") as scratch:
        folder = Path(scratch) / "course"
        folder.mkdir()
        (folder / "gradebook.db").write_bytes(bundle["gradebook"])
        dask_bundle.write_tree(files, folder / "autograded" / student / assignment)
        url = f"sqlite:///{folder / 'gradebook.db'}"
        _store_rows(url, assignment, student, rows)
        config = Config(_resolve_templates(bundle["config"], folders, Path(scratch)))
        _, _, status, _ = render.render_one(str(folder), assignment, student, True, url, config)
        pages = folder / "feedback" / student / assignment
        if status != render.WRITTEN or not pages.is_dir():
            return pack_pages(digest, render.FAILED, time.monotonic() - started,
                              "nbgrader generate_feedback failed on the worker")
        return pack_pages(digest, render.WRITTEN, time.monotonic() - started, files=dask_bundle.read_tree(pages))


# -- the instructor's side: the one writer ---------------------------------------------------------


def staging_folder(root: Path, assignment: str, student: str) -> Path:
    """Where a submission's pages are written before they move into place: beside it, a name of the same length."""
    return root / "feedback" / student / ("." + (assignment[1:] if len(assignment) > 1 else assignment))


def write_pages(root: Path, assignment: str, student: str, files: dict[str, bytes], mode: int) -> None:
    """The submission's feedback folder replaced by `files` in one rename (files given `mode`, as nbgrader's)."""
    target = root / "feedback" / student / assignment
    staging = staging_folder(root, assignment, student)
    shutil.rmtree(staging, ignore_errors=True)
    try:
        dask_bundle.write_tree(files, staging)
        for path in staging.rglob("*"):
            if path.is_file():
                path.chmod(mode)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    dask_client.replace_folder(staging, target)


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
             timeout: float | None = None, config=None,
             private_network: bool = False) -> list[tuple[str, str, str, float, str]]:
    """Feedback rendered on the workers of `scheduler`; (assignment, student, status, seconds, reason) each.

    `force`: True renders every page again, a set of (assignment, student) those only (as `mlkit grade
    --feedback` asks for what it has just graded), False what is missing or older than its grading.
    `config`: the course's configuration (resolved here if not given); its `MlkitGrade` section may name the
    cluster's credentials and say the network is private, as may `private_network` (see
    `dask_client.cluster_security`). Raises dask_client.InsecureTransport and dask_bundle.ConfigNotPortable (before
    connecting), dask_client.SchedulerLost."""
    from mlkit import course

    autograde.install_speedups()  # the one writer reads the gradebook once per submission
    config = config if config is not None else course.course_config(root)
    settings = config.get("MlkitGrade", {})
    security = dask_client.cluster_security(scheduler, settings, private_network or bool(settings.get("private_network")))
    shown, templates = travelling_templates(dask_bundle.portable_config(config), root)
    warnings.filterwarnings("ignore", message=".*not in session.*")  # nbgrader's SQLAlchemy autoflush notes
    autograde.tools_on_path()
    todo, results = [], []
    for assignment, student in render.graded_submissions(root, assignments):
        again = force is True or (force and (assignment, student) in force)
        if again or not up_to_date(root, assignment, student):
            todo.append((assignment, student))
        else:
            results.append((assignment, student, render.SKIPPED, 0.0, ""))
    if not todo:
        return results
    db_url = autograde.worker_db_url(config.CourseDirectory.db_url)
    course_id = config.CourseDirectory.get("course_id", "default_course")
    mode = int(str(config.GenerateFeedback.get("permissions", 664 if config.CourseDirectory.get("groupshared")
                                                else 644)), 8)
    # Dask logs each refused payload with its bytes and a traceback; the submission's reason says it in one line.
    for name in ("distributed.protocol.core", "distributed.protocol.pickle"):
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)
    with dask_client.refuse_unpickling():
        results += _generate_on(scheduler, security, timeout, root, todo, shown, templates, db_url, course_id,
                                mode, progress)
    return results


PAGES_KEPT = "every page written so far is kept: run the same command again for the rest"


def _generate_on(scheduler: str, security, timeout: float | None, root: Path, todo: list[tuple[str, str]],
                 shown: dict, templates: bytes, db_url: str, course_id: str, mode: int,
                 progress: bool) -> list[tuple[str, str, str, float, str]]:
    from nbgrader.api import Gradebook
    from tqdm import tqdm

    results = []
    try:
        client = dask_client.connect(scheduler, security, timeout)
    except (OSError, TimeoutError) as error:
        raise dask_client.SchedulerLost(f"no Dask scheduler answered at {scheduler} ({dask_bundle.describe_error(error)})") \
            from error
    bar = None
    try:
        client.wait_for_workers(1, timeout=timeout or 60)
        bundles = {a: dask_bundle.assignment_bundle(root, a, shown, db_url, course_id)
                   for a in sorted({a for a, _ in todo})}
        bundle_keys = {a: dask_bundle.unpack(bundle)["key"] for a, bundle in bundles.items()}
        templates_key = dask_bundle.unpack(templates)["key"]
        scattered: dict[str, object] = {}

        # On every worker, all before the first task runs (so a dead worker loses no copy, and no broadcast
        # waits on a worker that died mid-run: the scheduler would retry its replication to it forever).
        # In a list: a dict given to scatter would become one Dask key per entry.
        (templates_future,) = client.scatter([templates], broadcast=True, hash=False)
        for assignment, bundle in bundles.items():
            (scattered[assignment],) = client.scatter([bundle], broadcast=True, hash=False)
        shared = {"templates": templates_future}

        def on_workers(assignment: str):
            # Scattered again, to the workers alive, if every holder died.
            if "templates" not in shared:
                (shared["templates"],) = client.scatter([templates], hash=False)
            if assignment not in scattered:
                (scattered[assignment],) = client.scatter([bundles[assignment]], hash=False)
            return scattered[assignment], shared["templates"]

        with Gradebook(db_url, course_id) as gb:
            sent = {(a, s): (dask_bundle.read_tree(root / "autograded" / s / a), dask_bundle.pack(dask_bundle.submission_rows(gb, a, s)))
                    for a, s in todo}
        digests: dict[tuple[str, str], str] = {}

        def send(assignment: str, student: str):
            nonce = os.urandom(16).hex()  # a new one per sending: an answer to an earlier sending is refused
            files, rows = sent[(assignment, student)]
            digests[(assignment, student)] = feedback_digest(nonce, bundle_keys[assignment], templates_key,
                                                             student, files, rows)
            bundle, folders = on_workers(assignment)
            return client.submit(render_submission, bundle, folders, student, files, rows, nonce, pure=False,
                                 key=f"mlkit-feedback-{os.urandom(8).hex()}")  # no names: the scheduler's pages show keys

        futures = {send(a, s): (a, s) for a, s in todo}
        bar = tqdm(total=len(futures), desc="feedback", unit="notebook", file=sys.stderr, disable=not progress,
                   dynamic_ncols=True)

        def forget(assignment: str) -> None:
            scattered.pop(assignment, None)
            shared.pop("templates", None)

        for assignment, student, answer, failure in dask_client.answers(client, scheduler, futures, send, forget,
                                                                        kept=PAGES_KEPT):
            if failure is not None:
                result = {"status": render.FAILED, "seconds": 0.0, "reason": failure}
            else:
                try:
                    result = read_pages(answer, digests[(assignment, student)], sent[(assignment, student)][0])
                except dask_bundle.RefusedResult as refusal:
                    result = {"status": render.FAILED, "seconds": 0.0,
                              "reason": f"refused the worker's result: {refusal}"}
            if result["status"] == render.WRITTEN:
                try:
                    write_pages(root, assignment, student, result["files"], mode)
                except Exception as error:  # noqa: BLE001 - this submission's pages, not the class's
                    result = {"status": render.FAILED, "seconds": result["seconds"],
                              "reason": f"its pages could not be written ({dask_bundle.describe_error(error)})"}
            results.append((assignment, student, result["status"], result["seconds"], result.get("reason", "")))
            bar.update()
    except dask_client.SchedulerLost:
        raise
    except Exception as error:
        if dask_client.is_lost(client, error):
            raise dask_client.SchedulerLost(f"lost the Dask scheduler at {scheduler} "
                                            f"({dask_bundle.describe_error(error)}); {PAGES_KEPT}") from error
        raise
    finally:
        dask_client.close_run(client, bar)
    return results
