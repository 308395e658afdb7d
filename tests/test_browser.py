"""The three reports rendered in headless Chromium: the summary table and the chart are on screen.

Screenshots are kept in test-artifacts/ for a person to look at.
"""

from __future__ import annotations

import pytest

import nbformat

from mlkit import catalog, classreport
from support import CHROMIUM, graded_catalog, hidden_test_lines, ink, render, visible_text

pytestmark = [pytest.mark.skipif(CHROMIUM is None, reason="needs chromium"),
              pytest.mark.xdist_group("01_linear_regression")]


def test_feedback_report_shows_the_summary_table():
    graded = graded_catalog("01_linear_regression")
    (page,) = (graded.course / "feedback" / "mutant-gradient_sign_flipped" / "01_linear_regression").glob("*.html")
    pixels, dom = render(page, "feedback-01-gradient-sign-flipped")
    assert "mlkit-summary-table" in dom and "The update moves uphill" in dom
    assert ink(pixels) > 0.02  # the table is drawn in the first screen, not a blank page


def test_class_report_shows_the_chart_and_no_hidden_test():
    graded = graded_catalog("01_linear_regression")
    html_path, csv_path = classreport.write(graded.course, graded.course / "reports")
    pixels, dom = render(html_path, "class-report-01")
    assert "<svg" in dom and "Most common diagnosed mistakes" in dom
    top = pixels[100:450]  # where the chart sits under the title
    assert ink(top) > 0.02
    secret = hidden_test_lines(nbformat.read(catalog.notebook_path("01_linear_regression"), as_version=4))
    for page in (html_path, csv_path):
        text = visible_text(page.read_text()) if page.suffix == ".html" else page.read_text()
        assert not [line for line in secret if line in text]


def test_class_report_counts_match_the_gradebook():
    graded = graded_catalog("01_linear_regression")
    _, csv_path = classreport.write(graded.course, graded.course / "reports")
    import csv

    rows = {row["check"]: row for row in csv.DictReader(csv_path.open())}
    for check, row in rows.items():
        passed = sum(1 for grade in graded.grades.values() if grade.cells[check] == float(row["points"]))
        assert int(row["passed"]) == passed and int(row["submissions"]) == len(graded.grades)
