"""The course configuration names the kit's plug-ins by modules and classes that exist."""

from __future__ import annotations

import re

from traitlets.utils.importstring import import_item


def test_the_course_configuration_names_only_current_modules():
    from mlkit import layout

    text = (layout.ROOT / "nbgrader_config.py").read_text()
    named = set(re.findall(r"[\"'](mlkit\.[\w.]+)[\"']", text))  # every plug-in nbgrader will import, commented ones too
    assert {"mlkit.grading.plugins.execute.ResilientExecute", "mlkit.reports.feedback.RedactHiddenTests",
            "mlkit.reports.export.GradesWithIssuesExportPlugin", "mlkit.grading.plugins.lmszip.CanvasCollector"} <= named
    missing = sorted(name for name in named if not _imports(name))
    assert missing == [], f"nbgrader_config.py names what the kit no longer has: {missing}"


def _imports(name: str) -> bool:
    try:
        import_item(name)
    except (ImportError, AttributeError):
        return False
    return True
