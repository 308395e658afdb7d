"""The instructor's class report: score distributions, pass rate per check, the most common mistakes.

    mlkit class-report [--out reports/]

Reads nbgrader's gradebook for scores and the autograded notebooks for each
check's result and diagnosis (`mlkit.reports.results`, the same reading the feedback
uses), then writes `class_report.html` (with an SVG chart of the score
distribution per assignment) and `class_report.csv` (one row per check).
"""

from __future__ import annotations

import collections
import csv
import html
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from mlkit import course, diagnostics
from mlkit.reports import results


@dataclass
class CheckStats:
    assignment: str
    test_id: str
    description: str
    points: float
    submissions: int = 0
    passed: int = 0
    mistakes: collections.Counter = field(default_factory=collections.Counter)

    @property
    def pass_rate(self) -> float:
        return self.passed / self.submissions if self.submissions else 0.0


def collect(root: Path) -> tuple[dict[str, list[float]], dict[str, float], list[CheckStats]]:
    """Scores per assignment, maximum automatic score per assignment, and statistics per check."""
    grades = course.gradebook(root)
    scores: dict[str, list[float]] = collections.defaultdict(list)
    maxima: dict[str, float] = {}
    stats: dict[tuple[str, str], CheckStats] = {}
    for student, per_assignment in sorted(grades.items()):
        for assignment, grade in sorted(per_assignment.items()):
            scores[assignment].append(grade.auto_score)
            maxima[assignment] = grade.auto_max
            for path in sorted((root / "autograded" / student / assignment).glob("*.ipynb")):
                for r in results.check_results(nbformat.read(path, as_version=4), assignment):
                    entry = stats.setdefault((assignment, r.test_id),
                                             CheckStats(assignment, r.test_id, r.description, r.points))
                    entry.submissions += 1
                    entry.passed += r.passed
                    if r.mistake:
                        entry.mistakes[r.mistake] += 1
    return dict(scores), maxima, list(stats.values())


TITLE = "Score distribution per assignment (students per bin)"
PANEL_INCHES = (3.0, 2.2)  # one assignment's histogram
MIN_WIDTH_INCHES = 4.5  # the title's width at its font size, with a margin: one or two panels are narrower


