"""Grading integrity: nbgrader plug-ins that make a hostile or broken submission change nothing but its own score.

All of these run in the grading process (never in the student's kernel) and
are switched on in `nbgrader_config.py`:

`TolerantNotebookExporter`  (Autograde.exporter_class)
    A notebook that is not UTF-8, not JSON or not a valid notebook is graded
    as an empty submission with the reason recorded, instead of stopping that
    student with a traceback.

`RebuildFromRelease`  (first sanitize step)
    The graded notebook is rebuilt from the release notebook's cell list: the
    student contributes only the contents of answer cells (matched by
    grade_id; an answer cell whose metadata was stripped is found by the
    class/function names it defines) and extra code cells of their own.
    Deleted, duplicated, moved or metadata-stripped test and read-only cells
    come back from the release, and nbgrader's OverwriteCells then restores
    their hidden tests from the gradebook.

`ResilientExecute`  (replaces nbgrader's Execute)
    Runs the notebook across the grading boundary (`mlkit.grading.boundary`):
    the kernel nbgrader starts is the trusted grading kernel, which runs the
    test cells and the checking library; answer cells and the student's own
    cells are sent to a sandboxed student process instead, and the release's
    read-only set-up cells run on both sides.  A kernel that dies or a cell that
    times out stops the notebook: cells already run keep their points, every
    remaining test cell gets an error naming the reason, and the notebook is
    recorded, not left as "needs autograding".  A stopped student process
    (it died, hung or broke the protocol) is recorded the same way.  If this
    machine cannot sandbox student code, grading stops before the first
    notebook (`SandboxUnavailable`) unless `allow_unsandboxed` is set.

`LimitOutputSize`  (after execution)
    Caps each output's text, so a 20 MB print cannot bloat the gradebook's
    notebooks or the feedback.

`RecordGradingIssues`  (after SaveAutoGrades)
    Writes the reason into the gradebook as the answer cells' automatic
    comment (nbgrader's own Comment table), so the formgrader shows it and
    `mlkit.reports.export.GradesWithIssuesExportPlugin` exports it.
"""

from __future__ import annotations

import base64
import copy
import functools
import json
import os
import shutil
import tempfile
import time
from queue import Empty

import nbformat
import zmq
from nbconvert.exporters import NotebookExporter
from nbformat.notebooknode import NotebookNode
from nbgrader import utils
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from traitlets import Bool, Float, Integer

from mlkit import nbcells
from mlkit.grading import kernel, sandbox, submission

ISSUE_KEY = "mlkit_grading_issue"  # notebook metadata set by the sanitize steps, read after execution
# A notebook of the course is some 50 kB and 60 cells; past these it is graded as empty, with the reason.
MAX_NOTEBOOK_BYTES = 20 * 10**6
MAX_CELLS = 2_000
READ_REASONS_KEY = "mlkit_read_reasons"  # nbconvert resources: what TolerantNotebookExporter found reading the file
OWN_CELL_KEY = "mlkit_student_cell"  # cell metadata: a code cell of the student's own, placed by RebuildFromRelease
# The kit's own display outputs (not imported from mlkit.checks: a course folder may hold a stale copy of the
# kit, which nbgrader's process would import).
KIT_MIME_PREFIX = "application/vnd.mlkit."


def _issue(store: dict) -> dict:
    """The grading issue kept in `store` (notebook metadata or nbconvert resources), created empty if absent."""
    return store.setdefault(ISSUE_KEY, {"reasons": []})


def _course_root(preprocessor) -> str:
    return preprocessor.config.CourseDirectory.get("root", os.getcwd())


def _is_answer(cell) -> bool:
    meta = cell.metadata.get("nbgrader", {})
    return bool(meta.get("solution")) and not meta.get("grade") and cell.cell_type == "code"


def _is_student_text_answer(cell) -> bool:
    meta = cell.metadata.get("nbgrader", {})
    return bool(meta.get("solution")) and bool(meta.get("grade"))


