"""The documentation site: it builds strictly, every page is reachable, and the commands it shows are run.

Every ```bash block in README.md and docs/ carries a marker on the line before it: either
`<!-- runs: NAME, TESTFILE -->`, where TESTFILE reads the block by NAME (support.doc_commands) and runs it, or
`<!-- not run by the suite...: REASON -->`. A block without one fails here, so a command cannot enter the
documentation without a decision about who runs it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from mlkit import course, layout

import support

ROOT = layout.ROOT
PAGES = [ROOT / "README.md", *sorted(support.DOCS.rglob("*.md"))]
MARKER = re.compile(r"<!-- (runs: (?P<name>[\w-]+), (?P<file>[\w./-]+)|not run by the suite[^:]*: .+) -->")


def _bash_blocks(page: Path) -> list[tuple[int, str]]:
    """(line number, the line before it) of every ```bash block of PAGE."""
    lines = page.read_text().splitlines()
    return [(number + 1, lines[number - 1] if number else "") for number, line in enumerate(lines)
            if line.startswith("```bash")]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_command_block_says_who_runs_it(page):
    for number, before in _bash_blocks(page):
        marker = MARKER.fullmatch(before.strip())
        assert marker, f"{page.relative_to(ROOT)}:{number}: a ```bash block needs <!-- runs: NAME, TESTFILE --> " \
                       "or <!-- not run by the suite: REASON --> on the line before it"
        if marker["name"]:
            runner = ROOT / marker["file"]
            assert runner.is_file(), f"{page.relative_to(ROOT)}:{number}: {marker['file']} does not exist"
            assert f'"{marker["name"]}"' in runner.read_text(), \
                f"{marker['file']} never reads the block {marker['name']!r} of {page.relative_to(ROOT)}"


def test_the_site_builds_strictly(tmp_path):
    """Broken links, missing anchors and pages left out of the navigation fail the build (mkdocs.yml: strict)."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                            cwd=ROOT, capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr[-4000:]
    assert (tmp_path / "site" / "security" / "threat-model" / "index.html").is_file()


def test_the_readme_is_short_and_links_every_reader():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 150
    for page in ("instructor/workflow.md", "student.md", "self-study.md", "authoring/new-notebook.md",
                 "security/threat-model.md", "contributing/architecture.md"):
        assert f"(docs/{page})" in text, page
    for link in re.findall(r"\]\((docs/[^)#]+)", text):
        assert (ROOT / link).exists(), link


def test_a_notebook_goes_to_text_and_back_unchanged(tmp_path):
    """The workflow page's two commands for authoring a notebook as text, run as they stand in a course copy."""
    assignment = "01_linear_regression"
    shutil.copytree(ROOT / "source" / assignment, tmp_path / "source" / assignment)
    notebook = tmp_path / layout.notebook_path(assignment).relative_to(ROOT)
    before = nbformat.read(notebook, as_version=4)
    commands = support.doc_commands("instructor/workflow.md", "notebook-as-text")
    assert [c.split()[:4] for c in commands] == [["python", "-m", "mlkit.authoring.nbtext", "to-text"],
                                                 ["python", "-m", "mlkit.authoring.nbtext", "to-notebook"]]
    env = {**course.environment(), "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for command in commands:
        subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env, check=True, capture_output=True)
    after = nbformat.read(notebook, as_version=4)
    assert [(c.cell_type, c.source, c.metadata.get("nbgrader")) for c in after.cells] == \
           [(c.cell_type, c.source, c.metadata.get("nbgrader")) for c in before.cells]
