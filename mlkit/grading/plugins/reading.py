"""What autograde reads of `submitted/`: the submission is data, read without following anything.

Runs in nbgrader's process (the instructor's), which trusts the course and never the submission.

`TolerantNotebookExporter`  (Autograde.exporter_class)
    A notebook that is not UTF-8, not JSON or not a valid notebook (or is a link, a FIFO, too large or has
    too many cells: `mlkit.grading.limits`) is graded as an empty submission with the reason recorded,
    instead of stopping that student with a traceback.

`set_aside_unsafe_files`  (Autograde.pre_convert_hook; `mlkit grade` runs autograde, so both)
    Before autograde copies `submitted/<student>/<assignment>/`, each link, FIFO, socket or device file
    in it is moved, as it is (a rename, which follows nothing), into the sibling folder
    `.<assignment>.left-out/` (`mlkit.grading.submission.set_aside`).  A notebook that is itself a link
    stays where it is: the exporter refuses it without following it and grades it as an empty notebook.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
from nbconvert.exporters import NotebookExporter

from mlkit.grading import limits, submission
from mlkit.grading.plugins import cells

# The limits a notebook is read within (re-exported: tests and callers name them here).
MAX_NOTEBOOK_BYTES, MAX_CELLS = limits.MAX_NOTEBOOK_BYTES, limits.MAX_CELLS
READ_REASONS_KEY = cells.READ_REASONS_KEY


class TolerantNotebookExporter(NotebookExporter):
    """Reads what can be read; an unreadable file becomes an empty notebook carrying the reason."""

    def from_filename(self, filename, resources=None, **kw):
        reasons: list[str] = []
        try:
            nb = submission.read_notebook(filename)  # a link or a FIFO is refused, never followed
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
        resources[cells.READ_REASONS_KEY] = reasons
        cells.issue_of(nb.metadata)["reasons"].extend(reasons)  # for a pipeline without RebuildFromRelease
        # The kernel (and the student process) start in the notebook's own folder, as
        # nbconvert's own from_filename would have it, never in the folder grading started from.
        if not isinstance(resources.get("metadata"), dict):
            resources["metadata"] = {}
        resources["metadata"]["name"] = os.path.splitext(os.path.basename(filename))[0]
        resources["metadata"]["path"] = os.path.dirname(os.path.abspath(filename))
        return self.from_notebook_node(nb, resources=resources, **kw)


def set_aside_unsafe_files(assignment=None, student=None, notebooks=(), **_) -> None:
    """Autograde's pre-convert hook: set aside the unsafe entries of the submission about to be copied."""
    for folder in sorted({Path(notebook).parent for notebook in notebooks}):
        try:
            submission.set_aside(folder)
        except OSError as error:
            raise submission.SetAsideFailed(f"could not move the links and special files out of {folder} before "
                                 f"autograde copies it ({type(error).__name__}: {error})") from error
