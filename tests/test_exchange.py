"""The course as it runs on one machine, through nbgrader's exchange, driven in a real browser.

One test walks the whole round trip:

1. the instructor runs `nbgrader generate_assignment` and `nbgrader release_assignment`;
2. the student, in her own JupyterLab, opens the Assignments tab, fetches the assignment, writes her
   answers (the explanation typed in the browser), validates the notebook and submits it;
3. the instructor runs `nbgrader collect` and `mlkit grade`, then grades the 60-second explanation by
   hand in nbgrader's formgrader (in the instructor's JupyterLab server), then runs
   `nbgrader generate_feedback` and `nbgrader release_feedback`;
4. the student fetches the feedback in the Assignments tab and opens it.

Both JupyterLab servers are real (`jupyter lab`), and headless Chromium is the system's, driven by
Playwright (nothing is downloaded).  Both run as the account running the tests, so that is the
student's name in the gradebook, as on any one-account machine; the student's server works in her
own folder, the instructor's in the course folder.  The exchange and the student's cache are folders of the test
(`c.Exchange.root`, `c.Exchange.cache` in a Jupyter configuration folder both sides read).  Screenshots
of every step are kept in test-artifacts/exchange-*.png.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from nbgrader.utils import get_username

from mlkit import course
from mlkit.authoring import catalog
from support import ARTIFACTS, CHROMIUM, JupyterLab, browser_page, gradebook_rows

pytestmark = [pytest.mark.skipif(CHROMIUM is None, reason="needs chromium"), pytest.mark.xdist_group("exchange")]
ASSIGNMENT = "01_linear_regression"
NOTEBOOK = "linear_regression"
STUDENT = get_username()  # nbgrader's exchange names a submission after the account that submits it
EXPLANATION_POINTS = 2.5  # what the instructor gives the explanation, out of 3
EXPLANATION = ("The loss is a convex quadratic in w and b, so wherever its gradient X^T r / n is zero is the "
               "global minimum; least squares solves for that point directly, and gradient descent walks to it "
               "when the step is small enough.")
INSTRUCTOR_COMMENT = "Right about convexity; say why the step size must stay below 2/L."


@pytest.fixture()
def one_machine(tmp_path, monkeypatch):
    """The course folder, the student's home and the exchange, with both sides' configuration."""
    exchange, cache, config = tmp_path / "exchange", tmp_path / "cache", tmp_path / "jupyter-config"
    for folder in (exchange, cache, config):
        folder.mkdir()
    exchange.chmod(0o1777)  # as `mlkit exchange init` makes it (sticky: nobody renames the course folder)
    (config / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.Exchange.root = {str(exchange)!r}\nc.Exchange.cache = {str(cache)!r}\n")
    for name, value in {"JUPYTER_CONFIG_DIR": config, "JUPYTER_RUNTIME_DIR": tmp_path / "runtime"}.items():
        monkeypatch.setenv(name, str(value))
    # JupyterLab's question about news would cover part of every screenshot.
    settings = tmp_path / "lab-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    monkeypatch.setenv("JUPYTERLAB_SETTINGS_DIR", str(tmp_path / "lab-settings"))
    root = course.new_course(tmp_path / "course", [ASSIGNMENT])
    home = tmp_path / "student"
    home.mkdir()
    return root, home, exchange, tmp_path


def _shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"exchange-{name}.png"))


def _open_assignments_tab(page) -> None:
    page.locator("div.lm-MenuBar-itemLabel", has_text="Nbgrader").click()
    page.locator('li[data-command="nbgrader:open-assignment-list"]').click()
    page.locator(".lm-TabBar-tabLabel", has_text="Assignments").first.wait_for()


def _rows(page, kind: str, count: int = 1, attempts: int = 20):
    """The rows of one list of the Assignments tab (released, fetched, submitted), refreshing until there."""
    rows = page.locator(f"#{kind}_assignments_list > .list_item")
    for _ in range(attempts):
        try:
            rows.nth(count - 1).wait_for(timeout=3_000)
            return rows
        except Exception:  # noqa: BLE001 -- not listed yet: ask the server again
            page.locator("#refresh_assignments_list").click()
    raise AssertionError(f"the {kind} list never showed {count} assignment(s)")


def _student_answers(fetched: Path) -> None:
    """The student's code: the reference implementation, as if pasted into the answer cells and saved."""
    nb = nbformat.read(fetched, as_version=4)
    nbformat.write(catalog.fill_answers(nb, catalog.reference_answers(ASSIGNMENT), ASSIGNMENT), fetched)


