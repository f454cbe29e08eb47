"""The audits of a built site, run before it replaces the previous one; any hit fails the build and
names the file.

* **Isolation**: no id, title or summary of a cable the community does not publish appears in any
  file, in any of the forms HTML, XML and JSON give it.
* **Off-site**: nothing a page loads (script, style, font, image, frame, object, form target) comes
  from another host. HTML is parsed with ``html.parser`` (entities decoded) and every URL attribute
  is read (``src``, ``href`` of what is loaded, ``srcset``, ``action``, ``formaction``, ``poster``,
  ``data``, ``xlink:href``, ``style`` and ``<style>`` ``url()``); CSS is tokenised with tinycss2;
  JavaScript with esprima (every string and template literal). Links a reader follows (``<a href>``,
  ``<link rel=canonical>``) are not loads. JavaScript copied byte for byte from the installed
  mkdocs-material package is that pinned dependency's code (its bundle names GitHub's API and a CDN
  for features this site does not enable); the CSP's ``script-src``/``connect-src 'self'`` confines it
  in the browser. Every other script file, the project's theme's and a content repository's, is read.
* **Scripts**: every inline ``<script>`` of every page is one of the trusted theme's (its CSP hash is in
  :class:`ThemeCode`, computed from pages of the theme that hold no content), and likewise every inline
  ``<style>``; no element has an ``on*`` attribute or a ``style`` attribute, no URL is a
  ``javascript:``/``vbscript:`` URL, no script is loaded from anything but a relative URL.
  mkdocs-material's ``<script id="__config" type="application/json">`` is data, not script (browsers
  never run it and CSP does not apply to it): one per page is allowed; any other data block is refused.
* **Markings**: no classification marking in the text a reader sees (``classification.find_markings_in_html``),
  in pages, in what search results show and in the feed's texts.
* **The search index** (Pagefind's, in ``pagefind/``): every file is read. Fragments (one per page:
  its text, title, metadata and filters) are gzip-compressed JSON after Pagefind's signature; the
  word index, metadata and filter files are gzip-compressed CBOR after it: each is decoded and every
  string in it searched for forbidden terms (a fragment's title, metadata and filters also for
  markings). Pagefind's library, worker and WebAssembly must be the pinned version's bytes
  (``trusted_from``). A file that is not one of these kinds, or does not decode, fails the audit.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import html as html_mod
import json
import re
import sys
import xml.etree.ElementTree as etree
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import ahocorasick

from gate.csp import inline_hash
from pipeline import classification
from pipeline.cables import Cable
from pipeline.messages import _
from pipeline.plan import CommunityPlan

#: Pagefind's folder in a site (pipeline/build/searchindex.py) and the signature its binary files
#: carry after gzip decompression.
SEARCH_DIR = "pagefind"
PAGEFIND_SIGNATURE = b"pagefind_dcd"

#: Titles and summaries shorter than this are not searched for by the audit (too common to mean a leak);
#: ids always are.
MIN_AUDITED_TEXT = 16
TEXT_SUFFIXES = {".html", ".xml", ".json", ".js", ".css", ".txt", ".svg", ".map", ".webmanifest", ".gz"}
#: Images and fonts: served with their own type (and ``nosniff``), never run or shown as text, not read.
#: A file of any other kind is refused rather than published unread (the audit fails closed).
BINARY_SUFFIXES = {".png", ".ico", ".jpg", ".jpeg", ".gif", ".webp", ".woff", ".woff2"}
#: Below this many characters to search, plain ``str.find`` per term beats building the automaton.
SMALL_AUDIT = 64 * 1024
#: What the build keeps inside a site's folder but never publishes (see pipeline/publish.py ``scan_site``).
SITE_DATA = ".diplomatie"
#: The CSP hashes of the trusted theme's inline scripts and styles (:class:`ThemeCode`), for the manifest.
CSP_FILE = f"{SITE_DATA}/csp.json"


class AuditError(Exception):
    """An audit found something: the message names the audit, the file and what it found."""


# --------------------------------------------------------------------------------------------
# Isolation


@dataclass(frozen=True)
class Forbidden:
    """What must not appear in a community's output: the ids, titles and summaries of every
    cable it does not publish."""

    ids: frozenset[str]
    texts: tuple[str, ...]
    #: the ``<time>-<nonce>`` of every member's reply it does not show (its anchor on a page that
    #: shows it is ``reply-<time>-<nonce>``): a reply of another community, or one not approved here
    replies: frozenset[str] = frozenset()


def forbidden_terms(cables: dict[str, Cable], cp: CommunityPlan, replies: Iterable[str] = ()) -> Forbidden:
    """What the community's site must not hold: of ``cables`` (every cable of the repository), those it
    does not publish; of ``replies`` (every reply id of the repository), those it does not show."""
    published = {c.id for c in cp.publish}
    allowed = {t for c in cp.publish for t in (c.title, c.summary)}
    ids = frozenset(i for i in cables if i not in published)
    texts = sorted({t.strip() for i in ids for t in (cables[i].title, cables[i].summary)
                    if len(t.strip()) >= MIN_AUDITED_TEXT and t not in allowed})
    shown = {r.id for r in cp.replies}
    hidden = frozenset(r.split("/", 1)[1] for r in replies if r not in shown and "/" in r)
    return Forbidden(ids, tuple(texts), hidden)


@functools.lru_cache(maxsize=65536)  # the same titles are forbidden in many communities
def _variants(text: str) -> frozenset[str]:
    """The forms a text takes in HTML, XML and JSON output."""
    forms = {text, html_mod.escape(text, quote=False), html_mod.escape(text, quote=True),
             text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("'", "&#39;")
             .replace('"', "&#34;")}
    for form in list(forms):
        forms.add(json.dumps(form)[1:-1])
        forms.add(json.dumps(form, ensure_ascii=False)[1:-1])
    return frozenset(forms)


class _Finder:
    """The automaton's ``iter`` with ``str.find``: for a few small files (a version page)."""

    def __init__(self, words: dict[str, tuple[int, str, str]]) -> None:
        self.words = words

    def iter(self, text: str) -> Iterator[tuple[int, tuple[int, str, str]]]:
        for word, value in self.words.items():
            start = text.find(word)
            while start != -1:
                yield start + len(word) - 1, value
                start = text.find(word, start + 1)


