"""`ResilientExecute` (replaces nbgrader's Execute): the notebook run across the grading boundary.

Runs in nbgrader's process (the instructor's). The kernel it starts is the trusted grading kernel
(`mlkit.grading.kernel`), which runs the test cells and the checking library; answer cells and the
student's own cells are sent to a sandboxed student process instead (`mlkit.grading.sandbox`), and the
release's read-only set-up cells run on both sides. A kernel that dies or a cell that times out stops the
notebook: cells already run keep their points, every remaining test cell gets an error naming the reason,
and the notebook is recorded, not left as "needs autograding". A stopped student process (it died, hung or
broke the protocol) is recorded the same way. If this machine cannot sandbox student code, grading stops
before the first notebook (`SandboxUnavailable`) unless `allow_unsandboxed` is set.
"""

from __future__ import annotations

import base64
import functools
import os
import shutil
import tempfile
import time
from queue import Empty

import nbformat
import zmq
from nbgrader import utils
from nbgrader.preprocessors import Execute
from traitlets import Bool, Float, Integer

from mlkit import nbcells
from mlkit.grading import limits
from mlkit.grading.kernel import spec as kernel_spec
from mlkit.grading.sandbox import launcher
from mlkit.grading.plugins import cells, rebuild

KERNEL_FOLDER_PREFIX = "mlkit-kernel-"  # a grading kernel's private folder of sockets in /tmp


