"""The allow-list that makes student-written HTML inert (mlkit/reports/safehtml.py), piece by piece.

The pages themselves are opened in Chromium in tests/test_pages.py; these check the cleaning on its own,
and a route found by trying: a check's message that carries the student's value into the summary table."""

from __future__ import annotations

import html
import re

import nbformat
import pytest

import weakened
from mlkit import layout
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
    shown = html.unescape(page)  # as a browser shows it ("[" arrives as a character reference)
    assert "[click](javascript:alert(1))" in shown and "$\\style{position:fixed}{X}$" in shown  # the text it is


# --- bounds: what reaches the cleaner (see the module's docstring) ---------------------------------------------

def _depth(page: str) -> int:
    """The deepest nesting of elements in cleaned HTML (which the cleaner serialises well-formed)."""
    depth = deepest = 0
    for closing, name in re.findall(r"<(/?)([a-z][a-z0-9]*)[^>]*>", page):
        if name in safehtml.VOID:
            continue
        depth += -1 if closing else 1
        deepest = max(deepest, depth)
    return deepest


def test_every_markdown_cell_of_the_course_renders_as_without_the_bounds():
    """The bounds change nothing an honest page holds: every Markdown cell of every notebook (with its formulas
    as MathML, as in feedback) and the formatting samples of the page tests render exactly as before them."""
    from test_pages import ANSWER

    sources = [cell.source for path in sorted(layout.ROOT.glob("source/*/*.ipynb"))
               for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "markdown"]
    sources += [ANSWER, "<ul><li>a<li>b</ul>\n\n<p>x<p>y\n\n<table><tr><td>1<td>2</table>\n\n"
                        "<details><summary>s</summary>t</details>\n\n> q\n> > qq\n\n1. a\n   - b\n     - c\n"]
    assert len(sources) > 90
    for source in sources:
        for markdown in (source, mathml.markdown_with_mathml(source)):
            before = weakened.markdown2html_unbounded({"cell": {}, "resources": {}}, markdown)
            assert html.unescape(_render_only(markdown)) == html.unescape(before), markdown[:200]


def _render_only(markdown: str, resources: dict | None = None) -> str:
    return safehtml.markdown2html({"cell": {}, "resources": {} if resources is None else resources}, markdown)


@pytest.mark.parametrize("name, markup", [
    ("nested div", "<div>" * 5000 + "deep" + "</div>" * 5000),
    ("unclosed div", "<div>" * 5000 + "deep"),
    ("self-closed div, which a browser keeps open", "<div/>" * 5000 + "deep"),
    ("nested table cells, each with rows a browser adds", "<table><td>" * 3000 + "deep"),
    ("emphasis a browser reopens after every paragraph",
     "<p>" + "".join(f"<b class='k{i}'>" for i in range(3000)) + "<p>deep</p>" * 300),
    ("MathML", "<math>" + "<mrow>" * 2000 + "<mi>deep</mi>" + "</mrow>" * 2000 + "</math>"),
    ("a name with a dot, closed by another name", "<x.y>deep</x>" * 5000),
    ("a non-breaking space in a name", "<div\u00a0x>deep</div>" * 5000),
    # A quote where a browser reads it as a character, not a value's start: what follows is tags to it (in an
    # HTML block, which Markdown passes on as it is; an earlier tokenizer took it all for one tag: 3,000 deep).
    ("a quote in an attribute's name", '<div>\n<a b"c' + "<div>" * 3000 + '">deep'),
    ("a quote after an attribute's =", '<div>\n<a b=="c>' + "<div>" * 3000 + '">deep'),
    ("a quote in an attribute's name that starts with =", '<div>\n<a ="c>' + "<div>" * 3000 + '">deep'),
])
def test_nesting_is_bounded_whatever_the_markup(name, markup):
    """What the cleaner builds stays within MAX_DEPTH elements counted, plus what a browser's parser adds on its
    own: a table body and a row around a cell (two per cell), emphasis reopened (MAX_FORMATTING at most)."""
    page = _render_only(markup)
    assert _depth(page) <= 2 * safehtml.MAX_DEPTH + safehtml.MAX_FORMATTING, name
    assert "deep" in page


def test_what_was_cut_is_said_below_the_cell():
    deep = _render_only("# Title\n\n" + "<div>" * 300 + "text")
    assert "<h1>Title</h1>" in deep and "text" in deep
    assert "Not shown from this cell: 200 HTML tags nested deeper than 100" in deep
    many = _render_only("<br>" * (safehtml.MAX_ELEMENTS + 10))  # in a paragraph: 11 elements too many
    assert f"11 HTML tags past its first {safehtml.MAX_ELEMENTS:,}" in many
    long = _render_only("start " + "word " * 20_000 + "END")
    assert "start" in long and "END" not in long and "characters (a cell shows at most 50,000)" in long
    assert "Not shown" not in _render_only("# Title\n\nAn *honest* answer with `code`.")


def test_a_page_shows_a_bounded_amount_of_markdown_in_all():
    resources: dict = {}
    pages = [_render_only("word " * 9_000, resources) for _ in range(5)]  # 45,000 characters each
    assert all("Not shown" not in page for page in pages[:3])
    assert "this page shows at most 150,000" in pages[3] and pages[4].count("word") < 10


def test_a_reference_link_repeated_does_not_repeat_its_address_past_the_bound():
    markdown = "[a] " * 10_000 + "\n\n[a]: https://example.org/" + "x" * 4_000 + "\n"
    page = _render_only(markdown)
    assert len(page) < 4 * safehtml.MAX_CELL_CHARS
    assert page.count("<a href") == safehtml.MAX_CELL_CHARS // 4_022 and "links or images" in page


def test_formulas_past_the_page_budget_stay_as_their_source():
    budget = mathml.LatexBudget()
    out = mathml.markdown_with_mathml(" ".join(f"$x_{{{i}}}$" for i in range(3_000)), budget)
    assert 0 < out.count("<math") < 3_000 and "mlkit-unrendered-math" in out
    long = mathml.markdown_with_mathml("$" + "x+" * 1_000 + "x$", mathml.LatexBudget())
    assert "<math" not in long and "mlkit-unrendered-math" in long
