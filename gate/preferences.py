"""The alert preferences page and the one-click unsubscribe (docs/gate.md, *Alerts*).

``/preferences`` (signed in): for each community the member may read, how often they are told of
what it publishes: at once, a daily digest (the default), a weekly digest, or never. The form POSTs
with a CSRF token bound to the session cookie. The choice is kept in the store (gate/alerts.py),
where ``diplomatie notify`` reads it.

``/unsubscribe?t=TOKEN``: the address of every alert's ``List-Unsubscribe`` header (RFC 8058). The
token (gate/tokens.py, kind ``unsubscribe``) names one member and one community, and is all the
authority the request needs: the mail provider POSTs ``List-Unsubscribe=One-Click`` without any
session or cookie, from its own servers. A GET only shows a confirmation page with a button (mail
scanners open links: opening one never unsubscribes).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import html

from gate import alerts, tokens
from gate.http import Refusal, Request, Response, parse_form, parse_query
from gate.i18n import N_
from gate.pages import Reader
from gate.state import GateState
from gate.store import utc_text
from gate.views import address_html, read_form

PATH = "/preferences"
UNSUBSCRIBE_PATH = "/unsubscribe"

#: What each frequency is called on the page, in the order shown.
LABELS = {
    alerts.IMMEDIATE: N_("At once, for each new cable"),
    alerts.DAILY: N_("A daily digest (default)"),
    alerts.WEEKLY: N_("A weekly digest"),
    alerts.NEVER: N_("Never"),
}


def csrf_for(gate: GateState, cookie_header: str | None) -> str:
    """The preferences form's token: bound to this session cookie, useless to another site."""
    token = gate.sessions.token(cookie_header) or ""
    return hashlib.sha256(b"preferences:" + token.encode()).hexdigest()[:32]


def unsubscribe_refused() -> Refusal:
    return Refusal(400, N_("This unsubscribe link does not work"),
                   N_("It may be incomplete or too old. Sign in to choose which e-mails you receive."),
                   links=((PATH, N_("Your alert preferences")),))


# -- the preferences page ------------------------------------------------------------------------


async def preferences(gate: GateState, req: Request) -> Response:
    cookie = req.header("cookie")
    now = gate.clock()
    claims = await gate.sessions.session(cookie, now)
    if claims is None:
        return gate.pages.redirect(f"/login?next={PATH}")
    mine = gate.members().communities_of(claims.sub, gate.today(now))
    reader = gate.pages.reader(req)
    _ = reader.gettext
    saved = False
    if req.method == "POST":
        form = await read_form(gate, req)
        if not hmac.compare_digest(form.get("csrf", ""), csrf_for(gate, cookie)):
            raise Refusal(403, N_("Request refused"),
                          N_("This request came from another site. Open the page again from this service."))
        for community in mine:
            choice = form.get(f"c.{community.id}")
            if choice is None:
                continue
            if choice not in alerts.FREQUENCIES:
                raise Refusal(400, N_("Choice not understood"), N_("Open the page again and choose once more."),
                              links=((PATH, N_("Your alert preferences")),))
            await asyncio.to_thread(alerts.write_preference, gate.store, community.id, claims.sub, choice,
                                    utc_text(now))
        saved = True
    current = {c.id: await asyncio.to_thread(alerts.read_preference, gate.store, c.id, claims.sub) for c in mine}
    return gate.pages.page(200, reader, _("Your alert preferences"),
                           preferences_form(reader, claims.sub, mine, current, csrf_for(gate, cookie), saved),
                           subject=claims.sub)


