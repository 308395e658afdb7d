"""Grading the implementation catalog through the real nbgrader pipeline, once per assignment."""

from __future__ import annotations

import functools
import html
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import numpy as np

from mlkit import course, layout, nbcells
from mlkit.authoring import catalog


@dataclass
class GradedCatalog:
    assignment: str
    course: Path
    grades: dict[str, course.NotebookGrade]  # submission name -> grade
    entries: dict[str, dict | None]

    def feedback_html(self, student: str) -> str:
        (path,) = (self.course / "feedback" / student / self.assignment).glob("*.html")
        return path.read_text()

    def autograded(self, student: str):
        (path,) = (self.course / "autograded" / student / self.assignment).glob("*.ipynb")
        return nbformat.read(path, as_version=4)


WORK = Path(tempfile.mkdtemp(prefix="mlkit-tests-"))


@functools.cache
def graded_catalog(assignment: str) -> GradedCatalog:
    """Autograde and write feedback for every catalogued submission of `assignment` in a fresh course."""
    c = course.new_course(WORK / assignment, [assignment])
    course.nbgrader(c, "generate_assignment", assignment, "--force")
    entries = catalog.catalog_answers(assignment, root=c)
    for name, answers in entries.items():
        catalog.write_submission(c, name, assignment, catalog.submission_notebook(assignment, answers, root=c), root=c)
    course.nbgrader(c, "autograde", assignment)
    course.nbgrader(c, "generate_feedback", assignment)
    grades = {student: per[assignment] for student, per in course.gradebook(c).items()}
    return GradedCatalog(assignment, c, grades, entries)


class _Text(HTMLParser):
    """Collects text a reader sees: everything between tags except inside <style> and <script>."""

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag, attrs):
        self.skipping += tag in ("style", "script")

    def handle_endtag(self, tag):
        self.skipping -= tag in ("style", "script") and self.skipping > 0

    def handle_data(self, data):
        if not self.skipping:
            self.parts.append(data)


def visible_text(page: str) -> str:
    """What a reader of an HTML page can see or select: the text between tags, unescaped."""
    parser = _Text()
    parser.feed(page)
    return html.unescape("".join(parser.parts))


def hidden_test_lines(nb) -> list[str]:
    """Every non-trivial line inside a hidden-test region of a notebook's test cells."""
    lines, hiding = [], False
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for line in cell.source.splitlines():
            stripped = line.strip()
            if stripped == "### BEGIN HIDDEN TESTS":
                hiding = True
            elif stripped == "### END HIDDEN TESTS":
                hiding = False
            elif hiding and len(stripped) >= 16 and not re.fullmatch(r"[#\s\w]*", stripped):
                lines.append(stripped)
    return lines


def load_reference(assignment: str) -> dict:
    """Run the source notebook's setup and answer cells (solutions in) in-process; returns its namespace."""
    nb = nbformat.read(layout.notebook_path(assignment), as_version=4)
    namespace: dict = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and not meta.get("grade") and meta.get("locked") or meta.get("solution") and cell.cell_type == "code":
            exec(compile(nbcells.strip_solution_markers(cell.source), f"<{assignment}:{meta['grade_id']}>", "exec"), namespace)
    return namespace


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = layout.ROOT / "test-artifacts"  # screenshots, for a person to look at


def render(page: Path, name: str, height: int = 1200) -> tuple[np.ndarray, str]:
    """Screenshot of the page's first `height` pixels, and the DOM after rendering."""
    ARTIFACTS.mkdir(exist_ok=True)
    from PIL import Image

    shot = ARTIFACTS / f"{name}.png"
    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tempfile.mkdtemp()}", f"--window-size=1280,{height}", "--hide-scrollbars"]
    subprocess.run([*flags, f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=120, check=True)
    dom = subprocess.run([*flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120).stdout
    return np.asarray(Image.open(shot).convert("L")), dom


def ink(pixels: np.ndarray) -> float:
    """Share of pixels that are not background white."""
    return float(np.mean(pixels < 200))


def gradebook_rows(root: Path, students: list[str] | None = None, db_url: str | None = None) -> list[tuple]:
    """Every grade and comment of every submission in a course's gradebook (optionally only `students`).

    The gradebook is nbgrader's SQLite file at `root` unless `db_url` names another database; values
    come out the same from either (PostgreSQL's booleans as 0 and 1, as SQLite stores them)."""
    import sqlalchemy

    query = sqlalchemy.text("""
        select s.student_id, a.name, c.name, g.auto_score, g.manual_score, g.needs_manual_grade,
               k.auto_comment, k.manual_comment
        from submitted_assignment s
        join assignment a on a.id = s.assignment_id
        join submitted_notebook n on n.assignment_id = s.id
        join base_cell c on c.notebook_id = n.notebook_id
        left join grade g on g.notebook_id = n.id and g.cell_id = c.id
        left join comment k on k.notebook_id = n.id and k.cell_id = c.id
        order by 1, 2, 3""")
    engine = sqlalchemy.create_engine(db_url or f"sqlite:///{root / 'gradebook.db'}")
    try:
        with engine.connect() as connection:
            rows = connection.execute(query).fetchall()
    finally:
        engine.dispose()
    rows = sorted((tuple(int(value) if isinstance(value, bool) else value for value in row) for row in rows),
                  key=lambda row: [str(value) for value in row])  # one order whatever the database's collation
    return [row for row in rows if students is None or row[0] in students]


def browser_page(playwright):
    """(browser, page): the system's headless Chromium (nothing is downloaded) and a page the size of a laptop's."""
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(60_000)
    return browser, page


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class JupyterLab:
    """A real `jupyter lab` server working in `folder`, on a free port with a random token (the browser tests)."""

    def __init__(self, folder: Path, env: dict[str, str], log: Path):
        self.port, self.token = _free_port(), secrets.token_hex(16)
        env = {**env, "JUPYTERLAB_WORKSPACES_DIR": str(log.with_suffix(".workspaces"))}  # each its own layout
        self.process = subprocess.Popen(
            [str(Path(sys.executable).parent / "jupyter"), "lab", "--no-browser", "--allow-root",
             f"--port={self.port}", "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={self.token}",
             f"--ServerApp.root_dir={folder}", "--LabApp.news_url="],
            cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=open(log, "w"), start_new_session=True)
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"{self.base}/api/status?token={self.token}", timeout=2)
                return
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"JupyterLab did not start; see {log}")
                time.sleep(0.5)

    def url(self, path: str) -> str:
        return f"{self.base}/{path}{'&' if '?' in path else '?'}token={self.token}"

    def stop(self) -> None:
        try:
            os.killpg(self.process.pid, 9)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=30)


DOCS = Path(__file__).resolve().parent.parent / "docs"


def doc_commands(page: str, name: str) -> list[str]:
    """The commands of the block marked `<!-- runs: NAME, ... -->` in docs/PAGE, in order.

    Comments (after two spaces and a `#`) and blank lines are dropped, so a test runs what a reader would paste.
    """
    text = (DOCS / page).read_text()
    block = text[text.index(f"<!-- runs: {name},"):]
    block = block[block.index("```bash\n") + len("```bash\n"):]
    block = block[:block.index("```")]
    lines = []
    for line in block.splitlines():
        command = line.split("  #", 1)[0].strip()
        if command and not command.startswith("#"):
            lines.append(command)
    return lines
