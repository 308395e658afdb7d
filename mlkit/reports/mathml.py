"""LaTeX math in Markdown, rendered to MathML ahead of time, so HTML pages need no MathJax and no network.

Feedback pages (and any other notebook the kit turns into HTML) are opened
offline, from a file or from nbgrader's exchange.  Browsers draw MathML
themselves, so each `$...$` and `$$...$$` of a Markdown cell is replaced by a
`<math>` element, converted by latex2mathml.  Code (fenced blocks and inline
`code` spans) and escaped dollars (`\\$`) are left alone, as Jupyter's own
Markdown renderer leaves them.

A formula latex2mathml cannot convert stays as its LaTeX source, in a `<code>`
element that says so, rather than breaking the page.  So does a formula past a page's
`LatexBudget` (latex2mathml takes about 25 microseconds a character, more for a
long formula): a student's text cannot make the conversion take longer than that
budget allows.
"""

from __future__ import annotations

import functools
import html
import re
from dataclasses import dataclass

from latex2mathml.converter import convert

# Commands latex2mathml does not know, in the spelling it does.
_SPELLINGS = {r"\arg": r"\operatorname{arg}", r"\argmin": r"\operatorname{argmin}",
              r"\argmax": r"\operatorname{argmax}"}
_COMMAND = re.compile(r"\\[A-Za-z]+")
_FENCE = re.compile(r"^(```|~~~)")
# $$...$$ (across lines), or $...$ on one line that neither starts nor ends with a space,
# and whose closing dollar is not followed by a digit (so "costs $5 and $6" is no formula).
_MATH = re.compile(r"(?<!\\)\$\$(?P<block>.+?)(?<!\\)\$\$|(?<![\\$])\$(?P<inline>[^\s$](?:[^$\n]*?[^\s\\$])?)\$(?!\d)",
                   re.DOTALL)
_CODE_SPAN = re.compile(r"(`+)(?:.+?)\1", re.DOTALL)


@functools.lru_cache(maxsize=4096)  # a class's feedback pages repeat the same formulas
def latex_to_mathml(latex: str, display: bool = False) -> str:
    """One formula as a <math> element (inline, or display="block")."""
    source = _COMMAND.sub(lambda m: _SPELLINGS.get(m.group(0), m.group(0)), latex.strip())
    try:
        rendered = convert(source, display="block" if display else "inline")
    except Exception as error:  # noqa: BLE001 -- any formula it cannot read
        return (f'<code class="mlkit-unrendered-math" title="not rendered: {html.escape(type(error).__name__)}">'
                f"{html.escape(latex)}</code>")
    # In \text{...} latex2mathml keeps escaped underscores and ampersands as typed.
    rendered = rendered.replace("\\_", "&#x0005F;").replace("\\&amp;", "&amp;")
    return rendered


MAX_FORMULA_CHARS = 1_000   # one formula (the longest of the course: 191)
MAX_PAGE_LATEX = 10_000     # all formulas of one page (a release notebook has under 800)


@dataclass
class LatexBudget:
    """Characters of LaTeX still to convert on one page; a formula past it stays as its source."""

    left: int = MAX_PAGE_LATEX

    def spend(self, latex: str) -> bool:
        if len(latex) > min(self.left, MAX_FORMULA_CHARS):
            return False
        self.left -= len(latex)
        return True


def _unconverted(latex: str) -> str:
    return (f'<code class="mlkit-unrendered-math" title="not rendered: past the page\'s formula budget">'
            f"{html.escape(latex)}</code>")


def _math_outside_code(text: str, budget: LatexBudget | None) -> str:
    pieces, position = [], 0
    for span in _CODE_SPAN.finditer(text):
        pieces.append(_replace_math(text[position:span.start()], budget))
        pieces.append(span.group(0))
        position = span.end()
    pieces.append(_replace_math(text[position:], budget))
    return "".join(pieces)


def _replace_math(text: str, budget: LatexBudget | None) -> str:
    def one(match: re.Match) -> str:
        display = match.group("block") is not None
        latex = match.group("block") if display else match.group("inline")
        if budget is not None and not budget.spend(latex):
            return _unconverted(latex)
        return latex_to_mathml(latex, display=display)
    return _MATH.sub(one, text)


def markdown_with_mathml(source: str, budget: LatexBudget | None = None) -> str:
    """A Markdown cell's text with every formula outside code replaced by MathML (while `budget`, shared by
    the cells of one page, lasts; None: every formula)."""
    out, prose, in_fence = [], [], None
    for line in source.splitlines(keepends=True):
        fence = _FENCE.match(line.lstrip())
        if in_fence is None and fence:
            out.append(_math_outside_code("".join(prose), budget))
            prose, in_fence = [], fence.group(1)
            out.append(line)
        elif in_fence is not None:
            out.append(line)
            if line.lstrip().startswith(in_fence):
                in_fence = None
        else:
            prose.append(line)
    out.append(_math_outside_code("".join(prose), budget))
    return "".join(out)


def has_math(source: str) -> bool:
    return bool(_MATH.search(source))
