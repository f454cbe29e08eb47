"""The gate's own pages: sign-in, link confirmation, single sign-on, sign-out, my communities, and the rest.

Each view is ``async def view(gate, request) -> Response``; the route table in gate/app.py says which
methods reach it. Views raise :class:`gate.http.Refusal` (and let :class:`gate.store.StoreUnavailable`
through); gate/app.py turns either into its page, in one place.

Every page is in the reader's language (gate/pages.py ``reader``): source strings are English msgids,
translated through gate/i18n.py's catalogues.

Links are confirmed, not followed: ``GET /auth?token=…`` only checks the link and shows "Continuer en
tant que …" ("Continue as …") with a button; the ``POST /auth`` of that button (with the page's CSRF token,
gate/sessions.py) spends the link and sets the session cookie. A mail scanner opening the link spends
nothing, and another site cannot sign a visitor in as someone else.
"""

from __future__ import annotations

import asyncio
import hmac
import html
import json
import math
from urllib.parse import quote

import jwt

from gate import oidc, tokens
from gate import store as storage
from gate.addresses import InvalidAddress, parse_address
from gate.http import Refusal, Request, Response, cookie_value, not_found, parse_form, parse_query, safe_next
from gate.i18n import N_
from gate.pages import Reader
from gate.state import GateState

ASK_AGAIN = ("/login", N_("Ask for a new sign-in link"))
HOME = ("/", N_("Go to your communities"))


def link_refused(community: str | None = None) -> Refusal:
    return Refusal(400, N_("This link does not work"),
                   N_("It may be incomplete: copy the whole address from the e-mail, or ask for a new link."),
                   links=(ASK_AGAIN,), community=community)


def link_expired(community: str | None = None) -> Refusal:
    return Refusal(400, N_("This link has expired"),
                   N_("A sign-in link works for 15 minutes. Ask for a new one: it arrives within a minute."),
                   links=(ASK_AGAIN,), community=community)


def link_used(community: str | None = None) -> Refusal:
    return Refusal(400, N_("This link has already been used"),
                   N_("Each link works once. If you have just signed in with it, go to your communities; "
                      "otherwise, ask for a new link."), links=(HOME, ASK_AGAIN), community=community)


def not_a_member(subject: str | None = None, community: str | None = None,
                 extra: list[tuple[str, str]] | None = None) -> Refusal:
    return Refusal(403, N_("Not a member"),
                   N_("This address is not a member at the moment. If you think it should be, write to the "
                      "person who invited you."), links=(("/login", N_("Sign in with another address")),),
                   subject=subject, community=community, extra=extra)


def cross_site() -> Refusal:
    return Refusal(403, N_("Request refused"),
                   N_("This request came from another site. Open the page again from this service."))


async def read_form(gate: GateState, req: Request) -> dict[str, str]:
    """The POSTed form of one of our own pages (refused from another site, too large, too slow or not text)."""
    if not gate.same_origin(req):
        raise cross_site()
    return parse_form(await req.read_body(gate.config.max_body, gate.config.body_timeout))


def address_html(address: str) -> str:
    return f'<strong class="dip-address">{html.escape(address)}</strong>'


# -- my communities ------------------------------------------------------------------------------


async def home(gate: GateState, req: Request) -> Response:
    now = gate.clock()
    claims = await gate.sessions.session(req.header("cookie"), now)
    if claims is None:
        return gate.pages.redirect("/login")
    reader = gate.pages.reader(req)
    _ = reader.gettext
    mine = gate.members().communities_of(claims.sub, gate.today(now))
    items = "".join(f'<li><a href="/c/{quote(c.id)}/" hreflang="{c.language}">{html.escape(c.title)}</a></li>'
                    for c in mine)
    if items:
        these = html.escape(reader.ngettext("You may read this community:", "You may read these communities:",
                                            len(mine)))
        listing = f'<p>{these}</p><ul class="dip-list">{items}</ul>'
    else:
        listing = "<p>" + html.escape(_("You are not a member of any community at the moment.")) + "</p>"
    signed_in = html.escape(_("Signed in as {address}.")).format(address=address_html(claims.sub))
    alerts_link = html.escape(_("Your alert preferences"))  # how often new cables are e-mailed (gate/preferences.py)
    return gate.pages.page(200, reader, _("Your communities"),
                           f'<p>{signed_in}</p>{listing}<p><a href="/preferences">{alerts_link}</a></p>'
                           f"{logout_form(gate, req, reader)}", subject=claims.sub)


