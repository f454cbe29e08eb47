"""Terms of use: a member accepts a community's terms, once per version, before reading any of its pages.

A community may have terms (a Markdown file of the content repository, named by ``terms`` in
``communities.yaml``); ``publish`` stores each version's text at ``terms/<community>/<hex>.md`` and
names the version (``sha256:<hex>`` of the file) in ``members.json`` (gate/membership.py,
``CommunityAccess.terms``). Then:

- :func:`guarded` wraps the site view: a member of such a community who has not accepted that version
  is sent to ``/terms?c=<community>&next=<page>`` instead of the page. Behind nginx the same answer is
  a "no" to nginx's decision subrequest, so **no grant is issued before acceptance**; a new version
  applies behind nginx once the grants issued before it expire (``grant_ttl``), in the gate at once;
- ``/terms`` (GET) shows the text (as text: the file is shown, never rendered as HTML) and a form;
  its POST, with a CSRF token bound to the session cookie and the version shown, records the
  acceptance (``acceptances/<community>/<member>-<hex>.json``, create-if-absent) and goes on to the
  page. A version that changed between the two is shown again.

Acceptances known to this process are kept in memory (they are never withdrawn, except by
``diplomatie forget``, after which the person is no longer a member either); a miss asks the store,
and a store that cannot answer is a 503 (fail closed: the page is not served without the terms).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import html
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from gate import store as storage
from gate.http import Refusal, Request, Response, parse_query, safe_next
from gate.i18n import N_
from gate.serving import split_site_path
from gate.state import GateState
from gate.views import not_a_member, read_form

PATH = "/terms"

#: At most this many acceptances remembered per process (all forgotten when full: a miss asks the store).
KNOWN_MAX = 100_000
#: The longest terms text shown (publish refuses longer files; anything longer in the store is cut).
MAX_TEXT = 200_000

View = Callable[[GateState, Request], Awaitable[Response]]


class Terms:
    """One process's knowledge of acceptances and of the terms' texts."""

    def __init__(self) -> None:
        self.accepted: set[tuple[str, str, str]] = set()
        self.texts: dict[tuple[str, str], str] = {}

    def remember(self, community: str, address: str, version: str) -> None:
        if len(self.accepted) >= KNOWN_MAX:
            self.accepted.clear()
        self.accepted.add((community, address, version))


def _terms_of(gate: GateState) -> Terms:
    terms = getattr(gate, "terms", None)
    if not isinstance(terms, Terms):  # the application creates it; a bare state gets one here
        terms = Terms()
        gate.terms = terms  # type: ignore[attr-defined]
    return terms


async def has_accepted(gate: GateState, community: str, address: str, version: str) -> bool:
    """Whether ``address`` accepted this version (memory first, then the store; StoreUnavailable passes)."""
    terms = _terms_of(gate)
    if (community, address, version) in terms.accepted:
        return True
    found = await asyncio.to_thread(gate.store.exists, storage.acceptance_key(community, address, version))
    if found:
        terms.remember(community, address, version)
    return found


def site_community(gate: GateState, path: str) -> str | None:
    """The community a site path (/c/<community>/…) names, through serve_site's cache of parsed paths."""
    parsed = gate.site_paths.get(path)
    if parsed is None:
        parsed = split_site_path(path)
    return None if parsed is False else parsed[0]


def guarded(view: View, community_of: Callable[[GateState, str], str | None] = site_community) -> View:
    """``view`` (the site, or a reply page), behind the terms: a member who has not accepted the
    current terms of the community the path names (``community_of``) is sent to them; anyone else goes
    on to ``view`` (which makes every other decision itself)."""

    async def site(gate: GateState, req: Request) -> Response:
        community = community_of(gate, req.path)
        if community is None:
            return await view(gate, req)
        access = gate.members().communities.get(community)
        if access is None or not access.terms:
            return await view(gate, req)
        now = gate.clock()
        cookie = req.header("cookie")
        claims = gate.sessions.cached(gate.sessions.token(cookie), now) or await gate.sessions.session(cookie, now)
        if (claims is not None and access.admits(claims.sub, gate.today(now))
                and not await has_accepted(gate, community, claims.sub, access.terms)):
            target = f"{PATH}?c={quote(community)}&next={quote(req.path, safe='/')}"
            return gate.pages.redirect(target, subject=claims.sub, community=community)
        return await view(gate, req)

    return site