class ResilientExecute(Execute):
    """nbgrader's Execute across the grading boundary; a dead or stuck kernel ends the notebook with a reason."""

    notebook_timeout = Integer(
        240, help="Seconds of execution allowed for one notebook; each cell also has `timeout`."
    ).tag(config=True)
    allow_unsandboxed = Bool(
        False, help="Run student code in a plain separate process where this machine cannot sandbox it "
                    "(see docs/security/sandbox.md). Off: grading refuses to start there."
    ).tag(config=True)
    student_call_seconds = Float(
        limits.CALL_SECONDS, help="Seconds one request to the student process may take (a call, an attribute, an answer "
                   "cell) before the student process is stopped; below `timeout`, so the cell can still report it."
    ).tag(config=True)

    def create_kernel_manager(self):
        manager = super().create_kernel_manager()
        # The kit's kernelspecs come with the package (mlkit.grading.kernel.spec.SPECS), not installed anywhere.
        specs = manager.kernel_spec_manager
        specs.kernel_dirs = kernel_spec.spec_folders(list(specs.kernel_dirs))
        make_client = manager.client

        def client(**kwargs):
            # The client connects before the new kernel listens; ZeroMQ's default wait before retrying
            # a refused connection (100 ms) would then be most of a forked kernel's start-up.
            kernel_client = make_client(**kwargs)
            kernel_client.context.setsockopt(zmq.RECONNECT_IVL, 5)
            kernel_client.wait_for_ready = functools.partial(_wait_for_ready, kernel_client)
            return kernel_client

        manager.client = client
        self._private_kernel_sockets(manager)
        return manager

    def _private_kernel_sockets(self, manager) -> None:
        """The kernel's five channels on Unix sockets in a folder only this account may enter (mkdtemp's 0700),
        removed when the kernel's resources are.

        On jupyter_client's default, TCP ports of 127.0.0.1, every account of the machine reaches the kernel:
        messages are signed, not encrypted, and its iopub channel publishes to any subscriber each cell's
        code as it runs (the hidden tests, the student's answers in the call that hands them over) and its
        outputs.  A classmate on a shared hub, or a user of a shared cluster's worker node, would read them."""
        folder = tempfile.mkdtemp(prefix=f"{KERNEL_FOLDER_PREFIX}{os.getpid()}-")
        manager.transport = "ipc"
        manager.ip = os.path.join(folder, "kernel")
        cleanup = manager.cleanup_resources

        async def cleanup_resources(*args, **kwargs):
            try:
                result = cleanup(*args, **kwargs)
                if hasattr(result, "__await__"):
                    result = await result
                return result
            finally:
                if not kwargs.get("restart", args[0] if args else False):
                    shutil.rmtree(folder, ignore_errors=True)

        manager.cleanup_resources = cleanup_resources

    def preprocess_cell(self, cell, resources, index):
        self._mlkit_index = index
        side = cells.side(cell)
        if side == "trusted":
            cell, resources = super().preprocess_cell(cell, resources, index)
        else:
            # The kernel receives a call that hands the cell's text to the student process; the
            # notebook keeps the student's own source.
            source = cell.source
            label = nbcells.grade_id(cell) or f"cell {index + 1}"
            encoded = base64.b64encode(source.encode("utf-8")).decode("ascii")
            cell.source = (f"__import__('mlkit.grading.kernel.boundary').grading.kernel.boundary.run_student_cell("
                           f"{encoded!r}, {label!r}, {side == 'both'!r}, {self._kernel_settings.as_call()!r})")
            try:
                cell, resources = super().preprocess_cell(cell, resources, index)
            finally:
                cell.source = source
        self._note_stopped_student(cell, resources)
        return cell, resources

    def _note_stopped_student(self, cell, resources) -> None:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error" and output.get("ename") in ("StudentProcessStopped",
                                                                                 "SandboxUnavailable"):
                reason = f"student code stopped: {output.get('evalue', '')}"
                reasons = cells.issue_of(resources)["reasons"]
                if not any(r.startswith("student code stopped") for r in reasons):
                    reasons.append(reason)

    def preprocess(self, nb, resources=None, km=None):
        launcher.require(self.allow_unsandboxed)
        release = cells.release_notebook(self, resources)
        # What the kernel's student process is told: its sandbox, its time per request, the names the
        # release's answer cells define (the only ones that reach the tests) and the release's folder
        # (the assignment's files that the student's code may read).
        self._kernel_settings = limits.KernelSettings(
            allow_unsandboxed=self.allow_unsandboxed,
            call_seconds=self.student_call_seconds,
            exports=tuple(sorted(rebuild.release_exports(nbformat.read(release, as_version=4)))),
            release_folder=os.path.dirname(release),
            notebook=os.path.basename(release),
            # The student process watches its own sorts from its start only where a test looks at them:
            # the watch costs every call the student's code makes.
            watch_sorts=any("record_sorts" in cell.source for cell in nb.cells
                            if cell.cell_type == "code" and cells.side(cell) == "trusted"),
        )
        deadline = time.monotonic() + self.notebook_timeout
        self.timeout_func = lambda cell: max(1, min(self.timeout, int(deadline - time.monotonic())))
        self._mlkit_index = -1
        try:
            return super().preprocess(nb, resources, km=km)
        except Exception as error:  # DeadKernelError, CellTimeoutError, RuntimeError from nbclient, ...
            reason = self._describe(error)
            stopped_at = max(self._mlkit_index, 0)
            issue = cells.issue_of(resources)
            issue["reasons"].append(f"grading stopped at cell {stopped_at + 1}: {reason}")
            for position, cell in enumerate(nb.cells):
                if position >= stopped_at and cell.cell_type == "code" and utils.is_grade(cell):
                    cell.outputs.append(nbformat.v4.new_output(
                        "error", ename="GradingStopped", evalue=reason, traceback=[f"GradingStopped: {reason}"]))
            return nb, resources

    @staticmethod
    def _describe(error: Exception) -> str:
        name = type(error).__name__
        if name == "DeadKernelError":
            return "the grading kernel died; later tests could not run"
        if name in ("CellTimeoutError", "TimeoutError"):
            return "a cell ran past the time limit (an endless loop?); later tests could not run"
        return f"{name}: {str(error).splitlines()[0][:200] if str(error) else ''}"


async def _wait_for_ready(client, timeout: float | None = None) -> None:
    """jupyter_client's handshake with a new kernel (a kernel_info reply on shell, then a message on IOPub),
    without its last step, waiting for 0.2 s of silence on IOPub: nbclient keeps only the messages of
    the request it sent, so nothing the kernel published at start-up can reach a cell's outputs."""
    deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
    while True:
        client.kernel_info()
        try:
            reply = await client.shell_channel.get_msg(timeout=1)
        except Empty:
            reply = None
        if reply is not None and reply["msg_type"] == "kernel_info_reply":
            try:
                await client.iopub_channel.get_msg(timeout=0.2)
            except Empty:
                pass  # IOPub not connected yet: ask again
            else:
                client._handle_kernel_info_reply(reply)
                return
        if not await client._async_is_alive():
            raise RuntimeError("Kernel died before replying to kernel_info")
        if time.monotonic() > deadline:
            raise RuntimeError(f"Kernel didn't respond in {timeout:g} seconds")
