"""The gate's own pages: sign-in, link confirmation, single sign-on, sign-out, my communities, and the rest.

Each view is ``async def view(gate, request) -> Response``; the route table in gate/app.py says which
methods reach it. Views raise :class:`gate.http.Refusal` (and let :class:`gate.store.StoreUnavailable`
through); gate/app.py turns either into its page, in one place.

Links are confirmed, not followed: ``GET /auth?token=…`` only checks the link and shows "Continuer en
tant que … / Continue as …" with a button; the ``POST /auth`` of that button (with the page's CSRF token,
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
from gate.state import GateState

LINK_REFUSED = Refusal(400, "This link does not work",
                       "<p>It may have expired or been used already. "
                       '<a href="/login">Ask for a new sign-in link</a>.</p>')


def not_a_member(subject: str | None = None) -> Refusal:
    return Refusal(403, "Not a member", "<p>This address is not a member at the moment.</p>", subject=subject)


def cross_site() -> Refusal:
    return Refusal(403, "Refused", "<p>Cross-site request refused.</p>")


async def read_form(gate: GateState, req: Request) -> dict[str, str]:
    """The POSTed form of one of our own pages (refused from another site, too large, too slow or not text)."""
    if not gate.same_origin(req):
        raise cross_site()
    return parse_form(await req.read_body(gate.config.max_body, gate.config.body_timeout))


# -- my communities ------------------------------------------------------------------------------


async def home(gate: GateState, req: Request) -> Response:
    now = gate.clock()
    claims = await gate.sessions.session(req.header("cookie"), now)
    if claims is None:
        return gate.pages.redirect("/login")
    mine = gate.members().communities_of(claims.sub, gate.today(now))
    items = "".join(f'<li><a href="/c/{quote(c.id)}/">{html.escape(c.title)}</a></li>' for c in mine)
    listing = f"<ul>{items}</ul>" if items else "<p>You are not a member of any community at the moment.</p>"
    return gate.pages.page(200, "Your communities",
                           f"<p>Signed in as {html.escape(claims.sub)}.</p>{listing}{logout_form(gate, req)}",
                           subject=claims.sub)


# -- sign-in by e-mail ---------------------------------------------------------------------------


def login_form(gate: GateState, next_path: str | None, message: str = "") -> str:
    hidden = f'<input type="hidden" name="next" value="{html.escape(next_path)}">' if next_path else ""
    sso = ""
    if gate.oidc is not None:
        target = oidc.LOGIN_PATH + ("?next=" + quote(next_path, safe="/") if next_path else "")
        sso = f'<p><a href="{html.escape(target)}">State agents: sign in with your ministry account</a></p>'
    return (f"{message}{sso}<form method=\"post\" action=\"/login\"><label>E-mail address "
            f'<input type="email" name="email" required autocomplete="email"></label>{hidden}'
            '<button type="submit">Send me a sign-in link</button></form>')


async def login(gate: GateState, req: Request) -> Response:
    if req.method != "POST":
        return gate.pages.page(200, "Sign in", login_form(gate, safe_next(parse_query(req.query).get("next"))))
    form = await read_form(gate, req)
    next_path = safe_next(form.get("next"))
    try:
        address = parse_address(form.get("email", "").strip())
    except InvalidAddress:
        return gate.pages.page(400, "Sign in",
                               login_form(gate, next_path, "<p>Please give a valid e-mail address.</p>"))
    now = gate.clock()
    wait = gate.per_client.take(gate.client_of(req), now)
    if wait > 0:
        raise Refusal(429, "Too many requests", "<p>Please wait a little and try again.</p>",
                      extra=[("retry-after", str(math.ceil(wait)))])
    # The same work whether or not the address is a member: who gets mail is decided after the answer.
    gate.outbox.request(address, next_path, now)
    return gate.pages.page(200, "Check your mail",
                           "<p>If this address belongs to a member, a sign-in link is on its way. "
                           "It works once, within 15 minutes.</p>")


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
    """The claims of a valid invitation or sign-in link (not yet spent), or the 'link does not work' refusal."""
    kind = jwt_kind(token)
    if kind not in (tokens.INVITATION, tokens.MAGIC):
        raise LINK_REFUSED
    try:
        claims = tokens.verify(gate.ring, token, typ=kind, issuer=gate.config.origin,
                               audience=gate.config.origin, now=now)
        storage.claim_key(claims.jti)
    except (tokens.TokenError, ValueError):
        raise LINK_REFUSED from None
    today = gate.today(now)
    snapshot = gate.members()
    if kind == tokens.INVITATION:
        allowed = snapshot.admits(claims.community or "", claims.sub, today)
    else:
        allowed = bool(snapshot.communities_of(claims.sub, today))
    if not allowed:
        raise not_a_member(claims.sub)
    return claims


def confirm_page(gate: GateState, claims: tokens.Claims, token: str, next_path: str | None, csrf: str) -> str:
    who = html.escape(claims.sub)
    hidden = (f'<input type="hidden" name="token" value="{html.escape(token)}">'
              f'<input type="hidden" name="csrf" value="{csrf}">')
    if next_path:
        hidden += f'<input type="hidden" name="next" value="{html.escape(next_path)}">'
    return (f'<p>Ce lien vous connecte en tant que <strong>{who}</strong>.</p>'
            f'<p lang="en">This link signs you in as <strong>{who}</strong>.</p>'
            f'<form method="post" action="/auth">{hidden}'
            f'<button type="submit">Continuer en tant que {who} / <span lang="en">Continue as {who}</span>'
            "</button></form>"
            "<p>Si ce n'est pas vous, fermez cette page. "
            "<span lang=\"en\">If this is not you, close this page.</span></p>")


async def auth(gate: GateState, req: Request) -> Response:
    return await (spend_link(gate, req) if req.method == "POST" else confirm_link(gate, req))


async def confirm_link(gate: GateState, req: Request) -> Response:
    """GET/HEAD: check the link and ask to confirm; spends nothing (mail scanners open links)."""
    query = parse_query(req.query)
    now = gate.clock()
    token = query.get("token", "")
    claims = verified_link(gate, token, now)
    if await asyncio.to_thread(gate.store.exists, storage.claim_key(claims.jti)):
        raise LINK_REFUSED
    cookie = req.header("cookie")
    secret = gate.sessions.confirm_secret(cookie)
    extra = []
    if secret is None:
        secret, set_cookie = gate.sessions.new_confirm_secret()
        extra.append(("set-cookie", set_cookie))
    body = confirm_page(gate, claims, token, safe_next(query.get("next")), gate.sessions.confirm_csrf(secret, claims.jti))
    return gate.pages.page(200, "Continuer / Continue", body, extra=extra, subject=claims.sub, lang="fr")


async def spend_link(gate: GateState, req: Request) -> Response:
    """POST from the confirmation page: spend the link (once, across processes) and set the session."""
    form = await read_form(gate, req)
    now = gate.clock()
    claims = verified_link(gate, form.get("token", ""), now)
    if not gate.sessions.confirm_ok(req.header("cookie"), claims.jti, form.get("csrf")):
        raise Refusal(403, "Please open the link again",
                      "<p>Cette confirmation ne vient pas de la page du lien. Rouvrez le lien reçu par e-mail.</p>"
                      '<p lang="en">This confirmation did not come from the link\'s page. '
                      "Open the link from your e-mail again.</p>", subject=claims.sub)
    record = json.dumps({"typ": claims.typ, "sub": claims.sub, "used_at": gate.log.timestamp(now)}).encode()
    if not await asyncio.to_thread(gate.store.create, storage.claim_key(claims.jti), record, "application/json"):
        raise LINK_REFUSED
    target = safe_next(form.get("next"))
    if target is None:
        target = f"/c/{claims.community}/" if claims.typ == tokens.INVITATION else "/"
    return gate.pages.redirect(target, 303, extra=[("set-cookie", gate.sessions.issue(claims.sub, now))],
                               subject=claims.sub)


# -- single sign-on ------------------------------------------------------------------------------


async def oidc_login(gate: GateState, req: Request) -> Response:
    """Start an agent's single sign-on: off to the provider, with the sealed attempt cookie."""
    assert gate.oidc is not None  # routed only when configured
    next_path = safe_next(parse_query(req.query).get("next")) or "/"
    try:
        url, attempt = await asyncio.to_thread(oidc.start, gate.oidc, next_path)
    except oidc.OIDCError as exc:
        gate.log.event({"event": "single sign-on unavailable", "error": exc.reason})
        raise Refusal(503, "Temporarily unavailable",
                      "<p>The ministry's sign-in service cannot be reached. Please try again later, or "
                      '<a href="/login">ask for a sign-in link by e-mail</a>.</p>',
                      extra=[("retry-after", "30")]) from None
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
        raise Refusal(400, "Sign-in did not work", '<p>Please <a href="/login">start again</a>.</p>',
                      extra=[clear]) from None
    now = gate.clock()
    if not gate.members().communities_of(signed_in.email, gate.today(now)):
        raise Refusal(403, "Not a member", "<p>This address is not a member at the moment.</p>",
                      extra=[clear], subject=signed_in.email)
    cookie = gate.sessions.issue(signed_in.email, now)
    return gate.pages.redirect(safe_next(signed_in.next_path) or "/", 302, extra=[clear, ("set-cookie", cookie)],
                               subject=signed_in.email)