class TolerantNotebookExporter(NotebookExporter):
    """Reads what can be read; an unreadable file becomes an empty notebook carrying the reason."""

    def from_filename(self, filename, resources=None, **kw):
        reasons: list[str] = []
        try:
            with sandbox.open_regular_file(filename) as handle:  # a link or a FIFO is refused, never followed
                raw = handle.read(MAX_NOTEBOOK_BYTES + 1)
            if len(raw) > MAX_NOTEBOOK_BYTES:  # parsing it would cost the grader many times its size
                raise ValueError(f"it is larger than {MAX_NOTEBOOK_BYTES // 10**6} MB")
            text = raw.decode("utf-8")
            nb = nbformat.reads(text, as_version=4)
            if len(nb.cells) > MAX_CELLS:
                raise ValueError(f"it has more than {MAX_CELLS} cells")
            nbformat.validate(nb)
        except Exception as error:  # any way a file can fail to be a notebook
            reason = f"the submitted notebook could not be read ({type(error).__name__}: {str(error)[:200]})"
            nb = nbformat.v4.new_notebook()
            reasons.append(reason)
        left_out = submission.reason(submission.read_record(os.path.dirname(os.path.abspath(filename))))
        if left_out:
            reasons.append(left_out)
        # What this reading found travels in `resources`: RebuildFromRelease starts the grading issue from
        # it, never from the submitted notebook's metadata, which is the student's to write.
        resources = resources if resources is not None else {}
        resources[READ_REASONS_KEY] = reasons
        _issue(nb.metadata)["reasons"].extend(reasons)  # for a pipeline without RebuildFromRelease
        # The kernel (and the student process) start in the notebook's own folder, as
        # nbconvert's own from_filename would have it, never in the folder grading started from.
        if not isinstance(resources.get("metadata"), dict):
            resources["metadata"] = {}
        resources["metadata"]["name"] = os.path.splitext(os.path.basename(filename))[0]
        resources["metadata"]["path"] = os.path.dirname(os.path.abspath(filename))
        return self.from_notebook_node(nb, resources=resources, **kw)


def _release_notebook(preprocessor, resources) -> str:
    """The path of the release notebook of the notebook being graded."""
    info = resources["nbgrader"]
    return os.path.join(_course_root(preprocessor), "release", info["assignment"], info["notebook"] + ".ipynb")


def release_exports(release) -> set[str]:
    """The names the release's answer cells bind at their top level: the notebook's API and its helpers."""
    return set().union(*(nbcells.defined_names(cell.source) for cell in release.cells if _is_answer(cell)))


