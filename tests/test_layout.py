"""The course configuration names the kit's plug-ins by their modules in the workflow folders."""

from __future__ import annotations

from traitlets.utils.importstring import import_item


def test_the_course_configuration_names_only_current_modules():
    from mlkit import layout

    text = (layout.ROOT / "nbgrader_config.py").read_text()
    for old in ("mlkit.integrity.", "mlkit.feedback.", "mlkit.export."):
        assert old not in text
    for name in ("mlkit.grading.plugins.execute.ResilientExecute", "mlkit.reports.feedback.RedactHiddenTests",
                 "mlkit.reports.export.GradesWithIssuesExportPlugin"):
        assert name in text and import_item(name)