def _matcher(forbidden: Forbidden, small: bool) -> Any:
    """What finds the forbidden terms in all their forms: (end, (length, kind, original)) per hit."""
    words: dict[str, tuple[int, str, str]] = {}
    for cable_id in forbidden.ids:
        words[cable_id] = (len(cable_id), "id", cable_id)
    for name in forbidden.replies:
        words[name] = (len(name), "reply", name)
    for text in forbidden.texts:
        for form in _variants(text):
            words.setdefault(form, (len(form), "text", text))
    if small or not words:
        return _Finder(words)
    automaton = ahocorasick.Automaton()
    for word, value in words.items():
        automaton.add_word(word, value)
    automaton.make_automaton()
    return automaton


def _search(rel: str, text: str, matcher: Any) -> None:
    """Raise naming ``rel`` at the first forbidden term standing as a word of its own in ``text``."""
    for end, (length, kind, original) in matcher.iter(text):
        start = end - length + 1
        if _word_char(text, start - 1) or _word_char(text, end + 1):
            continue  # part of a longer word or title: "Accord n° 7" inside "Accord n° 70"
        what = f"the id of unpublished cable {original}" if kind == "id" else \
            f"a member's reply it must not show ({original})" if kind == "reply" else \
            f"the title or summary of an unpublished cable: {original[:60]!r}"
        raise AuditError(_("isolation audit: {rel} contains {what}").format(rel=rel, what=what))


def _word_char(text: str, index: int) -> bool:
    return 0 <= index < len(text) and (text[index].isalnum() or text[index] == "_")


