"""The learner's own ratings: `mlkit rate ALGORITHM [--explanation [1-5]] [--mastery 1-5]`.

After full marks, selfgrade asks the learner to explain the algorithm out loud in 60 seconds and to compare
that with the model answer (`model_explanation`, from the notebook's graded written answer); `--explanation
N` records how well it matched (1-5), `--explanation` alone asks for the number at the terminal.
`--mastery N` records the learner's own mastery rating.  Both go into the study history
(`mlkit.study.history`: `explanations`, `self_ratings`); mastery 5 asks for a good explanation
(`mlkit.study.schedule.explained_well`).
"""

from __future__ import annotations

import datetime as dt
import sys

import nbformat

from mlkit import layout, nbcells
from mlkit.study import dashboard
from mlkit.study import history as histories
from mlkit.study.practice import PracticeError, resolve_assignment

SCALE = "1 (cannot) to 5 (can teach)"


def model_explanation(assignment: str) -> str:
    """The model answer of the notebook's 60-second explanation (from the kit's source notebook); "" if none."""
    nb = nbformat.read(layout.notebook_path(assignment), as_version=4)
    for cell in nb.cells:
        meta = nbcells.nbgrader_metadata(cell)
        if cell.cell_type == "markdown" and meta.get("solution") and meta.get("grade"):
            return nbcells.strip_solution_markers(cell.source).strip()
    return ""


def rate(assignment: str, explanation: int | None, mastery: int | None, workspace: str | None) -> int:
    """Record the learner's rating of their 60-second explanation and/or of their own mastery (1-5) of
    `assignment` (a name, number or part of one); `explanation` 0 asks for it at the terminal.  Returns the
    exit status (2: an unknown assignment or a rating off the scale, said on stderr)."""
    space = histories.default_workspace(workspace)
    try:
        name = resolve_assignment(assignment)
    except PracticeError as error:
        print(f"mlkit rate: {error}", file=sys.stderr)
        return 2
    if explanation == 0:  # `--explanation` without a number: ask for it
        try:
            explanation = int(input("How well did your 60-second explanation match the model answer (1-5)? "))
        except (EOFError, ValueError):
            print("mlkit rate: give a rating from 1 to 5 (--explanation 4)", file=sys.stderr)
            return 2
    for value in (explanation, mastery):
        if value is not None and not 1 <= value <= 5:
            print(f"mlkit rate: ratings are {SCALE}", file=sys.stderr)
            return 2
    record = histories.load(space)
    if explanation is not None:
        record.explanations.append({"assignment": name, "rating": explanation,
                                    "when": dt.datetime.now().astimezone().isoformat(timespec="seconds")})
    if mastery is not None:
        record.self_ratings[name] = mastery
    histories.save(space, record)
    said = ([f"explanation {explanation}/5"] if explanation is not None else []) + \
        ([f"own mastery {mastery}/5"] if mastery is not None else [])
    print(f"recorded for {name}: {', '.join(said)}; the dashboard: {dashboard.write(space)}")
    return 0


def command(args) -> int:
    """`mlkit rate` (arguments: see mlkit.cli); the exit status."""
    return rate(args.algorithm, args.explanation, args.mastery, args.workspace)
