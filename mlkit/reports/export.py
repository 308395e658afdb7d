"""`nbgrader export` plug-in: nbgrader's CSV columns plus why a submission scored what it did.

Configured in nbgrader_config.py (`ExportApp.plugin_class`), so the ordinary
`nbgrader export` writes grades.csv with two more columns per student and
assignment: `needs_manual_grade` and `grading_issue` (the reasons the
integrity steps recorded: an unreadable file, a stopped student process, a crash or
timeout, repaired structure; empty when grading was uneventful).
"""

from __future__ import annotations

import csv

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.plugins import ExportPlugin

from mlkit.grading.plugins.issues import grading_issue

COLUMNS = ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name", "email",
           "raw_score", "late_submission_penalty", "score", "max_score", "needs_manual_grade", "grading_issue"]


class GradesWithIssuesExportPlugin(ExportPlugin):
    def export(self, gradebook: Gradebook) -> None:
        destination = self.to or "grades.csv"
        self.log.info("Exporting grades and grading issues to %s", destination)
        with open(destination, "w", newline="") as handle:
            writer = csv.DictWriter(handle, COLUMNS)
            writer.writeheader()
            for assignment in gradebook.assignments:
                if self.assignment and assignment.name not in self.assignment:
                    continue
                for student in gradebook.students:
                    if self.student and student.id not in self.student:
                        continue
                    row = {"assignment": assignment.name, "duedate": assignment.duedate, "student_id": student.id,
                           "last_name": student.last_name, "first_name": student.first_name,
                           "email": student.email, "max_score": assignment.max_score}
                    try:
                        submission = gradebook.find_submission(assignment.name, student.id)
                    except MissingEntry:
                        row.update(timestamp="", raw_score=0.0, late_submission_penalty=0.0, score=0.0,
                                   needs_manual_grade=False, grading_issue="no submission")
                    else:
                        issues = [grading_issue(gradebook, student.id, assignment.name, nb.name)
                                  for nb in submission.notebooks]
                        row.update(timestamp=submission.timestamp, raw_score=submission.score,
                                   late_submission_penalty=submission.late_submission_penalty,
                                   score=submission.score - submission.late_submission_penalty,
                                   needs_manual_grade=submission.needs_manual_grade,
                                   grading_issue=" | ".join(i for i in issues if i))
                    writer.writerow(row)
