"""Student-written text is inert in every page a person opens, and keeps its formatting (headless Chromium).

A student's 60-second explanation carries payloads of several kinds beside honest formatting (a heading, a
list, emphasis, code and a formula).  The class is graded with the real `nbgrader autograde`; the submission
is opened in the real formgrader, served by a real `jupyter lab` in the course folder (the page an instructor
opens with their own session), and the feedback page `nbgrader generate_feedback` writes is opened too.
No payload may run, cover the page or leave a frame, form, object or embed behind, and the answer's text and
formatting must still show.  The same course with the kit's HTML cleaning switched off shows that each
check can fail: there the payloads run.  Screenshots: test-artifacts/pages-*.png.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

from mlkit import course
from mlkit.authoring import catalog
from mlkit.grading.sandbox import launcher as sandbox
from support import ARTIFACTS, CHROMIUM, JupyterLab, browser_page

pytestmark = [pytest.mark.skipif(CHROMIUM is None, reason="needs chromium"),
              pytest.mark.skipif(sandbox.detect().name == "none", reason="grading needs the sandbox"),
              pytest.mark.xdist_group("pages")]
ASSIGNMENT, NOTEBOOK, STUDENT = "01_linear_regression", "linear_regression", "mallory"
RAN = "(top.__mlkit_ran = (top.__mlkit_ran || []).concat(['{}']))"  # what a payload does when it runs
ANSWER = f"""# Why least squares works

The loss is **convex** in `w`, so its stationary point is the *global* minimum:

- the gradient is $X^T (Xw - y) / n$;
- setting it to zero gives the normal equations.

<script>{RAN.format("script")}</script>
<img src="missing.png" onerror="{RAN.format("onerror")}">
<svg onload="{RAN.format("svg")}"><circle r="5"></circle></svg>
<a class="mlkit-payload-link" href="javascript:{RAN.format("javascript-link")}">read more</a>
<iframe srcdoc="<script>{RAN.format("iframe")}</script>"></iframe>
<form action="/api/contents" method="post"><button>send</button></form>
<object data="data:text/html,x"></object><embed src="data:text/html,x">
<div style="position: fixed; top: 0; left: 0; width: 100%; height: 100%; background: red; z-index: 99999">covered</div>
<style>h1 {{ display: none; }}</style>
"""


def _course(root: Path, cleaned: bool) -> Path:
    c = course.new_course(root / "course", [ASSIGNMENT])
    if not cleaned:
        with open(c / "nbgrader_config.py", "a") as config:
            config.write("\n# the kit's HTML cleaning switched off\nc.HTMLExporter.filters = {}\n"
                         "c.HTMLExporter.sanitize_html = False\n")
    course.nbgrader(c, "generate_assignment", ASSIGNMENT, "--force")
    nb = catalog.submission_notebook(ASSIGNMENT, catalog.reference_answers(ASSIGNMENT, root=c), root=c)
    (explain,) = [cell for cell in nb.cells if cell.metadata.get("nbgrader", {}).get("grade_id") == "explain"]
    explain.source = ANSWER
    catalog.write_submission(c, STUDENT, ASSIGNMENT, nb, root=c)
    course.nbgrader(c, "autograde", ASSIGNMENT)
    course.nbgrader(c, "generate_feedback", ASSIGNMENT)
    return c


def _what_shows(page) -> dict:
    """What ran, what was left in the page, and what of the answer's text and formatting shows."""
    page.wait_for_timeout(1500)  # an image's error handler, an onload, a frame's script
    # The student's link is followed as a click on it would (a covering element would take a real click).
    page.evaluate("""() => [...document.querySelectorAll('a')].filter(a => a.textContent === 'read more')
                             .forEach(a => a.click())""")
    page.wait_for_timeout(500)
    return page.evaluate("""() => {
        const answer = [...document.querySelectorAll('h1')].find(h => h.textContent.includes('least squares'));
        const middle = document.elementFromPoint(innerWidth / 2, innerHeight / 2);
        return {
            ran: top.__mlkit_ran || [],
            left: document.querySelectorAll('iframe[srcdoc], form[action="/api/contents"], object, embed').length,
            covered: !!middle && middle.textContent.trim() === 'covered',
            heading_shows: !!answer && getComputedStyle(answer).display !== 'none',
            text: document.body.innerText,
            formatting: ['li', 'strong', 'em', 'code'].filter(t => document.querySelector(t)),
        };
    }""")


