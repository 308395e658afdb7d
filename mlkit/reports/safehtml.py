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

The cleaner parses HTML as a browser does, and a browser's parser costs the square of the nesting depth
(1 MB of nested `<div>` took minutes).  So what reaches it is bounded first, in time linear in what the
student wrote (`bound_markup`, a tokenizer that never looks back more than `MAX_DEPTH` elements):

* size: a Markdown cell shows at most `MAX_CELL_CHARS` characters, a page `MAX_PAGE_CHARS` in all its
  Markdown cells, and links and images at most `MAX_CELL_CHARS` characters of addresses per cell (a
  reference link defined once and used thousands of times would repeat its address each time);
* nesting: at most `MAX_DEPTH` elements open at once, `MAX_FORMATTING` of them emphasis-like (a browser
  reopens those after a block, each time);
* count: at most `MAX_ELEMENTS` elements per cell.

Past a bound, tags are dropped and their text is kept; the page says below the cell what was not shown.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

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


MAX_CELL_CHARS = 50_000   # a Markdown cell's source as rendered (its formulas already MathML in feedback)
MAX_PAGE_CHARS = 150_000  # all Markdown cells of one page together (a release notebook: under 12,000)
MAX_DEPTH = 100           # elements open at once (MathML of nested fractions reaches 30)
MAX_FORMATTING = 16       # of them emphasis-like (a, b, em, code, ...)
MAX_ELEMENTS = 10_000     # elements in one cell
PAGE_BUDGET = "mlkit_markdown_chars_left"  # the page's resources: what its Markdown cells may still show

VOID = frozenset({"br", "embed", "hr", "img", "meta"})  # void in HTML and in MathML or SVG alike
FORMATTING = frozenset({"a", "b", "big", "code", "em", "font", "i", "nobr", "s", "small", "strike", "strong",
                        "tt", "u"})
CLOSED_BY_SIBLING = frozenset({"li", "dt", "dd", "p", "option", "tr", "td", "th"})  # <li>a<li>b: siblings
# A paragraph ends where one of these starts (<p>a<ul>: the list follows the paragraph, as a browser reads it).
CLOSES_PARAGRAPH = frozenset({"address", "article", "aside", "blockquote", "center", "details", "dialog", "dir",
                              "div", "dl", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3",
                              "h4", "h5", "h6", "header", "hgroup", "hr", "listing", "main", "menu", "nav", "ol",
                              "p", "pre", "section", "summary", "table", "ul"})
SCRIPT_LIKE = frozenset({"script", "style"})  # dropped with their content, as the cleaner drops them
RAW_TEXT = frozenset({"xmp", "iframe", "noembed", "noframes", "textarea", "title", "plaintext"})  # text inside
# A tag as a browser's tokenizer reads it, in a subset of its forms: a quote only as an attribute's quoted value
# (right after "="), "<" only inside one.  A browser ends a tag at the first ">" outside such a value, and so does
# this, so the tag it parses from what is emitted is this one (a quote in a name, "a"b", would otherwise let "<"
# and ">" hide inside what is taken for a value).  Anything else is text.  Possessive throughout, and a tag that
# does not match costs no more than the text up to the next "<" outside a quoted value.
_SPACE = r"[\t\n\f\r ]"
_ATTRIBUTE = rf"""[^\t\n\f\r /<>"'=]++(?:{_SPACE}*+={_SPACE}*+(?:"[^"]*+"|'[^']*+'|[^\t\n\f\r <>"'=`]++)?)?"""
TAG = re.compile(rf"<(/?)([A-Za-z][^\t\n\f\r /<>]*+)((?:[\t\n\f\r /]++(?:{_ATTRIBUTE})?)*+)>")
ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