# --------------------------------------------------------------------------------------------
# Reading pages, stylesheets and scripts


#: <link rel=…> values that name a page, not something the browser loads into this one.
_NOT_ASSET_RELS = {"canonical", "alternate", "prev", "next", "author", "license", "help", "search", "bookmark"}
#: Attributes holding a URL the browser loads (``href`` only on the elements that load it).
_LOAD_ATTRS = {"src", "data", "poster", "action", "formaction", "background", "xlink:href", "codebase",
               "manifest", "ping", "archive", "longdesc", "lowsrc", "dynsrc", "cite", "icon"}
_HREF_LOADS = {"link", "image", "use", "feimage", "base", "script", "tref", "altglyph"}
_SCRIPT_SCHEMES = {"javascript", "vbscript", "livescript"}
#: Types of ``<script>`` a browser runs (absent or empty type is JavaScript).
_JS_TYPES = {"", "module", "text/javascript", "application/javascript", "application/ecmascript",
             "text/ecmascript", "text/jscript", "text/livescript", "application/x-javascript",
             "application/x-ecmascript", "text/x-javascript", "text/x-ecmascript"}
_C0_AND_SPACE = "".join(map(chr, range(0x21)))


def _clean_url(url: str) -> str:
    """A URL as a browser reads it: tabs and newlines dropped, C0 and spaces trimmed, ``\\`` as ``/``."""
    return re.sub("[\t\n\r]", "", url).strip(_C0_AND_SPACE).replace("\\", "/")


def _scheme(url: str) -> str:
    match = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*):", _clean_url(url))
    return match.group(1).lower() if match else ""


def is_offsite(url: str, own_url: str | None = None) -> bool:
    """Whether loading ``url`` asks another host: ``//host``, or any scheme but ``data:`` (which
    carries its content), unless it is under the site's own address."""
    clean = _clean_url(url)
    if own_url and clean.startswith(own_url):
        return False
    scheme = _scheme(clean)
    return clean.startswith("//") or (bool(scheme) and scheme not in ("data", "about"))