def csrf_for(gate: GateState, cookie_header: str | None, community: str, version: str) -> str:
    """The form's token: bound to this session cookie, this community and this version."""
    token = gate.sessions.token(cookie_header) or ""
    return hashlib.sha256(f"terms:{community}:{version}:{token}".encode()).hexdigest()[:32]


async def terms_text(gate: GateState, community: str, version: str) -> str:
    """The text of that version (from the store, then memory); StoreUnavailable when unreadable."""
    terms = _terms_of(gate)
    cached = terms.texts.get((community, version))
    if cached is not None:
        return cached
    try:
        data = await asyncio.to_thread(gate.store.get, storage.terms_key(community, version))
    except storage.NotFound:
        raise storage.StoreUnavailable(f"terms of {community} ({version}) missing from the store") from None
    if storage.terms_version(data) != version:
        raise storage.StoreUnavailable(f"terms of {community}: the stored text is not version {version}")
    text = data.decode("utf-8", errors="replace")[:MAX_TEXT]
    terms.texts[(community, version)] = text
    return text


def text_html(text: str) -> str:
    """The terms as the file writes them: paragraphs at blank lines, line breaks kept, everything escaped."""
    paragraphs = [p.strip("\n") for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]
    return "".join("<p>" + "<br>".join(html.escape(line) for line in p.split("\n")) + "</p>" for p in paragraphs)


async def page(gate: GateState, req: Request) -> Response:
    """``/terms``: GET shows the community's terms and the form; POST records the acceptance."""
    query = parse_query(req.query)
    form = await read_form(gate, req) if req.method == "POST" else {}
    community = (form.get("c") if req.method == "POST" else query.get("c")) or ""
    next_path = safe_next(form.get("next") if req.method == "POST" else query.get("next"))
    now = gate.clock()
    cookie = req.header("cookie")
    claims = await gate.sessions.session(cookie, now)
    if claims is None:
        return gate.pages.redirect("/login?next=" + quote(f"{PATH}?c={community}", safe="/"))
    access = gate.members().communities.get(community)
    if access is None or not access.admits(claims.sub, gate.today(now)):
        raise not_a_member(claims.sub, community or None)
    onward = next_path if next_path and next_path.startswith(f"/c/{community}/") else f"/c/{community}/"
    if not access.terms or await has_accepted(gate, community, claims.sub, access.terms):
        return gate.pages.redirect(onward, 303 if req.method == "POST" else 302, subject=claims.sub)
    reader = gate.pages.reader(req, community)
    _ = reader.gettext
    changed = False
    if req.method == "POST":
        if not hmac.compare_digest(form.get("csrf", ""), csrf_for(gate, cookie, community, form.get("version", ""))):
            raise Refusal(403, N_("Request refused"),
                          N_("This request came from another site. Open the page again from this service."),
                          subject=claims.sub, community=community)
        if form.get("version") == access.terms:
            await asyncio.to_thread(storage.write_acceptance, gate.store, community, claims.sub, access.terms, now)
            _terms_of(gate).remember(community, claims.sub, access.terms)
            return gate.pages.redirect(onward, 303, subject=claims.sub)
        changed = True  # the terms changed since the page was shown: show the new ones
    text = await terms_text(gate, community, access.terms)
    e = html.escape
    again = _("These terms changed since you opened the page. Please read them again.")
    notice = f'<p class="dip-alert" role="status">{e(again)}</p>' if changed else ""
    intro = e(_("Before you read “{community}”, please read and accept its terms of use. You are asked once for "
                "each version.")).format(community=e(access.title))
    hidden = (f'<input type="hidden" name="c" value="{e(community)}">'
              f'<input type="hidden" name="version" value="{e(access.terms)}">'
              f'<input type="hidden" name="csrf" value="{csrf_for(gate, cookie, community, access.terms)}">'
              f'<input type="hidden" name="next" value="{e(onward)}">')
    accept = e(_("I accept these terms"))
    refuse = e(_("If you do not accept them, you cannot read this community."))
    back = e(_("Go to your communities"))
    body = (f"{notice}<p>{intro}</p><div class=\"dip-terms\" lang=\"{e(access.language)}\">{text_html(text)}</div>"
            f'<form method="post" action="{PATH}">{hidden}<button type="submit">{accept}</button></form>'
            f'<p>{refuse}</p><ul class="dip-next"><li><a href="/">{back}</a></li></ul>')
    return gate.pages.page(200, reader, _("Terms of use of “{community}”").format(community=access.title), body,
                           subject=claims.sub, community=community)
