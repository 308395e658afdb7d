"""The implementation catalog: reference, alternative and mistaken answers.

For every assignment the kit keeps, beside its source notebook:

- the **reference** answers: the source notebook's answer cells with the
  solution markers removed;
- **alternatives** in `catalog/<assignment>/alternatives/<name>.py`: other
  correct implementations written in another style, in the percent format of
  `mlkit.authoring.nbtext` with only `[answer]` cells (each replaces the answer cell of
  the same id; cells not listed keep the reference answer);
- **mutants** in `catalog/<assignment>/mutants.toml`: realistic mistakes,
  each one text substitution in one reference answer cell.

A submission is built from the *release* notebook with its answer cells
replaced, exactly as a student's completed notebook would look.  The kit's
tests, the bundled sample class and the throughput benchmark all build
their submissions here.  Where a course's notebooks are is `mlkit.layout`'s, what their cells are
`mlkit.nbcells`'.
"""

from __future__ import annotations

import shutil
import tomllib
from dataclasses import dataclass
from pathlib import Path

import nbformat

from mlkit import layout, nbcells
from mlkit.authoring import nbtext

def reference_answers(assignment: str, root: Path = layout.ROOT) -> dict[str, str]:
    nb = nbformat.read(layout.notebook_path(assignment, root=root), as_version=4)
    return {
        nbcells.grade_id(c): nbcells.strip_solution_markers(c.source)
        for c in nb.cells
        if nbcells.kind_of(c) == "answer"
    }


def parse_answer_cells(text: str) -> dict[str, str]:
    nb = nbtext.to_notebook(text)
    kinds = {nbcells.kind_of(c) for c in nb.cells}
    if kinds - {"answer"}:
        raise ValueError(f"an alternative may only hold [answer] cells, found {sorted(kinds)}")
    return {nbcells.grade_id(c): c.source for c in nb.cells}


def alternatives(assignment: str) -> dict[str, dict[str, str]]:
    folder = layout.CATALOG / assignment / "alternatives"
    return {p.stem: parse_answer_cells(p.read_text()) for p in sorted(folder.glob("*.py"))}


@dataclass(frozen=True)
class Mutant:
    """One realistic mistake: `find` replaced by `replace` in answer cell `cell`."""

    name: str
    cell: str
    find: str
    replace: str
    description: str
    diagnosis: str | None = None  # the declared mistake id the feedback must name
    in_sample_class: bool = False

    def apply(self, answers: dict[str, str]) -> dict[str, str]:
        source = answers[self.cell]
        count = source.count(self.find)
        if count != 1:
            raise ValueError(f"mutant {self.name}: text to replace occurs {count} times in cell {self.cell}")
        return {**answers, self.cell: source.replace(self.find, self.replace)}


def mutants(assignment: str, root: Path = layout.ROOT) -> list[Mutant]:
    """The realistic mistakes of `root`'s catalog/<assignment>/mutants.toml (the kit's by default)."""
    path = root / "catalog" / assignment / "mutants.toml"
    if not path.exists():
        return []
    with path.open("rb") as handle:
        raw = tomllib.load(handle)
    return [
        Mutant(
            name=m["name"], cell=m["cell"], find=m["find"], replace=m["replace"],
            description=m["description"], diagnosis=m.get("diagnosis"),
            in_sample_class=m.get("in_sample_class", False),
        )
        for m in raw.get("mutant", [])
    ]


def catalog_answers(assignment: str, root: Path = layout.ROOT) -> dict[str, dict[str, str] | None]:
    """Every catalogued submission of one assignment: name -> answers (None = untouched release)."""
    reference = reference_answers(assignment, root)
    entries: dict[str, dict[str, str] | None] = {"reference": reference, "untouched": None}
    for name, answers in alternatives(assignment).items():
        entries[f"alt-{name}"] = {**reference, **answers}
    for mutant in mutants(assignment):
        entries[f"mutant-{mutant.name}"] = mutant.apply(reference)
    return entries


def submission_notebook(assignment: str, answers: dict[str, str] | None, root: Path = layout.ROOT):
    """The release notebook with its answer cells filled in (None leaves it untouched)."""
    nb = nbformat.read(layout.notebook_path(assignment, "release", root), as_version=4)
    if answers is None:
        return nb
    return fill_answers(nb, answers, assignment)


def fill_answers(nb, answers: dict[str, str], assignment: str = "this notebook"):
    """`nb` with its answer cells' sources replaced by `answers` (grade_id -> source), in place."""
    unknown = set(answers) - set(nbcells.answer_cell_ids(nb))
    if unknown:
        raise KeyError(f"{assignment} has no answer cells {sorted(unknown)}")
    for cell in nb.cells:
        grade_id = nbcells.grade_id(cell)
        if grade_id in answers and nbcells.kind_of(cell) == "answer":
            cell.source = answers[grade_id]
    return nb


def write_submission(course: Path, student: str, assignment: str, nb, root: Path = layout.ROOT) -> Path:
    """Place a notebook (and the release's data files) where `nbgrader autograde` looks for it."""
    target = course / "submitted" / student / assignment
    release = root / "release" / assignment
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(release, target, ignore=shutil.ignore_patterns("*.ipynb"))
    path = target / layout.notebook_path(assignment, "release", root).name
    nbformat.write(nb, path)
    return path
