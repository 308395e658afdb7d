"""Authoring the course: the implementation catalog, `mlkit release`, machine-made mutants, notebooks as text, the
students' hand-out."""
