"""mlkit: the course kit's checking helpers and grading commands.

`mlkit.checks` is what the notebooks' tests import; the rest runs on the
instructor's (or the self-study learner's) side of the pipeline.  The ground
floor (`layout`, `nbcells`, `course`, `permissions`, `invocation`, `checks`)
imports no workflow; the workflows (`authoring`, `grading`, `reports`,
`study`) and the command line (`cli`) build on it.  The layers are import
contracts in pyproject.toml, kept by tests/test_imports.py.
"""