def _scroll_to_answer(page) -> None:
    page.evaluate("""() => { const h = [...document.querySelectorAll('h1')].find(
        h => h.textContent.includes('least squares')); if (h) h.scrollIntoView(); }""")


def _formgrader_and_feedback(c: Path, tag: str) -> dict:
    from playwright.sync_api import sync_playwright

    with Gradebook(f"sqlite:///{c / 'gradebook.db'}") as gb:
        submission_id = gb.find_submission_notebook(NOTEBOOK, ASSIGNMENT, STUDENT).id
    feedback = c / "feedback" / STUDENT / ASSIGNMENT / f"{NOTEBOOK}.html"
    lab = JupyterLab(c, dict(os.environ), c.parent / f"lab-{tag}.log")
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        with sync_playwright() as kit:
            browser, page = browser_page(kit)
            try:
                page.goto(lab.url("lab"))  # the instructor's session, as they log in
                page.wait_for_selector("#jp-main-dock-panel")
                page.goto(f"{lab.base}/formgrader/submissions/{submission_id}")
                page.wait_for_load_state("load")
                _scroll_to_answer(page)
                shown = {"formgrader": _what_shows(page)}
                page.screenshot(path=str(ARTIFACTS / f"pages-{tag}-formgrader.png"))
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.goto(feedback.as_uri())
                page.wait_for_load_state("load")
                _scroll_to_answer(page)
                shown["feedback"] = _what_shows(page)
                page.screenshot(path=str(ARTIFACTS / f"pages-{tag}-feedback.png"))
            finally:
                browser.close()
    finally:
        lab.stop()
    return shown


@pytest.fixture(scope="module")
def pages():
    root = Path(tempfile.mkdtemp(prefix="mlkit-pages-"))
    return {tag: _formgrader_and_feedback(_course(root / tag, cleaned=tag == "kit"), tag)
            for tag in ("kit", "weakened")}


@pytest.mark.parametrize("where", ["formgrader", "feedback"])
def test_no_payload_runs_or_stays_and_the_answer_keeps_its_formatting(pages, where):
    shown = pages["kit"][where]
    assert shown["ran"] == [], f"student HTML ran in the {where} page: {shown['ran']}"
    assert shown["left"] == 0, "a frame, form, object or embed of the student's is in the page"
    assert not shown["covered"], "the student's element covers the page"
    assert shown["heading_shows"], "the student's style hid part of the page"
    assert "Why least squares works" in shown["text"] and "normal equations" in shown["text"]
    assert "read more" in shown["text"] and "covered" in shown["text"]  # what was dropped keeps its text
    assert shown["formatting"] == ["li", "strong", "em", "code"]


@pytest.mark.parametrize("where", ["formgrader", "feedback"])
def test_the_payloads_run_with_the_cleaning_switched_off(pages, where):
    """The attack is real: with nbconvert's rendering as it is, the answer's HTML runs in the page."""
    shown = pages["weakened"][where]
    assert {"script", "onerror", "javascript-link"} <= set(shown["ran"]), shown["ran"]
    assert shown["left"] > 0 and shown["covered"] and not shown["heading_shows"]


def test_feedback_formulas_are_still_mathml(pages):
    feedback = next(Path(tempfile.gettempdir()).glob("mlkit-pages-*/kit/course/feedback/*/*/*.html"), None)
    assert feedback is not None
    assert "<math" in feedback.read_text() and "<script" not in feedback.read_text().split("</head>", 1)[1]
