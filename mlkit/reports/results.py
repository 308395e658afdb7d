"""What each graded check of an autograded notebook found: the one reading all three reports share.

A check is a graded test cell.  Its result comes from nbgrader's own scoring
rule (`nbgrader.utils.determine_grade`) and, when it failed, from the
diagnosis the checking helpers published as data (`mlkit.checks.DIAGNOSIS_MIME`),
looked up in the diagnostics catalog (`mlkit.diagnostics`) for its sentence
and hint.  Nothing is parsed out of tracebacks: a failure without a
diagnosis is reported by its exception type and message.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from nbgrader import utils

from mlkit import diagnostics, nbcells
from mlkit.checks import DIAGNOSIS_MIME

ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class CheckResult:
    test_id: str
    description: str        # the cell's opening sentence as written ("Checks that ..."), without its "#"
    points: float
    score: float
    mistake: str | None     # declared mistake id, when one was recognised
    message: str            # one sentence: the diagnosis, or the error's own message
    hint: str

    @property
    def passed(self) -> bool:
        return self.score >= self.points


def _description(source: str) -> str:
    first = source.splitlines()[0] if source else ""
    return first.lstrip("#").strip() or "(no description)"


# Errors the grader raises with a message of its own; any other error in a cell with hidden tests comes from
# the code under test, whose message can carry what the hidden test handed it.
GRADER_ERRORS = frozenset({"CheckFailed", "WatchingDisabled", "GradingStopped", "StudentProcessStopped"})
HIDDEN_BEGIN = "### BEGIN HIDDEN TESTS"


def has_hidden_tests(cell) -> bool:
    return any(line.strip() == HIDDEN_BEGIN for line in cell.source.splitlines())


HIDDEN_MESSAGE = "(its message is not shown: raised while hidden tests ran, it could hold their inputs)"


def readable_error(error, hidden: bool) -> tuple[str, str]:
    """(type, message) of an error output as a student may read them: in a cell with hidden tests (`hidden`),
    only the grader's own messages; the code under test could raise what the hidden test handed it."""
    name = str(error.get("ename", "Error"))[:100]
    if hidden and name not in GRADER_ERRORS:
        return name, HIDDEN_MESSAGE
    return name, ANSI.sub("", str(error.get("evalue", "")))


def check_results(nb, assignment: str) -> list[CheckResult]:
    """One CheckResult per graded test cell of an executed (autograded) notebook, in notebook order."""
    results = []
    for cell in nb.cells:
        if not (utils.is_grade(cell) and not utils.is_solution(cell) and cell.cell_type == "code"):
            continue
        test_id = nbcells.grade_id(cell)
        score, points = utils.determine_grade(cell)
        mistake, message, hint = None, "", ""
        if score is not None and score < points:
            diagnosis = next((o.data[DIAGNOSIS_MIME] for o in cell.outputs
                              if o.output_type == "display_data" and DIAGNOSIS_MIME in o.get("data", {})), None)
            error = next((o for o in cell.outputs if o.output_type == "error"), None)
            if diagnosis is not None:
                mistake = diagnosis.get("mistake")
                declared = diagnostics.mistakes_for(assignment, test_id).get(mistake) if mistake else None
                message = declared.message if declared else str(diagnosis.get("message", ""))
                hint = declared.hint if declared else ""
            elif error is not None and error.ename == "NotImplementedError":
                message = "Not implemented yet: fill in the cells marked YOUR CODE HERE."
            elif error is not None:
                name, text = readable_error(error, has_hidden_tests(cell))
                message = f"{name}: {text.splitlines()[0] if text else ''}".strip()
            else:
                message = "The cell wrote to stderr."
        results.append(CheckResult(test_id, _description(cell.source), float(points), float(score or 0.0),
                                   mistake, message, hint))
    return results


def _inert(text: str) -> str:
    """`text` as HTML text that stays text where the table is placed in a Markdown cell.

    A message can carry the student's own values (`got {value}`): a blank line in it would end the
    table's HTML block and make the rest Markdown (links, images), and a `$` would start a formula."""
    return " ".join(html.escape(text).split()).replace("$", "&#36;")


def _check(result: CheckResult, link: bool) -> str:
    text = html.escape(result.description)
    return f"<a href='#{html.escape(result.test_id, quote=True)}'>{text}</a>" if link else text


def summary_table_html(results: list[CheckResult], title: str = "Checks", link_cells: bool = False) -> str:
    """The summary table shown at the top of every feedback report; with `link_cells`, each check links to its
    cell on the page (nbgrader's feedback page puts an anchor named after the cell's grade id above it)."""
    total = sum(r.score for r in results)
    available = sum(r.points for r in results)
    rows = []
    for r in results:
        status = "passed" if r.passed else "failed"
        detail = ""
        if not r.passed:
            detail = f"<strong>{_inert(r.message)}</strong>"
            if r.hint:
                detail += f"<br><span class='mlkit-hint'>Hint: {html.escape(r.hint)}</span>"
        rows.append(
            f"<tr class='mlkit-{status}'><td>{_check(r, link_cells)}</td>"
            f"<td class='mlkit-points'>{r.score:g} / {r.points:g}</td>"
            f"<td class='mlkit-status'>{'&#10003; passed' if r.passed else '&#10007; failed'}</td>"
            f"<td>{detail}</td></tr>"
        )
    return (
        f"<div class='mlkit-summary'><h2>{html.escape(title)}: {total:g} / {available:g} automatic points</h2>"
        "<table class='mlkit-summary-table'><thead><tr><th>Check</th><th>Points</th><th>Result</th>"
        "<th>Diagnosis</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table></div>"
    )


SUMMARY_CSS = """
.mlkit-summary { margin: 1em 0 2em 0; font-family: sans-serif; }
.mlkit-summary-table { border-collapse: collapse; width: 100%; font-size: 14px; }
.mlkit-summary-table th, .mlkit-summary-table td { border: 1px solid #ccc; padding: 6px 8px; vertical-align: top; text-align: left; }
.mlkit-summary-table th { background: #f0f0f0; }
.mlkit-passed .mlkit-status { color: #1a7f37; font-weight: bold; white-space: nowrap; }
.mlkit-failed .mlkit-status { color: #cf222e; font-weight: bold; white-space: nowrap; }
.mlkit-failed { background: #fff5f5; }
.mlkit-points { white-space: nowrap; }
.mlkit-hint { color: #555; }
.mlkit-summary h2 { font-size: 18px; margin-top: 0.5em; }
.mlkit-others-title { margin: 0 0 0.3em 0; font-weight: bold; }
.mlkit-others { margin: 0 0 0.5em 0; }
.mlkit-cut { color: #555; }
"""
