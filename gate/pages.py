"""The gate's own pages (sign-in, confirmation, refusals): in French or English, in the service's look.

Every page is built here, around what a view gives (a title and a body, already in the reader's
language): the ``lang`` of the document, the identity header and footer (gate/identity.py), the
stylesheet (served by the gate itself, so GATE_POLICY's ``style-src 'self'`` allows it; no script, no
inline style), the language switch, and, when the page belongs to a community, its title and who runs
it (the owner's name and title from the membership snapshot, never an address).

Which language: :meth:`Pages.reader` (the switch, the ``lang`` cookie, the community, the browser,
French; gate/i18n.py ``choose``).
"""

from __future__ import annotations

import gettext
import html
from collections.abc import Callable
from urllib.parse import parse_qsl, urlencode

from gate import i18n, identity
from gate.csp import GATE_POLICY
from gate.http import MAX_QUERY, Refusal, Request, Response, cookie_value, location
from gate.i18n import N_
from gate.membership import CommunityAccess

#: How long the language cookie is kept: a year (it says nothing about the reader but a language).
LANGUAGE_COOKIE_AGE = 365 * 86400

#: The other language's name, written in that language, for the switch.
_SWITCH_LABEL = {"fr": "Français", "en": "English"}


class Reader:
    """Who a page is for: their language and its catalogue, the community the page belongs to (if
    any), where the language switch goes, and the cookie remembering a language they just chose."""

    __slots__ = ("lang", "t", "community", "switch", "set_cookie")

    def __init__(self, lang: str, community: CommunityAccess | None, switch: str, set_cookie: str | None) -> None:
        self.lang = lang
        self.t: gettext.NullTranslations = i18n.translations(lang)
        self.community = community
        self.switch = switch
        self.set_cookie = set_cookie

    def gettext(self, message: str) -> str:
        return self.t.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.t.ngettext(singular, plural, n)


def _lenient_query(text: str) -> list[tuple[str, str]]:
    """The query's pairs as far as they can be read; never raises (used while rendering a refusal of it)."""
    if len(text) > MAX_QUERY:
        return []
    try:
        return parse_qsl(text, keep_blank_values=True, errors="strict", max_num_fields=32)
    except (UnicodeError, ValueError):
        return []


def community_id(path: str | None) -> str | None:
    """The community a gate path belongs to: ``/c/<id>/…`` -> ``<id>`` (looked up, never trusted)."""
    if path and path.startswith("/c/"):
        return path[3:].partition("/")[0] or None
    return None


