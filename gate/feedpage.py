"""A community's Atom feed read as a page: what a browser window gets instead of raw XML.

Two addresses open a community's ``feed.xml``: the site's own (``/c/<community>/feed.xml``, with a
session: gate/serving.py) and a member's personal feed address (``/feeds/<community>/feed.xml?key=``:
gate/feeds.py). Both answer a request whose ``Accept`` prefers ``text/html`` (gate/negotiation.py
``prefers_html``: a browser following a link) with this page, in the service's look and the reader's
language, and every other request (a feed reader) with the Atom document itself. The entries come from
the release's feed read back as data (gate/atom.py); every text is escaped, so a cable's title or summary
is never markup.

:func:`feed_answer` makes that choice for both. Both answers carry ``Vary: Accept``, so a cache never
gives one the other; the page is ``no-store`` and has no ETag, so it is never mistaken for the feed
either (a browser's ``If-None-Match`` with the feed's ETag still gets the page). The feed is always sent
by the gate itself, never handed to nginx: nginx's decision (gate/serving.py ``decision``) is "ask the
gate" for it, and deploy/nginx.conf sends the feed's address to the gate directly.
"""

from __future__ import annotations

import datetime as dt
import html

from babel.dates import format_date

from gate import atom
from gate import store as storage
from gate.blobs import Release
from gate.http import Request, Response
from gate.negotiation import prefers_html
from gate.pages import Reader
from gate.state import GateState

#: The feed of every site (pipeline/site.py ``feed_xml``), at the root of the site.
FEED_FILE = "feed.xml"
#: Where a member gets a personal feed address (gate/feeds.py, the member's page).
PERSONAL_PREFIX = "/feeds/"


def personal_page_path(community: str) -> str:
    return f"{PERSONAL_PREFIX}{community}/"


def long_date(day: dt.date, language: str) -> str:
    """``8 avril 2026``, ``April 8, 2026``: a date as the reader's language writes it."""
    return format_date(day, format="long", locale=language)


def entries_html(reader: Reader, feed_data: bytes | None, community: str, language: str) -> str:
    """The latest cables of the feed, as a list of links to their pages on the site."""
    _ = reader.gettext
    e = html.escape
    parsed = atom.read(feed_data, f"/c/{community}/") if feed_data is not None else None
    latest, unreadable, empty = (_("Latest cables"), _("The list of cables cannot be shown at the moment."),
                                 _("No cable has been published yet."))
    heading = f"<h2>{e(latest)}</h2>"
    if parsed is None:
        return f"{heading}<p>{e(unreadable)}</p>"
    if not parsed.entries:
        return f"{heading}<p>{e(empty)}</p>"
    items = []
    for entry in parsed.entries:
        title = f'<a href="{e(entry.link)}">{e(entry.title)}</a>' if entry.link else e(entry.title)
        when = (f'<span class="dip-list__meta"><time datetime="{entry.updated.isoformat()}">'
                f"{e(long_date(entry.updated, reader.lang))}</time></span>") if entry.updated else ""
        summary = (f'<span class="dip-list__summary">{e(entry.summary)}</span>'
                   if entry.summary and entry.summary != entry.title else "")
        items.append(f"<li>{title}{when}{summary}</li>")
    return f'{heading}<ul class="dip-list" lang="{e(language)}">{"".join(items)}</ul>'


def feed_page(gate: GateState, reader: Reader, community: str, feed_data: bytes, *, subject: str,
              personal: bool) -> Response:
    """The feed opened in a browser: what it is for, and the cables it lists. ``personal``: opened by a
    member's personal feed address (which it is, and where to replace or stop it); else the site's own
    feed (a feed reader cannot sign in: where to get an address one can use)."""
    _ = reader.gettext
    e = html.escape
    access = gate.community_shown(community)
    title = access.title if access else community
    language = access.language if access else reader.lang
    if personal:
        intro = _("This is a personal feed address for “{community}”. Add it to your feed reader to follow the "
                  "new cables; keep it to yourself: whoever has it can read their titles and summaries.")
        link = _("Replace or stop this address")
    else:
        intro = _("This is the feed of the latest cables of “{community}”. A feed reader cannot sign in, so "
                  "it cannot open this address: get a personal feed address for it.")
        link = _("Get a personal feed address")
    body = (f"<p>{e(intro).format(community=e(title))}</p>{entries_html(reader, feed_data, community, language)}"
            f'<ul class="dip-next"><li><a href="{e(personal_page_path(community))}">{e(link)}</a></li></ul>')
    return gate.pages.page(200, reader, _("Feed of the latest cables"), body, subject=subject,
                           extra=[("vary", "Accept")], community=community)


async def feed_answer(gate: GateState, req: Request, release: Release, entry: storage.FileEntry, *,
                      subject: str, community: str, personal: bool) -> Response:
    """The feed as a page to a browser (:func:`feed_page`), else the Atom document with its ETag,
    conditional requests and ranges (gate/blobs.py), ``Accept`` added to its ``Vary``."""
    blobs = gate.blobs
    if prefers_html(req.header("accept")):
        served = await blobs.served(entry, release.policy(entry))
        return feed_page(gate, gate.pages.reader(req, community), community, served.body, subject=subject,
                         personal=personal)
    served = await blobs.served(entry, release.policy(entry), blobs.coding(req, entry))
    answer = blobs.answer(req, served, subject=subject, community=community)
    answer.headers = [(k, f"{v}, Accept" if k == "vary" else v) for k, v in answer.headers]
    return answer