class _Page(HTMLParser):
    """One HTML document or fragment, read as a browser reads it (entities decoded)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.loads: list[str] = []  # URLs the page loads
        self.css: list[str] = []  # <style> contents
        self.css_attrs: list[str] = []  # style attributes
        self.scripts: list[tuple[str, str, str]] = []  # inline <script>: (type, text, id)
        self.styles: list[str] = []  # inline <style> texts
        self.problems: list[str] = []  # handlers, script URLs, style attributes, remote scripts
        self._inline: tuple[str, dict[str, str]] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        rels = set(values.get("rel", "").lower().split())
        for name, value in values.items():
            if name.startswith("on"):
                self.problems.append(f"event handler {name} on <{tag}>")
            elif name == "style":
                self.css_attrs.append(value)
                self.problems.append(f"style attribute on <{tag}>")
            elif name == "srcdoc":  # a document of its own, written in the attribute
                self.problems.append(f"srcdoc document in <{tag}>")
            if _scheme(value) in _SCRIPT_SCHEMES and (name in _LOAD_ATTRS or name in ("href", "srcset", "content")):
                self.problems.append(f"{_scheme(value)}: URL in {name} of <{tag}>")
            if name in _LOAD_ATTRS or (name == "href" and tag in _HREF_LOADS and not rels & _NOT_ASSET_RELS):
                self.loads.append(value)
            elif name in ("srcset", "imagesrcset"):
                self.loads += [part.strip().split()[0] for part in value.split(",") if part.strip()]
        if tag == "meta" and values.get("http-equiv", "").lower() == "refresh":
            self.loads.append(values.get("content", "").partition("=")[2].strip(" '\""))
        if tag == "script":
            if "src" in values:
                if _scheme(values["src"]) or _clean_url(values["src"]).startswith("//"):
                    self.problems.append(f"script loaded from {values['src'][:60]!r}")
            else:
                self._inline, self._text = ("script", values), []
        elif tag == "style":
            self._inline, self._text = ("style", values), []

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag in ("script", "style"):
            self.handle_endtag(tag)

    def handle_data(self, data: str) -> None:
        if self._inline is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if self._inline is None or tag != self._inline[0]:
            return
        kind, values = self._inline
        text = "".join(self._text)
        if kind == "script":
            self.scripts.append((values.get("type", "").strip().lower(), text, values.get("id", "")))
        else:
            self.styles.append(text)
            self.css.append(text)
        self._inline = None

    def close(self) -> None:
        super().close()
        if self._inline is not None:  # an unclosed <script> or <style> runs to the end of the document
            self.handle_endtag(self._inline[0])


def read_page(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    page.close()
    return page


def css_urls(text: str, declarations: bool = False) -> list[str]:
    """Every URL a stylesheet (or, with ``declarations``, a ``style`` attribute) names: ``url()``,
    ``@import``, ``image-set()``."""
    import tinycss2

    urls: list[str] = []

    def walk(tokens: Iterable[Any]) -> None:
        for token in tokens:
            kind = getattr(token, "type", "")
            if kind == "url":
                urls.append(token.value)
            elif kind == "function":
                if token.lower_name in ("url", "src", "image-set", "-webkit-image-set", "image"):
                    urls.extend(t.value for t in token.arguments if t.type in ("string", "url"))
                walk(token.arguments)
            elif kind == "at-rule":
                if token.lower_at_keyword == "import":
                    urls.extend(t.value for t in token.prelude if t.type == "string")
                walk(token.prelude)
                walk(tinycss2.parse_blocks_contents(token.content) if token.content else ())
            elif kind == "qualified-rule":
                walk(token.prelude)
                walk(tinycss2.parse_blocks_contents(token.content))
            elif kind == "declaration":
                walk(token.value)
            elif kind in ("() block", "[] block", "{} block"):
                walk(token.content)

    if declarations:
        walk(tinycss2.parse_blocks_contents(text, skip_comments=True, skip_whitespace=True))
    else:
        walk(tinycss2.parse_stylesheet(text, skip_comments=True, skip_whitespace=True))
    return urls


#: A host in a script's string: ``scheme://``, ``//host`` at the start, or ``url(`` with either.
_JS_HOST = re.compile(r"(?:^|url\(\s*['\"]?)\s*(?:[A-Za-z][A-Za-z0-9+.-]*:)?//[^/\s'\"]", re.I)


def js_urls(text: str) -> list[str]:
    """The string and template literals of a script that hold a URL with a host (esprima's
    tokenizer; a script that does not tokenise is reported as such: an audit fails closed)."""
    import esprima

    try:
        tokens = esprima.tokenize(text)
    except esprima.Error as exc:
        return [f"(a script esprima cannot read: {exc})"]
    found = []
    for token in tokens:
        if token.type in ("String", "Template"):
            value = token.value.strip("'\"`")
            if _JS_HOST.search(value) or "://" in value:
                found.append(value)
    return found


def find_offsite_assets(text: str, suffix: str, own_url: str | None = None, page: _Page | None = None) -> list[str]:
    """URLs in ``text`` (an ``.html``, ``.css`` or ``.js`` file) that load something from another host.
    ``page``: the HTML already read."""
    if suffix in (".html", ".htm", ".svg"):  # an SVG file opened on its own is a document too
        page = page or read_page(text)
        urls = [*page.loads, *(u for css in page.css for u in _css_urls(css)),
                *(u for css in page.css_attrs for u in css_urls(css, declarations=True))]
    elif suffix == ".css":
        urls = list(_css_urls(text))
    elif suffix in (".js", ".mjs"):
        return [u for u in _js_urls(text) if not (own_url and u.startswith(own_url))]
    else:
        return []
    return [u for u in urls if is_offsite(u, own_url)]


# A theme's stylesheets and scripts are the same bytes in every community's site: read once.
@functools.lru_cache(maxsize=64)
def _css_urls(text: str) -> tuple[str, ...]:
    return tuple(css_urls(text))


@functools.lru_cache(maxsize=64)
def _js_urls(text: str) -> tuple[str, ...]:
    return tuple(js_urls(text))


# --------------------------------------------------------------------------------------------
# Scripts: the theme's only


@dataclass(frozen=True)
class ThemeCode:
    """The CSP hashes of the trusted theme's inline scripts and styles."""

    scripts: frozenset[str]
    styles: frozenset[str]

    @classmethod
    def of_pages(cls, pages: Iterable[str]) -> ThemeCode:
        """From pages of the trusted theme that hold no content (the cable page template, the version and 404 pages)."""
        scripts: set[str] = set()
        styles: set[str] = set()
        for text in pages:
            page = read_page(text)
            scripts |= {inline_hash(body) for kind, body, _ in page.scripts if kind in _JS_TYPES}
            styles |= {inline_hash(body) for body in page.styles}
        return cls(frozenset(scripts), frozenset(styles))

    def to_json(self) -> bytes:
        return json.dumps({"script_hashes": sorted(self.scripts), "style_hashes": sorted(self.styles)},
                          indent=1).encode() + b"\n"

    @classmethod
    def from_json(cls, data: bytes) -> ThemeCode:
        obj = json.loads(data)
        return cls(frozenset(obj["script_hashes"]), frozenset(obj["style_hashes"]))


