"""The gate: the small HTTP service in front of the store that lets each member into their communities.

This module holds the one route table, the ASGI and RSGI entry points, and the one place a refusal
becomes its page; the rest lives in its own modules, each importing only those below it:
gate/state.py (what the process knows and the poller that keeps it current), gate/serving.py (the hot
path: a site file, the nginx decision), gate/views.py (login, link confirmation, single sign-on,
sign-out, home); below them gate/blobs.py (releases, blob cache, ranges, conditional requests),
gate/sessions.py (cookies, CSRF, session cache, sign-out), gate/outbox.py (sign-in e-mails),
gate/pages.py (the gate's own HTML), gate/throttle.py (sign-in budgets), gate/http.py (request,
response, limits, refusals), gate/config.py (options), gate/logs.py.

It is a raw ASGI application *and* a granian RSGI application (``__rsgi__``), with no framework on
the request path: serving a cached page to a known session is a handful of dictionary look-ups.
Speed comes from caches that cannot go stale in a way that matters:

- verified session claims, keyed by the exact cookie value, bounded, never used past ``exp``, and
  re-checked for sign-out at most every ``revocation_check`` seconds (fail closed: unreadable is 503);
- blob bytes (immutable, content-addressed) in a byte-bounded LRU, with their response headers built
  once;
- pointers, manifests, members.json and the key set, re-read by a background poller every
  ``poll_interval`` seconds and swapped in only when they change.

Nothing here reads a store key that is not a pointer, a manifest named by a pointer, a blob listed in
such a manifest, members.json, a claim, an alert preference (gate/alerts.py) or a member's own replies
(gate/replies.py): request paths are
validated first, then looked up in the manifest, never joined to a storage path.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
import traceback
from collections.abc import Awaitable, Callable
from typing import Any, TextIO

from gate import feeds, legal, preferences, readreports, replypage, signedin, terms, views
from gate import store as storage
from gate.config import CONFIG_ENV, GateConfig
from gate.grants import CABLE_HEADER, RELEASE_HEADER, SESSION_HEADER
from gate.http import MAX_PATH, Refusal, Request, Response, bad_request, not_found, unavailable
from gate.i18n import N_
from gate.identity import STYLESHEET_PATH
from gate.oidc import CALLBACK_PATH, LOGIN_PATH
from gate.serving import DECIDE_HEADER, decision, serve_site
from gate.state import GateState

__all__ = ["CONFIG_ENV", "Gate", "GateConfig", "Request", "Response", "Route", "from_environment"]

View = Callable[[GateState, Request], Awaitable[Response]]


#: Statuses that carry no Content-Length: a 304's would have to be the 200's length, which an empty
#: body is not (RFC 9110 section 8.6), and a 204 has no content to measure.
NO_CONTENT_LENGTH = frozenset({204, 304})


class Route:
    """A path, its view and the methods it answers (HEAD comes with GET); 405 and Allow come from here."""

    __slots__ = ("path", "view", "methods", "allow")

    def __init__(self, path: str, view: View, methods: set[str]) -> None:
        self.path = path
        self.view = view
        self.methods = frozenset(methods | {"HEAD"} if "GET" in methods else methods)
        self.allow = ", ".join(sorted(self.methods))


#: A member's reply to a cable: /replies/<community>/<year>/<cable>.html (gate/replypage.py).
REPLIES = Route(replypage.PREFIX, terms.guarded(replypage.reply, replypage.community_of), {"GET", "POST"})
#: A member's personal feed: /feeds/<community>/ (the page) and /feeds/<community>/feed.xml?key= (gate/feeds.py).
FEEDS = Route(feeds.PREFIX, terms.guarded(feeds.view, feeds.community_of), {"GET", "POST"})
#: Every file of a community site: /c/<community>/<path>.
SITE = Route("/c/", terms.guarded(serve_site), {"GET"})  # a community's terms first (gate/terms.py)


def route_table(single_sign_on: bool) -> dict[str, Route]:
    """The gate's routes; the single sign-on ones exist only when it is configured."""
    routes = [
        Route("/", views.home, {"GET"}),
        Route("/login", views.login, {"GET", "POST"}),
        Route("/auth", views.auth, {"GET", "POST"}),  # GET shows the confirmation, POST spends the link
        Route("/logout", views.logout, {"GET", "POST"}),
        Route(preferences.PATH, preferences.preferences, {"GET", "POST"}),  # alert frequencies (signed in)
        Route(preferences.UNSUBSCRIBE_PATH, preferences.unsubscribe, {"GET", "POST"}),  # RFC 8058: POST, token only
        Route("/.well-known/jwks.json", views.jwks, {"GET"}),
        Route(signedin.PATH, signedin.signed_in, {"GET"}),  # the sites' "Signed in as" line (JSON)
        Route(legal.PATH, legal.legal, {"GET"}),  # what is recorded about members, why, how long
        Route(terms.PATH, terms.page, {"GET", "POST"}),  # a community's terms of use, accepted once per version
        Route("/healthz", views.healthz, {"GET"}),
        Route("/metrics", views.metrics, {"GET"}),
        Route(STYLESHEET_PATH, views.stylesheet, {"GET"}),
        Route(readreports.PATH, readreports.receive, {"POST"}),  # nginx's reads on a grant (its address only)
    ]
    if single_sign_on:
        routes += [Route(LOGIN_PATH, views.oidc_login, {"GET"}), Route(CALLBACK_PATH, views.oidc_callback, {"GET"})]
    return {route.path: route for route in routes}


