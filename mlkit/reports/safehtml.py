"""Student-written text is inert in every page a person opens.

A Markdown answer (the 60-second explanation) is shown in the formgrader's submission page, which the
instructor opens inside the Jupyter server's origin with their own session, and in the feedback page.
Rendered as nbconvert renders it, a `<script>`, an `onerror=` handler or a `javascript:` link in it runs
there.  `markdown2html` replaces nbconvert's filter of that name (the course configuration sets it for
HTMLExporter, so for the formgrader's pages and the feedback pages alike): it renders Markdown as
nbconvert does, then keeps only an allow-list of HTML, cleaned by ammonia (through `nh3`):

* kept: headings, paragraphs, lists, emphasis, code, quotes, tables, links (http, https, mailto, or
  relative), images (http, https, relative, or a data: image), and MathML, which is how feedback pages
  show formulas;
* dropped: scripts and styles with their content, every event handler and `style` attribute, iframes,
  forms, objects, embeds, SVG, `id`s (which could stand in for the page's own elements) and every class but
  the kit's own `mlkit-*` (a page's own classes could cover it, a modal backdrop for instance).

Printed output never goes through here: nbconvert escapes it as text.
"""

from __future__ import annotations

import re

import nh3
from jinja2 import pass_context
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

TEXT_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "dl", "dt", "dd", "blockquote",
    "pre", "code", "em", "strong", "b", "i", "u", "s", "del", "ins", "sub", "sup", "kbd", "samp", "var",
    "mark", "small", "abbr", "cite", "q", "span", "div", "table", "thead", "tbody", "tfoot", "tr", "th", "td",
    "caption", "a", "img", "details", "summary", "figure", "figcaption",
}
MATHML_TAGS = {
    "math", "mrow", "mi", "mn", "mo", "ms", "mtext", "mspace", "msup", "msub", "msubsup", "mfrac", "msqrt",
    "mroot", "mover", "munder", "munderover", "mtable", "mtr", "mtd", "mstyle", "mpadded", "mphantom",
    "menclose", "mfenced", "semantics", "annotation",
}
ATTRIBUTES = {
    "*": {"class"},  # no `title` anywhere: it would let the student store text a page's other flaw could run
    "abbr": {"title"},
    "a": {"href"},
    "img": {"src", "alt", "width", "height"},
    "ol": {"start"},
    "th": {"colspan", "rowspan", "align"},
    "td": {"colspan", "rowspan", "align"},
    "math": {"xmlns", "display"},
    "mi": {"mathvariant"},
    "mo": {"stretchy", "fence", "separator", "form", "lspace", "rspace", "largeop", "movablelimits", "accent"},
    "mover": {"accent"},
    "munder": {"accentunder"},
    "mfrac": {"linethickness"},
    "mspace": {"width"},
    "mstyle": {"displaystyle", "scriptlevel", "mathvariant"},
    "mtd": {"columnalign"},
    "menclose": {"notation"},
    "mfenced": {"open", "close", "separators"},
    "annotation": {"encoding"},
}
URL_SCHEMES = {"http", "https", "mailto", "data"}
KIT_CLASS = re.compile(r"mlkit-[a-z0-9-]+")
DATA_IMAGE = re.compile(r"data:image/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/=\s]*")


def _attribute(tag: str, name: str, value: str) -> str | None:
    if name == "class":
        kept = [token for token in value.split() if KIT_CLASS.fullmatch(token)]
        return " ".join(kept) or None
    if name in ("href", "src") and value.strip().lower().startswith("data:"):
        # A data: address is kept for an image's pixels only, never for a link (a page of its own).
        return value if tag == "img" and name == "src" and DATA_IMAGE.fullmatch(value.strip()) else None
    return value


def clean(fragment: str) -> str:
    """`fragment` with only the allow-listed HTML left; the text of what was dropped stays, as text."""
    return nh3.clean(fragment, tags=TEXT_TAGS | MATHML_TAGS, attributes=ATTRIBUTES, attribute_filter=_attribute,
                     url_schemes=URL_SCHEMES, clean_content_tags={"script", "style"}, strip_comments=True)


@pass_context
def markdown2html(context, source: str) -> str:
    """nbconvert's Markdown filter, with the HTML it produces cleaned (HTMLExporter.filters in the course)."""
    cell = context.get("cell", {}) or {}
    path = (context.get("resources", {}) or {}).get("metadata", {}).get("path", "")
    renderer = IPythonRenderer(escape=False, attachments=cell.get("attachments", {}), embed_images=False,
                               path=path, exclude_anchor_links=True)
    return clean(MarkdownWithMath(renderer=renderer).render(source))