# -- sign-out ------------------------------------------------------------------------------------


def logout_form(gate: GateState, req: Request) -> str:
    return (f'<form method="post" action="/logout"><input type="hidden" name="csrf" '
            f'value="{gate.sessions.logout_csrf(req.header("cookie"))}"><button type="submit">Sign out</button></form>')


async def logout(gate: GateState, req: Request) -> Response:
    cookie = req.header("cookie")
    if req.method != "POST":
        # The sites' sign-out link lands here: a confirmation form that POSTs with the CSRF token.
        claims = await gate.sessions.session(cookie, gate.clock())
        if claims is None:
            return gate.pages.redirect("/login")
        return gate.pages.page(200, "Sign out", f"<p>Signed in as {html.escape(claims.sub)}.</p>"
                               f"{logout_form(gate, req)}", subject=claims.sub)
    form = await read_form(gate, req)
    if not hmac.compare_digest(form.get("csrf", ""), gate.sessions.logout_csrf(cookie)):
        raise cross_site()
    now = gate.clock()
    claims = await gate.sessions.session(cookie, now)
    if claims is not None:
        await gate.sessions.sign_out(claims, cookie, gate.log.timestamp(now))
    communities = sorted(set(gate.membership.snapshot.communities) | set(gate.releases))
    return gate.pages.redirect("/login", 303, extra=[("set-cookie", gate.sessions.clear()),
                                                     *gate.grants.clear(communities)],
                               subject=claims.sub if claims else None)


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
