"""The three reports rendered in headless Chromium: the summary table and the chart are on screen.

Screenshots are kept in test-artifacts/ for a person to look at.
"""

from __future__ import annotations

import pytest

from mlkit import classreport
from support import CHROMIUM, graded_catalog, ink, render

pytestmark = [pytest.mark.skipif(CHROMIUM is None, reason="needs chromium"),
              pytest.mark.xdist_group("01_linear_regression")]


def test_feedback_report_shows_the_summary_table():
    graded = graded_catalog("01_linear_regression")
    (page,) = (graded.course / "feedback" / "mutant-gradient_sign_flipped" / "01_linear_regression").glob("*.html")
    pixels, dom = render(page, "feedback-01-gradient-sign-flipped")
    assert "mlkit-summary-table" in dom and "The update moves uphill" in dom
    assert ink(pixels) > 0.02  # the table is drawn in the first screen, not a blank page


def test_class_report_shows_the_chart():
    graded = graded_catalog("01_linear_regression")
    html_path, _ = classreport.write(graded.course, graded.course / "reports")
    pixels, dom = render(html_path, "class-report-01")
    assert "<svg" in dom and "Most common diagnosed mistakes" in dom
    top = pixels[100:450]  # where the chart sits under the title
    assert ink(top) > 0.02
