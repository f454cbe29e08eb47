"""The reply page: a member answers a cable (docs/gate.md, *Replies*).

``/replies/<community>/<year>/<cable>.html`` mirrors the cable page ``/c/<community>/<year>/<cable>.html``
(the theme links one to the other, theme/partials/dip-reply.html). GET shows the form and the member's
own replies to that cable with their status; POST takes a reply. Each request is checked in turn:

- a session, and membership of the community *now* (a removed or expired member is refused even
  with a session still valid);
- the cable is in the community's current release (its id in the manifest's ``cables`` and its page
  among the files): no reply to a cable of another community, a withdrawn one, or one not published;
- POST only: not sent by another site (``Sec-Fetch-Site`` other than ``same-origin``, or an
  ``Origin`` naming another site, is refused before the body is read), the CSRF token bound to both the
  session cookie and this cable, the member's reply budget (gate/throttle.py), a body of at most
  :data:`MAX_BODY` bytes, a form holding only our three fields, and text the store may hold
  (gate/replies.py ``text_problem``: not empty, short, no control or format characters).

The reply is then stored as its own object (gate/replies.py, create-if-absent), and the member is
sent back to the page (303), which acknowledges it in their language. The text is shown back as
text, never rendered: the Markdown rules, the classification guard and the sanitiser are the
pipeline's, run by ``diplomatie replies pull`` before a reply goes anywhere.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import html
import math
import re
from urllib.parse import parse_qsl, quote

from gate import replies
from gate.http import Refusal, Request, Response, bad_request, not_found, parse_query
from gate.i18n import N_
from gate.pages import Reader
from gate.state import GateState
from gate.store import Manifest, parse_utc_text, utc_text
from gate.views import cross_site

PREFIX = "/replies/"
#: The largest form body taken: the longest text, %-encoded (up to 3 bytes per byte), and the rest.
MAX_BODY = 3 * replies.MAX_BYTES + 1024
_PATH = re.compile(r"/replies/(?P<community>[A-Za-z0-9][A-Za-z0-9_-]{0,99})/(?P<year>\d{4})/"
                   r"(?P<cable>\d{4}-[A-Z0-9]+(?:-[A-Z0-9]+)*-\d{4})\.html")
FIELDS = frozenset({"csrf", "text", "visibility"})

LABELS = {
    replies.EDITORS: N_("For the author and editors only"),
    replies.COMMUNITY: N_("May be shared with the community, once an editor approves it"),
}
PROBLEMS = {
    replies.EMPTY: N_("Your reply is empty."),
    replies.TOO_LONG: N_("Your reply is too long: at most {limit} characters."),
    replies.NOT_TEXT: N_("Your reply holds characters that are not text (control or invisible characters). "
                         "Type it again or paste it as plain text."),
}


def reply_path(community: str, cable: str) -> str:
    """The reply page of a cable: its page's path, under /replies/ instead of /c/."""
    return f"{PREFIX}{community}/{cable[:4]}/{cable}.html"


def community_of(gate: GateState, path: str) -> str | None:
    """The community a reply page's path names (None: not a reply page), for the terms' guard."""
    match = _PATH.fullmatch(path)
    return None if match is None else match["community"]


def target(path: str) -> tuple[str, str]:
    """(community, cable) named by a reply page's path; 404 for any other path."""
    match = _PATH.fullmatch(path)
    if match is None or match["year"] != match["cable"][:4]:
        raise not_found()
    return match["community"], match["cable"]


def csrf_for(gate: GateState, cookie_header: str | None, community: str, cable: str) -> str:
    """The form's token: bound to this session cookie (which another site cannot read) and this cable."""
    token = (gate.sessions.token(cookie_header) or "").encode()
    return hmac.new(token, f"reply:{community}/{cable}".encode(), hashlib.sha256).hexdigest()[:32]


def from_another_site(gate: GateState, req: Request) -> bool:
    """A browser says where a request comes from: ``Sec-Fetch-Site`` (any but ``same-origin`` is
    refused) and ``Origin`` (another site's is refused; "null" is what our own form sends under
    ``no-referrer``). The CSRF token is what protects the form; these refuse early what names
    another site."""
    site = req.header("sec-fetch-site")
    if site is not None and site != "same-origin":
        return True
    return not gate.same_origin(req)


