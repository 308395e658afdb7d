"""A notebook's grading issue: the reasons the other plug-ins found, kept through nbgrader's steps and written
into the gradebook. Runs in nbgrader's process (the instructor's), which owns the gradebook.

`ReadGradingIssues`  (before nbgrader clears the metadata)
    Carries the sanitize steps' reasons (notebook metadata) into nbconvert's resources.

`RecordGradingIssues`  (after SaveAutoGrades)
    Writes the reason into the gradebook as the answer cells' automatic comment (nbgrader's own Comment
    table), so the formgrader shows it and `mlkit.reports.export.GradesWithIssuesExportPlugin` exports it
    (`grading_issue` reads it back).
"""

from __future__ import annotations

import copy

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.preprocessors import NbGraderPreprocessor

from mlkit.grading.plugins import cells


class ReadGradingIssues(NbGraderPreprocessor):
    """Carry the sanitize steps' reasons (notebook metadata) into `resources` before metadata is cleared."""

    def preprocess(self, nb, resources):
        resources[cells.ISSUE_KEY] = copy.deepcopy(cells.issue_of(nb.metadata))
        return nb, resources


class RecordGradingIssues(NbGraderPreprocessor):
    """Write the reasons into the gradebook as the answer cells' automatic comments."""

    def preprocess(self, nb, resources):
        issue = cells.issue_of(resources)
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
