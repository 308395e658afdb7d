"""`RebuildFromRelease` (first sanitize step): the graded notebook rebuilt from the release notebook's cells.

Runs in nbgrader's process (the instructor's), which trusts the release and never the submission: the
student contributes only the contents of answer cells (matched by grade_id; an answer cell whose metadata was
stripped is found by the class/function names it defines) and extra code cells of their own. Deleted,
duplicated, moved or metadata-stripped test and read-only cells come back from the release, and nbgrader's
OverwriteCells then restores their hidden tests from the gradebook. `release_exports` names what the
release's answer cells define: the only names that reach the tests from the student process.
"""

from __future__ import annotations

import ast
import copy

import nbformat
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor

from mlkit import nbcells
from mlkit.grading.plugins import cells


def release_exports(release) -> set[str]:
    """The names the release's answer cells bind at their top level: the notebook's API and its helpers."""
    names: set[str] = set()
    for cell in release.cells:
        if not cells.is_answer(cell):
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                names.add(node.name)
            elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    names |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
    return names


class RebuildFromRelease(NbGraderPreprocessor):
    """Rebuild the notebook from the release's cells, keeping only the student's answers and own code."""

    def preprocess(self, nb, resources):
        release = nbformat.read(cells.release_notebook(self, resources), as_version=4)
        issue = {"reasons": list(resources.get(cells.READ_REASONS_KEY, []))}  # what the reader found (an unreadable file)

        answers: dict[str, NotebookNode] = {}
        unmarked_code: list[NotebookNode] = []
        # Cells the release has without nbgrader metadata (the pictures, the real data) are
        # taken from the release; an unmarked cell with another id is the student's own code.
        release_plain_ids = {cell.get("id") for cell in release.cells if not nbcells.nbgrader_metadata(cell)}
        for cell in nb.cells:
            grade_id = nbcells.grade_id(cell)
            if grade_id and cell.metadata["nbgrader"].get("solution"):
                answers.setdefault(grade_id, cell)  # a duplicate answer cell: the first one counts
            elif not nbcells.nbgrader_metadata(cell) and cell.cell_type == "code" and cell.get("id") not in release_plain_ids:
                unmarked_code.append(cell)

        rebuilt, own_cells_placed, repaired = [], False, []
        for template in release.cells:
            cell = copy.deepcopy(template)
            if cells.is_answer(template) or cells.is_student_text_answer(template):
                grade_id = template.metadata["nbgrader"]["grade_id"]
                student = answers.get(grade_id)
                if student is None and cells.is_answer(template):
                    student = self._find_stripped_answer(template, unmarked_code)
                    if student is not None:
                        repaired.append(f"answer cell {grade_id!r} had lost its nbgrader metadata")
                if student is not None and student.cell_type == template.cell_type:
                    cell.source = student.source
                elif student is None:
                    repaired.append(f"answer cell {grade_id!r} was missing")
                if cells.is_answer(template) and not own_cells_placed:
                    # The student's own code cells run just before the first answer cell.
                    for own in unmarked_code:
                        rebuilt.append(nbformat.v4.new_code_cell(own.source, metadata={cells.OWN_CELL_KEY: True}))
                    own_cells_placed = True
            rebuilt.append(cell)

        if repaired:
            issue["reasons"].append("structure repaired from the release: " + "; ".join(repaired))
        marked = self._instructor_markers(nb.cells)
        if marked:
            issue["reasons"].append("the submitted notebook carries the instructor's own markers, which no release "
                                    f"has ({marked}): it may be a copy of the source notebook")
        nb.cells = rebuilt
        nb.metadata = copy.deepcopy(release.metadata)
        nb.metadata[cells.ISSUE_KEY] = issue
        return nb, resources

    def _instructor_markers(self, cells) -> str:
        """Which solution or hidden-test delimiters the submitted cells hold, and where ('' if none)."""
        delimiters = [self.config.ClearSolutions.get("begin_solution_delimeter", "BEGIN SOLUTION"),
                      self.config.ClearSolutions.get("end_solution_delimeter", "END SOLUTION"),
                      self.config.ClearHiddenTests.get("begin_test_delimeter", "BEGIN HIDDEN TESTS"),
                      self.config.ClearHiddenTests.get("end_test_delimeter", "END HIDDEN TESTS")]
        found = []
        for number, cell in enumerate(cells, start=1):
            source = cell.get("source", "")
            source = "".join(source) if isinstance(source, list) else str(source)
            for delimiter in delimiters:
                if any(line.strip().lstrip("#").strip().startswith(delimiter) for line in source.splitlines()):
                    found.append(f"{delimiter} in cell {number}")
        return ", ".join(dict.fromkeys(found))

    @staticmethod
    def _find_stripped_answer(template, candidates):
        wanted = cells.defined_names(template.source)
        if not wanted:
            return None
        for index, cell in enumerate(candidates):
            if wanted <= cells.defined_names(cell.source):
                return candidates.pop(index)
        return None