def read_reply_form(body: bytes) -> dict[str, str]:
    """The reply form: our three fields, each once, UTF-8; only the text may span lines."""
    try:
        pairs = parse_qsl(body.decode("ascii"), keep_blank_values=True, encoding="utf-8", errors="strict",
                          max_num_fields=len(FIELDS))
    except (UnicodeError, ValueError):
        raise bad_request(N_("The form is not valid.")) from None
    form = dict(pairs)
    if len(form) != len(pairs) or not set(form) <= FIELDS:
        raise bad_request(N_("The form is not valid."))
    if not all(value.isprintable() for name, value in form.items() if name != "text"):
        raise bad_request(N_("The form is not valid."))
    return form


# -- the view ------------------------------------------------------------------------------------


async def reply(gate: GateState, req: Request) -> Response:
    community, cable = target(req.path)
    if req.method == "POST" and from_another_site(gate, req):
        raise cross_site()
    if req.method != "POST":
        parse_query(req.query)  # a query that is not text is a 400 here too
    now = gate.clock()
    cookie = req.header("cookie")
    claims = await gate.sessions.session(cookie, now)
    if claims is None:
        return gate.pages.redirect("/login?next=" + quote(req.path, safe="/"), 303 if req.method == "POST" else 302)
    member = claims.sub
    if not gate.members().admits(community, member, gate.today(now)):
        raise Refusal(403, N_("Not a member of this community"),
                      N_("Only the members of a community may answer its cables. If you think you should be one, "
                         "write to the person who invited you."),
                      links=(("/", N_("Go to your communities")),), subject=member, community=community)
    release, digest = await answered(gate, community, cable, member)
    reader = gate.pages.reader(req, community)
    if req.method == "POST":
        form = read_reply_form(await req.read_body(MAX_BODY, gate.config.body_timeout))
        if not hmac.compare_digest(form.get("csrf", ""), csrf_for(gate, cookie, community, cable)):
            raise cross_site()
        text = replies.normalise_text(form.get("text", ""))
        visibility = form.get("visibility", replies.EDITORS)
        if visibility not in replies.VISIBILITIES:
            raise bad_request(N_("The form is not valid."))
        problem = replies.text_problem(text)
        if problem is not None:
            message = reader.gettext(PROBLEMS[problem]).format(limit=f"{replies.MAX_CHARACTERS:,}".replace(",", " "))
            return await reply_page(gate, req, reader, community, cable, member, status=400, error=message,
                                    text=text, visibility=visibility)
        wait = gate.per_member.take(member, now)
        if wait > 0:
            raise Refusal(429, N_("Too many replies"), N_("You have sent several replies in a short time. "
                                                          "Please wait a few minutes, then send this one again."),
                          extra=[("retry-after", str(math.ceil(wait)))], subject=member, community=community)
        record = replies.Reply(community=community, cable=cable, author=member, release=release,
                               digest=digest, at=utc_text(now), visibility=visibility, text=text)
        key = await asyncio.to_thread(replies.write_reply, gate.store, record, dt.datetime.fromtimestamp(now, dt.UTC))
        gate.log.event({"event": "reply received", "community": community, "cable": cable, "key": key})
        return gate.pages.redirect(f"{req.path}?sent=1", 303, subject=member, community=community)
    sent = parse_query(req.query).get("sent") == "1"
    return await reply_page(gate, req, reader, community, cable, member, sent=sent)


async def answered(gate: GateState, community: str, cable: str, member: str) -> tuple[str, str]:
    """(release, ``sha256:`` of the cable page) of the cable as the community serves it now; 404 when
    the community's current release does not publish it."""
    release = gate.releases.get(community)
    if release is None:
        release = await asyncio.to_thread(gate.refresh_release, community)
    entry = release.manifest.files.get(f"{cable[:4]}/{cable}.html") if release is not None else None
    if release is None or entry is None or cable not in release.manifest.cables:
        raise Refusal(404, N_("This cable is not published here"),
                      N_("Only the cables this community publishes can be answered here."),
                      links=(("/", N_("Go to your communities")),), subject=member, community=community)
    return release.pointer.release, f"sha256:{entry.sha256}"