@dataclass
class Cuts:
    """What of one cell was not shown, by the bound that cut it."""

    chars: int = 0       # characters of source past the cell's or the page's size
    page: bool = False   # ...because the page's Markdown had reached MAX_PAGE_CHARS
    addresses: int = 0   # links and images shown as their text: past the cell's characters of addresses
    deep: int = 0        # tags dropped: nested deeper than MAX_DEPTH (or MAX_FORMATTING)
    many: int = 0        # tags dropped: past MAX_ELEMENTS

    def notice(self) -> str:
        """One paragraph that says what was not shown (empty when nothing was cut)."""
        parts = []
        if self.chars:
            limit = f"this page shows at most {MAX_PAGE_CHARS:,}" if self.page else \
                f"a cell shows at most {MAX_CELL_CHARS:,}"
            parts.append(f"its last {self.chars:,} characters ({limit})")
        if self.addresses:
            parts.append(f"the address of {self.addresses:,} links or images past its first {MAX_CELL_CHARS:,} "
                         "characters of addresses (their text is shown)")
        if self.deep:
            parts.append(f"{self.deep:,} HTML tags nested deeper than {MAX_DEPTH} (or {MAX_FORMATTING} emphasis "
                         "tags) in it (their text is shown)")
        if self.many:
            parts.append(f"{self.many:,} HTML tags past its first {MAX_ELEMENTS:,} (their text is shown)")
        if not parts:
            return ""
        return ("<p class='mlkit-cut'><em>Not shown from this cell: " + "; ".join(parts) +
                ". The notebook itself has all of it.</em></p>")


def cut_source(source: str, limit: int, cuts: Cuts) -> str:
    """The first `limit` characters of `source`, never ending inside a <math> element (a formula is shown
    whole or not at all); what was left out is counted in `cuts`."""
    if len(source) <= limit:
        return source
    end = limit
    opened = source.rfind("<math", 0, end)
    if opened >= 0 and source.find("</math>", opened, end) < 0:
        end = opened
    cuts.chars += len(source) - end
    return source[:end]


class BoundedRenderer(IPythonRenderer):
    """nbconvert's Markdown renderer, with the addresses of links and images of one cell bounded in total:
    a reference defined once (`[a]: http://...`, or an attachment) is repeated by every use of it."""

    def __init__(self, cuts: Cuts, **options):
        super().__init__(**options)
        self.cuts, self.addresses_left = cuts, MAX_CELL_CHARS

    def _spend(self, url: str, title: str | None) -> bool:
        cost = len(url) + len(title or "")
        if url.startswith("attachment:"):
            cost += sum(len(str(data)) for data in self.attachments.get(url[len("attachment:"):], {}).values())
        if cost > self.addresses_left:
            self.cuts.addresses += 1
            return False
        self.addresses_left -= cost
        return True

    def link(self, text: str, url: str, title: str | None = None) -> str:
        return super().link(text, url, title) if self._spend(url, title) else text

    def image(self, text: str, url: str, title: str | None = None) -> str:
        return super().image(text, url, title) if self._spend(url, title) else html.escape(text)