class RebuildFromRelease(NbGraderPreprocessor):
    """Rebuild the notebook from the release's cells, keeping only the student's answers and own code."""

    def preprocess(self, nb, resources):
        release = nbformat.read(_release_notebook(self, resources), as_version=4)
        issue = {"reasons": list(resources.get(READ_REASONS_KEY, []))}  # what the reader found (an unreadable file)

        answers: dict[str, NotebookNode] = {}
        unmarked_code: list[NotebookNode] = []
        # Cells the release has without nbgrader metadata (the pictures, the real data) are
        # taken from the release; an unmarked cell with another id is the student's own code.
        release_plain_ids = {cell.get("id") for cell in release.cells if not cell.metadata.get("nbgrader")}
        for cell in nb.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id and cell.metadata["nbgrader"].get("solution"):
                answers.setdefault(grade_id, cell)  # a duplicate answer cell: the first one counts
            elif not cell.metadata.get("nbgrader") and cell.cell_type == "code" and cell.get("id") not in release_plain_ids:
                unmarked_code.append(cell)

        rebuilt, own_cells_placed, repaired = [], False, []
        for template in release.cells:
            cell = copy.deepcopy(template)
            if _is_answer(template) or _is_student_text_answer(template):
                grade_id = template.metadata["nbgrader"]["grade_id"]
                student = answers.get(grade_id)
                if student is None and _is_answer(template):
                    student = self._find_stripped_answer(template, unmarked_code)
                    if student is not None:
                        repaired.append(f"answer cell {grade_id!r} had lost its nbgrader metadata")
                if student is not None and student.cell_type == template.cell_type:
                    cell.source = student.source
                elif student is None:
                    repaired.append(f"answer cell {grade_id!r} was missing")
                if _is_answer(template) and not own_cells_placed:
                    # The student's own code cells run just before the first answer cell.
                    for own in unmarked_code:
                        rebuilt.append(nbformat.v4.new_code_cell(own.source, metadata={OWN_CELL_KEY: True}))
                    own_cells_placed = True
            rebuilt.append(cell)

        if repaired:
            issue["reasons"].append("structure repaired from the release: " + "; ".join(repaired))
        marked = self._instructor_markers(nb.cells)
        if marked:
            issue["reasons"].append("the submitted notebook carries the instructor's own markers, which no release "
                                    f"has ({marked}): it may be a copy of the source notebook")
        nb.cells = rebuilt
        nb.metadata = copy.deepcopy(release.metadata)
        nb.metadata[ISSUE_KEY] = issue
        return nb, resources

    def _instructor_markers(self, cells) -> str:
        """Which solution or hidden-test delimiters the submitted cells hold, and where ('' if none)."""
        delimiters = [self.config.ClearSolutions.get("begin_solution_delimeter", "BEGIN SOLUTION"),
                      self.config.ClearSolutions.get("end_solution_delimeter", "END SOLUTION"),
                      self.config.ClearHiddenTests.get("begin_test_delimeter", "BEGIN HIDDEN TESTS"),
                      self.config.ClearHiddenTests.get("end_test_delimeter", "END HIDDEN TESTS")]
        found = []
        for number, cell in enumerate(cells, start=1):
            source = cell.get("source", "")
            source = "".join(source) if isinstance(source, list) else str(source)
            for delimiter in delimiters:
                if any(line.strip().lstrip("#").strip().startswith(delimiter) for line in source.splitlines()):
                    found.append(f"{delimiter} in cell {number}")
        return ", ".join(dict.fromkeys(found))

    @staticmethod
    def _find_stripped_answer(template, candidates):
        wanted = nbcells.defined_names(template.source, assigned=False)
        if not wanted:
            return None
        for index, cell in enumerate(candidates):
            if wanted <= nbcells.defined_names(cell.source, assigned=False):
                return candidates.pop(index)
        return None


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
        20.0, help="Seconds one request to the student process may take (a call, an attribute, an answer "
                   "cell) before the student process is stopped; below `timeout`, so the cell can still report it."
    ).tag(config=True)

    def create_kernel_manager(self):
        manager = super().create_kernel_manager()
        # The kit's kernelspecs come with the package (mlkit.grading.kernel.SPECS), not installed anywhere.
        specs = manager.kernel_spec_manager
        specs.kernel_dirs = kernel.spec_folders(list(specs.kernel_dirs))
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
        side = _side(cell)
        if side == "trusted":
            cell, resources = super().preprocess_cell(cell, resources, index)
        else:
            # The kernel receives a call that hands the cell's text to the student process; the
            # notebook keeps the student's own source.
            source = cell.source
            label = cell.metadata.get("nbgrader", {}).get("grade_id") or f"cell {index + 1}"
            encoded = base64.b64encode(source.encode("utf-8")).decode("ascii")
            cell.source = (f"__import__('mlkit.grading.boundary').grading.boundary.run_student_cell("
                           f"{encoded!r}, {label!r}, {side == 'both'!r}, {self._mlkit_settings!r})")
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
                reasons = _issue(resources)["reasons"]
                if not any(r.startswith("student code stopped") for r in reasons):
                    reasons.append(reason)

    def preprocess(self, nb, resources=None, km=None):
        sandbox.require(self.allow_unsandboxed)
        release = _release_notebook(self, resources)
        # What the kernel's student process is told: its sandbox, its time per request, the names the
        # release's answer cells define (the only ones that reach the tests) and the release's folder
        # (the assignment's files that the student's code may read).
        self._mlkit_settings = {
            "allow_unsandboxed": self.allow_unsandboxed,
            "call_seconds": self.student_call_seconds,
            "exports": sorted(release_exports(nbformat.read(release, as_version=4))),
            "release_folder": os.path.dirname(release),
            "notebook": os.path.basename(release),
            # The student process watches its own sorts from its start only where a test looks at them:
            # the watch costs every call the student's code makes.
            "watch_sorts": any("record_sorts" in cell.source for cell in nb.cells
                               if cell.cell_type == "code" and _side(cell) == "trusted"),
        }
        deadline = time.monotonic() + self.notebook_timeout
        self.timeout_func = lambda cell: max(1, min(self.timeout, int(deadline - time.monotonic())))
        self._mlkit_index = -1
        try:
            return super().preprocess(nb, resources, km=km)
        except Exception as error:  # DeadKernelError, CellTimeoutError, RuntimeError from nbclient, ...
            reason = self._describe(error)
            stopped_at = max(self._mlkit_index, 0)
            issue = _issue(resources)
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