def _write_explanation(page, lab: JupyterLab, notebook: Path) -> None:
    """The student opens the notebook in JupyterLab, types the 60-second explanation and saves."""
    page.goto(lab.url(f"lab/tree/{ASSIGNMENT}/{NOTEBOOK}.ipynb"))
    cell = page.locator(".jp-Notebook .jp-MarkdownCell", has_text="YOUR ANSWER HERE").first
    cell.wait_for(timeout=90_000)
    cell.scroll_into_view_if_needed()
    cell.dblclick()  # a rendered Markdown cell opens its editor on double click
    editor = cell.locator(".cm-content")
    editor.wait_for()
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(EXPLANATION)
    page.keyboard.press("Control+Enter")  # render the cell in place
    page.keyboard.press("Control+s")
    _wait_for(lambda: EXPLANATION in notebook.read_text(), "JupyterLab did not save the explanation")


def test_release_fetch_submit_collect_grade_feedback(one_machine):
    from playwright.sync_api import sync_playwright

    root, home, exchange, work = one_machine
    ARTIFACTS.mkdir(exist_ok=True)
    env = dict(os.environ)

    # 1. The instructor releases the assignment into the exchange.
    course.nbgrader(root, "generate_assignment", ASSIGNMENT, "--force")
    course.nbgrader(root, "release_assignment", ASSIGNMENT, "--force")
    assert (exchange / "numpy-ml-from-scratch" / "outbound" / ASSIGNMENT / f"{NOTEBOOK}.ipynb").exists()

    student_lab = JupyterLab(home, env, work / "student-lab.log")
    instructor_lab = None
    try:
        with sync_playwright() as kit:
            browser, page = browser_page(kit)
            try:

                # 2. The student fetches, works, validates and submits, in the Assignments tab.
                page.goto(student_lab.url("lab"))
                page.wait_for_selector("#jp-main-dock-panel")
                _open_assignments_tab(page)
                released = _rows(page, "released")
                assert ASSIGNMENT in released.first.inner_text()
                _shot(page, "1-released")
                released.first.locator(".item_status button").click()
                _rows(page, "fetched")
                notebook = home / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
                assert notebook.exists()
                _student_answers(notebook)

                _write_explanation(page, student_lab, notebook)
                _shot(page, "2-working")

                _open_assignments_tab(page)
                _rows(page, "fetched").first.locator(f"a:text('{ASSIGNMENT}')").click()
                validate = page.locator("#fetched_assignments_list .item_status button", has_text="Validate").first
                validate.click()
                dialog = page.locator(".jp-Dialog")
                dialog.wait_for(timeout=180_000)
                verdict = dialog.inner_text()
                _shot(page, "3-validated")
                assert "Success" in verdict or "passes" in verdict, verdict
                dialog.locator(".jp-Dialog-button").last.click()

                _rows(page, "fetched").first.locator(".item_status button", has_text="Submit").click()
                _rows(page, "submitted")
                _shot(page, "4-submitted")

                # 3. The instructor collects, grades with mlkit grade, and grades the explanation by hand.
                course.nbgrader(root, "collect", ASSIGNMENT)
                assert (root / "submitted" / STUDENT / ASSIGNMENT / f"{NOTEBOOK}.ipynb").exists()
                graded = subprocess.run([sys.executable, "-m", "mlkit.cli", "grade", ASSIGNMENT, "--course",
                                         str(root)], capture_output=True, text=True, env=course.environment())
                assert graded.returncode == 0, graded.stdout + graded.stderr
                assert _explanation(root) == {"needs_manual_grade": 1, "manual_score": None,  # for the instructor
                                              "manual_comment": None}

                instructor_lab = JupyterLab(root, env, work / "instructor-lab.log")
                page.goto(instructor_lab.url("lab"))
                page.wait_for_selector("#jp-main-dock-panel")
                page.locator("div.lm-MenuBar-itemLabel", has_text="Nbgrader").click()
                page.locator('li[data-command="nbgrader:open-formgrader"]').click()
                page.locator(".lm-TabBar-tabLabel", has_text="Formgrader").first.wait_for()
                page.wait_for_selector("iframe")
                formgrader = _frame(page, "/formgrader")
                formgrader.goto(f"{instructor_lab.base}/formgrader/gradebook/{ASSIGNMENT}/{NOTEBOOK}")
                formgrader.locator("a.name-hidden").first.click()  # the one submission, name hidden
                score = formgrader.locator("input.score#explain")
                score.wait_for()
                formgrader.wait_for_load_state("networkidle")  # the page has loaded the grades it shows
                _enter(score, str(EXPLANATION_POINTS),
                       lambda: _explanation(root)["manual_score"] == EXPLANATION_POINTS, "the manual score")
                _enter(formgrader.locator("textarea#explain-comment"), INSTRUCTOR_COMMENT,
                       lambda: _explanation(root)["manual_comment"] == INSTRUCTOR_COMMENT, "the comment")
                score.scroll_into_view_if_needed()
                _shot(page, "5-formgrader-manual-grade")

                course.nbgrader(root, "generate_feedback", ASSIGNMENT)
                course.nbgrader(root, "release_feedback", ASSIGNMENT)

                # 4. The student fetches the feedback and reads it.
                page.goto(student_lab.url("lab"))
                page.wait_for_selector("#jp-main-dock-panel")
                if not page.locator("#submitted_assignments_list").count():
                    _open_assignments_tab(page)
                submitted = _rows(page, "submitted")
                submitted.first.locator("button", has_text="Fetch Feedback").click()
                fetched_feedback = lambda: sorted((home / ASSIGNMENT / "feedback").glob(f"*/{NOTEBOOK}.html"))  # noqa: E731
                _wait_for(fetched_feedback, "the feedback never arrived in the student's folder")
                page.locator("#submitted_assignments_list", has_text="view feedback").wait_for()
                _shot(page, "6-feedback-fetched")
                (feedback,) = fetched_feedback()
                page.goto(feedback.as_uri())
                page.wait_for_load_state("load")
                _shot(page, "7-feedback")
                text = page.inner_text("body")
            except Exception:
                _shot(page, "failed")  # where it stopped, for whoever reads the failure
                raise
            finally:
                browser.close()
    finally:
        student_lab.stop()
        if instructor_lab is not None:
            instructor_lab.stop()

    assert "Summary of the automatic checks" in text
    assert INSTRUCTOR_COMMENT in text
    assert "BEGIN HIDDEN TESTS" not in feedback.read_text()
    # The numbers the student must read: every automatic check passed (12 of 01's 12 automatic points), and
    # the total with the explanation's hand-given 2.5 of 3 points.
    assert "12 / 12 automatic points" in text
    assert f"{NOTEBOOK} (Score: 14.5 / 15.0)" in text
    assert sum(row[3] or 0 for row in gradebook_rows(root)) == 12, "the gradebook holds what the page shows"