class Gate(GateState):
    """One gate process: its state (gate/state.py), its routes, and the request handler for both interfaces."""

    def __init__(self, config: GateConfig, *, log_stream: TextIO | None = None,
                 clock: Callable[[], float] = time.time, background: bool = True) -> None:
        super().__init__(config, log_stream=log_stream, clock=clock, background=background)
        self.routes = route_table(self.oidc is not None)
        self.terms = terms.Terms()

    # -- dispatch --------------------------------------------------------------------------------

    async def handle(self, req: Request) -> Response:
        """Every request: the route (or 405 built from it), one place for refusals; the per-client cap.

        The gate waits on a client only while it reads a request body (the server reads the head before
        calling us, and sends the answer itself), so only requests that may carry a body take one of the
        client's ``max_inflight`` slots; GET and HEAD, the hot path, skip the bookkeeping.
        """
        if self.blobs.accel_prefix is not None and req.header(DECIDE_HEADER) == "1" and req.path.startswith("/c/"):
            return self.decided(req, await self.respond(req))  # nginx's subrequest (any method): never a body
        if req.method == "GET" or req.method == "HEAD":
            return await self.respond(req)
        client = self.client_of(req)
        if not self.inflight.enter(client):
            return self.pages.refusal(Refusal(429, N_("Too many requests"), N_("Please wait a minute, then try again."),
                                              extra=[("retry-after", "5")]), req)
        try:
            return await self.respond(req)
        finally:
            self.inflight.leave(client)

    def decided(self, req: Request, resp: Response) -> Response:
        """nginx's decision (gate/serving.py), with a fresh grant and the community's current release when
        it is yes, or the mark of a refused session (no session, or not a valid one) when the answer is
        the sign-in page."""
        answer = decision(resp)
        if answer.status == 200 and resp.community:
            token = self.sessions.token(req.header("cookie"))
            grant = self.grants.cookie(resp.community, token, self.clock()) if token else None
            if grant is not None:
                answer.headers.append(("set-cookie", grant))
                seal = self.grants.seal(token, self.clock()) if token else None
                if seal is not None:  # kept fresh while the member browses (the key rotates hourly)
                    answer.headers.append(("set-cookie", seal))
            release = self.releases.get(resp.community)
            if release is not None:  # what nginx keeps the address's blob under (deploy/diplomatie_grant.lua)
                answer.headers.append((RELEASE_HEADER, release.pointer.release))
            cable = self.readership.cable_of(resp.community, req.path)
            if cable is not None:  # nginx reports this page's reads on a grant (gate/readreports.py)
                answer.headers.append((CABLE_HEADER, cable))
        elif resp.status == 302 and resp.subject is None and any(k == "location" and v.startswith("/login?") for k, v in resp.headers):
            answer.headers.append((SESSION_HEADER, "none"))
        return answer

    async def respond(self, req: Request) -> Response:
        path = req.path
        try:
            route = (SITE if path.startswith("/c/") else REPLIES if path.startswith(replypage.PREFIX)
                     else FEEDS if path.startswith(feeds.PREFIX) else self.routes.get(path))
            if route is None:
                raise not_found() if path.isprintable() and len(path) <= MAX_PATH else bad_request()
            if req.method not in route.methods:
                raise Refusal(405, N_("Method not allowed"), N_("This address cannot be used this way."),
                              extra=[("allow", route.allow)])
            return await route.view(self, req)
        except Refusal as refusal:
            return self.pages.refusal(refusal, req)
        except storage.StoreUnavailable as exc:
            self.log.event({"event": "storage unavailable", "path": path, "error": str(exc)})
            return self.pages.refusal(unavailable(), req)
        except Exception:
            self.log.event({"event": "internal error", "path": path, "traceback": traceback.format_exc()})
            return self.pages.refusal(Refusal(500, N_("Internal error"), N_("Something went wrong on our side. "
                                                                           "Please try again later.")), req)

    # -- interfaces ------------------------------------------------------------------------------

    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.log.loop_thread = threading.get_ident()
        self._poller = loop.create_task(self._poll_forever())

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.log.flush()

    async def __rsgi__(self, scope: Any, proto: Any) -> None:
        if scope.proto != "http":
            return
        started = time.perf_counter()
        if self._poller is None:
            self._ensure_poller()
        req = Request(scope.method, scope.path, scope.query_string, scope.headers.get, scope.client, proto)
        resp = await self.handle(req)
        proto.response_bytes(resp.status, resp.headers, resp.body)  # granian drops the body of HEAD itself
        self.observe(req, resp, started)

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        """ASGI entry point (for any ASGI server; granian's RSGI entry point above is faster)."""
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    self._ensure_poller()
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        self._ensure_poller()
        headers: dict[str, str] = {}
        for name, value in scope["headers"]:
            headers.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
        try:
            query = scope["query_string"].decode("utf-8")
        except UnicodeDecodeError:
            query = "\x00"  # not UTF-8: refused as a bad request by whichever view reads it
        req = Request(scope["method"], scope["path"], query, headers.get, scope.get("client"), receive)
        resp = await self.handle(req)
        body = b"" if req.method == "HEAD" else resp.body
        raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in resp.headers]
        if resp.status not in NO_CONTENT_LENGTH:
            raw.append((b"content-length", str(len(resp.body)).encode()))
        await send({"type": "http.response.start", "status": resp.status, "headers": raw})
        await send({"type": "http.response.body", "body": body})
        self.observe(req, resp, started)

    def observe(self, req: Request, resp: Response, started: float) -> None:
        latency = time.perf_counter() - started
        self.metrics.observe(resp.status, latency)
        now = self.clock()
        self.log.request(req, resp, latency, now)
        self.readership.observe(req.method, req.path, resp, now)  # a member's cable page: gate/readership.py


def from_environment() -> Gate:
    """Factory for server workers: the configuration comes from ``DIPLOMATIE_GATE_CONFIG`` (JSON)."""
    text = os.environ.get(CONFIG_ENV)
    if not text:
        raise RuntimeError(f"{CONFIG_ENV} is not set; start the gate with `diplomatie gate`")
    return Gate(GateConfig.from_json(text))