# -- sign-in by e-mail ---------------------------------------------------------------------------


def login_form(gate: GateState, reader: Reader, next_path: str | None, message: str = "") -> str:
    _ = reader.gettext
    hidden = f'<input type="hidden" name="next" value="{html.escape(next_path)}">' if next_path else ""
    if reader.community is not None:
        intro = html.escape(_("To read “{community}”, give the e-mail address at which you were invited. We will "
                              "send you a link that signs you in.")).format(community=html.escape(reader.community.title))
    else:
        intro = html.escape(_("Give the e-mail address at which you were invited. We will send you a link that "
                              "signs you in."))
    sso = ""
    if gate.oidc is not None:
        target = oidc.LOGIN_PATH + ("?next=" + quote(next_path, safe="/") if next_path else "")
        agents = html.escape(_("State agents: sign in with your ministry account"))
        sso = f'<p><a class="dip-button dip-button--secondary" href="{html.escape(target)}">{agents}</a></p>'
    alert = f'<p class="dip-alert" role="alert">{html.escape(message)}</p>' if message else ""
    invalid = ' aria-invalid="true"' if message else ""
    label, hint = html.escape(_("E-mail address")), html.escape(_("For example: firstname.lastname@example.org"))
    button = html.escape(_("Send me a sign-in link"))
    return (f"{alert}<p>{intro}</p>"
            '<form method="post" action="/login">'
            f'<label for="email">{label}<span class="dip-hint" id="email-hint">{hint}</span></label>'
            '<input type="email" id="email" name="email" required autocomplete="email" aria-describedby="email-hint"'
            f"{invalid}>{hidden}"
            f'<button type="submit">{button}</button></form>{sso}')


#: How long after sending a signed-in member back with a fresh seal the sign-in page is shown instead of
#: sending them back again (nginx refusing a seal the gate just made: a key file nginx does not read).
RESEAL_GUARD = 10


def session_cookies(gate: GateState, subject: str, now: float) -> list[tuple[str, str]]:
    """The Set-Cookie headers of a new session for ``subject``: the session, then its seal (behind nginx)."""
    token = gate.sessions.new_token(subject, now)
    seal = gate.grants.seal(token, now)
    return [("set-cookie", gate.sessions.cookie(token)), *([("set-cookie", seal)] if seal else [])]


async def resealed(gate: GateState, req: Request, next_path: str | None) -> Response | None:
    """A signed-in member sent to sign in by nginx (a session without a valid seal: issued before seals,
    or its seal's key rotated out while they were away): back to the page with a fresh seal; None when
    the sign-in page is the answer."""
    if not next_path or not next_path.startswith("/c/") or gate.grants.path is None:
        return None
    cookie = req.header("cookie")
    guard = gate.grants.seal_name + "-sent"
    if cookie_value(cookie, guard):  # sent back a moment ago and refused again: do not loop
        gate.log.event({"event": "seal refused by nginx just after it was made; check that nginx reads the "
                                 "gate's --grant-keys file"})
        return None
    now = gate.clock()
    try:
        claims = await gate.sessions.session(cookie, now)
    except storage.StoreUnavailable:
        return None
    token = gate.sessions.token(cookie)
    seal = gate.grants.seal(token, now) if claims is not None and token else None
    if seal is None:
        return None
    flags = gate.grants.flags
    return gate.pages.redirect(next_path, 302, extra=[
        ("set-cookie", seal), ("set-cookie", f"{guard}=1; Max-Age={RESEAL_GUARD}; Path=/login{flags}")],
        subject=claims.sub)