# -- the page ------------------------------------------------------------------------------------


async def reply_page(gate: GateState, req: Request, reader: Reader, community: str, cable: str, member: str, *,
                     status: int = 200, sent: bool = False, error: str = "", text: str = "",
                     visibility: str = replies.EDITORS) -> Response:
    _ = reader.gettext
    e = html.escape
    mine = await asyncio.to_thread(replies.replies_of, gate.store, community, cable, member)
    release = gate.releases.get(community)
    notice = ""
    if sent:
        thanks = _("Thank you: your reply is received. The author of the cable and the editors of the "
                   "community will read it.")
        notice = f'<p class="dip-alert dip-alert--ok" role="status">{e(thanks)}</p>'
    elif error:
        notice = f'<p class="dip-alert" role="alert">{e(error)}</p>'
    cable_link = f'<a href="/c/{e(community)}/{cable[:4]}/{e(cable)}.html"><code>{e(cable)}</code></a>'
    intro = e(_("Your reply to the cable {reference} goes to its author and to the editors of the community. "
                "It is kept with the correspondence.")).format(reference=cable_link)
    csrf = csrf_for(gate, req.header("cookie"), community, cable)
    back = e(_("Back to the cable"))
    body = (f"{notice}<p>{intro}</p>{reply_form(reader, req.path, csrf, text, visibility, bool(error))}"
            f"{own_replies(reader, mine, release.manifest if release is not None else None)}"
            f'<ul class="dip-next"><li><a href="/c/{e(community)}/{cable[:4]}/{e(cable)}.html">'
            f"{back}</a></li></ul>")
    return gate.pages.page(status, reader, _("Answer this cable"), body, subject=member, community=community)


def reply_form(reader: Reader, action: str, csrf: str, text: str, visibility: str, invalid: bool) -> str:
    _ = reader.gettext
    e = html.escape
    label = e(_("Your reply"))
    hint = e(_("Plain text or Markdown, at most {limit} characters. Never paste text bearing a classification "
               "marking: such a reply is not passed on.")).format(limit=f"{replies.MAX_CHARACTERS:,}".replace(",", " "))
    options = "".join(
        f'<label class="dip-choice__option"><input type="radio" name="visibility" value="{value}"'
        f'{" checked" if value == visibility else ""}> {e(_(msg))}</label>' for value, msg in LABELS.items())
    who = e(_("Who may read it"))
    flagged = ' aria-invalid="true"' if invalid else ""
    button = e(_("Send my reply"))
    return (f'<form method="post" action="{e(action)}">'
            f'<input type="hidden" name="csrf" value="{csrf}">'
            f'<label for="reply-text">{label}<span class="dip-hint" id="reply-hint">{hint}</span></label>'
            f'<textarea id="reply-text" name="text" rows="10" maxlength="{replies.MAX_CHARACTERS}" required '
            f'aria-describedby="reply-hint"{flagged}>{e(text)}</textarea>'
            f'<fieldset class="dip-choice"><legend>{who}</legend>{options}</fieldset>'
            f'<button type="submit">{button}</button></form>')


def own_replies(reader: Reader, mine: list[tuple[str, replies.Reply]], manifest: Manifest | None = None) -> str:
    """The member's own replies to this cable, newest first, with their status: published when the
    community's serving release (``manifest``) shows it on the cable's page, received otherwise."""
    if not mine:
        return ""
    _ = reader.gettext
    e = html.escape
    items = []
    for key, record in reversed(mine):
        moment = parse_utc_text(record.at)
        when = f'<time datetime="{e(record.at)}">{moment:%Y-%m-%d %H:%M} UTC</time>'
        shown_here = manifest is not None and replies.published_in(manifest, key)
        status = e(_("Status: published on the cable's page") if shown_here else _("Status: received"))
        shown = e(_(LABELS[record.visibility]))
        items.append(f'<li class="dip-reply"><p class="dip-reply__meta">{when} · {shown} · {status}</p>'
                     f'<p class="dip-reply__text">{e(record.text)}</p></li>')
    heading = e(reader.ngettext("Your reply to this cable", "Your replies to this cable", len(mine)))
    return f'<h2>{heading}</h2><ul class="dip-replies">{"".join(items)}</ul>'