def distribution_figure(scores: dict[str, list[float]], maxima: dict[str, float]):
    """The Matplotlib figure of `distribution_svg`: one histogram panel per assignment name in `scores`
    (each a list of automatic scores, drawn as % of `maxima[name]`), up to five panels a row."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    names = sorted(scores)
    columns = min(5, max(1, len(names)))
    rows = -(-len(names) // columns)
    width = max(PANEL_INCHES[0] * columns, MIN_WIDTH_INCHES)
    fig, axes = plt.subplots(rows, columns, figsize=(width, PANEL_INCHES[1] * rows + 0.3), squeeze=False)
    for ax in axes.flat:
        ax.set_visible(False)
    for ax, name in zip(axes.flat, names):
        ax.set_visible(True)
        top = maxima[name] or 1.0
        ax.hist([100 * s / top for s in scores[name]], bins=[0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100.01],
                color="#4c72b0", edgecolor="white")
        ax.set_title(name, fontsize=9)
        ax.set_xlim(0, 100)
        ax.tick_params(labelsize=7)
        ax.set_xlabel("% of automatic points", fontsize=7)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # students are counted whole
    fig.suptitle(TITLE, fontsize=10)
    fig.tight_layout()
    return fig


def distribution_svg(scores: dict[str, list[float]], maxima: dict[str, float]) -> str:
    """Histograms of automatic scores, one small panel per assignment, as an inline SVG."""
    import matplotlib.pyplot as plt

    fig = distribution_figure(scores, maxima)
    natural_px = round(fig.get_figwidth() * 96)  # CSS pixels at the figure's own size
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg")
    plt.close(fig)
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg"):]
    # Matplotlib gives the figure's size in points (five panels: 1440 px); scale it to the page's width
    # instead, keeping its proportions (the viewBox), so every panel stays on a 1280 px page, but never
    # above its own size: one panel blown up to the page's width has letters four times their size.
    head, rest = svg.split(">", 1)
    head = re.sub(r'\s(width|height)="[^"]*"', "", head)
    return f'{head} style="width:100%;max-width:{min(1200, natural_px)}px;height:auto">{rest}'


def mistake_message(assignment: str, test_id: str, mistake: str, course: Path | None = None) -> str:
    declared = diagnostics.mistakes_for(assignment, test_id, course).get(mistake)
    return declared.message if declared else mistake


def _similar_pairs(assignment: str, out: Path) -> str:
    """The pairs `mlkit similarity` flagged for `assignment` (from its CSV in `out`), linked to its report; the
    command to run when it has not run: comparing every pair of a class of a thousand takes minutes, which the
    class report should not spend each time."""
    table = out / f"similarity_{assignment}.csv"
    if not table.is_file():
        return f"not compared yet (<code>mlkit similarity {html.escape(assignment)}</code>)"
    with table.open(newline="") as handle:
        flagged = sum(row.get("flagged") == "1" for row in csv.DictReader(handle))
    return f"<a href='{html.escape(table.with_suffix('.html').name)}'>{flagged}</a>"


def _count(number: int, noun: str) -> str:
    """`number` and `noun`, in the plural unless it is one: "1 assignment", "3 graded submissions"."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def write(root: Path, out: Path) -> tuple[Path, Path]:
    scores, maxima, stats = collect(root)
    out.mkdir(parents=True, exist_ok=True)
    csv_path, html_path = out / "class_report.csv", out / "class_report.html"
    with csv_path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["assignment", "check", "description", "points", "submissions", "passed", "pass_rate",
                         "mistakes (id: count)"])
        for s in stats:
            writer.writerow([s.assignment, s.test_id, s.description, s.points, s.submissions, s.passed,
                             f"{s.pass_rate:.3f}", "; ".join(f"{m}: {n}" for m, n in s.mistakes.most_common())])

    common = sorted(((n, s, m) for s in stats for m, n in s.mistakes.items()), key=lambda t: (-t[0], t[1].assignment))
    parts = ["<!DOCTYPE html><html><head><meta charset='utf-8'><title>Class report</title><style>",
             "body { font-family: sans-serif; margin: 2em; } table { border-collapse: collapse; margin-bottom: 2em; }",
             "td, th { border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top; }",
             "th { background: #f0f0f0; } .bar { background: #4c72b0; height: 10px; display: inline-block; }",
             "</style></head><body><h1>Class report</h1>",
             f"<p>{_count(sum(len(v) for v in scores.values()), 'graded submission')} in "
             f"{_count(len(scores), 'assignment')}.</p>",
             "<h2>Score distribution</h2>",
             f"<div class='mlkit-chart'>{distribution_svg(scores, maxima)}</div>" if scores else
             "<p>No submission has been graded yet: run <code>mlkit grade</code> (or nbgrader autograde) first.</p>",
             "<h2>Summary per assignment</h2><table><tr><th>assignment</th><th>submissions</th>"
             "<th>mean automatic score (manual points not included)</th><th>full automatic marks</th>"
             "<th>similar pairs (mlkit similarity)</th></tr>"]
    for name in sorted(scores):
        values, top = scores[name], maxima[name]
        parts.append(f"<tr><td>{html.escape(name)}</td><td>{len(values)}</td><td>{sum(values) / len(values):.1f} / {top:g}</td>"
                     f"<td>{sum(v >= top for v in values)}</td><td>{_similar_pairs(name, out)}</td></tr>")
    parts.append("</table><h2>Most common diagnosed mistakes</h2><table><tr><th>count</th><th>assignment</th>"
                 "<th>check</th><th>mistake</th></tr>")
    if not common:  # an empty table would read as a page that failed to fill it
        parts.append("<tr><td colspan='4'>None: no failed check of a graded submission matched a known mistake."
                     "</td></tr>")
    for n, s, m in common[:20]:
        parts.append(f"<tr><td>{n}</td><td>{html.escape(s.assignment)}</td><td>{html.escape(s.test_id)}</td>"
                     f"<td>{html.escape(mistake_message(s.assignment, s.test_id, m, root))}</td></tr>")
    parts.append("</table><h2>Pass rate per check</h2><table><tr><th>assignment</th><th>check</th>"
                 "<th>points</th><th>pass rate</th><th></th></tr>")
    for s in stats:
        parts.append(f"<tr><td>{html.escape(s.assignment)}</td><td title='{html.escape(s.description)}'>"
                     f"{html.escape(s.test_id)}</td>"
                     f"<td>{s.points:g}</td><td>{100 * s.pass_rate:.0f}% ({s.passed}/{s.submissions})</td>"
                     f"<td><span class='bar' style='width:{120 * s.pass_rate:.0f}px'></span></td></tr>")
    parts.append("</table></body></html>")
    html_path.write_text("".join(parts))
    return html_path, csv_path


def command(args) -> int:
    """`mlkit class-report [--out DIR] [--course DIR]`: `write` the report into the course's DIR (reports/) and
    print the two files' paths."""
    root = course.find(args.course)
    for path in write(root, root / args.out):
        print(path)
    return 0
