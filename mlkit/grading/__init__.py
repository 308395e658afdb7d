"""Grading: the boundary between student code and verdicts, its sandbox, nbgrader plug-ins, and `mlkit grade`."""
