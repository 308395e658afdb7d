"""A Dask worker's side of `mlkit grade --scheduler`: one submission autograded in a scratch course.

Runs in a `dask worker` process on a machine that shares no folder with the course; it holds the hidden tests
and reference solutions of the assignments it grades (the bundle), as the instructor's machine does, and
trusts the bundle as the client's. Student code runs only inside this machine's sandbox; a worker that cannot
sandbox grades nothing (`sandbox_refusal`, and the worker plugin that withholds SANDBOX_RESOURCE).
The task (`grade_submission`) takes data and gives back data (`dask_bundle.pack_result`), and runs
`mlkit.grading.autograde.grade_one` exactly as the local pool does. See `mlkit.grading.backends.dask_client`
for the whole design.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

from mlkit.grading import autograde, submission
from mlkit.grading.backends import dask_bundle

_TEMPLATES: dict[str, Path] = {}  # per worker process: bundle key -> scratch course of that assignment


_ZYGOTE = None


_KERNEL_INSTALLED = False


# A worker's folders hold hidden tests and student work: named after the worker's process, removed when it
# exits, and, should it be killed, by the next worker that starts grading on the machine.
TEMPLATE_PREFIX, SCRATCH_PREFIX = "mlkit-worker-", "mlkit-grading-"


def _sweep_and_clean_up_at_exit() -> None:
    import atexit

    from mlkit.grading.sandbox import launcher

    launcher.sweep_stale_folders((TEMPLATE_PREFIX, SCRATCH_PREFIX))
    atexit.register(lambda: [shutil.rmtree(folder, ignore_errors=True) for folder in _TEMPLATES.values()])


def sandbox_refusal() -> str:
    """'' if this machine sandboxes student code; otherwise why not."""
    from mlkit.grading.sandbox import launcher

    mode = launcher.detect()
    return "" if mode.name != "none" else f"this worker cannot sandbox student code: {mode.why}"


def _template(bundle: dict) -> Path:
    """A scratch course holding the assignment as the course released it (made once per worker process)."""
    key = bundle["key"]
    if key in _TEMPLATES and _TEMPLATES[key].is_dir():
        return _TEMPLATES[key]
    if not _TEMPLATES:
        _sweep_and_clean_up_at_exit()
    folder = Path(tempfile.mkdtemp(prefix=f"{TEMPLATE_PREFIX}{os.getpid()}-{key}-"))
    assignment = bundle["assignment"]
    dask_bundle.write_tree(bundle["source"], folder / "source" / assignment)
    dask_bundle.write_tree(bundle["release"], folder / "release" / assignment)
    (folder / "gradebook.db").write_bytes(bundle["gradebook"])
    _TEMPLATES[key] = folder
    return folder


def _grading_kernel(config) -> str | None:
    """The kernel this worker grades with: its warm kernel parent, as `mlkit grade`'s local workers have, when
    the course grades through the trusted grading kernel (installed here, as the course's configuration file
    installs it on the instructor's machine); None: the course's own kernel."""
    global _ZYGOTE, _KERNEL_INSTALLED
    if not autograde.uses_grading_kernel(config):
        return None
    from mlkit.grading.kernel import spec as kernel_spec
    from mlkit.grading.kernel import zygote

    if not _KERNEL_INSTALLED:
        kernel_spec.install()
        _KERNEL_INSTALLED = True
    if _ZYGOTE is None:
        import atexit

        zygote.install()
        _ZYGOTE = zygote.Zygote()
        atexit.register(_ZYGOTE.close)
    return zygote.KERNEL_NAME


def _records(url: str, assignment: str, student: str) -> dict:
    """What autograde wrote into the scratch gradebook for this submission, as plain data: `dask_bundle.
    submission_rows` less what autograde does not write (manual scores and comments, extra credit):
    {"timestamp", "notebooks": {name: {"late_submission_penalty", "grades": {cell: [auto score, needs manual
    grade]}, "comments": {cell: auto comment}}}}."""
    from nbgrader.api import Gradebook

    with Gradebook(url) as gb:
        rows = dask_bundle.submission_rows(gb, assignment, student)
    return {
        "timestamp": rows["timestamp"],
        "notebooks": {
            name: {
                "late_submission_penalty": wrote["late_submission_penalty"],
                "grades": {cell: [auto, needs_manual] for cell, (auto, _, _, needs_manual) in wrote["grades"].items()},
                "comments": {cell: auto for cell, (auto, _) in wrote["comments"].items()},
            } for name, wrote in rows["notebooks"].items()
        },
    }


def grade_submission(bundle_bytes: bytes, student: str, files: dict[str, bytes], left_out: bytes | None,
                     nonce: str) -> bytes:
    """A Dask task: autograde one submission in a scratch course; its graded files and gradebook rows (or why
    it failed) as `pack_result` bytes. Never raises: an error is this submission's failure, as data.

    `bundle_bytes`: `assignment_bundle`; `files`: the submission's regular files {path: bytes}; `left_out`: the
    record of entries set aside (bytes) or None; `nonce`: the client's, echoed in the result's digest."""
    import msgpack

    started = time.monotonic()
    bundle = msgpack.unpackb(bundle_bytes, raw=False)
    digest = dask_bundle.submission_digest(nonce, bundle["key"], student, files, left_out)
    try:
        refusal = sandbox_refusal()
        if refusal:
            return dask_bundle.pack_result(digest, autograde.FAILED, 0.0, refusal)
        return _grade_in_scratch_course(bundle, student, files, left_out, digest, started)
    except Exception as error:  # noqa: BLE001 - reported as this submission's failure, as data
        return dask_bundle.pack_result(digest, autograde.FAILED, time.monotonic() - started,
                           f"grading failed on the worker ({dask_bundle.describe_error(error)})")


def _grade_in_scratch_course(bundle: dict, student: str, files: dict[str, bytes], left_out: bytes | None,
                             digest: str, started: float) -> bytes:
    from traitlets.config import Config

    autograde.tools_on_path()
    assignment = bundle["assignment"]
    template = _template(bundle)
    config = Config(bundle["config"])
    with tempfile.TemporaryDirectory(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-") as scratch:
        folder = Path(scratch) / "course"
        shutil.copytree(template, folder)
        submitted = folder / "submitted" / student / assignment
        dask_bundle.write_tree(files, submitted)
        if left_out is not None:
            dask_bundle.write_tree({submission.RECORD_NAME: left_out}, submission.left_out_folder(submitted))
        url = f"sqlite:///{folder / 'gradebook.db'}"
        kernel_name = _grading_kernel(config)
        previous_folder = os.getcwd()
        try:
            _, _, status, _ = autograde.grade_one((assignment, student, str(folder), True, url), config, kernel_name)
        finally:
            os.chdir(previous_folder)
        graded = folder / "autograded" / student / assignment
        if status != autograde.GRADED or not graded.is_dir():
            return dask_bundle.pack_result(digest, autograde.FAILED, time.monotonic() - started,
                               "nbgrader autograde failed on the worker")
        return dask_bundle.pack_result(digest, autograde.GRADED, time.monotonic() - started,
                                       files=dask_bundle.read_tree(graded),
                           records=_records(url, assignment, student))


SANDBOX_RESOURCE = "mlkit-sandbox"  # what a worker that sandboxes student code offers; every grading task needs it


def sandbox_check_plugin():
    """A Dask worker plugin: a worker that can sandbox student code offers SANDBOX_RESOURCE (one per thread);
    one that cannot offers nothing and logs why, so the scheduler never gives it a grading task. Registered
    by the client, it runs on every worker, those that join during the run included."""
    from distributed.diagnostics.plugin import WorkerPlugin

    class SandboxCheck(WorkerPlugin):
        idempotent = True
        name = "mlkit-sandbox-check"

        async def setup(self, worker):
            why = sandbox_refusal()
            if why:
                logging.getLogger("distributed.worker").warning("mlkit: no grading here: %s", why)
                return
            await worker.set_resources(**{SANDBOX_RESOURCE: worker.state.nthreads})

    return SandboxCheck()
