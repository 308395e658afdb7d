"""nbgrader configuration of the course; every command run from this folder reads it."""

import os

c = get_config()  # noqa: F821  (provided by nbgrader when it loads this file)

c.CourseDirectory.course_id = "numpy-ml-from-scratch"
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
# The gradebook is nbgrader's own SQLite file at the course root (its default).
# A large course can point db_url at PostgreSQL instead:
#   c.CourseDirectory.db_url = "postgresql://user@host/gradebook"

c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Hidden tests are fast (about a second per notebook); a cell that runs for
# a minute is stuck, not slow.
c.Execute.timeout = 60

# nbgrader scores a test cell 0 if it wrote anything to stderr.  Correct code
# may print a harmless warning (a RuntimeWarning, a DeprecationWarning from a
# library); the tests that care about warnings record them themselves, so
# warning text on stderr must not cost points.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = r"\w*Warning\b"

# Feedback keeps every failure's one-sentence message but never the hidden
# tests' source or their traceback lines (nbgrader issue 917).
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "mlkit.feedback.RedactHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