def read_code(site_dir: Path) -> ThemeCode:
    """The theme's CSP hashes a build recorded in the site's folder (raises OSError, ValueError, KeyError)."""
    return ThemeCode.from_json((Path(site_dir) / CSP_FILE).read_bytes())


def find_script_problems(text: str, theme: ThemeCode, page: _Page | None = None) -> list[str]:
    """What in an HTML page could run code the theme did not bring. ``page``: the page already read."""
    page = page or read_page(text)
    problems = list(page.problems)
    data_blocks = 0
    for kind, body, ident in page.scripts:
        if kind in _JS_TYPES:
            if inline_hash(body) not in theme.scripts:
                problems.append(f"inline script not in the theme: {body.strip()[:60]!r}")
        elif kind == "application/json" and ident == "__config" and data_blocks == 0:
            data_blocks += 1
        else:
            problems.append(f"<script type={kind!r}> data block other than the theme's __config")
    problems += [f"inline style not in the theme: {body.strip()[:60]!r}" for body in page.styles
                 if inline_hash(body) not in theme.styles]
    return problems


# --------------------------------------------------------------------------------------------
# Markings


def _marking_texts(rel: str, text: str) -> list[str]:
    """What a reader sees in a file, as HTML fragments for the marking scan."""
    if rel.endswith(".html"):
        return [text]
    if rel.endswith(".xml") and "<feed" in text[:400]:
        root = etree.fromstring(text.encode("utf-8"))
        return ["".join(f"<p>{html_mod.escape(e.text or '')}</p>" for e in root.iter()
                        if e.text and e.text.strip())]
    return []


def find_markings(rel: str, text: str) -> list[str]:
    found: list[str] = []
    for fragment in _marking_texts(rel, text):
        found += _markings_in(fragment)
    return found


@functools.lru_cache(maxsize=1024)  # a cable's content is the same in every community publishing it
def _markings_in(fragment: str) -> list[str]:
    return [f"{m.kind} {m.text!r}" for m in classification.find_markings_in_html(fragment)]


# --------------------------------------------------------------------------------------------
# The audit of a site


