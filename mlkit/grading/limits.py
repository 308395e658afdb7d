"""Every limit of grading, with its default, in one place.

Imported by every zone: nbgrader's process (the plug-ins), the trusted grading kernel, the sandbox's launcher,
and the server inside the sandbox, which finds this file beside it (bound read-only into the sandbox), so it
imports nothing but Python's standard library and holds only numbers.
"""

from __future__ import annotations

# -- the back-ends ----------------------------------------------------------------------------------
SQLITE_BUSY_SECONDS = 120  # workers share one SQLite gradebook; a writer waits instead of failing