def preferences_form(reader: Reader, address: str, mine, current: dict[str, str], csrf: str, saved: bool) -> str:
    _ = reader.gettext
    e = html.escape
    saved_text, back, nothing = (_("Your choices are saved."), _("Back to your communities"),
                                 _("You are not a member of any community at the moment."))
    status = f'<p class="dip-alert dip-alert--ok" role="status">{e(saved_text)}</p>' if saved else ""
    intro = e(_("When a community publishes new cables, we tell {address} by e-mail: the title, reference, "
                "date, post and summary of each, with a link. Choose how often, for each community.")).format(
        address=address_html(address))
    if not mine:
        return f"{status}<p>{intro}</p><p>{e(nothing)}</p>"
    groups = []
    for community in mine:
        options = "".join(
            f'<label class="dip-choice__option"><input type="radio" name="c.{e(community.id)}" value="{value}"'
            f'{" checked" if current.get(community.id) == value else ""}> {e(_(label))}</label>'
            for value, label in LABELS.items())
        groups.append(f'<fieldset class="dip-choice" id="c-{e(community.id)}"><legend>{e(community.title)}</legend>'
                      f"{options}</fieldset>")
    button = e(_("Save my choices"))
    return (f"{status}<p>{intro}</p><form method=\"post\" action=\"{PATH}\">"
            f'<input type="hidden" name="csrf" value="{csrf}">{"".join(groups)}'
            f'<button type="submit">{button}</button></form>'
            f'<ul class="dip-next"><li><a href="/">{e(back)}</a></li></ul>')


# -- one-click unsubscribe -----------------------------------------------------------------------


def verified_unsubscribe(gate: GateState, token: str, now: float) -> tokens.Claims:
    """The claims of a valid unsubscribe token (this member, this community), or the refusal."""
    try:
        claims = tokens.verify(gate.ring, token, typ=tokens.UNSUBSCRIBE, issuer=gate.config.origin,
                               audience=gate.config.origin, now=now)
        alerts.preference_key(claims.community or "", claims.sub)
    except (tokens.TokenError, ValueError):
        raise unsubscribe_refused() from None
    return claims


async def unsubscribe(gate: GateState, req: Request) -> Response:
    query = parse_query(req.query)
    now = gate.clock()
    if req.method != "POST":
        claims = verified_unsubscribe(gate, query.get("t", ""), now)
        return confirm_page(gate, req, claims, query.get("t", ""))
    # RFC 8058: the mail provider POSTs "List-Unsubscribe=One-Click" from its servers, with no session
    # and no Origin of ours: the signed token is the whole authority (and our own button sends it too).
    form = parse_form(await req.read_body(gate.config.max_body, gate.config.body_timeout))
    claims = verified_unsubscribe(gate, query.get("t") or form.get("t", ""), now)
    community = claims.community or ""
    await asyncio.to_thread(alerts.write_preference, gate.store, community, claims.sub, alerts.NEVER, utc_text(now))
    reader = gate.pages.reader(req, community)
    _ = reader.gettext
    title = gate.community_shown(community)
    done = html.escape(_("{address} will no longer receive e-mails about “{community}”.")).format(
        address=address_html(claims.sub), community=html.escape(title.title if title else community))
    preferences_link = html.escape(_("Your alert preferences"))
    return gate.pages.page(200, reader, _("You are unsubscribed"),
                           f'<p class="dip-alert dip-alert--ok" role="status">{done}</p>'
                           f'<ul class="dip-next"><li><a href="{PATH}">{preferences_link}</a></li></ul>',
                           subject=claims.sub, community=community)


def confirm_page(gate: GateState, req: Request, claims: tokens.Claims, token: str) -> Response:
    """GET: ask; a link opened by a mail scanner changes nothing."""
    community = claims.community or ""
    reader = gate.pages.reader(req, community)
    _ = reader.gettext
    e = html.escape
    shown = gate.community_shown(community)
    question = e(_("Stop e-mails about “{community}” to {address}?")).format(
        community=e(shown.title if shown else community), address=address_html(claims.sub))
    action = f"{UNSUBSCRIBE_PATH}?t={e(token)}"
    button, instead = e(_("Unsubscribe")), e(_("Choose how often instead"))
    return gate.pages.page(
        200, reader, _("Unsubscribe"),
        f'<p>{question}</p><form method="post" action="{action}">'
        '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
        f'<button type="submit">{button}</button></form>'
        f'<ul class="dip-next"><li><a href="{PATH}">{instead}</a></li></ul>',
        subject=claims.sub, community=community)
