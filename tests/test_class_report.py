"""The class report's wording where a table has nothing to show (the graded reports are in test_browser.py)."""

from __future__ import annotations

from mlkit import course
from mlkit.reports import classreport
from support import visible_text


def test_a_class_with_no_diagnosed_mistake_says_none_instead_of_an_empty_table(tmp_path):
    c = course.new_course(tmp_path / "course", ["01_linear_regression"])
    html_path, _ = classreport.write(c, c / "reports")
    text = visible_text(html_path.read_text())
    mistakes = text[text.index("Most common diagnosed mistakes"):text.index("Pass rate per check")]
    assert "None: no failed check of a graded submission matched a known mistake." in mistakes
    assert "0 graded submissions in 0 assignments." in text
    assert "mean automatic score (manual points not included)" in text  # beside nbgrader's totals, which count them


def test_counts_are_in_the_singular_for_one():
    assert classreport._count(1, "assignment") == "1 assignment"
    assert classreport._count(3, "graded submission") == "3 graded submissions"
