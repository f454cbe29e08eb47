"""What a cable's HTML may contain: an allow-list sanitiser, and the ``check`` that shows authors what it removes.

Markdown lets authors write HTML (and attribute lists, and links to any URL); a community site must
never run an author's script, frame another site, post a form, restyle the page or pull content from
another host (which would also tell that host who reads). Regular expressions over the source cannot
decide that: entities (``&#106;avascript:``), control characters Python-Markdown deletes
(``<scr\\x02ipt>`` comes out as ``<script>``), attribute lists (``{: onclick=… }``) and quoted ``>``
inside attributes all slip past them. So the rule is stated on the *output*:

* :func:`sanitise` passes rendered cable HTML through nh3 (the ammonia sanitiser, which parses HTML
  as a browser does) with an allow-list of tags, attributes, classes and URL schemes: exactly what
  Python-Markdown and the site's extensions produce for ordinary text. The build applies it to every
  cable body, so a site can only ever hold sanitised HTML.
* :func:`find_unsafe` renders a body with the same Markdown configuration, sanitises it and compares
  the two as parsed trees (entities decoded, serialisation ignored). Anything the sanitiser would
  change is reported (``E501``) at the source construct that produced it, found by parsing the
  source's raw HTML with a real parser, so authors see an error instead of a silent change.

HTML comments are left to the classification guard (which refuses them in a body); they are ignored
here. Every body is rendered: no cheap textual test is exact (a Markdown link needs no ``<`` to carry
``javascript:``, a heading makes an ``id``), and the parse cache keeps the findings per file digest.
"""

from __future__ import annotations

import difflib
import functools
import html as html_lib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

import markdown
import nh3

from pipeline.messages import _

#: Tags Python-Markdown and the allowed extensions produce for text (no media but same-site images,
#: no forms, frames, scripts, styles, SVG or MathML).
TAGS = frozenset({
    "p", "h1", "h2", "h3", "h4", "h5", "h6", "a", "img", "ul", "ol", "li", "dl", "dt", "dd",
    "table", "thead", "tbody", "tfoot", "tr", "th", "td", "caption", "pre", "code", "blockquote",
    "em", "strong", "b", "i", "abbr", "hr", "br", "del", "ins", "s", "sub", "sup", "mark", "kbd",
    "small", "q", "cite", "div", "span", "details", "summary",
})
#: Attributes by tag (``*``: any tag). ``class`` and ``id`` are further filtered by :func:`_filter`.
ATTRIBUTES: dict[str, set[str]] = {
    "*": {"id", "class", "title"},
    "a": {"href"},
    "img": {"src", "alt"},
    "ol": {"start"},
    "th": {"align"},
    "td": {"align"},
}
#: Link schemes; relative URLs are kept. ``diplomatie-cable:`` marks a link to another cable until the
#: community's build resolves it (see pipeline/site.py).
URL_SCHEMES = frozenset({"http", "https", "mailto", "diplomatie-cable"})
#: Class names of the theme (``md-``: mkdocs-material, ``dip-``: Diplomatie's banners and lists): a
#: cable cannot dress its text as the site's own banner or controls.
RESERVED_CLASS = re.compile(r"^(?:md-|dip-|diplomatie)", re.I)
CLASS_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
#: Element ids of the theme (``__config``, ``__search``…): an author's element with one would be
#: found first by the theme's script (DOM clobbering).
RESERVED_ID = re.compile(r"^__")
#: What ``check`` renders with: the extensions MkDocs always adds, the project's, and those of the
#: allow-list (pipeline/siteconfig.py) that change which HTML a text produces, so that a construct is
#: reported whatever the repository enables. The build renders with the repository's configuration.
EXTENSIONS: tuple[str, ...] = ("toc", "tables", "fenced_code", "admonition", "footnotes", "attr_list", "abbr",
                               "def_list", "md_in_html", "pymdownx.details")
EXTENSION_CONFIGS: dict[str, dict[str, Any]] = {
    "toc": {"permalink": True},
    # Column alignment as the ``align`` attribute, not ``style``: no style attribute is ever allowed.
    "tables": {"use_align_attribute": True},
}
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_C0_AND_SPACE = "".join(map(chr, range(0x21)))
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
                   "track", "wbr", "param", "keygen"})


def same_site(url: str) -> bool:
    """Whether a browser resolves ``url`` (an ``img src``) on the page's own host: no scheme, no
    ``//host``. Browsers drop tabs and newlines anywhere in a URL, trim spaces and control
    characters at its ends, and read ``\\`` as ``/``; the test does the same first."""
    url = re.sub("[\t\n\r]", "", url).strip(_C0_AND_SPACE).replace("\\", "/")
    return not url.startswith("//") and not _SCHEME.match(url)