def audit(site_dir: Path, forbidden: Forbidden, *, theme: ThemeCode | None = None,
          verbatim_from: Iterable[Path] = (), trusted_from: Iterable[Path] = (), own_url: str | None = None,
          only: Iterable[Path] | None = None, texts: Mapping[str, str] | None = None,
          pieces: Mapping[str, list[str]] | None = None, memo: MutableMapping[str, Any] | None = None) -> None:
    """Fail (naming the file) when a forbidden id or text appears, an asset is off-site, a page could
    run code the theme did not bring (``theme``; without it, scripts are not audited), or a page shows
    a classification marking.

    Files copied byte for byte from a theme folder (``verbatim_from``: mkdocs-material's scripts,
    source maps, stylesheets) are built from no cable and are not searched for cable text or
    markings; their stylesheets are still read for off-site URLs, and their scripts unless they come
    from ``trusted_from`` (the installed mkdocs-material). ``own_url``: the site's own address, not
    "another host". ``only``: audit these files of the site, not all; ``texts``: and these pieces of a
    file (name -> text), e.g. the entries an update added to the search index. ``pieces``: pages that
    are an audited template with these fragments put in (cable pages): the fragments are read for
    scripts, off-site URLs and markings instead of the whole page (the template was read whole).
    ``memo``: what was found before in stylesheets and scripts, by digest (see
    ``buildcache.audited_assets``); filled in as files are read."""
    themes = [Path(d) for d in verbatim_from]
    trusted = [Path(d) for d in trusted_from]
    paths = sorted(only) if only is not None else sorted(p for p in site_dir.rglob("*") if p.is_file())
    for path in paths:
        if path.suffix not in TEXT_SUFFIXES | BINARY_SUFFIXES and not _in_search_index(path.relative_to(site_dir).as_posix()):
            raise AuditError(_("audit: {rel} is a kind of file the audit cannot read ({suffix}); it is not published").format(
                rel=path.relative_to(site_dir).as_posix(), suffix=path.suffix or _("no suffix")))
    paths = [p for p in paths if p.suffix in TEXT_SUFFIXES or _in_search_index(p.relative_to(site_dir).as_posix())]
    small = only is not None and sum(p.stat().st_size for p in paths) + sum(map(len, (texts or {}).values())) \
        < SMALL_AUDIT and not any(p.suffix == ".gz" for p in paths)
    matcher = _matcher(forbidden, small)
    pieces = pieces or {}
    for path in paths:
        rel = path.relative_to(site_dir).as_posix()
        data = path.read_bytes()
        if _in_search_index(rel):
            _audit_search_file(rel, data, matcher, trusted)
            continue
        if path.suffix == ".gz":
            data = gzip.decompress(data)
        text = data.decode("utf-8", errors="replace")
        verbatim = _verbatim(rel, data, themes)
        if not verbatim:
            _search(rel, text, matcher)
        if path.suffix == ".js" and _verbatim(rel, data, trusted):
            continue
        if path.suffix in (".css", ".js") and memo is not None:
            key = hashlib.sha256(data + b"\0" + (own_url or "").encode()).hexdigest()
            if key not in memo:
                memo[key] = find_offsite_assets(text, path.suffix, own_url)
            if memo[key]:
                raise AuditError(_("off-site asset audit: {rel} loads {url} from another host; every asset must be served by the site itself").format(rel=rel, url=memo[key][0]))
            continue
        # A cable page's fragments are read together: each is HTML that stands in an element's content.
        # Its text is that of the first, the page's content (the header holds the title and summary;
        # the table of contents repeats the headings).
        part = "\n".join(pieces[rel]) if rel in pieces else text
        _check_page(rel, part, path.suffix, theme, own_url, markings=not verbatim,
                    marking_text=pieces[rel][0] if rel in pieces else None, memo=memo)
    for name, text in (texts or {}).items():
        _search(name, text, matcher)
        _check_page(name, text, ".html" if name.endswith(".html") or ".html " in name else "", theme, own_url,
                    markings=True)


def _in_search_index(rel: str) -> bool:
    return rel.startswith(SEARCH_DIR + "/")


