"""One community's site, from its plan entry only: the docs folder, the MkDocs configuration, the
cable pages' content, the Atom feed and the sitemap.

Nothing here reads the repository: every function takes a :class:`CommunityPlan` (the cables that
community publishes) or one :class:`Cable`, so a community's site cannot contain anything else.

Cable links
-----------
In a cable's Markdown, a link whose target is a cable id links to that cable::

    [le télégramme de Berlin](2026-BERLIN-0042)
    [section 2](2026-BERLIN-0042#2-contexte)
    [2026-BERLIN-0042](../2026/2026-BERLIN-0042.md)

The target may carry ``../<year>/`` before the id and ``.md`` or ``/`` after it. When the community
publishes the target, the link leads to its page. When it does not, the link text is rendered as
plain text (never the target's title); a link whose text is the id itself (or empty) then reads
"câble non publié" / "unpublished cable", so the id of a cable the community does not publish never
appears in its site.

Cable pages are converted once (:func:`render_cable`, shared by every community that publishes
the cable) into HTML where cable links are placeholders; :func:`resolve_links` turns them into
links or plain text for one community.
"""

from __future__ import annotations

import datetime as dt
import functools
import gzip
import hashlib
import html
import io
import json
import re
import unicodedata
import xml.etree.ElementTree as etree
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import markdown
import yaml
from babel.dates import format_date, get_month_names
from markdown.extensions import Extension
from markdown.treeprocessors import Treeprocessor

from gate import i18n, identity
from gate.store import utc_text
from pipeline import accessibility, html_safety, sitetexts
from pipeline.cables import DIGEST_RE, Cable
from pipeline.messages import N_, _, translations_for
from pipeline.plan import CommunityPlan
from pipeline.vocabulary import NONE, Vocabulary

if TYPE_CHECKING:  # the history reads git; a site needs only the numbers it found
    from pipeline.history import VersionInfo

#: Bump when the HTML produced for a cable changes, so cached conversions are not reused.
RENDER_VERSION = "3"  # 2: sanitised (pipeline/html_safety.py); 3: no search entries (Pagefind reads the pages)

CABLE_ID = r"\d{4}-[A-Z0-9]+(?:-[A-Z0-9]+)*-\d{4}"
CABLE_LINK = re.compile(rf"(?:\.\./)*(?:\d{{4}}/)?(?P<id>{CABLE_ID})(?:\.md|/)?(?P<frag>#[^\s\"<>]*)?")
LINK_SCHEME = "diplomatie-cable:"
#: Placeholder for a cable id used as link text: private-use characters never found in text.
ID_OPEN, ID_CLOSE = "\ue000", "\ue001"
RESOLVED_LINK = re.compile(rf'<a href="{LINK_SCHEME}(?P<id>[^"#]+)(?P<frag>#[^"]*)?"(?P<attrs>[^>]*)>'
                           r"(?P<text>.*?)</a>", re.S)
ID_PLACEHOLDER = re.compile(f"{ID_OPEN}([^{ID_CLOSE}]+){ID_CLOSE}")

#: The cable page template: a page MkDocs renders with markers in place of a cable's title,
#: description, content and table of contents (same depth as a cable page); every cable page is
#: this rendered page with the markers replaced. Removed from the site after the build.
CABLE_TEMPLATE_PAGE = "0000/cable-template.md"
CABLE_TEMPLATE_URL = "0000/cable-template.html"
#: Its front matter key, which the theme's main.html and partials/toc.html read.
CABLE_TEMPLATE_META = "diplomatie_cable_template"
#: Relative path from a cable page (or any page one folder deep) to the site's root.
UP = "../"
TITLE_MARKER = "@@DIPLOMATIE-TITLE@@"
#: The cable's language, on the page's article (theme/main.html): a cable may be in another language than its site.
LANG_MARKER = "@@DIPLOMATIE-LANG@@"
DESCRIPTION_MARKER = "@@DIPLOMATIE-DESCRIPTION@@"
HOME_LATEST = 20
FEED_ENTRIES = 50

#: The languages the build writes a site in; a community in any other gets English.
SITE_LANGUAGES = ("fr", "en")
#: The words of the pages the build writes itself (cable headers, indexes, home, version page), by key:
#: msgids of the ``pipeline`` catalogue, read in the site's language by :func:`labels`.
LABEL_TEXTS = {
    "home": N_("Home"),
    "by_date": N_("By date"),
    "by_post": N_("By post"),
    "by_subject": N_("By subject"),
    "by_date_year": N_("By date: {year}"),
    # The version page's body (the theme's version.js writes the same words in the footer).
    "built_from": N_("Built on {built} from commit {commit}"),
    "built_outside_git": N_("Site built outside a git repository."),
    "id": N_("Reference"),
    "date": N_("Date"),
    "post": N_("Post"),
    "ministry": N_("Ministry"),
    "subjects": N_("Subjects"),
    "language": N_("Language"),
    "summary": N_("Summary"),
    "supersedes": N_("Supersedes"),
    "latest": N_("Latest cables"),
    "owner": N_("Community run by"),
    "count": N_("cables published"),
    "unpublished": N_("unpublished cable"),
    "none": N_("No cable published yet."),
    "feed": N_("Atom feed of the latest cables"),
    "fr": N_("French"),
    "en": N_("English"),
    "cables": N_("cables"),
    "version": N_("Version"),
    "changed": N_("Last changed"),
    "uncommitted": N_("not committed to git yet"),
    "search_all": N_("Search the cables"),
    "search_these": N_("Search these cables"),
    "replies": N_("Members' replies"),
    "member": N_("Member of the community"),
}


