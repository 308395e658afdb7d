"""HTML templates of the course's nbgrader pages (see `offline/`)."""

from __future__ import annotations

import os
from pathlib import Path

OFFLINE = "offline"  # nbgrader's feedback page without MathJax: formulas arrive as MathML


def nbgrader_templates() -> str:
    """nbgrader's own template folder, which holds the feedback template ours extends."""
    import nbgrader

    return os.fspath(Path(nbgrader.__file__).parent / "server_extensions" / "formgrader" / "templates")


def basedirs() -> list[str]:
    """HTMLExporter.extra_template_basedirs for the course: this folder, and nbgrader's own
    (nbgrader sets it only when the course does not)."""
    return [os.fspath(Path(__file__).parent), nbgrader_templates()]
