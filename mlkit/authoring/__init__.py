"""Authoring the course: the implementation catalog, machine-made mutants, notebooks as text, the students' hand-out."""