#: What the theme's templates print (theme/main.html, theme/404.html, theme/partials/), by key: msgids of
#: the ``pipeline`` catalogue, given to the templates translated into the site's language as
#: ``config.extra.texts`` (:func:`theme_texts`), so that a template never chooses between literals.
THEME_TEXTS = {
    "skip": N_("Skip to content"),
    "legal_notice": N_("Legal notice"),
    "accessibility": N_("Accessibility: {status}"),
    "contact": N_("Contact"),
    "personal_feed": N_("Personal feed"),
    "alert_preferences": N_("Alert preferences"),
    "site_version": N_("Site version"),
    "sign_out": N_("Sign out"),
    "answer": N_("Answer this cable"),
    "not_found": N_("Page not found"),
    "not_found_text": N_("This page does not exist in this site."),
    "back_home": N_("Back to the home page"),
    # The classification marking of every page (theme/partials/banner.html).
    "classification": N_("UNCLASSIFIED"),
    # The search field and its results panel (theme/partials/dip-search.html, dip-search-panel.html).
    # Where one English word stands for two French ones, the msgid says which (the English catalogue
    # gives the plain word).
    "search": N_("Search (the search landmark)"),
    "search_label": N_("Search the cables"),
    "search_placeholder": N_("Search (the search field's placeholder)"),
    "search_results": N_("Search results"),
    "filter_post": N_("Post"),
    "filter_subject": N_("Subject"),
    "filter_language": N_("Language"),
    "filter_from": N_("From"),
    "filter_until": N_("Until"),
    "filter_all": N_("All (posts, subjects)"),
    "filter_all_languages": N_("All (languages)"),
    "filter_start": N_("the start"),
    "filter_today": N_("today"),
    "close": N_("Close"),
    "more_results": N_("More results"),
    # What assets/javascripts/search.js writes (read from the panel's data attributes); {count} is
    # filled in by the script.
    "search_none": N_("No cable matches."),
    "search_one": N_("1 cable found."),
    "search_many": N_("{count} cables found."),
    "searching": N_("Searching…"),
    # Said while the older slices of a large archive's index are still searched (newest first).
    "search_newest_none": N_("No cable found among the newest; searching older ones…"),
    "search_newest_one": N_("1 cable found among the newest; searching older ones…"),
    "search_newest_many": N_("{count} cables found among the newest; searching older ones…"),
    # A quoted phrase is looked for in the text of the best results of each period of the index
    # only; {count} results hold it, {checked} is how many were read per period.
    "search_phrase_checked": N_("Results: {count}. The phrase was looked for in the first {checked} results of each period."),
    "search_unavailable": N_("Search is not available (no cable indexed, or the site cannot be reached)."),
    # The language tag the search sorts and writes months with (Intl, in the browser).
    "search_locale": N_("en-GB"),
    # What assets/javascripts/version.js writes in the footer (from the copyright partial's data
    # attributes); {built} and {commit} are filled in by the script.
    "built_from": N_("Built on {built} from commit {commit}"),
    "built_outside_git": N_("Built outside a git repository"),
}


def template_text(text: str) -> str:
    """A text of the catalogue as the templates print it, as is: ``&``, ``<``, ``>`` and ``"`` escaped,
    so that it is text in an element or in a double-quoted attribute; apostrophes left as written (the
    templates put no text in a single-quoted attribute), so the pages keep the bytes of their text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def theme_texts(language: str) -> dict[str, str]:
    """The theme's texts in ``language`` (the accessibility link with the measured conformity status)."""
    t = translations_for(language)
    texts = {key: t.gettext(msgid) for key, msgid in THEME_TEXTS.items()}
    texts["accessibility"] = texts["accessibility"].format(status=_conformity(language))
    return texts


#: The pages of every site a French public service must have, linked from every footer
#: (theme/partials/footer.html): the legal notice and the accessibility statement.
LEGAL_PAGE, ACCESSIBILITY_PAGE = "legal.md", "accessibility.md"
#: Their texts by default (the legal notice's ``{service}``, ``{community}``, ``{owner}`` are filled in).
DEFAULTS = Path(__file__).resolve().parent / "defaults"
#: Copied from the gate into every site: the service's identity (colours, header block, footer).
IDENTITY_CSS = "assets/stylesheets/identity.css"


@functools.cache
def labels(language: str) -> dict[str, str]:
    """The words of the build's own pages in ``language`` (English for a language no site is written in)."""
    t = translations_for(language if language in SITE_LANGUAGES else "en")
    return {key: t.gettext(msgid) for key, msgid in LABEL_TEXTS.items()}


def month_names(language: str) -> list[str]:
    """January to December as ``language`` writes them in a date (CLDR, through Babel: ``mars``, ``March``)."""
    names = get_month_names("wide", locale=language if language in SITE_LANGUAGES else "en")
    return [names[m] for m in range(1, 13)]


def cable_url(cable_id: str) -> str:
    """Site-relative URL (and path) of a cable page: ``<year>/<id>.html``.

    Sites use file URLs (``use_directory_urls: false``): every link names a file, so a site reads
    the same from disk, from the gate or from any static server."""
    return f"{cable_id[:4]}/{cable_id}.html"


