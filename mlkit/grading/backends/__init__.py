"""Where the class is graded: each back-end runs `mlkit.grading.autograde.grade_one` (and, for feedback,
`mlkit.grading.render.render_one`) per submission.

- `local`: a pool of forked workers on this machine, in the `mlkit` command's process tree;
- `dask_client` (the instructor's process, the one writer of the gradebook), `dask_bundle` (what travels, as
  data, both ways), `dask_worker` (a `dask worker` process on a machine that shares no folder with the
  course): the same on the workers of a Dask scheduler; `dask_feedback`: feedback pages rendered there.
"""
