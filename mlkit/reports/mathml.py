"""LaTeX math in Markdown, rendered to MathML ahead of time, so HTML pages need no MathJax and no network.

Feedback pages (and any other notebook the kit turns into HTML) are opened
offline, from a file or from nbgrader's exchange.  Browsers draw MathML
themselves, so each `$...$` and `$$...$$` of a Markdown cell is replaced by a
`<math>` element, converted by latex2mathml.  Code (fenced blocks and inline
`code` spans) and escaped dollars (`\\$`) are left alone, as Jupyter's own
Markdown renderer leaves them.

A formula latex2mathml cannot convert stays as its LaTeX source, in a `<code>`
element that says so, rather than breaking the page.
"""

from __future__ import annotations

import functools
import html
import re

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


def _math_outside_code(text: str) -> str:
    pieces, position = [], 0
    for span in _CODE_SPAN.finditer(text):
        pieces.append(_replace_math(text[position:span.start()]))
        pieces.append(span.group(0))
        position = span.end()
    pieces.append(_replace_math(text[position:]))
    return "".join(pieces)


def _replace_math(text: str) -> str:
    def one(match: re.Match) -> str:
        if match.group("block") is not None:
            return latex_to_mathml(match.group("block"), display=True)
        return latex_to_mathml(match.group("inline"))
    return _MATH.sub(one, text)


def markdown_with_mathml(source: str) -> str:
    """A Markdown cell's text with every formula outside code replaced by MathML."""
    out, prose, in_fence = [], [], None
    for line in source.splitlines(keepends=True):
        fence = _FENCE.match(line.lstrip())
        if in_fence is None and fence:
            out.append(_math_outside_code("".join(prose)))
            prose, in_fence = [], fence.group(1)
            out.append(line)
        elif in_fence is not None:
            out.append(line)
            if line.lstrip().startswith(in_fence):
                in_fence = None
        else:
            prose.append(line)
    out.append(_math_outside_code("".join(prose)))
    return "".join(out)


def has_math(source: str) -> bool:
    return bool(_MATH.search(source))