def bound_markup(fragment: str, cuts: Cuts) -> str:
    """`fragment` rewritten so that a browser's parser builds at most MAX_DEPTH elements deep from it (plus
    what it adds on its own: a table's implied rows, emphasis reopened, both bounded by what is open here).

    Every tag kept is closed explicitly, innermost first, so the parser's tree follows the one counted here.
    Text stays as it is ("<" that starts no tag becomes "&lt;"); comments and other markup declarations are
    dropped (the cleaner drops them too).  Linear: each character is looked at a bounded number of times."""
    out: list[str] = []
    stack: list[str] = []          # names of the elements open, outermost first
    dropped_open: dict[str, int] = {}
    formatting = elements = 0
    position, size = 0, len(fragment)

    def close_top() -> None:
        nonlocal formatting
        name = stack.pop()
        formatting -= name in FORMATTING
        out.append(f"</{name}>")

    while position < size:
        lt = fragment.find("<", position)
        if lt < 0:
            out.append(fragment[position:])
            break
        out.append(fragment[position:lt])
        match = TAG.match(fragment, lt)
        if match is None:
            following = fragment[lt + 1:lt + 2]
            if following in ("!", "?") or (following == "/" and not fragment[lt + 2:lt + 3].isalpha()):
                # A comment, a declaration or a stray "</": dropped up to where a browser ends it.
                comment = fragment.startswith("<!--", lt)
                end = fragment.find("-->", lt + 2) if comment else fragment.find(">", lt)
                position = end + (3 if comment else 1) if end >= 0 else size
            else:
                out.append("&lt;")
                position = lt + 1
            continue
        position = match.end()
        closing, name, attributes = match.group(1), match.group(2).translate(ASCII_LOWER), match.group(3)
        if closing:
            if dropped_open.get(name):
                dropped_open[name] -= 1
            elif name in stack:
                while stack[-1] != name:
                    close_top()
                close_top()
            continue
        if name in SCRIPT_LIKE or name in RAW_TEXT:
            # Its content is text to a browser: found by one search for its end tag, never as tags.
            end = re.compile(rf"</{re.escape(name)}[\t\n\f\r />]", re.IGNORECASE).search(fragment, position)
            content_end = end.start() if end and name != "plaintext" else size
            if name in RAW_TEXT:
                out.append(html.escape(fragment[position:content_end], quote=False))
            closed = fragment.find(">", content_end) if content_end < size else -1
            position = closed + 1 if closed >= 0 else size
            continue
        self_closing = attributes.rstrip().endswith("/")
        if elements >= MAX_ELEMENTS:
            cuts.many += 1
            dropped_open[name] = dropped_open.get(name, 0) + (name not in VOID and not self_closing)
            continue
        if stack and ((name in CLOSED_BY_SIBLING and stack[-1] == name) or
                      (name in CLOSES_PARAGRAPH and stack[-1] == "p")):
            close_top()
        if name in VOID or self_closing:
            elements += 1
            # <x/>: an empty element, closed here (a browser would keep a non-void HTML element open).
            out.append(f"<{name}{attributes.rstrip()[:-1] if self_closing else attributes}>")
            if name not in VOID:
                out.append(f"</{name}>")
            continue
        if len(stack) >= MAX_DEPTH or (name in FORMATTING and formatting >= MAX_FORMATTING):
            cuts.deep += 1
            dropped_open[name] = dropped_open.get(name, 0) + 1
            continue
        elements += 1
        formatting += name in FORMATTING
        stack.append(name)
        out.append(f"<{name}{attributes}>")
    while stack:
        close_top()
    return "".join(out)


@pass_context
def markdown2html(context, source: str) -> str:
    """nbconvert's Markdown filter, bounded and cleaned (HTMLExporter.filters in the course)."""
    cell = context.get("cell", {}) or {}
    resources = context.get("resources")
    resources = resources if isinstance(resources, dict) else {}
    path = (resources.get("metadata") or {}).get("path", "")
    cuts = Cuts()
    page_left = resources.get(PAGE_BUDGET, MAX_PAGE_CHARS)
    source = cut_source(source, min(MAX_CELL_CHARS, page_left), cuts)
    cuts.page = page_left < MAX_CELL_CHARS and cuts.chars > 0
    resources[PAGE_BUDGET] = page_left - len(source)
    renderer = BoundedRenderer(cuts, escape=False, attachments=cell.get("attachments", {}), embed_images=False,
                               path=path, exclude_anchor_links=True)
    rendered = MarkdownWithMath(renderer=renderer).render(source)
    # "[" as a character reference (a browser shows "["): the template passes this HTML through nbconvert's
    # strip_files_prefix, whose Markdown-link pattern rescans a line from every "[" in it (quadratic).
    return clean(bound_markup(rendered, cuts)).replace("[", "&#91;") + cuts.notice()
