"""nbgrader configuration of the course; every command run from this folder reads it."""

import os

from mlkit.reports import templates
from mlkit.grading.kernel import spec as kernel_spec

c = get_config()  # noqa: F821  (provided by nbgrader when it loads this file)

c.CourseDirectory.course_id = "numpy-ml-from-scratch"
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
# The gradebook is nbgrader's own SQLite file at the course root (its default).
# A large course can point db_url at PostgreSQL instead:
#   c.CourseDirectory.db_url = "postgresql://user@host/gradebook"

c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Grading integrity (mlkit/grading/plugins/ explains each step).  The submitted
# notebook is never modified; the graded copy is rebuilt from the release with
# the student's answers, and a crash or endless loop ends that notebook with a
# recorded reason.
c.Autograde.exporter_class = "mlkit.grading.plugins.reading.TolerantNotebookExporter"
c.Autograde.sanitize_preprocessors = [
    "mlkit.grading.plugins.rebuild.RebuildFromRelease",
    "nbgrader.preprocessors.ClearOutput",
    "nbgrader.preprocessors.DeduplicateIds",
    "nbgrader.preprocessors.OverwriteKernelspec",
    "nbgrader.preprocessors.OverwriteCells",
    "nbgrader.preprocessors.CheckCellMetadata",
]
# A submission is data (mlkit/grading/submission.py): links, FIFOs, sockets and device files in it are
# never followed, opened or waited on.  Collection copies only its regular files; autograde (and so
# `mlkit grade`) first moves any such entry of submitted/ aside; either way the notebook's grading issue
# names what was left out.
c.ExchangeFactory.collect = "mlkit.grading.plugins.exchange.LinkSafeCollect"
# On a shared hub (mlkit/permissions.py, mlkit/grading/submission.py): releasing and collecting refuse an exchange whose course folder,
# inbound, outbound or feedback folder another account could have made, renamed or opened (`mlkit exchange init`
# sets it up); collection takes each student's own newest folder and skips, with the reason, any entry that
# is not one.
c.ExchangeFactory.release_assignment = "mlkit.grading.plugins.exchange.CheckedReleaseAssignment"
c.Autograde.pre_convert_hook = "mlkit.grading.plugins.reading.set_aside_unsafe_files"
# Submissions downloaded from an LMS (mlkit/grading/plugins/lmszip.py): `nbgrader zip_collect ASSIGNMENT` with the
# collector of your LMS puts each student's notebook into submitted/, found by the roster (`mlkit roster
# import`), with the time the LMS recorded.  Feedback release to the exchange leaves out (and names) the
# students who did not submit through it, instead of stopping at the first; `mlkit handback` packs theirs.
# It is the shared hub's checked release of feedback too (one class for both: a second setting of
# release_feedback would replace the first, and the exchange check with it).
#   c.ZipCollectApp.collector_plugin = "mlkit.grading.plugins.lmszip.CanvasCollector"   # or MoodleCollector
c.ExchangeFactory.release_feedback = "mlkit.grading.plugins.lmszip.ExchangeOnlyReleaseFeedback"
# zip_collect unpacks the LMS's download only, within c.CourseDirectory.max_file_size a file, never an archive a
# student uploaded inside it (nbgrader's extractor unpacks those without a bound, and stops at a broken one).
c.ZipCollectApp.extractor_plugin = "mlkit.grading.plugins.lmszip.LmsExtractor"
c.Autograde.autograde_preprocessors = [
    "mlkit.grading.plugins.issues.ReadGradingIssues",
    "mlkit.grading.plugins.execute.ResilientExecute",
    "nbgrader.preprocessors.IgnorePattern",
    "mlkit.grading.plugins.output_limits.LimitOutputSize",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "mlkit.grading.plugins.issues.RecordGradingIssues",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
# The grading boundary (mlkit/grading/): the kernel nbgrader starts is the
# trusted grading kernel, which runs the test cells; answer cells run in a
# sandboxed student process and reach the tests only as data.  Its kernelspec comes with the kit
# (mlkit/grading/kernel/kernels/): loading this file writes nothing, so a read-only environment serves the course.
c.ResilientExecute.kernel_name = kernel_spec.KERNEL_NAME
# Where this machine cannot sandbox student code, grading refuses to start.
# A course that accepts running it in a plain separate process says so here:
#   c.ResilientExecute.allow_unsandboxed = True
# Hidden tests are fast (about a second per notebook): a cell still running
# after 30 s is stuck, so it ends the notebook instead of being interrupted.
c.ResilientExecute.timeout = 30
c.ResilientExecute.interrupt_on_timeout = False
c.ResilientExecute.notebook_timeout = 240

# nbgrader scores a test cell 0 if it wrote anything to stderr.  Correct code
# may print a harmless warning (a RuntimeWarning, a DeprecationWarning from a
# library); the tests that care about warnings record them themselves, so
# warning text on stderr must not cost points.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = r"\w*Warning\b"

# Feedback opens with a table of every check (points, result, the diagnosed
# mistake and a hint), and keeps each failure's one-sentence message but never
# the hidden tests' source or their traceback lines (nbgrader issue 917).
# Formulas are turned into MathML and the page loads no MathJax, so feedback
# reads the same offline (mlkit/reports/templates/offline).
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",  # first: AddCheckSummary adds the table's style to it
    "mlkit.reports.feedback.AddCheckSummary",
    "mlkit.reports.feedback.RedactHiddenTests",
    "mlkit.reports.feedback.RenderMathOffline",
]
# Student-written text is inert in every page (mlkit/reports/safehtml.py): Markdown, the 60-second
# explanation included, is rendered with its HTML cleaned to an allow-list, in the formgrader's pages and in
# feedback alike (both use HTMLExporter); the formgrader also has nbconvert sanitise cell outputs.  Feedback
# does not: its outputs are the grader's own and printed text, which is escaped, and nbconvert's sanitiser
# would turn the allowed headings and formulas back into visible tags.
c.HTMLExporter.filters = {"markdown2html": "mlkit.reports.safehtml.markdown2html"}
c.HTMLExporter.sanitize_html = True
c.OfflineFeedbackExporter.sanitize_html = False
# Only feedback: the formgrader's own pages use HTMLExporter with their own template.
c.GenerateFeedback.exporter_class = "mlkit.reports.feedback.OfflineFeedbackExporter"
c.OfflineFeedbackExporter.template_name = templates.OFFLINE
c.OfflineFeedbackExporter.extra_template_basedirs = templates.basedirs()

# `nbgrader export` adds each submission's recorded grading issue to grades.csv.
c.ExportApp.plugin_class = "mlkit.reports.export.GradesWithIssuesExportPlugin"
