"""Formulas in feedback are MathML drawn by the browser: no MathJax, no CDN, nothing fetched.

The page test opens a real feedback page in headless Chromium with Playwright,
records every request the page makes, measures the rendered formulas and keeps
a screenshot of one in test-artifacts/.
"""

from __future__ import annotations

import re

import nbformat
import pytest

from mlkit import layout
from mlkit.reports import mathml
from support import ARTIFACTS, CHROMIUM, graded_catalog

FORMULA = re.compile(r"\$\$.+?\$\$|\$[^$\n]+\$", re.DOTALL)


def _all_formulas() -> list[tuple[str, str]]:
    found = []
    for assignment in layout.assignments():
        nb = nbformat.read(layout.notebook_path(assignment), as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                found += [(assignment, match) for match in FORMULA.findall(cell.source)]
    return found


def test_every_formula_of_every_notebook_converts():
    formulas = _all_formulas()
    assert len(formulas) > 100
    for assignment, formula in formulas:
        rendered = mathml.markdown_with_mathml(formula)
        assert rendered.startswith("<math"), (assignment, formula, rendered)
        text = re.sub(r"<[^>]+>", "", rendered)
        assert not re.search(r"\\[A-Za-z_]", text), f"{assignment}: a LaTeX command left as text in {formula!r}"


def test_inline_and_display_math():
    out = mathml.markdown_with_mathml("The loss $L(w)$ is\n\n$$L = \\frac{1}{2n}\\lVert r\\rVert^2$$\n")
    assert out.count("<math") == 2
    assert 'display="inline"' in out and 'display="block"' in out and "<mfrac>" in out
    assert "$" not in out


def test_code_money_and_escaped_dollars_are_left_alone():
    source = ("Use `np.sum($x$)` here.\n\n```python\ncost = '$a$'\n```\n\n"
              "It costs $5 and $6, or \\$7; the rate is \\$x\\$.\n")
    assert mathml.markdown_with_mathml(source) == source


def test_a_formula_that_cannot_be_converted_stays_readable():
    out = mathml.latex_to_mathml("\\frac{1}{")
    assert "mlkit-unrendered-math" in out or out.startswith("<math")


def test_text_with_underscores_in_a_formula():
    out = mathml.latex_to_mathml("\\lfloor n \\cdot \\text{test\\_size} \\rfloor")
    assert "test&#x0005F;size" in out and "\\_" not in out


@pytest.mark.skipif(CHROMIUM is None, reason="needs chromium")
@pytest.mark.xdist_group("01_linear_regression")
def test_feedback_page_draws_its_formulas_without_the_network():
    from playwright.sync_api import sync_playwright

    graded = graded_catalog("01_linear_regression")
    (page_path,) = (graded.course / "feedback" / "reference" / "01_linear_regression").glob("*.html")
    source = page_path.read_text()
    assert "<math" in source
    assert "mathjax" not in re.sub(r"<!--.*?-->", "", source, flags=re.DOTALL).lower()  # no script, no config
    assert not re.search(r"<(script|link)[^>]+(src|href)=[\"']https?://", source), "the page loads something online"

    ARTIFACTS.mkdir(exist_ok=True)
    requests = []
    with sync_playwright() as kit:
        browser = kit.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("request", lambda request: requests.append(request.url))
            page.goto(page_path.as_uri())
            page.wait_for_load_state("load")
            sizes = page.evaluate("""() => Array.from(document.querySelectorAll('math')).map(m => {
                const box = m.getBoundingClientRect();
                return [m.getAttribute('display'), box.width, box.height, !!m.querySelector('mfrac')];
            })""")
            fraction = page.locator("math[display=block]:has(mfrac)").first
            fraction.scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "feedback-01-formulas-as-mathml.png"))
        finally:
            browser.close()
    assert [url for url in requests if not url.startswith("file://")] == []
    assert len(sizes) > 5
    assert all(width > 0 and height > 0 for _, width, height, _ in sizes)  # every formula is drawn
    fractions = [height for display, _, height, has_fraction in sizes if display == "block" and has_fraction]
    line = min(height for display, _, height, _ in sizes if display == "inline")
    # A displayed fraction stacks numerator over denominator: taller than a line of inline math.
    assert fractions and max(fractions) > 1.5 * line
