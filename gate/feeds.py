"""Personal feeds: a feed address for each member and community, that a feed reader can use.

A feed reader cannot sign in, so the community's ``feed.xml`` under ``/c/`` (which needs the session
cookie) is out of its reach. A member gets instead a personal address from the gate:

- ``/feeds/<community>/`` (signed in, a current member, the community's terms accepted): says whether
  the member has an address, makes one (shown once: the store keeps only the SHA-256 of its secret),
  replaces it (the old one stops working at once) or stops it; and shows the latest cables, the feed
  read as a page;
- ``/feeds/<community>/feed.xml?key=<feed token>`` (gate/tokens.py, *Feed tokens*): the community's
  current ``feed.xml``, and nothing else. The token is the whole authority: no cookie is read, none is
  set. At each request the token's record is read from the store (gate/store.py ``FeedAddress``), its
  digest compared in constant time, and the member's address asked of the current membership
  snapshot (gate/membership.py): a member removed or expired is refused from the next request, as is
  one who has not accepted new terms of use. A browser (``Accept`` naming ``text/html`` above the feed's
  types) gets the feed as a page in the service's look instead of raw XML; a feed reader gets the Atom
  document, with the release's ETag for conditional requests.

Every refusal of a feed token is the same page, whatever the reason (malformed, forged, replaced,
stopped, membership ended), so the address tells its holder nothing about the member.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import html
import re
from urllib.parse import quote

from gate import store as storage
from gate import terms, tokens
from gate.blobs import Release
from gate.feedpage import FEED_FILE, PERSONAL_PREFIX, entries_html, feed_answer, long_date, personal_page_path
from gate.http import Refusal, Request, Response, not_found, parse_query
from gate.i18n import N_
from gate.pages import Reader
from gate.serving import serving_release
from gate.state import GateState
from gate.views import read_form

PREFIX = PERSONAL_PREFIX
_PATH = re.compile(r"/feeds/(?P<community>[a-z0-9][a-z0-9_-]{0,63})/(?P<file>feed\.xml)?")

NEW, STOP = "new", "stop"


def target(path: str) -> tuple[str, bool]:
    """(community, whether it is the feed itself) named by a path under /feeds/; 404 for any other."""
    match = _PATH.fullmatch(path)
    if match is None:
        raise not_found()
    return match["community"], match["file"] is not None


def community_of(gate: GateState, path: str) -> str | None:
    """The community of the feed page (for the terms' guard); None for the feed, which checks them itself."""
    match = _PATH.fullmatch(path)
    return None if match is None or match["file"] else match["community"]


page_path = personal_page_path


def feed_url(gate: GateState, community: str, token: str) -> str:
    return f"{gate.config.origin}{PREFIX}{community}/{FEED_FILE}?key={token}"


def csrf_for(gate: GateState, cookie_header: str | None, community: str) -> str:
    """The feed page's form token: bound to this session cookie and this community."""
    token = gate.sessions.token(cookie_header) or ""
    return hashlib.sha256(f"feeds:{community}:{token}".encode()).hexdigest()[:32]


def feed_refused(community: str) -> Refusal:
    """The one answer to every feed token that does not open the feed, whatever the reason."""
    return Refusal(403, N_("This feed address does not work"),
                   N_("It may be incomplete, or it was replaced by a newer address, or it no longer opens the "
                      "community. Sign in to get a new address."),
                   links=((page_path(community), N_("Get a personal feed address")),), community=community)


def not_a_member_here(community: str, subject: str) -> Refusal:
    return Refusal(403, N_("Not a member of this community"),
                   N_("You are signed in, but not as a member of this community. If you think you should be, "
                      "write to the person who invited you."),
                   links=(("/", N_("Go to your communities")), ("/logout", N_("Sign in with another address"))),
                   subject=subject, community=community)


async def view(gate: GateState, req: Request) -> Response:
    """Everything under /feeds/: the member's page, or the feed itself (GET only)."""
    community, is_feed = target(req.path)
    if is_feed:
        if req.method not in ("GET", "HEAD"):
            raise Refusal(405, N_("Method not allowed"), N_("This address cannot be used this way."),
                          extra=[("allow", "GET, HEAD")])
        return await feed(gate, req, community)
    return await page(gate, req, community)


# -- the feed, for a token ---------------------------------------------------------------------


async def holder(gate: GateState, community: str, token: str) -> str:
    """The address of the member whose current feed token for ``community`` this is, or the refusal."""
    parts = tokens.feed_token_parts(token)
    if parts is None:
        raise feed_refused(community)
    member, secret = parts
    record = await asyncio.to_thread(storage.read_feed_address, gate.store, community, member)
    if record is None or not hmac.compare_digest(record.digest, tokens.feed_digest(secret)):
        raise feed_refused(community)
    now = gate.clock()
    access = gate.members().communities.get(community)  # 503 while members.json cannot be read
    if access is None or not access.admits(record.address, gate.today(now)):
        raise feed_refused(community)
    if access.terms and not await terms.has_accepted(gate, community, record.address, access.terms):
        raise feed_refused(community)
    return record.address


async def feed(gate: GateState, req: Request, community: str) -> Response:
    """The community's feed.xml to the holder of a current feed token: no cookie read, none set."""
    address = await holder(gate, community, parse_query(req.query).get("key", ""))
    release = await serving_release(gate, community, address)
    entry = release.manifest.files.get(FEED_FILE)
    if entry is None:
        raise Refusal(404, N_("Page not found"), N_("There is no such page in this community."),
                      links=((page_path(community), N_("Your personal feed")),), subject=address, community=community)
    return await feed_answer(gate, req, release, entry, subject=address, community=community, personal=True)


# -- the member's page -------------------------------------------------------------------------


async def page(gate: GateState, req: Request, community: str) -> Response:
    """GET: the member's feed address (whether there is one), the form, the latest cables. POST: make a
    new address (shown once) or stop the current one."""
    cookie = req.header("cookie")
    now = gate.clock()
    claims = await gate.sessions.session(cookie, now)
    if claims is None:
        return gate.pages.redirect("/login?next=" + quote(page_path(community), safe="/"))
    address = claims.sub
    access = gate.members().communities.get(community)
    if access is None or not access.admits(address, gate.today(now)):
        raise not_a_member_here(community, address)
    made, stopped = None, False
    if req.method == "POST":
        form = await read_form(gate, req)
        if not hmac.compare_digest(form.get("csrf", ""), csrf_for(gate, cookie, community)):
            raise Refusal(403, N_("Request refused"),
                          N_("This request came from another site. Open the page again from this service."))
        action = form.get("action")
        if action == NEW:
            made, digest = tokens.new_feed_token(storage.member_id(address))
            await asyncio.to_thread(storage.write_feed_address, gate.store, community, address, digest, now)
        elif action == STOP:
            await asyncio.to_thread(storage.delete_feed_address, gate.store, community, address)
            stopped = True
        else:
            raise Refusal(400, N_("Choice not understood"), N_("Open the page again and choose once more."),
                          links=((page_path(community), N_("Your personal feed")),))
    record = await asyncio.to_thread(storage.read_feed_address, gate.store, community, storage.member_id(address))
    try:
        release: Release | None = await serving_release(gate, community, address)
    except Refusal:  # not published yet, or unavailable: the page still gives the address
        release = None
    entry = release.manifest.files.get(FEED_FILE) if release is not None else None
    feed_data = (await gate.blobs.served(entry, release.policy(entry))).body if release is not None and entry else None
    reader = gate.pages.reader(req, community)
    body = (address_section(gate, reader, community, made, stopped, record, csrf_for(gate, cookie, community))
            + entries_html(reader, feed_data, community, access.language))
    return gate.pages.page(200, reader, reader.gettext("Your personal feed"), body, subject=address,
                           community=community)


def address_section(gate: GateState, reader: Reader, community: str, made: str | None, stopped: bool,
                    record: storage.FeedAddress | None, csrf: str) -> str:
    _ = reader.gettext
    e = html.escape
    intro = e(_("A feed reader can follow the new cables of this community with a personal address: it opens "
                "this community's feed only, for you alone, as long as you are a member. Keep it to yourself: "
                "whoever has it can read the titles and summaries of the cables."))
    parts = [f"<p>{intro}</p>"]
    if made is not None:
        url = feed_url(gate, community, made)
        label = e(_("Your new feed address"))
        once = e(_("Copy it now into your feed reader: it is not kept, and will not be shown again. "
                   "Any address you had before no longer works."))
        parts.append(f'<div class="dip-alert dip-alert--ok" role="status"><p><strong>{label}</strong></p>'
                     f'<p><a class="dip-address" href="{e(url)}">{e(url)}</a></p><p>{once}</p></div>')
    elif stopped:
        done = _("Your feed address is stopped: it no longer works.")
        parts.append(f'<p class="dip-alert dip-alert--ok" role="status">{e(done)}</p>')
    if record is not None and made is None:
        made_on = dt.date.fromisoformat(record.at[:10])
        since = e(_("You have had a personal feed address since {date}.")).format(
            date=e(long_date(made_on, reader.lang)))
        parts.append(f"<p>{since}</p>")
    elif record is None and made is None:
        none_yet = _("You have no personal feed address for this community.")
        parts.append(f"<p>{e(none_yet)}</p>")
    hidden = f'<input type="hidden" name="csrf" value="{csrf}">'
    action = e(page_path(community))
    new_label = e(_("Get a new address (the current one stops working)") if record is not None
                  else _("Get a personal feed address"))
    parts.append(f'<form method="post" action="{action}">{hidden}'
                 f'<button type="submit" name="action" value="{NEW}">{new_label}</button></form>')
    if record is not None:
        stop_label = e(_("Stop my feed address"))
        parts.append(f'<form method="post" action="{action}">{hidden}'
                     f'<button class="dip-button--secondary" type="submit" name="action" value="{STOP}">'
                     f"{stop_label}</button></form>")
    return "".join(parts)
