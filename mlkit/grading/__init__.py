"""Grading: verdicts on student code, laid out by the process each part runs in and what it trusts.

- `plugins/`: nbgrader's plug-ins, in nbgrader's (the instructor's) process; trusts the course, never the
  submission, which it reads as data.
- `kernel/`: the trusted grading kernel (its kernelspec, the warm zygote it is forked from, the proxies it hands
  the tests); runs the test cells and the checking library, never student code.
- `sandbox/`: the student process (its launcher, the bound on its process tree, the server that runs inside
  the sandbox, the data-only wire format both sides speak); trusts nothing it receives from student code.
- `limits.py`: every limit's default and the settings the kernel receives (`KernelSettings`).
- `submission.py`: a submission's files as data (links and special files left out, race-safe copies).
- `autograde.py`, `render.py`: one submission autograded, one submission's feedback rendered, in this process:
  what every back-end runs.
- `backends/`: where they run, in the `mlkit` command's process and its workers: a local pool, or a Dask
  cluster (bundle, worker, client; feedback on it).
- `grade.py`, `feedback.py`, `doctor.py`: the commands `mlkit grade`, `mlkit feedback`, `mlkit doctor`.

Imports run downwards only: commands -> backends -> autograde / render -> plugins, kernel -> sandbox ->
limits (tests/test_layout.py keeps the graph free of circles).
"""