def slug(text: str) -> str:
    """An ASCII URL segment for a post or subject."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-") or "x"


def esc(text: str) -> str:
    return html.escape(text, quote=True)


def preview_banner(mark: str) -> str:
    """The notice at the top of a previewed cable page: the theme's warning admonition (its own
    stylesheet, no inline style), with a role that screen readers announce."""
    return (f'<div class="admonition warning" role="note"><p class="admonition-title">{esc(mark)}</p></div>\n')


# --------------------------------------------------------------------------------------------
# Cable conversion (shared by every community publishing the cable)


class _CableLinks(Treeprocessor):
    """Marks links to cables (see module docstring) so each community resolves them itself."""

    def run(self, root: etree.Element) -> None:
        for a in root.iter("a"):
            match = CABLE_LINK.fullmatch(a.get("href", "").strip())
            if not match:
                continue
            cable_id = match.group("id")
            a.set("href", LINK_SCHEME + cable_id + (match.group("frag") or ""))
            text = "".join(a.itertext()).strip()
            if not text or text == cable_id:
                for child in list(a):
                    a.remove(child)
                a.text = ID_OPEN + cable_id + ID_CLOSE


class CableLinkExtension(Extension):
    """Python-Markdown extension: cable links become placeholders (runs after inline patterns)."""

    def extendMarkdown(self, md: markdown.Markdown) -> None:  # noqa: N802 (Markdown's API)
        md.treeprocessors.register(_CableLinks(md), "diplomatie_cable_links", 15)


@dataclass(frozen=True)
class RenderedCable:
    """A cable's body converted once: HTML with cable-link placeholders and its table of contents
    (Python-Markdown toc tokens). Search reads the built page (pipeline/build/searchindex.py)."""

    id: str
    html: str
    toc: list[dict[str, Any]]

    def to_json(self) -> bytes:
        return json.dumps({"id": self.id, "html": self.html, "toc": self.toc},
                          ensure_ascii=False, sort_keys=True).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes) -> RenderedCable:
        d = json.loads(data)
        return cls(id=d["id"], html=d["html"], toc=d["toc"])


class CableRenderer:
    """Converts cable bodies with the base configuration's Markdown extensions (one Markdown
    instance reused: building one per page costs as much as a short page), then sanitises them
    (pipeline/html_safety.py): a site only ever holds the allow-listed HTML."""

    def __init__(self, extensions: list[Any], extension_configs: Mapping[str, Any]):
        extension_configs = html_safety.renderer_configs(extensions, extension_configs)
        self.md = markdown.Markdown(extensions=[*extensions, CableLinkExtension()],
                                    extension_configs=dict(extension_configs))
        self.configs = dict(extension_configs)
        # The sanitiser's rules are part of what a conversion depends on.
        sanitiser = hashlib.sha256(Path(html_safety.__file__).read_bytes()).hexdigest()
        self.key_prefix = json.dumps([RENDER_VERSION, sanitiser, [str(e) for e in extensions], extension_configs],
                                     sort_keys=True, default=str)

    def key(self, cable: Cable) -> str:
        """Cache key: everything the rendered cable depends on. The cable's digest covers its front
        matter and its body (line endings aside, which Markdown normalises the same way), so the body
        is not read: a build that finds every cable converted reads none of them."""
        h = hashlib.sha256(self.key_prefix.encode())
        text = cable.digest if cable.digest and DIGEST_RE.match(cable.digest) else cable.body
        for part in (cable.id, cable.title, cable.summary, text):
            h.update(b"\0" + part.encode("utf-8"))
        return h.hexdigest()

    def render(self, cable: Cable) -> RenderedCable:
        self.md.reset()
        body = html_safety.sanitise(self.md.convert(cable.body))
        return RenderedCable(id=cable.id, html=body, toc=getattr(self.md, "toc_tokens", []))

    def render_reply(self, text: str) -> str:
        """A member's reply as HTML: the same conversion and the same sanitiser as a cable's body (its
        cable links placeholders too, resolved per community by :func:`resolve_links`)."""
        self.md.reset()
        return html_safety.sanitise(self.md.convert(text))


def ref(cable_id: str) -> str:
    """A cable's reference as HTML that never wraps mid-id (``.dip-ref``, theme's diplomatie.css)."""
    return f'<span class="dip-ref">{esc(cable_id)}</span>'


def resolve_links(text: str, published: Mapping[str, Any], language: str, prefix: str = UP) -> str:
    """Turn cable-link placeholders into links (target published here) or plain text (not)."""
    unpublished = esc(labels(language)["unpublished"])

    def link(m: re.Match[str]) -> str:
        cable_id = m.group("id")
        if cable_id in published:
            return f'<a href="{prefix}{cable_url(cable_id)}{m.group("frag") or ""}"{m.group("attrs")}>{m.group("text")}</a>'
        return f'<span class="dip-unpublished">{m.group("text")}</span>'

    def ident(m: re.Match[str]) -> str:
        return ref(m.group(1)) if m.group(1) in published else unpublished

    if LINK_SCHEME in text:
        text = RESOLVED_LINK.sub(link, text)
    if ID_OPEN in text:
        text = ID_PLACEHOLDER.sub(ident, text)
    return text


def cable_header(cable: Cable, published: Mapping[str, Any], language: str, prefix: str = UP,
                 version: VersionInfo | None = None, vocabulary: Vocabulary = NONE) -> str:
    """The top of a cable page: title, metadata, version (when git knows the cable), summary. Subjects
    and the ministry are shown by their labels in ``vocabulary`` (their slugs only in links).

    Search (Pagefind, see pipeline/build/searchindex.py) takes from it the result's reference, date
    and post (``data-pagefind-meta``, the text shown), the filters by post, subject, language and month
    (``data-pagefind-filter``) and the sort by date (``data-pagefind-sort``)."""
    t = labels(language)
    day = cable.date.isoformat()
    subjects = ", ".join(f'<a href="{prefix}subjects/{slug(s)}.html" data-pagefind-filter="subject">'
                         f"{esc(vocabulary.subject(s, language))}</a>" for s in cable.subjects)
    rows = [
        (t["id"], f'<code class="dip-ref" data-pagefind-meta="reference">{esc(cable.id)}</code>'),
        (t["date"], f'<time datetime="{day}" data-pagefind-meta="date" data-pagefind-sort="date:{day}" '
                    f'data-pagefind-filter="month:{day[:7]}">{esc(long_date(cable.date, language))}</time>'),
        (t["post"], f'<a href="{prefix}posts/{slug(cable.post)}.html" data-pagefind-meta="post" '
                    f'data-pagefind-filter="post">{esc(cable.post)}</a>'),
        (t["ministry"], esc(vocabulary.ministry(cable.ministry, language))),
        (t["subjects"], subjects),
        (t["language"], f'<span data-pagefind-filter="language">{esc(t.get(cable.language, cable.language))}</span>'),
    ]
    if version is not None:
        changed = (f'<time datetime="{utc_text(version.date)}">'
                   f'{esc(long_date(version.date.date(), language))}</time>' if version.date else t["uncommitted"])
        rows += [(t["version"], str(version.number)), (t["changed"], changed)]
    if cable.supersedes and cable.supersedes in published:
        rows.append((t["supersedes"], f'<a href="{prefix}{cable_url(cable.supersedes)}">'
                                      f"{ref(cable.supersedes)}</a>"))
    # Search reads the values (one word apart), not the labels nor the version rows.
    unsearched = {t["version"], t["changed"]}
    dl = "\n".join(f'<dt data-pagefind-ignore>{k}</dt> <dd{" data-pagefind-ignore" if k in unsearched else ""}>{v}</dd>'
                    for k, v in rows)
    summary = f'<p class="dip-summary">{esc(cable.summary)}</p>\n' if cable.summary else ""
    return f'<h1 id="top">{esc(cable.title)}</h1>\n<dl class="dip-meta">{dl}</dl>\n{summary}'


def reply_author(community: Any, author: str) -> str:
    """How a reply's author is shown on the site: the name ``communities.yaml`` gives the member in
    this community, else nothing (the page then says "Member of the community"); never the address,
    which the members of a community do not see of each other."""
    return next((m.name.strip() for m in community.members if m.email == author and m.name.strip()), "")


def replies_section(replies: Iterable[Any], community: Any, published: Mapping[str, Any], language: str,
                    render: Any, prefix: str = UP) -> str:
    """The members' replies shown under a cable (pipeline/replyfiles.py ``ReplyFile``, approved for
    this community, oldest first), each rendered by ``render`` (:meth:`CableRenderer.render_reply`:
    sanitised) with its author's name and date. Search does not index them (``data-pagefind-ignore``):
    a search finds cables. Empty when there is none."""
    items = []
    t = labels(language)
    for reply in replies:
        name = reply_author(community, reply.author) or t["member"]
        day = reply.at[:10]
        try:
            when = f'<time datetime="{esc(reply.at)}">{esc(long_date(dt.date.fromisoformat(day), language))}</time>'
        except ValueError:
            when = ""
        body = resolve_links(render(reply.text), published, language, prefix)
        items.append(f'<article class="dip-reply" id="{esc(reply.anchor)}">\n'
                     f'<p class="dip-reply__meta">{esc(name)}{" · " + when if when else ""}</p>\n'
                     f'<div class="dip-reply__text">{body}</div>\n</article>')
    if not items:
        return ""
    return (f'<section class="dip-replies" aria-labelledby="dip-replies-title" data-pagefind-ignore="all">\n'
            f'<h2 id="dip-replies-title">{esc(t["replies"])}</h2>\n' + "\n".join(items) + "\n</section>\n")


def long_date(date: dt.date, language: str) -> str:
    """``14 mars 2026``, ``March 14, 2026``: a date as the site's language writes it (CLDR's long date)."""
    return format_date(date, format="long", locale=language if language in SITE_LANGUAGES else "en")


# --------------------------------------------------------------------------------------------
# The docs folder and configuration of one community


@dataclass(frozen=True)
class SiteSource:
    """A community's MkDocs project, staged: its config file and docs folder (its pages only)."""

    community: str
    config_file: Path
    docs_dir: Path
    site_dir: Path
    pages: tuple[str, ...]  # site-relative URLs of the generated (non-cable) pages, for the sitemap
    fragments: dict[str, dict[str, str]]  # page URL -> {marker: HTML} to put in the rendered page


