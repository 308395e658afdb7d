"""Grading from inside JupyterLab, in a real browser: a learner's practice notebook graded by its own last cell.

A JupyterLab server is started on the learner's workspace, headless Chromium
(the system's, driven by Playwright; nothing is downloaded) opens the
practice notebook that `mlkit practice` wrote, and the learner runs the
notebook's last cell.  The cell's output must be the same summary
`mlkit selfgrade` prints, and the attempt must be in the history.
The screenshot is kept in test-artifacts/.
"""

from __future__ import annotations

import os
import time

import nbformat
import pytest

from mlkit.authoring import catalog
from mlkit.study import history as histories
from mlkit.study import practice
from support import ARTIFACTS, CHROMIUM, JupyterLab

pytestmark = [pytest.mark.skipif(CHROMIUM is None, reason="needs chromium"), pytest.mark.xdist_group("jupyterlab")]
ASSIGNMENT = "07_knn"


@pytest.fixture()
def lab(tmp_path):
    """A JupyterLab server on a learner's workspace holding a completed interview-level practice notebook."""
    workspace = tmp_path / "workspace"
    session = practice.start(workspace, ASSIGNMENT, mock=True)
    nb = nbformat.read(session.notebook, as_version=4)  # what the learner typed:
    nbformat.write(catalog.fill_answers(nb, catalog.reference_answers(ASSIGNMENT), ASSIGNMENT), session.notebook)
    env = {**os.environ, "MLKIT_SELFSTUDY": str(workspace), "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    try:
        server = JupyterLab(workspace, env, tmp_path / "jupyterlab.log")
    except RuntimeError as error:
        pytest.fail(str(error))
    relative = session.notebook.relative_to(workspace).as_posix()
    yield workspace, server.url(f"lab/tree/{relative}"), session
    server.stop()


def test_the_last_cell_grades_the_notebook_in_jupyterlab(lab):
    from playwright.sync_api import sync_playwright

    workspace, url, session = lab
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as browser_kit:
        browser = browser_kit.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(url)
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=90_000)
            # The kernel is up once the status bar says so; then the learner runs the notebook's last cell.
            page.locator(".jp-StatusBar-Widget", has_text="Idle").first.wait_for(timeout=90_000)
            last = page.locator(".jp-Notebook .jp-CodeCell").last
            output = last.locator(".jp-OutputArea-output")
            prompt = last.locator(".jp-InputPrompt")
            deadline = time.monotonic() + 90
            # A run asked for before the browser's kernel connection is up is dropped: ask until it starts.
            while prompt.inner_text().strip() == "[ ]:" and time.monotonic() < deadline:
                last.locator(".cm-content").click()
                page.keyboard.press("Control+Enter")  # run in place
                for _ in range(10):
                    if prompt.inner_text().strip() != "[ ]:":
                        break
                    time.sleep(0.5)
            try:
                output.filter(has_text="automatic points").first.wait_for(timeout=120_000)
            finally:
                page.screenshot(path=str(ARTIFACTS / "jupyterlab-grade-this-notebook.png"))
            page.wait_for_function("() => document.body.innerText.includes('Study dashboard')", timeout=60_000)
            last.scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "jupyterlab-grade-this-notebook.png"))
            text = output.all_inner_texts()
        finally:
            browser.close()
    printed = "\n".join(text)
    assert f"{ASSIGNMENT}: 16 / 16 automatic points" in printed
    assert "interview level" in printed and "within time" in printed
    attempt = histories.load(workspace).attempts[-1]
    assert attempt.assignment == ASSIGNMENT and attempt.level == "interview" and attempt.perfect
