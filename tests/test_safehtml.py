"""The allow-list that makes student-written HTML inert (mlkit/reports/safehtml.py), piece by piece.

The pages themselves are opened in Chromium in tests/test_pages.py; these check the cleaning on its own,
and a route found by trying: a check's message that carries the student's value into the summary table."""

from __future__ import annotations

from mlkit.reports import mathml, safehtml
from mlkit.reports.results import CheckResult, summary_table_html


def _render(markdown: str) -> str:
    return safehtml.markdown2html({"cell": {}, "resources": {}}, mathml.markdown_with_mathml(markdown))


def test_formatting_and_formulas_are_kept():
    page = _render("# Title\n\n- **bold** and *it* and `code`\n\n$\\frac{1}{n}$\n\n| a | b |\n|---|---|\n| 1 | 2 |\n")
    for kept in ("<h1>", "<li>", "<strong>", "<em>", "<code>", "<math", "<mfrac>", "<table>", "<td>"):
        assert kept in page, kept


def test_what_runs_or_covers_is_dropped_and_its_text_kept():
    page = _render('<script>alert(1)</script><img src="x" onerror="alert(2)"><a href="javascript:alert(3)">go</a>'
                   '<iframe src="/api"></iframe><form action="/x"></form><object data="x"></object><embed src="x">'
                   '<div class="modal-backdrop" style="position:fixed" id="explain">cover</div><style>*{}</style>'
                   '<a href="data:text/html,x">d</a><svg onload="alert(4)"></svg>')
    for dropped in ("<script", "onerror", "javascript:", "<iframe", "<form", "<object", "<embed", "style=",
                    "modal-backdrop", 'id="explain"', "<style", "data:text", "<svg", "alert("):
        assert dropped not in page, dropped
    assert "go" in page and "cover" in page


def test_a_data_image_is_kept_for_an_image_only():
    page = _render('<img src="data:image/png;base64,iVBORw0KGgo="><a href="data:image/png;base64,iVBORw0KGgo=">x</a>')
    assert '<img src="data:image/png;base64,iVBORw0KGgo=">' in page and "<a href=" not in page


def test_a_check_message_carrying_the_students_value_stays_text_in_the_summary():
    value = "x\n\n[click](javascript:alert(1)) ![i](https://example.org/i.png) $\\style{position:fixed}{X}$"
    result = CheckResult("test_value", "Checks the value", 2, 0, None, f"expected 3, got {value}.", "")
    page = _render(summary_table_html([result]))
    assert "href=" not in page and "<img" not in page and "<math" not in page and "<a " not in page
    assert "[click](javascript:alert(1))" in page and "$\\style{position:fixed}{X}$" in page  # the text it is
