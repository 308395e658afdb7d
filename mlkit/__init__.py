"""mlkit: the course kit's checking helpers and grading commands.

`mlkit.checks` is what the notebooks' tests import; the rest runs on the
instructor's (or the self-study learner's) side of the pipeline.
"""