#: The pinned Pagefind's own files: the same bytes in every site (compared with ``trusted_from``).
_PAGEFIND_CODE = re.compile(r"^pagefind(?:-worker)?\.js\Z|^wasm\.[a-z_-]+\.pagefind\Z")
#: The index's slices (pipeline/build/searchindex.py): a folder per slice, listed in a JSON file.
SLICE_NAME = re.compile(r"^\d{4}(?:-h[12]|-q[1-4]|-\d{2})?\Z")
SLICES_FILE = "slices.json"
_PAGEFIND_DATA = re.compile(r"^(?:fragment/[A-Za-z0-9_-]+\.pf_fragment|index/[A-Za-z0-9_-]+\.pf_index|"
                            r"filter/[A-Za-z0-9_-]+\.pf_filter|pagefind\.[A-Za-z0-9_-]+\.pf_meta)\Z")


def _audit_search_file(rel: str, data: bytes, matcher: Any, trusted: list[Path]) -> None:
    """One file of the search index: Pagefind's own code must be the pinned version's; every other
    file is decoded and its strings searched (a fragment's text also for markings)."""
    name = rel[len(SEARCH_DIR) + 1:]
    if name == SLICES_FILE:
        _audit_slices(rel, data, matcher)
        return
    # A slice's folder (pagefind/2026-q3/...) holds one Pagefind index: the same files as Pagefind
    # writes in its own folder, compared and read the same way.
    head, _sep, rest = name.partition("/")
    if rest and SLICE_NAME.match(head):
        name = rest
    if _PAGEFIND_CODE.match(name):
        if not _verbatim(f"{SEARCH_DIR}/{name}", data, trusted):
            raise AuditError(_("search index audit: {rel} is not the pinned Pagefind's file (a site ships Pagefind's library, worker and WebAssembly as its binary writes them)").format(rel=rel))
        return
    if name == "pagefind-entry.json":
        try:
            strings = _strings(json.loads(data))
        except ValueError as exc:
            raise AuditError(_("search index audit: {rel} cannot be read ({exc})").format(rel=rel, exc=exc)) from None
        _search(rel, "\n".join(strings), matcher)
        return
    if not _PAGEFIND_DATA.match(name):
        raise AuditError(_("search index audit: {rel} is not a file Pagefind writes; the audit reads fragments, index, filter and metadata files only").format(rel=rel))
    value = decode_search_file(rel, data)
    try:
        strings = _strings(value)
    except ValueError as exc:
        raise AuditError(_("search index audit: {rel} cannot be read ({exc}); a file the audit cannot read is refused").format(rel=rel, exc=exc)) from None
    _search(rel, "\n".join(strings), matcher)
    if name.startswith("fragment/"):
        # A result shows its title, reference, date and post as lines of their own: each is read
        # for markings. Its excerpt is the page's text, whose paragraphs were read in the page.
        fragment = value if isinstance(value, dict) else {}
        shown = [*_strings(fragment.get("meta", {})), *_strings(fragment.get("filters", {}))]
        found = _markings_in("".join(f"<p>{html_mod.escape(str(text))}</p>" for text in shown))
        if found:
            raise AuditError(_("marking audit: {rel} (a search result's text) shows a classification marking: {found}").format(rel=rel, found=found[0]))


def _audit_slices(rel: str, data: bytes, matcher: Any) -> None:
    """``pagefind/slices.json``: the names and months of the index's slices, nothing else."""
    try:
        listing = json.loads(data)["slices"]
        valid = isinstance(listing, list) and all(
            isinstance(item, dict) and set(item) == {"name", "from", "until"} and isinstance(item["name"], str)
            and SLICE_NAME.match(item["name"])
            and all(isinstance(item[k], str) and re.fullmatch(r"\d{4}-\d{2}", item[k]) for k in ("from", "until"))
            for item in listing)
    except (ValueError, KeyError, TypeError):
        valid = False
    if not valid:
        raise AuditError(_("search index audit: {rel} is not a list of the index's slices (name, first and last month)").format(rel=rel))
    _search(rel, data.decode("utf-8"), matcher)