class SiteConfigError(Exception):
    """The base configuration cannot be used: the message names the file and what is wrong."""


def load_base_config(path: Path) -> dict[str, Any]:
    """The base mkdocs.yml as plain data (INHERIT resolved by MkDocs' own loader)."""
    from mkdocs.exceptions import ConfigurationError
    from mkdocs.utils import yaml_load

    try:
        with path.open("rb") as f:
            data = yaml_load(f)
    except (OSError, yaml.YAMLError, ConfigurationError) as exc:
        raise SiteConfigError(f"{path}: {exc}".replace("\n", " ")) from None
    if data is not None and not isinstance(data, dict):
        raise SiteConfigError(_("{path}: the configuration must be a mapping of keys to values").format(path=path))
    return data or {}


def site_config(base: dict[str, Any], base_dir: Path, plan: CommunityPlan, docs_dir: Path, site_dir: Path,
                *, commit: str | None, commit_time: dt.datetime | None, site_url: str | None = None,
                hooks: Iterable[str] = ()) -> dict[str, Any]:
    """The community's configuration: the base with its own title, language and docs (its search is
    Pagefind's, built after MkDocs: a ``search`` plugin named in the base is taken out)."""
    community = plan.community
    language = community.language if community.language in SITE_LANGUAGES else "en"
    t = labels(language)
    theme = dict(base.get("theme") or {"name": "material"})
    if isinstance(theme, str):
        theme = {"name": theme}
    if theme.get("custom_dir"):
        theme["custom_dir"] = str((base_dir / theme["custom_dir"]).resolve())
    theme["language"] = language
    plugins = _plugins_without_search(base.get("plugins", ["search"]))
    extra = dict(base.get("extra") or {})
    # No build data (commit, time) here: pages would change with every commit. The build writes
    # them into version.html and version.json only (see ``version_json``).
    extra.update({
        "community": community.id,
        # Where the gate serves this site: the 404 page's links are absolute (see theme/404.html).
        "site_path": (urlsplit(site_url).path.rstrip("/") if site_url else "") + f"/c/{community.id}/",
        # The gate's reply page of a cable page is its path under /replies/ (theme/partials/dip-reply.html).
        "reply_path": (urlsplit(site_url).path.rstrip("/") if site_url else "") + f"/replies/{community.id}/",
        # The header's and footer's texts: the gate's own (gate/identity.py), in the site's language.
        "identity": {k: list(v) if isinstance(v, tuple) else v
                     for k, v in identity.texts(i18n.translations(language)).items()},
        # The footer's pages, with the accessibility statement's conformity status.
        "dip_pages": {"legal": _page_url(LEGAL_PAGE), "accessibility": _page_url(ACCESSIBILITY_PAGE),
                      "accessibility_status": _conformity(language)},
        # Every text the theme prints, in the site's language (the pipeline's catalogue), escaped
        # (template_text): the templates print them as they are, never through ``| e`` again.
        "texts": {key: template_text(text) for key, text in theme_texts(language).items()},
        "contact": community.owner,
    })
    config = {
        "INHERIT": str((base_dir / "mkdocs.yml").resolve()),
        "site_name": community.title,
        "site_description": community.description,
        "docs_dir": str(docs_dir),
        "site_dir": str(site_dir),
        "theme": theme,
        "plugins": plugins,
        "extra": extra,
        "nav": [{t["home"]: "index.md"}, {t["by_date"]: "dates/index.md"},
                {t["by_post"]: "posts/index.md"}, {t["by_subject"]: "subjects/index.md"}],
        "strict": False,
        "use_directory_urls": False,
    }
    if site_url:
        config["site_url"] = site_url.rstrip("/") + f"/c/{community.id}/"
    if hooks:
        config["hooks"] = list(hooks)
    return config


