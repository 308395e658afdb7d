"""Every limit of grading, with its default, in one place; and the settings the trusted kernel receives.

Read by every zone: nbgrader's process (the plug-ins), the trusted grading kernel, the sandbox's launcher and
tree bound, and the server inside the sandbox, which finds this file beside it (bound read-only into the
sandbox as `limits.py`). So it imports nothing but Python's standard library and holds only numbers and one
plain data class. A module reads a limit here when it uses it (`limits.TEXT_CHARS`), so a course's test may
change one for a run. The wire format's own bounds (frame size, nesting, items) belong to the format
both ends share: `mlkit.grading.sandbox.wire`.
"""

from __future__ import annotations

import dataclasses
import resource

# -- a submitted notebook, as nbgrader's process reads it (mlkit.grading.plugins.reading) --------------
# A notebook of the course is some 50 kB and 60 cells; past these it is graded as empty, with the reason.
MAX_NOTEBOOK_BYTES = 20 * 10**6
MAX_CELLS = 2_000

# -- the student process, per process (mlkit.grading.sandbox.launcher) --------------------------------
# Generous for honest code (a notebook's answers need ~100 MB and ~1 CPU s).
RLIMITS = {
    resource.RLIMIT_AS: 3 * 1024**3,          # bytes of address space
    resource.RLIMIT_CPU: 120,                 # CPU seconds
    resource.RLIMIT_FSIZE: 16 * 1024**2,      # bytes per written file
    resource.RLIMIT_NOFILE: 256,              # open file descriptors
}
PROCESS_LIMIT = 64                            # processes and threads of the student's own user ID (root mode)
SCRATCH_BYTES = 64 * 1024**2                  # size of the private /tmp
FOLDER_COPY_BYTES = 64 * 1024**2              # the notebook folder is copied in up to this size

# -- the student process tree, together (mlkit.grading.sandbox.treebound) -----------------------------
TREE_MEMORY = 4 * 1024**3                     # bytes for the whole tree
TREE_PROCESSES = 64                           # processes and threads
TREE_CPUS = 1.0                               # cores' worth of time, however many processes share it

# -- what the server inside the sandbox sends back per request (mlkit.grading.sandbox.server) ----------
MAX_OUTPUT = 100_000            # characters of printed output sent back per request
MAX_WARNINGS = 50               # warnings sent back per request
MAX_MESSAGE = 4_000             # characters of one warning, error message, traceback or repr

# -- what the trusted kernel takes from the student process (mlkit.grading.kernel.boundary) -----------
CALL_SECONDS = 20.0             # one request, from sending it to its reply (the notebook cell has 30 s); configurable
START_SECONDS = 30.0            # the student process's start, to its first word
TEXT_CHARS = 10_000             # characters kept of one warning, error message, traceback or repr from student code
WARNINGS_PER_CALL = 20          # warnings passed on from one call into student code ...
WARNINGS_PER_NOTEBOOK = 200     # ... and from one notebook's student process
OUTPUT_BUDGET = 1_000_000       # characters of printed output passed on from one notebook's student process

# -- the back-ends (mlkit.grading.autograde) ---------------------------------------------------------
SQLITE_BUSY_SECONDS = 120       # workers share one SQLite gradebook; a writer waits instead of failing


@dataclasses.dataclass(frozen=True)
class KernelSettings:
    """What the trusted grading kernel is told about the notebook it grades, by nbgrader's process
    (`mlkit.grading.plugins.execute.ResilientExecute`), in each call that hands it a student cell.

    `allow_unsandboxed`: the course lets student code run in a plain separate process where this machine
    cannot sandbox it; `call_seconds`: seconds one request to the student process may take;
    `exports`: the names the release's answer cells define (the only ones that reach the tests), sorted;
    `release_folder`: the release's folder of this notebook (the files the student's code may read), or None;
    `notebook`: the release notebook's file name, or None; `watch_sorts`: the student process watches its sorts
    from its start (only where a test looks at them: the watch costs every call the student's code makes).

    It travels inside the kernel's cell source as `as_call()`: a dict of plain values, rebuilt here by
    `from_call`."""

    allow_unsandboxed: bool = False
    call_seconds: float = CALL_SECONDS
    exports: tuple[str, ...] = ()
    release_folder: str | None = None
    notebook: str | None = None
    watch_sorts: bool = False

    def as_call(self) -> dict:
        """The settings as a dict of str, bool, float, None and a list of str (what a cell's source can hold)."""
        plain = dataclasses.asdict(self)
        plain["exports"] = list(self.exports)
        return plain

    @classmethod
    def from_call(cls, plain: dict) -> "KernelSettings":
        """The settings back from `as_call()`'s dict; a key it does not name keeps its default."""
        known = {field.name for field in dataclasses.fields(cls)}
        values = {key: value for key, value in plain.items() if key in known}
        if "exports" in values:
            values["exports"] = tuple(values["exports"])
        return cls(**values)
