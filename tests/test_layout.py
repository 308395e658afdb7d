"""Course configurations written for the kit's old flat module names still load the same plug-ins."""

from __future__ import annotations

from traitlets.utils.importstring import import_item

from mlkit.grading import integrity
from mlkit.reports import export, feedback

# What an older nbgrader_config.py names, as nbgrader resolves it (traitlets' import_item).
OLD_NAMES = {
    "mlkit.integrity.TolerantNotebookExporter": integrity.TolerantNotebookExporter,
    "mlkit.integrity.RebuildFromRelease": integrity.RebuildFromRelease,
    "mlkit.integrity.ResilientExecute": integrity.ResilientExecute,
    "mlkit.integrity.ReadGradingIssues": integrity.ReadGradingIssues,
    "mlkit.integrity.RecordGradingIssues": integrity.RecordGradingIssues,
    "mlkit.integrity.LimitOutputSize": integrity.LimitOutputSize,
    "mlkit.feedback.AddCheckSummary": feedback.AddCheckSummary,
    "mlkit.feedback.RedactHiddenTests": feedback.RedactHiddenTests,
    "mlkit.export.GradesWithIssuesExportPlugin": export.GradesWithIssuesExportPlugin,
}


def test_old_plugin_names_are_the_same_classes():
    for name, cls in OLD_NAMES.items():
        assert import_item(name) is cls, name


def test_the_course_configuration_names_only_current_modules():
    from mlkit import course

    text = (course.ROOT / "nbgrader_config.py").read_text()
    for old in ("mlkit.integrity.", "mlkit.feedback.", "mlkit.export."):
        assert old not in text
