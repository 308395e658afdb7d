"""The notebooks themselves: structure, validation, and release = generate_assignment(source)."""

from __future__ import annotations

import filecmp
import re

import nbformat
import pytest

from mlkit import course, diagnostics, layout, nbcells
from support import graded_catalog

ASSIGNMENTS = layout.assignments()
SECTIONS = [
    "## 1. What you will build",
    "## 2. The derivation",
    "## 3. Your implementation",
    "## 4. Tests",
    "## 5. A picture",
    "## 6. Real data",
    "## 7. Explain it in 60 seconds",
]


def source(assignment):
    return nbformat.read(layout.notebook_path(assignment), as_version=4)


def test_every_spec_assignment_is_in_the_course():
    assert ASSIGNMENTS[:2] == ["01_linear_regression", "02_logistic_regression"]
    assert all(re.fullmatch(r"\d\d_[a-z_]+", a) for a in ASSIGNMENTS)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_sections_come_in_the_shared_order(assignment):
    headings = [line for cell in source(assignment).cells if cell.cell_type == "markdown"
                for line in cell.source.splitlines() if line.startswith("## ")]
    assert len(headings) == len(SECTIONS), headings
    for heading, expected in zip(headings, SECTIONS):
        assert heading == expected or heading.startswith(expected + ":"), f"{heading!r} should be {expected!r}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_cells_are_well_formed(assignment):
    nb = source(assignment)
    kinds = [nbcells.kind_of(c) for c in nb.cells]
    assert kinds.count("manual") == 1, "one manually graded 60-second explanation"
    assert kinds.count("answer") >= 1
    for cell, kind in zip(nb.cells, kinds):
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, "source notebooks are committed without outputs"
        if kind == "tests":
            assert cell.metadata["nbgrader"]["points"] > 0
            assert re.match(r"# Checks [^\n]+\.\n", cell.source), \
                f"{cell.id}: a test cell opens with one sentence saying what it checks"
            assert "### BEGIN HIDDEN TESTS" in cell.source
        if kind == "answer":
            assert "### BEGIN SOLUTION" in cell.source


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_diagnostics_used_by_tests_are_declared(assignment):
    declared = diagnostics.catalog(assignment)
    for cell in source(assignment).cells:
        if nbcells.kind_of(cell) != "tests":
            continue
        assert f'Check("{assignment}", "{cell.id}")' in cell.source
        used = set(re.findall(r'check\.fail\("(\w+)"\)', cell.source))
        used |= set(re.findall(r'mistake="(\w+)"', cell.source))
        used |= {m for block in re.findall(r"by_text=\{([^}]*)\}", cell.source)
                 for m in re.findall(r':\s*"(\w+)"', block)}
        used |= {m for block in re.findall(r"mistakes=\{([^}]*)\}", cell.source)
                 for m in re.findall(r'"(\w+)":', block)}
        missing = used - set(declared.get(cell.id, {}))
        assert not missing, f"{cell.id} uses undeclared mistakes {missing}"
    assert set(declared) <= {c.id for c in source(assignment).cells}, "diagnostics for a test cell that does not exist"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_source_notebook_passes_nbgrader_validate(assignment, tmp_path):
    result = course.nbgrader(layout.ROOT, "validate", str(layout.notebook_path(assignment)))
    assert "Success! Your notebook passes all the tests." in result.stdout, result.stdout + result.stderr


@pytest.mark.parametrize("assignment", [pytest.param(a, marks=pytest.mark.xdist_group(a)) for a in ASSIGNMENTS])
def test_committed_release_equals_generate_assignment(assignment):
    committed = layout.ROOT / "release" / assignment
    # The scratch course that grades the catalog ran `nbgrader generate_assignment` on a copy of source/.
    fresh = graded_catalog(assignment).course / "release" / assignment
    comparison = filecmp.dircmp(committed, fresh)
    assert not comparison.left_only and not comparison.right_only
    for path in fresh.rglob("*"):
        if path.is_file():
            assert path.read_bytes() == (committed / path.relative_to(fresh)).read_bytes(), \
                f"release/{assignment}/{path.relative_to(fresh)} is stale: run `./run release`"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_contains_no_solution_and_no_hidden_test(assignment):
    release = nbformat.read(layout.notebook_path(assignment, "release"), as_version=4)
    text = "\n".join(c.source for c in release.cells)
    assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text
    solution_lines, visible_lines, inside = [], set(), False
    for cell in source(assignment).cells:
        for line in cell.source.splitlines():
            if line.strip() in ("### BEGIN SOLUTION", "### BEGIN HIDDEN TESTS"):
                inside = True
            elif line.strip() in ("### END SOLUTION", "### END HIDDEN TESTS"):
                inside = False
            elif inside and len(line.strip()) > 20:
                solution_lines.append(line.strip())
            elif not inside:
                visible_lines.add(line.strip())
    # A line that also stands outside every hidden region (a visible example) is no secret.
    secret = [line for line in solution_lines if line not in visible_lines]
    released = {line.strip() for line in text.splitlines()}
    assert secret and not [line for line in secret if line in released]