def _explanation(root: Path) -> dict:
    """The explanation cell's grade and comment in the gradebook (nbgrader keeps them as two cells)."""
    rows = [row for row in gradebook_rows(root, [STUDENT]) if row[2] == "explain"]
    (grade,) = [row for row in rows if row[5] is not None]
    (comment,) = [row for row in rows if row[5] is None]
    return {"needs_manual_grade": grade[5], "manual_score": grade[4], "manual_comment": comment[7]}


def _frame(page, path: str):
    """The frame of the iframe JupyterLab opened for `path` (it shows the formgrader in an iframe).

    The iframe's own address says what it shows; its frame may still be loading on a machine busy with
    the rest of the suite, and the test goes on to navigate it anyway."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        for element in page.locator("iframe").element_handles():
            if path in (element.get_attribute("src") or ""):
                frame = element.content_frame()
                if frame is not None:
                    return frame
        time.sleep(0.2)
    raise AssertionError(f"no iframe shows {path}")


def _enter(field, value: str, saved, what: str) -> None:
    """Type into a formgrader field and leave it (the formgrader saves a field when it loses focus).

    A value typed while the page is still filling its fields from the gradebook is overwritten, as a
    person would see; they type it again, and so does this, until the gradebook has it."""
    for _ in range(5):
        field.fill(value)
        field.press("Tab")
        try:
            _wait_for(saved, "", seconds=10)
            return
        except AssertionError:
            continue
    raise AssertionError(f"{what} was not saved in the gradebook")


def _wait_for(condition, message: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(message)
        time.sleep(0.5)
