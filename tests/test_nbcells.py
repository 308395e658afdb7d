"""The ground floor's reading of cells (mlkit.nbcells): kinds from nbgrader's metadata, and the names a cell defines."""

from __future__ import annotations

import nbformat
import pytest

from mlkit import layout, nbcells

ANSWER = """import numpy as np
W = np.zeros(3)
a, (b, c) = 1, (2, 3)
x: int = 0
n += 1
d[k] = 2
obj.attr = 3
for i in range(3):
    pass
class Model:
    def fit(self):
        def inner_helper():
            pass
    class Inner:
        def deep(self):
            pass
def helper():
    def nested():
        pass
async def fetch():
    pass
"""


def test_the_names_a_cell_defines_in_each_reading():
    top = {"Model", "helper", "fetch"}
    assert nbcells.defined_names(ANSWER, assigned=False) == top  # integrity: the template an answer must match
    assert nbcells.defined_names(ANSWER) == top | {"W", "a", "b", "c", "x", "n"}  # the release's exports
    assert nbcells.defined_names(ANSWER, members=True) == top | {"W", "a", "b", "c", "x", "n", "fit", "Inner",
                                                                 "deep"}  # lint: SPEC.md's names
    assert nbcells.defined_names("def broken(:\n") == set()


def test_every_cell_of_the_kits_notebooks_has_a_kind_and_the_answers_their_ids():
    for assignment in layout.assignments():
        nb = nbformat.read(layout.notebook_path(assignment), as_version=4)
        kinds = [nbcells.kind_of(cell) for cell in nb.cells]
        assert {"answer", "tests", "manual"} <= set(kinds), assignment
        answers = nbcells.answer_cell_ids(nb)
        assert len(answers) == kinds.count("answer") and all(answers) and len(set(answers)) == len(answers)


@pytest.mark.parametrize("metadata, kind", [({}, "student"), ({"nbgrader": None}, "student"),
                                            ({"nbgrader": {"grade": True, "solution": False, "locked": True,
                                                           "grade_id": "t", "points": 1}}, "tests")])
def test_a_cell_without_nbgrader_metadata_is_the_students(metadata, kind):
    cell = nbformat.v4.new_code_cell("x = 1", metadata=metadata)
    assert nbcells.kind_of(cell) == kind


def test_metadata_no_kind_matches_is_named():
    cell = nbformat.v4.new_code_cell("x = 1", metadata={"nbgrader": {"grade": True, "solution": True,
                                                                     "grade_id": "odd"}})
    with pytest.raises(ValueError, match="'odd'"):
        nbcells.kind_of(cell)