class Pages:
    """Builds the gate's responses with the headers every one of them carries."""

    def __init__(self, security: list[tuple[str, str]], *, service: identity.Service | None = None,
                 community: Callable[[str], CommunityAccess | None] = lambda cid: None,
                 secure_cookies: bool = True) -> None:
        self.security = security
        self.service = service or identity.Service()
        self.community = community
        self.secure_cookies = secure_cookies
        self.policy_and_security = [("content-security-policy", GATE_POLICY), *security]
        """What every answer of the gate's own carries, whatever its type and caching."""
        self.page_headers = [("content-type", "text/html; charset=utf-8"), ("cache-control", "no-store"),
                             *self.policy_and_security]
        for language in i18n.LANGUAGES:  # a missing or broken catalogue stops the gate at start-up
            i18n.translations(language)

    # -- the reader ------------------------------------------------------------------------------

    def reader(self, req: Request, community: str | None = None, *, next_path: str | None = None) -> Reader:
        """The reader of the page answering ``req``; ``community`` when the view knows it (a link's claims,
        a refusal), else the one of the path or of its ``next``."""
        pairs = _lenient_query(req.query)
        query = dict(pairs)
        cid = community or community_id(req.path) or community_id(next_path) or community_id(query.get("next"))
        access = self.community(cid) if cid else None
        asked = i18n.valid(query.get("lang"))
        remembered = i18n.valid(cookie_value(req.header("cookie"), i18n.COOKIE))
        lang = i18n.choose(asked=asked, remembered=remembered, community=access.language if access else None,
                           accept_language=req.header("accept-language"))
        other = "en" if lang == "fr" else "fr"
        kept = [(k, v) for k, v in pairs if k != "lang"] if req.method in ("GET", "HEAD") else []
        if not kept and next_path:
            kept = [("next", next_path)]
        switch = req.path + "?" + urlencode([*kept, ("lang", other)])
        set_cookie = None
        if asked and asked != remembered:
            set_cookie = (f"{i18n.COOKIE}={asked}; Path=/; Max-Age={LANGUAGE_COOKIE_AGE}; SameSite=Lax; HttpOnly"
                          + ("; Secure" if self.secure_cookies else ""))
        return Reader(lang, access, switch, set_cookie)

    # -- pages -----------------------------------------------------------------------------------

    def page(self, status: int, reader: Reader, title: str, body_html: str, *,
             extra: list[tuple[str, str]] | None = None, subject: str | None = None,
             community: str | None = None) -> Response:
        """A whole page: ``title`` (text) and ``body_html`` are already in ``reader``'s language."""
        t = reader.t
        _ = t.gettext
        other = "en" if reader.lang == "fr" else "fr"
        language, skip = html.escape(_("Language")), html.escape(_("Skip to content"))
        switch = (f'<nav class="dip-lang" aria-label="{language}"><a href="{html.escape(reader.switch)}" '
                  f'hreflang="{other}" lang="{other}">{_SWITCH_LABEL[other]}</a></nav>')
        document = (
            f'<!doctype html><html lang="{reader.lang}" dir="ltr"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)} — {html.escape(self.service.title(t))}</title>"
            f'<link rel="stylesheet" href="{identity.stylesheet_href()}">'
            '<link rel="icon" href="data:,"></head><body>'
            f'<a class="dip-skip" href="#contenu">{skip}</a>'
            f"{identity.header(t, self.service, switch=switch)}"
            f'<main class="dip-main" id="contenu"><h1>{html.escape(title)}</h1>'
            f"{self.community_box(reader)}{body_html}</main>"
            f"{identity.footer(t, self.service)}</body></html>"
        ).encode()
        headers = [*self.page_headers, ("content-language", reader.lang)]
        if reader.set_cookie:
            headers.append(("set-cookie", reader.set_cookie))
        return Response(status, [*headers, *(extra or [])], document, subject=subject,
                        community=community or (reader.community.id if reader.community else None))

    def community_box(self, reader: Reader) -> str:
        """The community the page belongs to, and who runs it: a name and title, never an address."""
        access = reader.community
        if access is None:
            return ""
        _ = reader.gettext
        title = html.escape(access.title)
        if access.owner_name:
            who = html.escape(access.owner_name + (f", {access.owner_title}" if access.owner_title else ""))
            run_by = html.escape(_("Community run by {owner}.")).format(owner=who)
        else:
            run_by = html.escape(_("Community run by the team of “{community}”.")).format(community=title)
        label = html.escape(_("Community"))
        return (f'<aside class="dip-community" aria-label="{label}">'
                f'<p class="dip-community__title">{title}</p><p>{run_by}</p></aside>')

    def refusal(self, refusal: Refusal, req: Request) -> Response:
        """The one place a raised refusal becomes its page, in the reader's language, with what to do next."""
        reader = self.reader(req, refusal.community)
        _ = reader.gettext
        message = f"<p>{html.escape(_(refusal.message))}</p>" if refusal.message else ""
        links = refusal.links or (("/", N_("Go to the home page")),)
        steps = "".join(f'<li><a href="{html.escape(href)}">{html.escape(_(label))}</a></li>' for href, label in links)
        next_steps = html.escape(_("What to do next"))
        body = f'{message}<ul class="dip-next" aria-label="{next_steps}">{steps}</ul>'
        return self.page(refusal.status, reader, _(refusal.title), body, extra=refusal.extra,
                         subject=refusal.subject, community=refusal.community)

    def redirect(self, target: str, status: int = 302, extra: list[tuple[str, str]] | None = None,
                 subject: str | None = None, community: str | None = None) -> Response:
        headers = [("location", location(target)), ("cache-control", "no-store"),
                   ("content-security-policy", GATE_POLICY), *self.security, *(extra or [])]
        return Response(status, headers, b"", subject=subject, community=community)

    def plain(self, status: int, text: str, content_type: str = "text/plain; charset=utf-8") -> Response:
        return Response(status, [("content-type", content_type), ("cache-control", "no-store"),
                                 ("content-security-policy", GATE_POLICY), *self.security], text.encode())

    def stylesheet(self, req: Request) -> Response:
        """The identity stylesheet: immutable under its versioned address, briefly cached otherwise."""
        data, version = identity.stylesheet()
        etag = f'"{version}"'
        versioned = dict(_lenient_query(req.query)).get("v") == version
        caching = "public, max-age=31536000, immutable" if versioned else "public, max-age=300"
        headers = [("content-type", "text/css; charset=utf-8"), ("cache-control", caching), ("etag", etag),
                   *self.policy_and_security]
        if req.header("if-none-match") == etag:
            return Response(304, headers, b"")
        return Response(200, headers, data)