def decode_search_file(rel: str, data: bytes) -> Any:
    """A Pagefind data file's content: gzip, Pagefind's signature, then JSON (fragments) or CBOR
    (index, filter and metadata files). Raises :class:`AuditError` when it does not decode."""
    import cbor2

    try:
        raw = gzip.decompress(data)
        if not raw.startswith(PAGEFIND_SIGNATURE):
            raise ValueError(_("no Pagefind signature"))
        body = raw[len(PAGEFIND_SIGNATURE):]
        return json.loads(body) if rel.endswith(".pf_fragment") else cbor2.loads(body)
    except (OSError, EOFError, ValueError, cbor2.CBORDecodeError) as exc:
        raise AuditError(_("search index audit: {rel} cannot be read ({exc}); a file the audit cannot read is refused").format(rel=rel, exc=exc)) from None


def search_file_text(rel: str, data: bytes) -> str:
    """Every string of a Pagefind data file, one a line (what the audit searches)."""
    return "\n".join(_strings(decode_search_file(rel, data)))


def _strings(value: Any) -> list[str]:
    """Every string in decoded JSON or CBOR (keys too). Word index files are mostly lists of
    numbers: those are skipped without a call."""
    found: list[str] = []

    def walk(item: Any) -> None:
        kind = type(item)
        if kind is str:
            found.append(item)
        elif kind is list or kind is tuple:
            for child in item:
                if type(child) is not int:
                    walk(child)
        elif kind is dict:
            for key, child in item.items():
                walk(key)
                walk(child)
        elif kind is bytes:
            found.append(item.decode("utf-8", errors="replace"))
        elif kind not in _SCALARS:  # a CBOR tag or other object: not what Pagefind writes
            raise ValueError(_("unexpected {name} value").format(name=kind.__name__))

    walk(value)
    return found


_SCALARS = {int, float, bool, type(None)}


def _check_page(rel: str, text: str, suffix: str, theme: ThemeCode | None, own_url: str | None, *,
                markings: bool, marking_text: str | None = None,
                memo: MutableMapping[str, Any] | None = None) -> None:
    document = suffix in (".html", ".svg")
    page = read_page(text) if document else None
    offsite = find_offsite_assets(text, suffix, own_url, page)
    if offsite:
        raise AuditError(_("off-site asset audit: {rel} loads {offsite} from another host; every asset must be served by the site itself").format(rel=rel, offsite=offsite[0]))
    if document and theme is not None:
        problems = find_script_problems(text, theme, page)
        if problems:
            raise AuditError(_("script audit: {rel}: {problems}; a page runs only the inline scripts of the project's theme (their hashes are the release's Content-Security-Policy)").format(rel=rel, problems=problems[0]))
    if markings:
        try:
            if marking_text is not None and memo is not None:  # a cable page's text: often seen before
                key = "markings:" + hashlib.sha256(marking_text.encode("utf-8")).hexdigest()
                if key not in memo:
                    memo[key] = find_markings(rel, marking_text)
                found = memo[key]
            else:
                found = find_markings(rel, text if marking_text is None else marking_text)
        except (ValueError, etree.ParseError) as exc:
            raise AuditError(_("marking audit: {rel} cannot be read ({exc})").format(rel=rel, exc=exc)) from None
        if found:
            raise AuditError(_("marking audit: {rel} shows a classification marking: {found}").format(rel=rel, found=found[0]))


def _verbatim(rel: str, data: bytes, themes: list[Path]) -> bool:
    for theme in themes:
        source = theme / rel
        try:
            if source.stat().st_size == len(data) and source.read_bytes() == data:
                return True
        except OSError:
            continue
    return False


@functools.cache
def code_fingerprint() -> str:
    """The SHA-256 of the audits' and the classification's code: what the remembered findings of
    earlier audits (``buildcache.audited_assets``) depend on."""
    h = hashlib.sha256()
    for module in (sys.modules[__name__], classification):
        h.update(Path(module.__file__).read_bytes())
    return h.hexdigest()
