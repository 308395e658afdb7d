"""The student-facing API document travels with the repository and matches the course's shared copy."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mlkit import layout

SPEC = layout.ROOT / "SPEC.md"
SHARED = layout.ROOT.parent / "shared" / "SPEC.md"


@pytest.mark.skipif(not SHARED.exists(), reason="no shared copy beside this checkout")
def test_repository_copy_is_identical_to_the_shared_one():
    assert SPEC.read_bytes() == SHARED.read_bytes(), "copy ../shared/SPEC.md over SPEC.md"


def test_every_assignment_has_its_section_and_notebook_name():
    text = SPEC.read_text()
    for assignment in layout.assignments():
        section = re.search(rf"^## {assignment} — `(\w+\.ipynb)`", text, re.M)
        assert section, f"SPEC.md has no section for {assignment}"
        assert layout.notebook_path(assignment).name == section.group(1)


def test_nothing_points_outside_the_repository():
    for path in [layout.ROOT / "README.md", *Path(layout.ROOT / "docs").rglob("*.md"), *Path(layout.ROOT / "mlkit").rglob("*.py")]:
        assert "../shared" not in path.read_text(), path