def _side(cell) -> str:
    """Where a cell runs while grading: "trusted" (the grading kernel), "student", or "both".

    Test cells and the release's own plain cells (pictures, real data; cells
    RebuildFromRelease took from the release) run in the trusted kernel; the
    release's read-only set-up code runs on both sides; answer cells and the
    student's own cells run only in the student process.
    """
    if cell.cell_type != "code":
        return "trusted"
    meta = cell.metadata.get("nbgrader", {})
    if cell.metadata.get(OWN_CELL_KEY) or meta.get("solution"):
        return "student"
    if meta.get("grade"):
        return "trusted"
    if meta.get("locked"):
        return "both"
    return "trusted"


class LimitOutputSize(NbGraderPreprocessor):
    """Truncate every text output to `max_chars` characters, and a cell's outputs to `max_cell_chars` in all."""

    max_chars = Integer(20_000).tag(config=True)
    max_cell_chars = Integer(100_000, help="Characters of all of one cell's outputs together").tag(config=True)
    max_outputs = Integer(100, help="Outputs of one cell; later ones are dropped").tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        self._truncate_each(cell)
        total, kept = 0, []
        for output in cell.get("outputs", []):
            size = len(json.dumps(output))
            # The grader's own outputs always stay: the error, and the kit's structured outputs (the diagnosis
            # the reports read, mlkit.checks.DIAGNOSIS_MIME), which student code cannot produce.
            graders = output.get("output_type") == "error" or any(
                mime.startswith(KIT_MIME_PREFIX) for mime in output.get("data", {}))
            if (total + size > self.max_cell_chars or len(kept) >= self.max_outputs) and not graders:
                continue
            total += size
            kept.append(output)
        if "outputs" in cell and len(kept) < len(cell.outputs):
            note = nbformat.v4.new_output("stream", name="stdout", text=(
                f"... [{len(cell.outputs) - len(kept)} more outputs left out: a cell keeps "
                f"{self.max_outputs} outputs and {self.max_cell_chars} characters]\n"))
            cell.outputs = kept + [note]
        return cell, resources

    def _truncate_each(self, cell) -> None:
        for output in cell.get("outputs", []):
            if output.output_type == "stream" and len(output.text) > self.max_chars:
                output.text = output.text[: self.max_chars] + f"\n... [output truncated to {self.max_chars} characters]\n"
            elif output.output_type == "error":
                output.evalue = output.evalue[: self.max_chars]
                output.traceback = [line[: self.max_chars] for line in output.traceback[-50:]]
            elif "data" in output:
                for mime, value in list(output.data.items()):
                    if isinstance(value, str) and len(value) > self.max_chars:
                        output.data[mime] = value[: self.max_chars] + "\n... [truncated]"


class ReadGradingIssues(NbGraderPreprocessor):
    """Carry the sanitize steps' reasons (notebook metadata) into `resources` before metadata is cleared."""

    def preprocess(self, nb, resources):
        resources[ISSUE_KEY] = copy.deepcopy(_issue(nb.metadata))
        return nb, resources


class RecordGradingIssues(NbGraderPreprocessor):
    """Write the reasons into the gradebook as the answer cells' automatic comments."""

    def preprocess(self, nb, resources):
        issue = _issue(resources)
        info = resources["nbgrader"]
        text = " | ".join(issue["reasons"])
        with Gradebook(info["db_url"]) as gb:
            notebook = gb.find_submission_notebook(info["notebook"], info["assignment"], info["student"])
            written = {g.name for g in notebook.grades if g.cell.cell_type == "markdown"}
            if text:
                for comment in notebook.comments:
                    if comment.name not in written:  # the answer cells' comments, not the written answer's
                        comment.auto_comment = text
            gb.db.commit()
        return nb, resources


def grading_issue(gb: Gradebook, student: str, assignment: str, notebook: str) -> str:
    """The recorded reason for one submitted notebook ('' if none)."""
    try:
        nb = gb.find_submission_notebook(notebook, assignment, student)
    except MissingEntry:
        return ""
    return next((c.auto_comment for c in nb.comments
                 if c.auto_comment and c.auto_comment != "No response."), "")
