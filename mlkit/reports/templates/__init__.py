"""HTML templates of the course's nbgrader pages (see `offline/`)."""

from __future__ import annotations

import os
from pathlib import Path

OFFLINE = "offline"  # nbgrader's feedback page without MathJax: formulas arrive as MathML


def basedirs() -> list[str]:
    """HTMLExporter.extra_template_basedirs for the course: this folder, and nbgrader's own
    (which holds the feedback template ours extends; nbgrader sets it only when the course does not)."""
    import nbgrader

    nbgrader_templates = Path(nbgrader.__file__).parent / "server_extensions" / "formgrader" / "templates"
    return [os.fspath(Path(__file__).parent), os.fspath(nbgrader_templates)]