def _filter(tag: str, attr: str, value: str) -> str | None:
    """Value-level rules nh3's tables cannot say."""
    if attr == "class":
        names = [n for n in value.split() if CLASS_NAME.match(n) and not RESERVED_CLASS.match(n)]
        return " ".join(names) if names and names == value.split() else None
    if attr == "id":
        return None if RESERVED_ID.match(value) else value
    if attr == "src":
        return value if same_site(value) else None
    return value


@functools.cache
def cleaner() -> nh3.Cleaner:
    return nh3.Cleaner(tags=set(TAGS), attributes={k: set(v) for k, v in ATTRIBUTES.items()},
                       attribute_filter=_filter, url_schemes=set(URL_SCHEMES), link_rel=None,
                       strip_comments=True)


def sanitise(html: str) -> str:
    """``html`` with everything not on the allow-list removed (scripts and styles with their content)."""
    return cleaner().clean(html)


def renderer_configs(extensions: Iterable[str], configs: Mapping[str, Any]) -> dict[str, Any]:
    """The extension configurations a cable is rendered with: the given ones, with tables aligning
    by attribute (see ``EXTENSION_CONFIGS``)."""
    out = {k: dict(v) for k, v in configs.items()}
    if "tables" in extensions:
        out["tables"] = {**out.get("tables", {}), "use_align_attribute": True}
    return out


@functools.cache
def _markdown() -> markdown.Markdown:
    return markdown.Markdown(extensions=list(EXTENSIONS), extension_configs=renderer_configs(EXTENSIONS,
                                                                                            EXTENSION_CONFIGS))


# --------------------------------------------------------------------------------------------
# Comparing rendered and sanitised HTML


Event = tuple[Any, ...]


class _Events(HTMLParser):
    """HTML as a list of events, entities decoded: ``("start", tag, attrs)``, ``("end", tag)``,
    ``("text", text)``; comments dropped, adjacent texts merged, void elements never closed."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.events: list[Event] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.events.append(("start", tag, tuple(sorted((k, v or "") for k, v in attrs))))

    handle_startendtag = handle_starttag

    def handle_endtag(self, tag: str) -> None:
        if tag not in _VOID:
            self.events.append(("end", tag))

    def handle_data(self, data: str) -> None:
        if self.events and self.events[-1][0] == "text":
            self.events[-1] = ("text", self.events[-1][1] + data)
        else:
            self.events.append(("text", data))


def events(html: str) -> list[Event]:
    parser = _Events()
    parser.feed(html)
    parser.close()
    return parser.events


@dataclass(frozen=True)
class Change:
    """One thing the sanitiser removes: an element, or an attribute of one."""

    tag: str
    attr: str | None = None
    value: str = ""

    @property
    def what(self) -> str:
        names = {"tag": self.tag, "attr": self.attr, "value": self.value[:60], "short": self.value[:40]}
        if self.attr is None:
            return _("HTML element <{tag}> is not allowed").format(**names)
        if self.attr == "structure":
            return _("misnested or unclosed HTML tags around <{tag}> (a browser would rebuild them)").format(**names)
        if self.attr == "src" and self.tag == "img" and not same_site(self.value):
            return _("image from another host or scheme: {value!r}").format(**names)
        if self.attr in ("href", "src"):
            return _("URL not allowed in {attr} of <{tag}>: {value!r}").format(**names)
        if self.attr == "class":
            return _("class {value!r} on <{tag}> belongs to the site's theme").format(value=self.value, tag=self.tag)
        if self.attr == "id":
            return _("id {value!r} on <{tag}> belongs to the site's theme").format(value=self.value, tag=self.tag)
        return _("attribute {attr}={short!r} on <{tag}> is not allowed").format(**names)


#: How Python-Markdown and nh3 write the same thing differently (meaning-preserving: HTML ignores the
#: slash of ``<br />``, and these are character references of plain characters).
_SAME = (" />", ">"), ("&para;", "\u00b6"), ("&#8617;", "\u21a9"), ("&#160;", "&nbsp;")


def changes(html: str) -> list[Change]:
    """What sanitising ``html`` removes; empty when the sanitiser leaves it as it is."""
    clean = sanitise(html)
    written = html
    for markdown_form, nh3_form in _SAME:
        written = written.replace(markdown_form, nh3_form)
    if written == clean:  # the usual case, without parsing either
        return []
    before, after = events(html), events(clean)
    if before == after:
        return []
    found: list[Change] = []
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        kept = [e for e in after[j1:j2] if e[0] == "start"]
        for event in before[i1:i2]:
            if event[0] != "start":
                continue
            tag, attrs = event[1], dict(event[2])
            twin = next((k for k in kept if k[1] == tag), None)
            if twin is None:
                found.append(Change(tag))
                continue
            kept.remove(twin)
            survived = dict(twin[2])
            found += [Change(tag, name, value) for name, value in attrs.items() if survived.get(name) != value]
    if not found:  # the trees differ without a removed element or attribute (e.g. misnested tags)
        first = next(e for e, f in zip([*before, ("end", "")], [*after, ("end", "")], strict=False) if e != f)
        found.append(Change(first[1] if first[0] != "text" else "p", "structure", "misnested or unclosed HTML"))
    return list(dict.fromkeys(found))


# --------------------------------------------------------------------------------------------
# Finding the source of a change


@dataclass(frozen=True)
class Unsafe:
    line: int  # 1-based within the scanned text
    col: int
    what: str
    text: str


class _SourceTags(HTMLParser):
    """The raw HTML start tags of a Markdown source, with their positions (entities decoded)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str], int, int]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        line, col = self.getpos()
        name = _CONTROL.sub("", tag).lower()
        self.tags.append((name, {_CONTROL.sub("", k).lower(): v or "" for k, v in attrs}, line, col + 1))

    handle_startendtag = handle_starttag