async def login(gate: GateState, req: Request) -> Response:
    if req.method != "POST":
        next_path = safe_next(parse_query(req.query).get("next"))
        back = await resealed(gate, req, next_path)
        if back is not None:
            return back
        reader = gate.pages.reader(req, next_path=next_path)
        return gate.pages.page(200, reader, reader.gettext("Sign in"), login_form(gate, reader, next_path))
    form = await read_form(gate, req)
    next_path = safe_next(form.get("next"))
    reader = gate.pages.reader(req, next_path=next_path)
    _ = reader.gettext
    try:
        address = parse_address(form.get("email", "").strip())
    except InvalidAddress:
        return gate.pages.page(400, reader, _("Sign in"),
                               login_form(gate, reader, next_path, _("Please give a valid e-mail address.")))
    now = gate.clock()
    wait = gate.per_client.take(gate.client_of(req), now)
    if wait > 0:
        raise Refusal(429, N_("Too many requests"), N_("Please wait a minute, then try again."),
                      extra=[("retry-after", str(math.ceil(wait)))], links=(("/login", N_("Sign in")),))
    # The same work whether or not the address is a member: who gets mail is decided after the answer.
    gate.outbox.request(address, next_path, now)
    # The same page whoever asked: it neither repeats the address nor says whether it is a member's.
    sent = html.escape(_("If this address belongs to a member, a sign-in link is on its way. It works once, "
                         "within {minutes} minutes.").format(minutes=tokens.MAGIC_TTL // 60))
    again = _("Nothing after a few minutes? Look in your junk mail, check the address, or ask again.")
    ask = html.escape(_("Ask again"))
    return gate.pages.page(200, reader, _("Check your mail"),
                           f'<p class="dip-alert dip-alert--ok" role="status">{sent}</p><p>{html.escape(again)}</p>'
                           f'<ul class="dip-next"><li><a href="/login">{ask}</a></li></ul>')


# -- links: confirm, then spend ------------------------------------------------------------------


def jwt_kind(token: str) -> str | None:
    """The unverified ``typ`` claim, only to pick which kind to verify the token as."""
    if not token or len(token) > tokens.MAX_TOKEN_LENGTH:
        return None
    try:
        payload = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    kind = payload.get("typ") if isinstance(payload, dict) else None
    return kind if isinstance(kind, str) else None


def verified_link(gate: GateState, token: str, now: float) -> tokens.Claims:
    """The claims of a valid invitation or sign-in link (not yet spent), or the refusal that says why not."""
    kind = jwt_kind(token)
    if kind not in (tokens.INVITATION, tokens.MAGIC):
        raise link_refused()
    try:
        claims = tokens.verify(gate.ring, token, typ=kind, issuer=gate.config.origin,
                               audience=gate.config.origin, now=now)
        storage.claim_key(claims.jti)
    except tokens.TokenError as exc:
        # Past its signature check, a link may only have run out of time: say so, it tells what to do.
        raise (link_expired() if str(exc) == "expired" else link_refused()) from None
    except ValueError:
        raise link_refused() from None
    today = gate.today(now)
    snapshot = gate.members()
    if kind == tokens.INVITATION:
        allowed = snapshot.admits(claims.community or "", claims.sub, today)
    else:
        allowed = bool(snapshot.communities_of(claims.sub, today))
    if not allowed:
        raise not_a_member(claims.sub, claims.community)
    return claims


def confirm_page(reader: Reader, claims: tokens.Claims, token: str, next_path: str | None, csrf: str) -> str:
    _ = reader.gettext
    who = address_html(claims.sub)
    hidden = (f'<input type="hidden" name="token" value="{html.escape(token)}">'
              f'<input type="hidden" name="csrf" value="{csrf}">')
    if next_path:
        hidden += f'<input type="hidden" name="next" value="{html.escape(next_path)}">'
    signs_in = html.escape(_("This link signs you in as {address}.")).format(address=who)
    button = html.escape(_("Continue as {address}")).format(address=html.escape(claims.sub))
    not_you = html.escape(_("If this is not you, close this page: nothing happens until you continue."))
    return (f'<p>{signs_in}</p><form method="post" action="/auth">{hidden}<button type="submit">{button}</button>'
            f"</form><p>{not_you}</p>")


async def auth(gate: GateState, req: Request) -> Response:
    return await (spend_link(gate, req) if req.method == "POST" else confirm_link(gate, req))


async def confirm_link(gate: GateState, req: Request) -> Response:
    """GET/HEAD: check the link and ask to confirm; spends nothing (mail scanners open links)."""
    query = parse_query(req.query)
    now = gate.clock()
    token = query.get("token", "")
    claims = verified_link(gate, token, now)
    if await asyncio.to_thread(gate.store.exists, storage.claim_key(claims.jti)):
        raise link_used(claims.community)
    cookie = req.header("cookie")
    secret = gate.sessions.confirm_secret(cookie)
    extra = []
    if secret is None:
        secret, set_cookie = gate.sessions.new_confirm_secret()
        extra.append(("set-cookie", set_cookie))
    next_path = safe_next(query.get("next"))
    reader = gate.pages.reader(req, claims.community, next_path=next_path)
    body = confirm_page(reader, claims, token, next_path, gate.sessions.confirm_csrf(secret, claims.jti))
    return gate.pages.page(200, reader, reader.gettext("Confirm your sign-in"), body, extra=extra,
                           subject=claims.sub)


async def spend_link(gate: GateState, req: Request) -> Response:
    """POST from the confirmation page: spend the link (once, across processes) and set the session."""
    form = await read_form(gate, req)
    now = gate.clock()
    claims = verified_link(gate, form.get("token", ""), now)
    if not gate.sessions.confirm_ok(req.header("cookie"), claims.jti, form.get("csrf")):
        raise Refusal(403, N_("Please open the link again"),
                      N_("This confirmation did not come from the link's page. Open the link from your e-mail "
                         "again."), subject=claims.sub, community=claims.community, links=(ASK_AGAIN,))
    record = json.dumps({"typ": claims.typ, "sub": claims.sub, "used_at": gate.log.timestamp(now)}).encode()
    if not await asyncio.to_thread(gate.store.create, storage.claim_key(claims.jti), record, "application/json"):
        raise link_used(claims.community)
    remember_sign_in(gate, claims.sub, now)
    target = safe_next(form.get("next"))
    if target is None:
        target = f"/c/{claims.community}/" if claims.typ == tokens.INVITATION else "/"
    return gate.pages.redirect(target, 303, extra=session_cookies(gate, claims.sub, now), subject=claims.sub)


def remember_sign_in(gate: GateState, address: str, now: float) -> None:
    """Record ``address``'s sign-in to each community it may read (``sign-ins/`` in the store, read by
    ``diplomatie members``), in a worker thread after the answer: only sign-in pays for it, never a
    page, and a store that refuses costs the member nothing (the failure is logged)."""
    communities = [c.id for c in gate.members().communities_of(address, gate.today(now))]

    def write() -> None:
        for community in communities:
            try:
                storage.write_sign_in(gate.store, community, address, now)
            except (storage.StoreError, ValueError) as exc:
                gate.log.event({"event": "sign-in not recorded", "community": community, "error": str(exc)})

    future = asyncio.get_running_loop().run_in_executor(None, write)
    gate.after_answer.add(future)
    future.add_done_callback(gate.after_answer.discard)


# -- single sign-on ------------------------------------------------------------------------------


async def oidc_login(gate: GateState, req: Request) -> Response:
    """Start an agent's single sign-on: off to the provider, with the sealed attempt cookie."""
    assert gate.oidc is not None  # routed only when configured
    next_path = safe_next(parse_query(req.query).get("next")) or "/"
    try:
        url, attempt = await asyncio.to_thread(oidc.start, gate.oidc, next_path)
    except oidc.OIDCError as exc:
        gate.log.event({"event": "single sign-on unavailable", "error": exc.reason})
        raise Refusal(503, N_("Temporarily unavailable"),
                      N_("The ministry's sign-in service cannot be reached. Please try again later, or ask for "
                         "a sign-in link by e-mail."), extra=[("retry-after", "30")],
                      links=(("/login", N_("Ask for a sign-in link by e-mail")),)) from None
    return gate.pages.redirect(url, 302, extra=[("set-cookie", attempt)])


async def oidc_callback(gate: GateState, req: Request) -> Response:
    """Finish an agent's sign-in: verified e-mail address -> session, like a spent sign-in link."""
    assert gate.oidc is not None
    clear = ("set-cookie", oidc.clear_cookie(gate.oidc))
    attempt = cookie_value(req.header("cookie"), gate.oidc.cookie_name)
    query = parse_query(req.query)
    try:
        signed_in = await asyncio.to_thread(oidc.finish, gate.oidc, query, attempt)
    except oidc.OIDCError as exc:
        gate.log.event({"event": "single sign-on refused", "reason": exc.reason})
        raise Refusal(400, N_("Sign-in did not work"), N_("The ministry's sign-in did not complete. Please start again."),
                      extra=[clear], links=(("/login", N_("Sign in")),)) from None
    now = gate.clock()
    if not gate.members().communities_of(signed_in.email, gate.today(now)):
        raise not_a_member(signed_in.email, extra=[clear])
    remember_sign_in(gate, signed_in.email, now)
    return gate.pages.redirect(safe_next(signed_in.next_path) or "/", 302,
                               extra=[clear, *session_cookies(gate, signed_in.email, now)], subject=signed_in.email)


# -- sign-out ------------------------------------------------------------------------------------


def logout_form(gate: GateState, req: Request, reader: Reader) -> str:
    button = html.escape(reader.gettext("Sign out"))
    return (f'<form method="post" action="/logout"><input type="hidden" name="csrf" '
            f'value="{gate.sessions.logout_csrf(req.header("cookie"))}"><button type="submit">{button}</button></form>')


async def logout(gate: GateState, req: Request) -> Response:
    cookie = req.header("cookie")
    if req.method != "POST":
        # The sites' sign-out link lands here: a confirmation form that POSTs with the CSRF token; and
        # the form's answer lands here too, once signed out.
        claims = await gate.sessions.session(cookie, gate.clock())
        reader = gate.pages.reader(req)
        _ = reader.gettext
        if claims is None:
            again, sign_in = html.escape(_("To read your communities again, sign in.")), html.escape(_("Sign in"))
            return gate.pages.page(200, reader, _("You are signed out"),
                                   f'<p>{again}</p><ul class="dip-next"><li><a href="/login">{sign_in}</a></li></ul>')
        signed_in = html.escape(_("Signed in as {address}.")).format(address=address_html(claims.sub))
        question, back = html.escape(_("Sign out on this browser?")), html.escape(_("Back to your communities"))
        return gate.pages.page(200, reader, _("Sign out"),
                               f"<p>{signed_in}</p><p>{question}</p>{logout_form(gate, req, reader)}"
                               f'<ul class="dip-next"><li><a href="/">{back}</a></li></ul>', subject=claims.sub)
    form = await read_form(gate, req)
    if not hmac.compare_digest(form.get("csrf", ""), gate.sessions.logout_csrf(cookie)):
        raise cross_site()
    now = gate.clock()
    claims = await gate.sessions.session(cookie, now)
    if claims is not None:
        await gate.sessions.sign_out(claims, cookie, gate.log.timestamp(now))
    communities = sorted(set(gate.membership.snapshot.communities) | set(gate.releases))
    return gate.pages.redirect("/logout", 303, extra=[("set-cookie", gate.sessions.clear()),
                                                     *gate.grants.clear(communities)],
                               subject=claims.sub if claims else None)


# -- the identity stylesheet ----------------------------------------------------------------------


async def stylesheet(gate: GateState, req: Request) -> Response:
    return gate.pages.stylesheet(req)


# -- machine-readable ----------------------------------------------------------------------------


async def jwks(gate: GateState, req: Request) -> Response:
    body = json.dumps(gate.ring.jwks(gate.clock())).encode()
    return Response(200, [("content-type", "application/jwk-set+json"), ("cache-control", "public, max-age=300"),
                          *gate.pages.policy_and_security], body)


async def healthz(gate: GateState, req: Request) -> Response:
    if gate.healthy:
        return gate.pages.plain(200, "ok\n")
    return gate.pages.plain(503, "storage or membership unavailable\n")


async def metrics(gate: GateState, req: Request) -> Response:
    """Only with ``Authorization: Bearer <--metrics-token>``; otherwise it does not exist here (404)."""
    expected = gate.config.metrics_token
    given = req.header("authorization") or ""
    if expected is None or not hmac.compare_digest(given.encode(), f"Bearer {expected}".encode()):
        raise not_found()
    return gate.pages.plain(200, gate.metrics_text().decode(), "text/plain; version=0.0.4; charset=utf-8")