def _conformity(language: str) -> str:
    """The sites' conformity status, from the recorded audit (pipeline/accessibility.py)."""
    try:
        return accessibility.conformity(accessibility.recorded(), language)
    except ValueError as error:
        raise SiteConfigError(str(error)) from None


def statement_page(plan: CommunityPlan, language: str) -> str:
    """The accessibility statement (RGAA) of a site: the facts generated from the recorded audit of the
    sites, in the repository's own text (``pages/accessibility.<language>.md``, pipeline/sitetexts.py)
    when it has one, on its ``{audit}`` line."""
    try:
        audit = accessibility.recorded()
        facts = accessibility.statement(audit, service=str(identity.texts(i18n.translations(language))["name"]),
                                        lang=language)
    except ValueError as error:
        raise SiteConfigError(str(error)) from None
    heading, _newline, body = facts.partition("\n")
    title = heading.removeprefix("# ")
    own = _repository_text(plan, "accessibility", language)
    text = facts if own is None else sitetexts.place_audit(_filled(plan, language, own), body.strip("\n"))
    return _text_page(title, text)


def legal_page(plan: CommunityPlan, language: str) -> str:
    """The legal notice of a site: the repository's text (``pages/legal.<language>.md``) or else the
    project's (pipeline/defaults/legal.<language>.md), with the service, the community and its contact
    filled in (escaped: the page is Markdown)."""
    default = (DEFAULTS / f"legal.{language}.md").read_text(encoding="utf-8")
    title = default.splitlines()[0].removeprefix("# ")
    own = _repository_text(plan, "legal", language)
    return _text_page(title, _filled(plan, language, default if own is None else own))


def _repository_text(plan: CommunityPlan, name: str, language: str) -> str | None:
    """The repository's text of a page, None for the default; refused when a page text of the version
    cannot be read (fail closed: never the default in place of the ministry's own text)."""
    if plan.texts.broken:
        raise SiteConfigError(_("{paths}: a page text of the content repository cannot be used; fix what "
                                "it reports (diplomatie check)").format(paths=", ".join(plan.texts.broken)))
    return plan.texts.get(name, language)


def _filled(plan: CommunityPlan, language: str, text: str) -> str:
    """A page text with ``{service}``, ``{community}`` and ``{owner}`` filled in for this site."""
    community = plan.community
    owner = community.owner_name or community.owner
    if community.owner_name and community.owner_title:
        owner = f"{community.owner_name}, {community.owner_title}"
    values = {"service": identity.texts(i18n.translations(language))["name"], "community": community.title,
              "owner": f"{owner} ({community.owner})" if owner != community.owner else owner}
    return sitetexts.fill(text, {key: esc(str(value)) for key, value in values.items()})


#: Front matter key of the pages whose text may be the repository's: MkDocs converts them as it does a
#: cable of a plain build, and ``on_page_content`` passes them through the cables' sanitiser.
TEXT_META = "diplomatie_text"


def _text_page(title: str, text: str) -> str:
    """A page of the site from a text that may be the repository's. Its title (the browser's tab, the
    header) is the project's; its heading is the text's own, or the title when the text has none."""
    if not text.lstrip().startswith("# "):
        text = f"# {esc(title)}\n\n{text}"
    front = yaml.safe_dump({"title": title, TEXT_META: True}, allow_unicode=True, sort_keys=True)
    return f"---\n{front}---\n\n{text}"


