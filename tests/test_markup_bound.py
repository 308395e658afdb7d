"""A hostile explanation slows nobody else's feedback: the HTML cleaner gets bounded markup.

The cleaner parses as a browser does, in time that grows with the square of the nesting depth, so 1 MB of
nested `<div>` in one explanation took generate_feedback minutes.  The kit bounds what reaches it
(mlkit/reports/safehtml.py: size, nesting, count).  The class below is graded and its feedback written by the
real `nbgrader autograde` and `nbgrader generate_feedback`; each page's time is read from nbgrader's own log
(from "Converting notebook" to "Writing"), so hostile and honest pages are compared within one run:

* with the bounds, the pages of mallory (1 MB of nested `<div>`) and trudy (1 MB of other amplifiers: a
  reference link used thousands of times, thousands of distinct formulas, a table, emphasis soup) take no
  longer than an honest page, say below the cell what was not shown, and the honest pages say nothing;
* with the bounds switched off (tests/weakened.py), eve's page (a fifth of mallory's nesting, kept small so
  that the run costs seconds, not hours) takes several times an honest page.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from datetime import datetime
from pathlib import Path

import pytest

import weakened
from mlkit import course
from mlkit.authoring import catalog

ASSIGNMENT, NOTEBOOK = "01_linear_regression", "linear_regression"
OPENING = "My explanation of least squares."
WARM_UP = "aaron"  # honest, and converted first (nbgrader goes by name): the first page also loads the templates
HONEST = ("alice", "bob")
HOSTILE = {
    "mallory": OPENING + "\n\n" + "<div>" * 90_000 + "deep" + "</div>" * 90_000,  # 1 MB
    "trudy": OPENING + "\n\n" + "[a] " * 40_000 + "\n\n" + " ".join(f"$x_{{{i}}}$" for i in range(20_000))
    + "\n\n|a|b|\n|-|-|\n" + "|x|y|\n" * 20_000 + "*_" * 100_000 + "\n\n[a]: http://example.org/" + "x" * 50_000,
    "eve": OPENING + "\n\n" + "<div>" * 20_000 + "deep" + "</div>" * 20_000,  # 220 kB, for the run without bounds
}
LOG_FORMAT = ["--GenerateFeedbackApp.log_format=%(asctime)s.%(msecs)03d %(message)s",
              "--GenerateFeedbackApp.log_datefmt=%H:%M:%S"]
NOTICE = "Not shown from this cell"


def _graded_class(root: Path) -> Path:
    c = course.new_course(root / "course", [ASSIGNMENT])
    course.nbgrader(c, "generate_assignment", ASSIGNMENT, "--force")
    for student in (WARM_UP, *HONEST, *HOSTILE):
        nb = catalog.submission_notebook(ASSIGNMENT, catalog.reference_answers(ASSIGNMENT, root=c), root=c)
        (explain,) = [cell for cell in nb.cells if cell.metadata.get("nbgrader", {}).get("grade_id") == "explain"]
        explain.source = HOSTILE.get(student, OPENING)
        catalog.write_submission(c, student, ASSIGNMENT, nb, root=c)
    course.nbgrader(c, "autograde", ASSIGNMENT)
    return c


def _seconds_per_page(c: Path, *options: str, runs: int = 2) -> dict[str, float]:
    """How long each student's page took, from nbgrader's log, the least of `runs` runs of generate_feedback for
    the class (a busy machine only ever adds time)."""
    took = [_one_run(c, *options) for _ in range(runs)]
    return {student: min(run[student] for run in took) for student in took[0]}


def _one_run(c: Path, *options: str) -> dict[str, float]:
    log = course.nbgrader(c, "generate_feedback", ASSIGNMENT, "--force", *LOG_FORMAT, *options).stderr
    started, took = {}, {}
    for line in log.splitlines():
        event = re.match(r"(\d\d:\d\d:\d\d\.\d{3}) (Converting notebook|Writing \d+ bytes to) .*/"
                         r"(autograded|feedback)/([^/]+)/", line)
        if event:
            at = datetime.strptime(event.group(1), "%H:%M:%S.%f")
            if event.group(2).startswith("Converting"):
                started[event.group(4)] = at
            else:
                took[event.group(4)] = (at - started[event.group(4)]).total_seconds()
    return took


def _page(c: Path, student: str) -> str:
    return (c / "feedback" / student / ASSIGNMENT / f"{NOTEBOOK}.html").read_text()


@pytest.fixture(scope="module")
def runs():
    root = Path(tempfile.mkdtemp(prefix="mlkit-markup-bound-"))
    kit = _graded_class(root / "kit")
    unbounded = root / "unbounded" / "course"
    shutil.copytree(kit, unbounded)
    weakened.weaken(unbounded, {"markup_bound"})
    runs = {"kit": (kit, _seconds_per_page(kit)),
            # mallory and trudy are left out here: without the bounds their pages would take hours.
            "unbounded": (unbounded, _seconds_per_page(unbounded, "--CourseDirectory.student_id_exclude=mallory,trudy"))}
    yield runs
    shutil.rmtree(root, ignore_errors=True)


def test_every_page_is_written(runs):
    c, took = runs["kit"]
    assert set(took) == {WARM_UP, *HONEST, *HOSTILE}, took
    for student in (WARM_UP, *HONEST, *HOSTILE):
        assert OPENING in _page(c, student), student


@pytest.mark.parametrize("student", ["mallory", "trudy", "eve"])
def test_a_hostile_page_takes_no_longer_than_an_honest_one(runs, student):
    _, took = runs["kit"]
    honest = max(took[name] for name in HONEST)
    # An honest page takes under half a second; the slack is for a busy machine's noise, not for the attack
    # (without the bounds mallory's page alone took minutes, eve's several seconds).
    assert took[student] <= 2 * honest + 1.0, f"{student}'s page took {took[student]:.2f} s, an honest one {honest:.2f} s"


@pytest.mark.parametrize("student", ["mallory", "trudy", "eve"])
def test_what_was_cut_is_said_on_the_page(runs, student):
    c, _ = runs["kit"]
    page = _page(c, student)
    assert NOTICE in page and "The notebook itself has all of it" in page
    assert page.count("<div>") < 200  # the nesting that reached the page is bounded


def test_an_honest_page_is_not_cut(runs):
    c, _ = runs["kit"]
    for student in HONEST:
        assert NOTICE not in _page(c, student)


def test_without_the_bounds_a_hostile_page_is_slow(runs):
    """The attack is real: with the cleaner given the Markdown as it is, eve's page alone takes seconds."""
    c, took = runs["unbounded"]
    honest = max(took[name] for name in HONEST)
    assert took["eve"] >= 4 * honest + 1, f"eve's page took {took['eve']:.2f} s, an honest one {honest:.2f} s"
    assert NOTICE not in _page(c, "eve")
