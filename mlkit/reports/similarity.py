"""Pairs of submissions whose answer code is suspiciously alike.

    mlkit similarity ASSIGNMENT [--archive FOLDER] [--out reports/] [--threshold 0.6]

What is compared: each submitted notebook's answer code, the sources of its code cells that nbgrader marks as
solution cells (`metadata.nbgrader.solution`), in notebook order.  Fingerprints are copydetect's: the code is
tokenised (Pygments), every name becomes one letter by kind, comments, blank lines and spacing drop out, and the
hashes of its k-grams (20 tokens) are its fingerprints, every one of them (see GUARANTEE).  Fingerprints that occur in the release's answer cells (the scaffold: class
and function headers, docstrings) or in the reference answers (the solution everyone is taught towards) are
boilerplate: dropped from every submission before comparing, so that neither the scaffold nor writing the
expected solution makes two students alike.

A pair's similarity is the larger of its two sides' shares: the tokens of one submission covered by fingerprints
the other also has, over its tokens that are not boilerplate.  Pairs are ranked by it; a pair at or above the
threshold is flagged.  Each submission of this class is compared with every other, and with every notebook of
earlier cohorts under `--archive` (any `<student>/<ASSIGNMENT>/*.ipynb` below it, e.g. an earlier course's
`submitted/`); archived notebooks are not compared among themselves.

The report (`similarity_<ASSIGNMENT>.html`, and `.csv`) shows the pairs ranked, each with both answers side by
side and the matched regions marked.  Everything a student wrote is escaped: it is shown, never run.
"""

from __future__ import annotations

import csv
import html
import io
from dataclasses import dataclass
from pathlib import Path

import nbformat
import numpy as np
from copydetect import CodeFingerprint, compare_files
from copydetect.utils import highlight_overlap

from mlkit import layout, nbcells
from mlkit.authoring import catalog

NOISE = 20          # tokens: a match shorter than this is never reported (copydetect's k)
# Every k-gram is a fingerprint (a winnowing window of 1): answers are short, and which k-grams a wider window
# keeps depends on the hashes, which Python salts per process; with it a pair's score moved by 0.2 between runs.
GUARANTEE = NOISE   # tokens: a match this long is always found (window = GUARANTEE - NOISE + 1)
THRESHOLD = 0.6     # similarity at which a pair is flagged (see the README for how it was chosen)


@dataclass(frozen=True)
class Submission:
    name: str       # the student's id, or "<cohort>/<student>" for an archived notebook
    code: str       # answer code: the solution cells' sources, one blank line apart
    archived: bool = False


@dataclass
class Pair:
    first: Submission
    second: Submission
    similarity: float                 # the larger of the two sides' shares, 0..1
    shares: tuple[float, float]       # each side's share of its non-boilerplate tokens found in the other
    matched_tokens: int
    regions: tuple[np.ndarray, np.ndarray]  # per side, 2 x m: starts and ends of the matched characters


def answer_code(nb) -> str:
    """The sources of a notebook's solution code cells (nbgrader metadata), in order."""
    cells = [cell.source for cell in nb.cells
             if cell.cell_type == "code" and nbcells.nbgrader_metadata(cell).get("solution")]
    return "\n\n".join(cells) + "\n"


def _fingerprint(name: str, code: str, boilerplate=None) -> CodeFingerprint:
    return CodeFingerprint(f"{name}.py", NOISE, GUARANTEE - NOISE + 1, boilerplate=boilerplate,
                           fp=io.StringIO(code))


def boilerplate(assignment: str, root: Path = layout.ROOT) -> np.ndarray:
    """Fingerprints of the release's answer cells and of the reference answers of `assignment`."""
    release = answer_code(nbformat.read(layout.notebook_path(assignment, "release", root), as_version=4))
    reference = "\n\n".join(catalog.reference_answers(assignment, root).values())
    return np.array(sorted(_fingerprint("release", release).hashes | _fingerprint("reference", reference).hashes))


def compare(first: Submission, second: Submission, prints: dict[str, CodeFingerprint]) -> Pair:
    """The similarity of two submissions from their fingerprints (`prints`, by name, boilerplate removed)."""
    matched, shares, slices = compare_files(prints[first.name], prints[second.name])
    shares = (float(shares[0]), float(shares[1]))
    return Pair(first, second, max(shares), shares, int(matched), (np.asarray(slices[0]), np.asarray(slices[1])))


def rank(submissions: list[Submission], assignment: str, root: Path = layout.ROOT) -> list[Pair]:
    """Every pair worth comparing (not two archived ones), most similar first."""
    common = boilerplate(assignment, root)
    prints = {s.name: _fingerprint(s.name, s.code, common) for s in submissions}
    pairs = []
    for i, first in enumerate(submissions):
        for second in submissions[i + 1:]:
            if first.archived and second.archived:
                continue
            pairs.append(compare(first, second, prints))
    return sorted(pairs, key=lambda p: (-p.similarity, p.first.name, p.second.name))


def class_submissions(root: Path, assignment: str) -> list[Submission]:
    """This class's submitted notebooks of `assignment` (course/submitted/<student>/<assignment>/*.ipynb); one
    that cannot be read as a notebook (the student's file, which may be anything) is skipped, and said."""
    from mlkit.grading import submission  # read as grading reads one: a regular file, within its bounds

    found = []
    for path in sorted((root / "submitted").glob(f"*/{assignment}/*.ipynb")):
        try:
            found.append(Submission(path.parent.parent.name, answer_code(submission.read_notebook(path))))
        except (OSError, ValueError, AttributeError, TypeError) as error:
            print(f"similarity: skipped {path}: {type(error).__name__}: {str(error)[:200]}")
    return found