def commit_shown(commit: str | None, commit_time: dt.datetime | None) -> dict[str, str]:
    """The commit a site was built from and its time, as the version page and version.json show
    them (never the clock)."""
    return {"build_commit": commit or "",
            "build_time": commit_time.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC") if commit_time else ""}


#: The version page: its body is put in after MkDocs' build, so that only this page (and
#: version.json) depends on the commit. Every footer links to it; the theme's
#: assets/javascripts/version.js reads version.json to show the same line in the footer.
VERSION_PAGE = "version.md"
VERSION_URL = "version.html"
VERSION_JSON = "version.json"
VERSION_MARKER = "<!--DIPLOMATIE:VERSION-->"


def version_json(commit: str | None, commit_time: dt.datetime | None) -> bytes:
    """``version.json``: what the footer script shows (deterministic: from the commit only)."""
    shown = commit_shown(commit, commit_time)
    built_at = utc_text(commit_time) if commit_time else ""
    return json.dumps({"commit": shown["build_commit"], "built": shown["build_time"], "built_at": built_at},
                      sort_keys=True).encode("utf-8") + b"\n"


def version_fragment(commit: str | None, commit_time: dt.datetime | None, language: str) -> str:
    """The version page's body."""
    shown = commit_shown(commit, commit_time)
    t = labels(language)
    if not shown["build_commit"]:
        return f"<p>{esc(t['built_outside_git'])}</p>"
    return "<p>" + esc(t["built_from"]).format(built=f"<time>{esc(shown['build_time'])}</time>",
                                               commit=f"<code>{esc(shown['build_commit'])}</code>") + ".</p>"


#: The names a base configuration gives the search plugin: they ask for the site's search, which is
#: Pagefind's (pipeline/build/searchindex.py), built whether or not the base names it.
SEARCH_PLUGINS = ("search", "material/search")


def _plugins_without_search(plugins: Any) -> list[Any]:
    """The base's plugins but mkdocs-material's search (replaced by Pagefind: its lunr index is one
    file of the whole site's text, tens of megabytes at thousands of cables)."""
    items: list[Any] = []
    entries = plugins.items() if isinstance(plugins, dict) else [
        (p, {}) if isinstance(p, str) else next(iter(p.items())) for p in plugins]
    for name, options in entries:
        if name not in SEARCH_PLUGINS:
            options = dict(options or {})
            items.append({name: options} if options else name)
    return items


def stage(plan: CommunityPlan, base_dir: Path, work: Path, *, commit: str | None,
          commit_time: dt.datetime | None, site_url: str | None = None, plain: bool = False,
          jinja_cache: Path | None = None, theme_dir: Path | None = None) -> SiteSource:
    """Write the community's MkDocs project under ``work``: config, home, indexes and either the
    cable page template (cable pages are written from it after the build) or, with ``plain``, one Markdown page per
    cable (what a plain ``mkdocs build`` of the same site needs). ``theme_dir``: this folder in place
    of the configuration's ``theme.custom_dir``."""
    community = plan.community
    docs, site_dir = work / "docs", work / "site"
    docs.mkdir(parents=True, exist_ok=True)
    base = load_base_config(base_dir / "mkdocs.yml")
    hooks = [str(Path(__file__).resolve())]
    config = site_config(base, base_dir, plan, docs, site_dir, commit=commit, commit_time=commit_time,
                         site_url=site_url, hooks=hooks)
    if theme_dir is not None:
        config["theme"]["custom_dir"] = str(theme_dir)
    published = {c.id: c for c in plan.publish}
    config["extra"]["diplomatie_jinja_cache"] = str(jinja_cache) if jinja_cache else ""
    if plain:
        config["markdown_extensions"] = [*base.get("markdown_extensions", []), "pipeline.site:CableLinkExtension",
                                         {"tables": html_safety.EXTENSION_CONFIGS["tables"]}]
        config["extra"]["diplomatie_published"] = sorted(published)
    pages, fragments = generated_pages(plan, inline=plain)
    language = config["theme"]["language"]
    pages[LEGAL_PAGE] = legal_page(plan, language)
    pages[ACCESSIBILITY_PAGE] = statement_page(plan, language)
    for path, text in pages.items():
        _write(docs / path, text)
    # The service's identity stylesheet, the gate's own file (the theme links it).
    _write(docs / IDENTITY_CSS, identity.IDENTITY_STYLESHEET_FILE.read_text(encoding="utf-8"))
    if plain:
        # The header is the site's own HTML, put in after the body is sanitised (``on_page_content``).
        config["extra"]["diplomatie_headers"] = {c.id: cable_header(c, published, language, vocabulary=plan.vocabulary)
                                                 for c in plan.publish}
        for cable in plan.publish:
            front = yaml.safe_dump({"title": cable.title, "description": cable.summary or cable.title,
                                    "diplomatie_cable": cable.id, "diplomatie_lang": cable.language},
                                   allow_unicode=True, sort_keys=True)
            _write(docs / f"{cable.id[:4]}/{cable.id}.md", f"---\n{front}---\n\n{cable.body}\n")
        _write(docs / VERSION_PAGE, _version_page(language, version_fragment(commit, commit_time, language)))
    else:
        _write(docs / VERSION_PAGE, _version_page(language, VERSION_MARKER))
        _write(docs / CABLE_TEMPLATE_PAGE, "---\n" + yaml.safe_dump(
            {"title": TITLE_MARKER, "description": DESCRIPTION_MARKER, CABLE_TEMPLATE_META: True},
            sort_keys=True) + "---\n\n# cable template {#top}\n")
    config_file = work / "mkdocs.yml"
    config_file.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    urls = tuple(_page_url(p) for p in sorted(pages))
    return SiteSource(community=community.id, config_file=config_file, docs_dir=docs, site_dir=site_dir,
                      pages=urls, fragments={_page_url(p): f for p, f in sorted(fragments.items())})


def _version_page(language: str, body: str) -> str:
    title = theme_texts(language)["site_version"]
    return f"---\ntitle: {json.dumps(title)}\nsearch:\n  exclude: true\n---\n\n# {title}\n\n{body}\n"


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _page_url(path: str) -> str:
    return path[: -len(".md")] + ".html"


def generated_pages(plan: CommunityPlan, inline: bool = True) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """Home and index pages: (path in docs -> Markdown, path -> {marker: HTML}).

    Lists of cables are HTML (no link for MkDocs to validate: cable pages are added after its
    build). Unless ``inline``, the Markdown holds a marker comment instead of each list, and the
    list is put in the rendered page: MkDocs need not parse thousands of list items."""
    community, cables = plan.community, plan.publish
    language = community.language if community.language in SITE_LANGUAGES else "en"
    t = labels(language)
    pages: dict[str, str] = {}
    fragments: dict[str, dict[str, str]] = defaultdict(dict)

    def page(path: str, title: str, body: str) -> None:
        # Index pages only repeat what the cable pages say: kept out of search.
        pages[path] = (f"---\ntitle: {json.dumps(title, ensure_ascii=False)}\nsearch:\n  exclude: true\n---\n\n"
                       f"# {esc(title)}\n\n{body}\n")

    depth_prefix = {0: "", 1: UP}

    def search_form(**presets: str) -> str:
        """The search of the header (theme/assets/javascripts/search.js), in the page, with its filter
        chosen: the index pages offer the same search and filters."""
        attrs = "".join(f' data-dip-preset-{k}="{esc(v)}"' for k, v in presets.items())
        label = t["search_these"] if presets else t["search_all"]
        return (f'<form class="dip-search dip-search--inline" role="search" data-dip-search{attrs}>'
                f'<label for="dip-search-page">{esc(label)}</label>'
                '<input class="dip-search__input" id="dip-search-page" type="search" name="q" autocomplete="off" '
                'spellcheck="false" aria-controls="dip-search-panel"></form>\n\n')

    def listing(items: Iterable[Cable], depth: int, path: str) -> str:
        html_text = _listing(items, depth)
        if inline:
            return html_text
        marker = f"<!--DIPLOMATIE:LIST:{len(fragments[path])}-->"
        fragments[path][marker] = html_text
        return marker

    def _listing(items: Iterable[Cable], depth: int) -> str:
        prefix = depth_prefix[depth]
        out = ['<ul class="dip-list">']
        for c in items:
            summary = f'<span class="dip-list__summary">{esc(c.summary)}</span>' if c.summary else ""
            out.append(
                f'<li><a href="{prefix}{cable_url(c.id)}">{esc(c.title)}</a>'
                f'<span class="dip-list__meta">{ref(c.id)} · {esc(long_date(c.date, language))} · '
                f"{esc(c.post)}</span>{summary}</li>")
        out.append("</ul>")
        return "\n".join(out) if cables else f"<p>{esc(t['none'])}</p>"

    owner = f"<p>{esc(t['owner'])} <strong>{esc(community.owner)}</strong>.</p>"
    count = f"<p>{len(cables)} {esc(t['count'])}. <a href=\"feed.xml\">{esc(t['feed'])}</a>.</p>"
    home_body = (f"{esc(community.description)}\n\n{owner}\n\n{count}\n\n## {esc(t['latest'])}\n\n"
                 + listing(cables[:HOME_LATEST], 0, "index.md"))
    # No front-matter title: the theme then titles the home page with the site's name alone.
    pages["index.md"] = f"# {esc(community.title)}\n\n{home_body}\n"

    by_year: dict[int, list[Cable]] = defaultdict(list)
    by_post: dict[str, list[Cable]] = defaultdict(list)
    by_subject: dict[str, list[Cable]] = defaultdict(list)
    for c in cables:
        by_year[c.date.year].append(c)
        by_post[c.post].append(c)
        for s in c.subjects:
            by_subject[s].append(c)

    months = month_names(language)
    year_lines = []
    for year in sorted(by_year, reverse=True):
        counts: dict[int, int] = defaultdict(int)
        for c in by_year[year]:
            counts[c.date.month] += 1
        month_links = ", ".join(f'<a href="{year}.html#{year}-{m:02d}">{months[m - 1]}</a> ({counts[m]})'
                                for m in sorted(counts, reverse=True))
        year_lines.append(f'<li><a href="{year}.html"><strong>{year}</strong></a> ({len(by_year[year])}) — {month_links}</li>')
        sections = []
        for m in sorted(counts, reverse=True):
            in_month = [c for c in by_year[year] if c.date.month == m]
            sections.append(f"## {months[m - 1].capitalize()} {year} {{#{year}-{m:02d}}}\n\n" + listing(in_month, 1, f"dates/{year}.md"))
        page(f"dates/{year}.md", t["by_date_year"].format(year=year),
             search_form(**{"from": str(year), "until": str(year)}) + "\n\n".join(sections))
    page("dates/index.md", t["by_date"], search_form() + '<ul class="dip-counts">' + "".join(year_lines) + "</ul>"
         if cables else f"<p>{esc(t['none'])}</p>")

    # A subject is shown (and filtered, in search) by its label; a post by its code.
    shown = {"posts": lambda name: name, "subjects": lambda name: plan.vocabulary.subject(name, language)}
    for key, groups, title in (("posts", by_post, t["by_post"]), ("subjects", by_subject, t["by_subject"])):
        lines = []
        for name in sorted(groups, key=lambda name, key=key: (_collation(shown[key](name)), name)):
            words = shown[key](name)
            lines.append(f'<li><a href="{slug(name)}.html">{esc(words)}</a> ({len(groups[name])})</li>')
            page(f"{key}/{slug(name)}.md", words, search_form(**{key[:-1]: words})
                 + listing(groups[name], 1, f"{key}/{slug(name)}.md"))
        page(f"{key}/index.md", title, search_form() + '<ul class="dip-counts">' + "".join(lines) + "</ul>"
             if cables else f"<p>{esc(t['none'])}</p>")
    return pages, dict(fragments)


def _collation(text: str) -> str:
    """The key that sorts labels as a reader expects (« Énergie » among the E, not after Z)."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").casefold()


# --------------------------------------------------------------------------------------------
# Feed and sitemap (generated here: deterministic, dated from the cables, not from the clock)


def feed_xml(plan: CommunityPlan, site_url: str | None) -> bytes:
    """Atom feed of the latest cables; ``updated`` is the newest cable's date. Each subject is a
    category: its slug the ``term`` (a feed reader's key), its label in the site's language the
    ``label`` (what a reader sees)."""
    community = plan.community
    base = (site_url.rstrip("/") + f"/c/{community.id}/") if site_url else ""
    latest = plan.publish[:FEED_ENTRIES]
    updated = _atom_date(max((c.date for c in latest), default=dt.date(1970, 1, 1)))
    out = ['<?xml version="1.0" encoding="utf-8"?>',
           f'<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="{esc(community.language)}">',
           f"  <id>urn:diplomatie:{esc(community.id)}</id>",
           f"  <title>{esc(community.title)}</title>",
           f"  <subtitle>{esc(community.description)}</subtitle>",
           f"  <updated>{updated}</updated>",
           f'  <link rel="alternate" type="text/html" href="{esc(base) or "./"}"/>',
           f"  <author><name>{esc(community.owner)}</name></author>"]
    for c in latest:
        out += ["  <entry>",
                f"    <id>urn:diplomatie:{esc(community.id)}:{esc(c.id)}</id>",
                f"    <title>{esc(c.title)}</title>",
                f"    <updated>{_atom_date(c.date)}</updated>",
                f'    <link rel="alternate" type="text/html" href="{esc(base + cable_url(c.id))}"/>',
                f"    <summary>{esc(c.summary or c.title)}</summary>",
                *[f'    <category term="{esc(s)}" label="{esc(plan.vocabulary.subject(s, community.language))}"/>'
                  for s in c.subjects],
                "  </entry>"]
    out.append("</feed>\n")
    return "\n".join(out).encode("utf-8")


def _atom_date(date: dt.date) -> str:
    """A day as an Atom date: its midnight, UTC."""
    return utc_text(dt.datetime.combine(date, dt.time(), dt.UTC))


def sitemap_xml(plan: CommunityPlan, pages: Iterable[str], site_url: str | None) -> bytes:
    """Sitemap of the generated pages and the cable pages; a cable's lastmod is its date."""
    base = (site_url.rstrip("/") + f"/c/{plan.community.id}/") if site_url else ""
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">']
    for url in pages:
        out.append(f"  <url><loc>{esc(base + url)}</loc></url>")
    for c in sorted(plan.publish, key=lambda c: c.id):
        out.append(f"  <url><loc>{esc(base + cable_url(c.id))}</loc><lastmod>{c.date.isoformat()}</lastmod></url>")
    out.append("</urlset>\n")
    return "\n".join(out).encode("utf-8")


def gzip_bytes(data: bytes, mtime: int) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=mtime, filename="") as gz:
        gz.write(data)
    return buf.getvalue()


# --------------------------------------------------------------------------------------------
# MkDocs hooks (this module is the ``hooks`` of every staged configuration): the template cache,
# and cable links resolved in plain builds (``stage(..., plain=True)``).


#: Configured strings the theme prints into pages (some without ``|e``: MkDocs' Jinja does not
#: autoescape, and mkdocs-material prints ``config.site_name`` raw in its header).
ESCAPED_CONFIG = ("site_name", "site_description", "copyright")


def on_config(config: Any) -> Any:
    """A community's title and description, and the copyright line, as escaped markup: printed
    raw, they read as text; through ``|e`` they are not escaped twice (``Markup`` is already safe)."""
    from markupsafe import Markup

    for key in ESCAPED_CONFIG:
        value = config.get(key)
        if isinstance(value, str) and not isinstance(value, Markup):
            config[key] = Markup(esc(value))
    return config


def on_env(env: Any, config: Any, files: Any) -> Any:
    """Compiled templates are kept between builds: compiling mkdocs-material's costs ~0.5 s a site."""
    from jinja2 import FileSystemBytecodeCache

    cache = config["extra"].get("diplomatie_jinja_cache")
    if cache:
        Path(cache).mkdir(parents=True, exist_ok=True)
        env.bytecode_cache = FileSystemBytecodeCache(cache)
    return env


def on_page_content(html_text: str, page: Any, config: Any, files: Any) -> str:
    """A cable page of a plain build: its body sanitised (as :class:`CableRenderer` does), its header
    put before it, its cable links resolved. The legal notice and the accessibility statement (texts the
    repository may write) sanitised the same way."""
    cable_id = (page.meta or {}).get("diplomatie_cable")
    if (page.meta or {}).get(TEXT_META):  # a text the content repository may have written (pipeline/sitetexts.py)
        html_text = html_safety.sanitise(html_text)
    if cable_id:
        html_text = config["extra"]["diplomatie_headers"][cable_id] + html_safety.sanitise(html_text)
    if LINK_SCHEME not in html_text and ID_OPEN not in html_text:
        return html_text
    published = set(config["extra"].get("diplomatie_published") or ())
    depth = page.url.count("/")
    return resolve_links(html_text, published, config["theme"]["language"], "../" * depth)