def _source_tags(text: str) -> list[tuple[str, dict[str, str], int, int]]:
    parser = _SourceTags()
    try:
        parser.feed(text)
        parser.close()
    except (AssertionError, ValueError):  # html.parser gives up on some malformed declarations
        pass
    return parser.tags


def _position(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


_ENTITY = re.compile(r"&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);?")


def _find_folded(text: str, needle: str) -> int:
    """Index in ``text`` of ``needle``, matched as a browser would read the text: entities decoded,
    case folded, control characters (which Python-Markdown may delete) ignored; -1 when absent."""
    chars: list[str] = []
    origin: list[int] = []
    i = 0
    while i < len(text):
        entity = _ENTITY.match(text, i) if text[i] == "&" else None
        piece = html_lib.unescape(entity.group(0)) if entity else text[i]
        for ch in piece:
            if not _CONTROL.match(ch):
                chars.append(ch.lower())
                origin.append(i)
        i = entity.end() if entity else i + 1
    at = "".join(chars).find(needle.lower())
    return origin[at] if at >= 0 else -1


def _locate(text: str, change: Change, tags: list[tuple[str, dict[str, str], int, int]]) -> tuple[int, int, str]:
    """Where in the source ``change`` comes from: (line, col, the source text there)."""
    def excerpt(line: int, col: int) -> str:
        return text.splitlines()[line - 1][col - 1:col + 59] if text.splitlines() else ""

    def at(line: int, col: int) -> tuple[int, int, str]:
        return line, col, excerpt(line, col)

    attr = change.attr if change.attr not in (None, "structure") else None
    candidates = [t for t in tags if t[0] == change.tag and (attr is None or attr in t[1])]
    if attr is not None and not candidates:
        candidates = [t for t in tags if attr in t[1]]
    if candidates:
        return at(candidates[0][2], candidates[0][3])
    needles = []
    if attr is not None:
        # an attribute list, a Markdown image or link URL (whole, or its start if Markdown changed it)
        needles += [attr + "=", change.value, change.value[:12]]
    needles.append("<" + change.tag)
    for needle in needles:
        index = _find_folded(text, needle) if needle else -1
        if index >= 0:
            return at(*_position(text, index))
    return 1, 1, excerpt(1, 1)


def find_unsafe(markdown_text: str, md: markdown.Markdown | None = None) -> list[Unsafe]:
    """What the sanitiser would remove from ``markdown_text`` once rendered, each at its source.

    ``md``: the Markdown converter to render with (the repository's configuration); the project's
    standard extensions when omitted."""
    md = md or _markdown()
    md.reset()
    try:
        found = changes(md.convert(markdown_text))
    except RecursionError as exc:  # Python-Markdown recurses once per level of nesting: fail closed
        _markdown.cache_clear()  # the converter's state is unknown after it
        return [Unsafe(1, 1, _("the body cannot be rendered to be checked ({error}: too deeply nested)").format(
                             error=type(exc).__name__), markdown_text.splitlines()[0][:60] if markdown_text.strip() else "")]
    if not found:
        return []
    tags = _source_tags(markdown_text)
    out = []
    for change in found:
        line, col, excerpt = _locate(markdown_text, change, tags)
        out.append(Unsafe(line, col, change.what, excerpt))
    return sorted(dict.fromkeys(out), key=lambda u: (u.line, u.col))