def archived_submissions(archive: Path, assignment: str) -> list[Submission]:
    """Every `<student>/<assignment>/*.ipynb` below `archive`, named by its path from there (cohort and student)."""
    from mlkit.grading import submission

    found = []
    for path in sorted(archive.rglob(f"{assignment}/*.ipynb")):
        if ".ipynb_checkpoints" in path.parts:
            continue
        name = "/".join(path.parent.parent.relative_to(archive).parts) or path.parent.parent.name
        try:
            found.append(Submission(f"archive:{name}", answer_code(submission.read_notebook(path)), archived=True))
        except (OSError, ValueError, AttributeError, TypeError) as error:  # an unreadable archived notebook is skipped, and said
            print(f"similarity: skipped {path}: {error}")
    return found


def _side(submission: Submission, regions: np.ndarray) -> str:
    if regions.size:
        marked, _ = highlight_overlap(submission.code, regions, "<mark>", "</mark>", escape_html=True)
    else:
        marked = html.escape(submission.code)
    return f"<td><div class='who'>{html.escape(submission.name)}</div><pre>{marked}</pre></td>"


def report_html(assignment: str, pairs: list[Pair], threshold: float, shown: int = 50) -> str:
    """The ranked pairs, the flagged ones (and at least the first ten) with both answers side by side."""
    flagged = [p for p in pairs if p.similarity >= threshold]
    rows = "".join(
        f"<tr class='{'flagged' if p.similarity >= threshold else ''}'><td>{rank}</td>"
        f"<td><a href='#pair-{rank}'>{html.escape(p.first.name)} &amp; {html.escape(p.second.name)}</a></td>"
        f"<td>{p.similarity:.2f}</td><td>{p.shares[0]:.2f} / {p.shares[1]:.2f}</td><td>{p.matched_tokens}</td></tr>"
        for rank, p in enumerate(pairs[:shown], 1))
    details = "".join(
        f"<h3 id='pair-{rank}'>{rank}. {html.escape(p.first.name)} &amp; {html.escape(p.second.name)}: "
        f"{p.similarity:.2f}</h3><table class='side'><tr>{_side(p.first, p.regions[0])}"
        f"{_side(p.second, p.regions[1])}</tr></table>"
        for rank, p in enumerate(pairs[:max(len(flagged), min(10, len(pairs)))], 1))
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Similar answers: "
        f"{html.escape(assignment)}</title><style>body {{ font-family: sans-serif; margin: 2em; }}"
        "table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: 4px 8px; text-align: left;"
        " vertical-align: top; } tr.flagged { background: #fff0f0; } table.side { width: 100%; table-layout: fixed; }"
        " pre { white-space: pre-wrap; font-size: 12px; margin: 0; } mark { background: #ffd966; }"
        " .who { font-weight: bold; margin-bottom: 4px; }</style></head><body>"
        f"<h1>Similar answers: {html.escape(assignment)}</h1>"
        f"<p>{len(pairs)} pairs compared; {len(flagged)} at or above {threshold:.2f} (flagged). Similarity: the larger "
        "share of either answer's code, past the release's scaffold and the reference answers, found in the other "
        "(names, comments and spacing ignored). Marked: the matched regions. A high score asks for a look, not a "
        "verdict.</p><table><tr><th>rank</th><th>pair</th><th>similarity</th><th>shares</th>"
        f"<th>matched tokens</th></tr>{rows}</table>{details}</body></html>")


def write(root: Path, assignment: str, out: Path, archive: Path | None = None,
          threshold: float = THRESHOLD) -> tuple[Path, Path, list[Pair]]:
    """Rank this class's submissions of `assignment` (and the archive's) and write the HTML and CSV reports."""
    submissions = class_submissions(root, assignment)
    if archive is not None:
        submissions += archived_submissions(archive, assignment)
    pairs = rank(submissions, assignment, root)
    out.mkdir(parents=True, exist_ok=True)
    html_path, csv_path = out / f"similarity_{assignment}.html", out / f"similarity_{assignment}.csv"
    html_path.write_text(report_html(assignment, pairs, threshold))
    with csv_path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["rank", "first", "second", "similarity", "first_share", "second_share", "matched_tokens",
                         "flagged"])
        for number, p in enumerate(pairs, 1):
            writer.writerow([number, p.first.name, p.second.name, f"{p.similarity:.3f}", f"{p.shares[0]:.3f}",
                             f"{p.shares[1]:.3f}", p.matched_tokens, int(p.similarity >= threshold)])
    return html_path, csv_path, pairs


def command(args) -> int:
    """`mlkit similarity ASSIGNMENT [--archive DIR] [--threshold T] [--out DIR] [--course DIR]`: write the reports
    and print the flagged pairs.  Exit 2 when the archive or the assignment's release is missing."""
    from mlkit import course

    root = course.find(args.course)
    assignment, out = layout.resolve_assignment(args.assignment, root), root / args.out
    archive, threshold = args.archive, THRESHOLD if args.threshold is None else args.threshold
    if archive is not None and not Path(archive).is_dir():
        print(f"mlkit similarity: no archive folder {archive}")
        return 2
    if not any((root / "release" / assignment).glob("*.ipynb")):
        # The release's answer cells are the scaffold every submission shares.
        print(f"mlkit similarity: {assignment} has no release in {root / 'release'}: run `mlkit release` first")
        return 2
    html_path, csv_path, pairs = write(root, assignment, out, Path(archive) if archive else None, threshold)
    flagged = [p for p in pairs if p.similarity >= threshold]
    print(f"{assignment}: {len(pairs)} pairs compared, {len(flagged)} at or above {threshold:.2f}")
    for p in flagged:
        print(f"  {p.similarity:.2f}  {p.first.name}  {p.second.name}")
    print(html_path)
    print(csv_path)
    return 0
