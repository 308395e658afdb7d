"""The student process: student code, run in a sandbox, and the format in which it talks to the grader.

- `launcher` (runs in the trusted grading kernel's process): starts the student process under bubblewrap,
  with per-process limits, a private copy of the notebook's folder and a user ID of its own;
- `treebound` (the kernel's process): a control group bounding the student's whole process tree;
- `server` (runs inside the sandbox, as a script with the standard library and NumPy only): executes the
  student's cells and answers the kernel's requests; trusts nothing, is trusted with nothing;
- `wire` (both sides): the data-only format they speak (no pickle, no object rebuilt from a name).

The server finds `wire.py` and `mlkit/grading/limits.py` beside it, bound read-only into the sandbox.
"""
