"""The three reports rendered in headless Chromium: the summary table and the chart are on screen.

Screenshots are kept in test-artifacts/ for a person to look at.
"""

from __future__ import annotations

import pytest

import nbformat

from mlkit import layout
from mlkit.reports import classreport
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
    secret = hidden_test_lines(nbformat.read(layout.notebook_path("01_linear_regression"), as_version=4))
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


def test_class_report_chart_fits_a_1280_pixel_page(tmp_path):
    """Ten assignments make five panels a row: the chart scales to the page instead of running off it."""
    names = layout.assignments()
    svg = classreport.distribution_svg({a: [0.0, 5.0, 9.0, 10.0] for a in names}, {a: 10.0 for a in names})
    page = tmp_path / "chart.html"
    page.write_text(f"<!DOCTYPE html><html><body style='margin:2em'><div class='mlkit-chart'>{svg}</div>"
                    "<script>const box = document.querySelector('svg').getBoundingClientRect();"
                    "document.body.setAttribute('data-right', Math.ceil(box.right));"
                    "document.body.setAttribute('data-width', document.documentElement.scrollWidth);</script>"
                    "</body></html>")
    pixels, dom = render(page, "class-report-chart-ten-assignments", height=600)
    right = int(dom.split('data-right="')[1].split('"')[0])
    width = int(dom.split('data-width="')[1].split('"')[0])
    assert right <= 1280 and width <= 1280, (right, width)
    assert ink(pixels[:, 1100:1280]) > 0.001  # the fifth column is drawn, not cut off


def test_feedback_page_opens_with_the_summary_whose_rows_lead_to_their_cells():
    """The page starts with the kit's summary, not nbgrader's list of "Test cell (Score ...)": each check is
    the test cell's own opening sentence, as written, and a click on it brings its cell into view."""
    from playwright.sync_api import sync_playwright

    from support import ARTIFACTS, browser_page

    graded = graded_catalog("01_linear_regression")
    (path,) = (graded.course / "feedback" / "mutant-gradient_sign_flipped" / "01_linear_regression").glob("*.html")
    source = nbformat.read(layout.notebook_path("01_linear_regression"), as_version=4)
    checks = {cell.metadata.nbgrader["grade_id"]: cell.source.splitlines()[0].lstrip("# ")
              for cell in source.cells
              if cell.metadata.get("nbgrader", {}).get("grade") and not cell.metadata.nbgrader.get("solution")
              and cell.cell_type == "code"}
    with sync_playwright() as kit:
        browser, page = browser_page(kit)
        try:
            page.goto(path.as_uri())
            page.wait_for_load_state("load")
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "feedback-01-opens-with-summary.png"))
            shown = page.evaluate("""() => ({
                heading: document.querySelector('.panel-heading').innerText,
                first_table: document.querySelector('table').className,
                rows: [...document.querySelectorAll('.mlkit-summary-table tbody tr td:first-child a')]
                      .map(a => [a.getAttribute('href'), a.textContent]),
                summary_top: document.querySelector('.mlkit-summary').getBoundingClientRect().top,
            })""")
            scores = graded.grades["mutant-gradient_sign_flipped"].cells
            failed = next(test_id for test_id in checks if scores[test_id] == 0)
            page.click(f".mlkit-summary-table a[href='#{failed}']")
            page.wait_for_function(f"() => Math.abs(document.querySelector('a[name=\"{failed}\"]')"
                                   ".getBoundingClientRect().top) < 50")
        finally:
            browser.close()
    assert "Test cell" not in shown["heading"] and "Written response" in shown["heading"]
    assert shown["first_table"] == "mlkit-summary-table" and shown["summary_top"] < 200
    assert shown["rows"] == [[f"#{test_id}", sentence] for test_id, sentence in checks.items()]


@pytest.mark.parametrize("count", [1, 2, 10])
def test_the_chart_title_is_inside_the_figure(count):
    """One or two panels are narrower than the title: the figure is made wide enough that no letter is cut."""
    names = layout.assignments()[:count]
    fig = classreport.distribution_figure({a: [0.0, 10.0] for a in names}, {a: 10.0 for a in names})
    try:
        box = fig._suptitle.get_window_extent(fig.canvas.get_renderer())
        assert box.x0 >= 0 and box.x1 <= fig.bbox.width, (box, fig.bbox.width)
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)


def test_one_assignments_chart_is_drawn_at_its_own_size_not_blown_up(tmp_path):
    """A course's first class report has one assignment: its one panel stays the size of a panel of ten,
    instead of filling the 1280 px page with letters four times their size."""
    names = layout.assignments()[:1]
    svg = classreport.distribution_svg({a: [0.0, 10.0] for a in names}, {a: 10.0 for a in names})
    page = tmp_path / "chart.html"
    page.write_text(f"<!DOCTYPE html><html><body style='margin:2em'><div class='mlkit-chart'>{svg}</div>"
                    "<script>const box = document.querySelector('svg').getBoundingClientRect();"
                    "document.body.setAttribute('data-svg-width', Math.ceil(box.width));</script>"
                    "</body></html>")
    _, dom = render(page, "class-report-chart-one-assignment", height=600)
    width = int(dom.split('data-svg-width="')[1].split('"')[0])
    assert width <= 440, width  # 4.5 inches at 96 px each; blown up, it was 1200


def test_the_chart_counts_students_in_whole_numbers():
    names = layout.assignments()[:1]
    fig = classreport.distribution_figure({a: [10.0] for a in names}, {a: 10.0 for a in names})
    try:
        ticks = [t for t in fig.axes[0].get_yticks() if 0 <= t <= fig.axes[0].get_ylim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)
